//! Delegation grants: a person's authorization of an agent to act for them. Every read and
//! write names the tenant; token validation reads one grant by primary key.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_core::delegation::{DelegationGrant, DelegationStore};
use tessera_core::store::StoreResult;
use tessera_core::{DelegationId, Scopes, StoreError, TenantId, UserId};
use time::OffsetDateTime;

use crate::SqlStore;
use crate::error::{db_error, write_error};
use crate::rows::{all, opt_time, parsed, secs, time};

macro_rules! delegation_columns {
    () => {
        "id, tenant_id, user_id, agent_id, scopes, expires_at, created_at, revoked_at"
    };
}

fn delegation(row: &AnyRow) -> Result<DelegationGrant, StoreError> {
    Ok(DelegationGrant {
        id: parsed(row, "id", str::parse)?,
        tenant_id: parsed(row, "tenant_id", str::parse)?,
        user_id: parsed(row, "user_id", str::parse)?,
        agent_id: parsed(row, "agent_id", str::parse)?,
        scopes: parsed(row, "scopes", Scopes::parse)?,
        expires_at: time(row, "expires_at")?,
        created_at: time(row, "created_at")?,
        revoked_at: opt_time(row, "revoked_at")?,
    })
}

#[async_trait]
impl DelegationStore for SqlStore {
    async fn create_delegation(&self, d: &DelegationGrant) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO delegations (",
            delegation_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(d.id.to_string())
        .bind(d.tenant_id.to_string())
        .bind(d.user_id.to_string())
        .bind(d.agent_id.to_string())
        .bind(d.scopes.to_string())
        .bind(secs(d.expires_at))
        .bind(secs(d.created_at))
        .bind(d.revoked_at.map(secs))
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "delegations.agent_id"))?;
        Ok(())
    }

    async fn delegation(
        &self,
        tenant: TenantId,
        id: DelegationId,
    ) -> StoreResult<Option<DelegationGrant>> {
        sqlx::query(concat!(
            "SELECT ",
            delegation_columns!(),
            " FROM delegations WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(delegation)
        .transpose()
    }

    async fn delegations(
        &self,
        tenant: TenantId,
        user: Option<UserId>,
    ) -> StoreResult<Vec<DelegationGrant>> {
        let query = match user {
            None => sqlx::query(concat!(
                "SELECT ",
                delegation_columns!(),
                " FROM delegations WHERE tenant_id = $1 ORDER BY id DESC"
            ))
            .bind(tenant.to_string()),
            Some(user) => sqlx::query(concat!(
                "SELECT ",
                delegation_columns!(),
                " FROM delegations WHERE tenant_id = $1 AND user_id = $2 ORDER BY id DESC"
            ))
            .bind(tenant.to_string())
            .bind(user.to_string()),
        };
        let rows = query.fetch_all(&self.pool).await.map_err(db_error)?;
        all(rows, delegation)
    }

    async fn revoke_delegation(
        &self,
        tenant: TenantId,
        id: DelegationId,
        at: OffsetDateTime,
    ) -> StoreResult<Option<DelegationGrant>> {
        let changed = sqlx::query(
            "UPDATE delegations SET revoked_at = $3 \
             WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .bind(secs(at))
        .execute(&self.pool)
        .await
        .map_err(db_error)?
        .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        self.delegation(tenant, id).await
    }
}
