//! Trust policies of workload identity federation: per tenant, and found by issuer across
//! tenants when an outside token arrives.

use std::collections::BTreeMap;

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_core::store::StoreResult;
use tessera_core::trust::{TrustPolicy, TrustPolicyStore};
use tessera_core::{Scopes, StoreError, TenantId, TrustPolicyId};

use crate::SqlStore;
use crate::error::{db_error, write_error};
use crate::rows::{all, get, parsed, secs, time};

macro_rules! policy_columns {
    () => {
        "id, tenant_id, issuer, audience, conditions, agent_id, scopes, created_at"
    };
}

fn policy(row: &AnyRow) -> Result<TrustPolicy, StoreError> {
    Ok(TrustPolicy {
        id: parsed(row, "id", str::parse)?,
        tenant_id: parsed(row, "tenant_id", str::parse)?,
        issuer: get(row, "issuer")?,
        audience: get(row, "audience")?,
        conditions: parsed(row, "conditions", |text| {
            serde_json::from_str::<BTreeMap<String, String>>(text)
        })?,
        agent_id: parsed(row, "agent_id", str::parse)?,
        scopes: parsed(row, "scopes", Scopes::parse)?,
        created_at: time(row, "created_at")?,
    })
}

#[async_trait]
impl TrustPolicyStore for SqlStore {
    async fn create_trust_policy(&self, p: &TrustPolicy, max: u32) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // Writing the tenant row first serializes creations in the tenant until this
        // transaction ends, so concurrent ones cannot both pass the limit.
        sqlx::query("UPDATE tenants SET plan = plan WHERE id = $1")
            .bind(p.tenant_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM trust_policies WHERE tenant_id = $1")
                .bind(p.tenant_id.to_string())
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
        if count >= i64::from(max) {
            return Ok(false);
        }
        let conditions = serde_json::to_string(&p.conditions)
            .map_err(|e| StoreError::Corrupt(format!("trust policy conditions: {e}")))?;
        sqlx::query(concat!(
            "INSERT INTO trust_policies (",
            policy_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(p.id.to_string())
        .bind(p.tenant_id.to_string())
        .bind(&p.issuer)
        .bind(&p.audience)
        .bind(conditions)
        .bind(p.agent_id.to_string())
        .bind(p.scopes.to_string())
        .bind(secs(p.created_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| write_error(e, "trust_policies.agent_id"))?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn trust_policies(&self, tenant: TenantId) -> StoreResult<Vec<TrustPolicy>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            policy_columns!(),
            " FROM trust_policies WHERE tenant_id = $1 ORDER BY id"
        ))
        .bind(tenant.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        all(rows, policy)
    }

    async fn delete_trust_policy(&self, tenant: TenantId, id: TrustPolicyId) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM trust_policies WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_error)?
            .rows_affected();
        Ok(deleted > 0)
    }

    async fn trust_policies_for_issuer(&self, issuer: &str) -> StoreResult<Vec<TrustPolicy>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            policy_columns!(),
            " FROM trust_policies WHERE issuer = $1 ORDER BY id"
        ))
        .bind(issuer)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        all(rows, policy)
    }
}
