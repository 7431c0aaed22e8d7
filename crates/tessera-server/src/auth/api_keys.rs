//! API-key authentication: format and checksum first (garbage never reaches the store), then
//! the SHA-256 digest looked up in a cache in front of a unique index, then revocation, expiry
//! and the tenant's status. The cost does not depend on how many keys exist.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;
use tessera_core::api_key::{ApiKey, KeyOwner};
use tessera_core::tenant::TenantStatus;
use tessera_core::{Clock, Store, StoreError, TenantId};
use tessera_crypto::{SecretKind, sha256};

use super::{Principal, StatusCache};

/// `last_used_at` is written at most this often per key, keeping writes off the hot path.
const TOUCH_INTERVAL_SECS: i64 = 60;

/// Why a presented key was refused (the label of the `tessera_auth_failures_total` metric).
#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    #[error("no credential was presented")]
    Missing,
    #[error("the credential is not a Tessera API key")]
    Malformed,
    #[error("the API key is not known")]
    Unknown,
    #[error("the API key has expired")]
    Expired,
    #[error("the API key has been revoked")]
    Revoked,
    #[error("the tenant is suspended")]
    TenantSuspended,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AuthFailure {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::Unknown => "unknown",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::TenantSuspended => "tenant_suspended",
            Self::Store(_) => "store_unavailable",
        }
    }
}

struct CachedKey {
    key: ApiKey,
    fetched: Instant,
    last_touch: AtomicI64,
}

pub struct ApiKeyAuthenticator {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    keys: Cache<[u8; 32], Arc<CachedKey>>,
    tenants: Arc<StatusCache<TenantId, Option<TenantStatus>>>,
    ttl: Duration,
}

impl std::fmt::Debug for ApiKeyAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyAuthenticator")
            .field("cached_keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl ApiKeyAuthenticator {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        tenants: Arc<StatusCache<TenantId, Option<TenantStatus>>>,
        capacity: usize,
        ttl: Duration,
    ) -> Self {
        Self {
            store,
            clock,
            keys: Cache::new(capacity),
            tenants,
            ttl,
        }
    }

    pub async fn authenticate(&self, presented: &str) -> Result<Principal, AuthFailure> {
        let hash = sha256(presented.as_bytes());
        // Only keys that passed the checks below are cached: a hit needs no second look at the
        // key's form (its base58 checksum was a tenth of the gateway's authentication time).
        let cached = match self.keys.get(&hash) {
            Some(cached) if cached.fetched.elapsed() < self.ttl => cached,
            _ => self.load(presented, hash).await?,
        };
        self.principal(&cached).await
    }

    /// A key not cached (or cached too long ago): its form checked, then read from the store.
    async fn load(&self, presented: &str, hash: [u8; 32]) -> Result<Arc<CachedKey>, AuthFailure> {
        match SecretKind::of(presented) {
            Some(SecretKind::TenantApiKey | SecretKind::OperatorKey) => {}
            Some(
                SecretKind::ClientSecret
                | SecretKind::RefreshToken
                | SecretKind::EmailLink
                | SecretKind::PasskeyCeremony
                | SecretKind::AuthorizationCode
                | SecretKind::GrantRefreshToken
                | SecretKind::ConsentRequest
                | SecretKind::RegistrationAccessToken
                | SecretKind::DeviceCode,
            )
            | None => return Err(AuthFailure::Malformed),
        }
        let key = self
            .store
            .api_key_by_hash(&hash)
            .await?
            .ok_or(AuthFailure::Unknown)?;
        let last_touch = key.last_used_at.map_or(0, |t| t.unix_timestamp());
        let cached = Arc::new(CachedKey {
            key,
            fetched: Instant::now(),
            last_touch: AtomicI64::new(last_touch),
        });
        self.keys.insert(hash, Arc::clone(&cached));
        Ok(cached)
    }

    /// Who a known key speaks for, unless it is revoked, expired or its tenant suspended.
    async fn principal(&self, cached: &CachedKey) -> Result<Principal, AuthFailure> {
        let key = &cached.key;
        let now = self.clock.now();
        if key.revoked_at.is_some() {
            return Err(AuthFailure::Revoked);
        }
        if key.is_expired(now) {
            return Err(AuthFailure::Expired);
        }
        let principal = match key.owner {
            KeyOwner::Operator(operator_id) => Principal::Operator {
                key_id: key.id,
                operator_id,
            },
            KeyOwner::Tenant(tenant_id) => {
                let status = self
                    .tenants
                    .get_or_load(&tenant_id, async {
                        Ok::<_, StoreError>(self.store.tenant(tenant_id).await?.map(|t| t.status))
                    })
                    .await?;
                if status != Some(TenantStatus::Active) {
                    return Err(AuthFailure::TenantSuspended);
                }
                Principal::TenantKey {
                    key_id: key.id,
                    tenant_id,
                    scopes: key.scopes.clone(),
                }
            }
            KeyOwner::User(user_id) => Principal::User {
                user_id,
                key_id: Some(key.id),
                scopes: key.scopes.clone(),
                membership: None,
            },
        };
        self.touch(cached, now.unix_timestamp());
        Ok(principal)
    }

    /// Drops a key from the cache (after revocation), so the next use reads the store.
    pub fn forget(&self, secret_hash: &[u8; 32]) {
        self.keys.remove(secret_hash);
    }

    fn touch(&self, cached: &CachedKey, now: i64) {
        let previous = cached.last_touch.load(Ordering::Relaxed);
        if now - previous < TOUCH_INTERVAL_SECS
            || cached
                .last_touch
                .compare_exchange(previous, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let store = Arc::clone(&self.store);
        let id = cached.key.id;
        let at = self.clock.now();
        tokio::spawn(async move {
            if let Err(error) = store.touch_api_key(id, at).await {
                tracing::warn!(error = %error, key_id = %id, "recording API key use failed");
            }
        });
    }
}
