//! The audit trail: append-only, read back per tenant in the order it was written.

use tessera_core::audit::AuditEvent;
use tessera_core::{StoreError, TenantId};

use crate::SqlStore;
use crate::error::{db_error, write_error};
use crate::rows::{self, audit_columns, secs};

impl SqlStore {
    pub(crate) async fn insert_audit_event(&self, event: &AuditEvent) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO audit_events (",
            audit_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(event.id.to_string())
        .bind(event.tenant_id.map(|id| id.to_string()))
        .bind(&event.actor)
        .bind(&event.action)
        .bind(&event.target)
        .bind(event.outcome.as_str())
        .bind(&event.reason)
        .bind(event.client_ip.as_deref())
        .bind(event.request_id.as_deref())
        .bind(secs(event.occurred_at))
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "audit_events.id"))?;
        Ok(())
    }

    pub(crate) async fn read_audit_events(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        // By sequence, not id: ids are made by the callers' clocks, the sequence by the database.
        let rows = sqlx::query(concat!(
            "SELECT ",
            audit_columns!(),
            " FROM audit_events WHERE tenant_id = $1 ORDER BY seq"
        ))
        .bind(tenant.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows::all(rows, rows::audit_event)
    }
}
