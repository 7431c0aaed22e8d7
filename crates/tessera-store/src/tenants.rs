//! The operator account and tenants.

use sqlx::Row;
use tessera_core::api_key::ApiKey;
use tessera_core::tenant::{Plan, Tenant, TenantStatus};
use tessera_core::{OperatorId, StoreError, TenantId};
use time::OffsetDateTime;

use crate::SqlStore;
use crate::error::{corrupt, db_error, write_error};
use crate::rows::{self, secs, tenant_columns};

impl SqlStore {
    pub(crate) async fn read_operator(&self) -> Result<Option<OperatorId>, StoreError> {
        let row = sqlx::query("SELECT id FROM operators ORDER BY id LIMIT 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.map(|row| {
            let id: String = row.try_get("id").map_err(db_error)?;
            id.parse().map_err(|e| corrupt("operators.id", e))
        })
        .transpose()
    }

    pub(crate) async fn insert_operator_if_none(
        &self,
        id: OperatorId,
        at: OffsetDateTime,
    ) -> Result<(OperatorId, bool), StoreError> {
        // Two first starts racing can both insert; the earliest id stays the operator either
        // way, and only the caller whose id that is hears that it created it.
        let inserted = sqlx::query(
            "INSERT INTO operators (id, created_at) \
             SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM operators)",
        )
        .bind(id.to_string())
        .bind(secs(at))
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "operators.id"))?
        .rows_affected()
            == 1;
        let operator = self
            .read_operator()
            .await?
            .ok_or_else(|| corrupt("operators", "no row right after inserting one"))?;
        Ok((operator, inserted && operator == id))
    }

    pub(crate) async fn insert_tenant_with_key(
        &self,
        tenant: &Tenant,
        first_key: &ApiKey,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        Self::insert_tenant_on(&mut tx, tenant).await?;
        Self::write_api_key(&mut tx, first_key).await?;
        tx.commit().await.map_err(db_error)
    }

    pub(crate) async fn insert_tenant_on(
        conn: &mut sqlx::AnyConnection,
        tenant: &Tenant,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tenants (id, name, email, kind, plan, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant.id.to_string())
        .bind(&tenant.name)
        .bind(&tenant.email)
        .bind(tenant.kind.as_str())
        .bind(tenant.plan.as_str())
        .bind(tenant.status.as_str())
        .bind(secs(tenant.created_at))
        .execute(conn)
        .await
        .map_err(|e| write_error(e, "tenants.id"))?;
        Ok(())
    }

    pub(crate) async fn read_tenant(&self, id: TenantId) -> Result<Option<Tenant>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            tenant_columns!(),
            " FROM tenants WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(rows::tenant)
        .transpose()
    }

    pub(crate) async fn update_tenant_status(
        &self,
        id: TenantId,
        status: TenantStatus,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query("UPDATE tenants SET status = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(status.as_str())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(result.rows_affected() > 0)
    }

    pub(crate) async fn update_tenant_plan(
        &self,
        id: TenantId,
        plan: Plan,
    ) -> Result<Option<Plan>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // The update comes first so that it locks the row: a concurrent change waits, and the
        // plan read back below is the one this change replaces.
        let updated = sqlx::query("UPDATE tenants SET plan = plan WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        if updated.rows_affected() == 0 {
            return Ok(None);
        }
        let (old,): (String,) = sqlx::query_as("SELECT plan FROM tenants WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        let old = Plan::parse(&old).ok_or_else(|| corrupt("tenants.plan", old))?;
        sqlx::query("UPDATE tenants SET plan = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(plan.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(Some(old))
    }
}
