//! Revoked access tokens. The store is the truth (it survives restarts and is shared by every
//! instance); this process also remembers what it has seen revoked, so a revoked token is
//! refused without a query once known.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tessera_core::{Store, StoreError, TenantId};
use time::OffsetDateTime;

#[derive(Debug)]
pub struct Revocations {
    store: Arc<dyn Store>,
    /// jti → the token's expiry (unix seconds), after which the entry is useless.
    known: RwLock<HashMap<String, i64>>,
}

impl Revocations {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            known: RwLock::new(HashMap::new()),
        }
    }

    pub async fn revoke(
        &self,
        jti: &str,
        tenant: TenantId,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.store
            .revoke_token(jti, tenant, expires_at, now)
            .await?;
        let mut known = self.known.write().unwrap_or_else(|p| p.into_inner());
        let now = now.unix_timestamp();
        known.retain(|_, exp| *exp > now);
        known.insert(jti.to_owned(), expires_at.unix_timestamp());
        Ok(())
    }

    pub async fn is_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        if self
            .known
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(jti)
        {
            return Ok(true);
        }
        self.store.is_token_revoked(jti).await
    }
}
