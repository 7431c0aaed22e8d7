//! Connections: an agent's (or a role's, or a tenant's) account at a third-party provider,
//! stored under its scope key `(tenant, scope_kind, scope_id, provider, name)` with the token
//! set sealed (envelope encryption; this crate never sees it in clear).
//!
//! A refresh is guarded by a lease on the row (owner and expiry), so that of several instances
//! reading one expiring connection, one refreshes and the others wait for its result. Writes
//! after the first are conditioned on the row's revision (compare-and-swap), not on the lease:
//! a refresh that outlived its lease still stores the refresh token the provider rotated,
//! unless someone stored newer tokens meanwhile.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::TenantId;
use crate::store::StoreResult;

/// The name a connection made through a provider's OAuth flow is stored under.
pub const DEFAULT_NAME: &str = "oauth_token";

text_enum!(
    /// Whose account it is. Reads fall back from the agent to its roles to the tenant.
    ScopeKind {
        Tenant = "tenant",
        Role = "role",
        Agent = "agent",
    }
);

text_enum!(
    /// Where a connection stands: `expired` (no refresh token to renew it), `needs_reauth`
    /// (the provider refused the refresh token: someone must consent again), `revoked`
    /// (disconnected: the tokens are erased and the row stays as a record until a new consent).
    ConnectionStatus {
        Connected = "connected",
        Expired = "expired",
        NeedsReauth = "needs_reauth",
        Revoked = "revoked",
    }
);

/// The scope key of a connection. Every field but the tenant is free text checked by the API.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectionKey {
    pub tenant_id: TenantId,
    pub scope_kind: ScopeKind,
    pub scope_id: String,
    pub provider: String,
    pub name: String,
}

impl ConnectionKey {
    /// The additional data the sealed token set is bound to: a blob copied onto another
    /// connection's row fails to open.
    pub fn aad(&self) -> Vec<u8> {
        format!(
            "connection\0{}\0{}\0{}\0{}\0{}",
            self.tenant_id,
            self.scope_kind.as_str(),
            self.scope_id,
            self.provider,
            self.name
        )
        .into_bytes()
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Connection {
    pub key: ConnectionKey,
    pub status: ConnectionStatus,
    /// The scopes the provider granted.
    pub scopes: Vec<String>,
    /// The connected account (email or login) when the provider says.
    pub account: Option<String>,
    /// The token set, sealed under the master key with [`ConnectionKey::aad`].
    pub sealed_tokens: Vec<u8>,
    /// When the access token expires, when the provider says.
    pub expires_at: Option<OffsetDateTime>,
    pub connected_at: OffsetDateTime,
    pub refreshed_at: Option<OffsetDateTime>,
    pub updated_at: OffsetDateTime,
    /// Bumped by every write; [`ConnectionStore::update_connection`] writes only over the
    /// revision its caller read.
    pub revision: i64,
}

// By hand: the sealed token set stays out of logs even though it is encrypted.
impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("key", &self.key)
            .field("status", &self.status)
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .field("revision", &self.revision)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Stores a connection, replacing the one under the same key (a new consent) at the next
    /// revision, and clears any refresh lease on it.
    async fn put_connection(&self, connection: &Connection) -> StoreResult<()>;
    async fn connection(&self, key: &ConnectionKey) -> StoreResult<Option<Connection>>;
    /// The connections of one scope (an agent's, a role's, the tenant's), by provider and name.
    async fn scope_connections(
        &self,
        tenant: TenantId,
        kind: ScopeKind,
        scope_id: &str,
    ) -> StoreResult<Vec<Connection>>;
    /// Takes the refresh lease for `owner` until `until` when nobody holds a live one at `now`.
    /// Of concurrent takers, one gets it.
    async fn lease_connection(
        &self,
        key: &ConnectionKey,
        owner: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Writes the connection's tokens, status, scopes and times if the row is still at
    /// `connection.revision` (nobody wrote since it was read), at the next revision, and drops
    /// `lease_owner`'s lease. False when the row moved on or is gone (nothing is written).
    async fn update_connection(
        &self,
        connection: &Connection,
        lease_owner: Option<&str>,
    ) -> StoreResult<bool>;
    /// Drops `owner`'s lease without writing anything (the refresh failed transiently, or
    /// someone else's write won).
    async fn release_lease(&self, key: &ConnectionKey, owner: &str) -> StoreResult<()>;
}
