//! Revoked access tokens, by token id (`jti`).

use tessera_core::{StoreError, TenantId};
use time::OffsetDateTime;

use crate::SqlStore;
use crate::error::{db_error, write_error};
use crate::rows::secs;

impl SqlStore {
    pub(crate) async fn insert_revoked_token(
        &self,
        jti: &str,
        tenant: TenantId,
        expires_at: OffsetDateTime,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        // Revoking twice is not an error; the first revocation time is the one kept.
        sqlx::query(
            "INSERT INTO revoked_tokens (jti, tenant_id, expires_at, revoked_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(tenant.to_string())
        .bind(secs(expires_at))
        .bind(secs(at))
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "revoked_tokens.jti"))?;
        Ok(())
    }

    pub(crate) async fn read_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM revoked_tokens WHERE jti = $1")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(row.is_some())
    }
}
