//! Handing out fresh access tokens.
//!
//! Resolution: the agent's own connection, else one of its roles' (its capabilities, in
//! order), else the tenant's: the most specific wins.
//!
//! Refresh: a token within [`REFRESH_MARGIN`] of expiry is refreshed first. Requests in this
//! process for one connection queue on one lock ([`super::Vault::flight`]); across instances,
//! the row's lease decides who calls the provider while the others re-read until the new
//! token is stored. The new token set (a rotated refresh token included) is stored before any
//! caller gets the access token, so no token the provider issued is ever lost. The write is
//! conditioned on the revision the refresh started from, not on still holding the lease: a
//! refresh slower than its lease still lands, unless someone stored newer tokens meanwhile
//! (then those are the live ones, and the caller gets them).

use std::time::Duration;

use tessera_core::agent::Agent;
use tessera_core::connection::{Connection, ConnectionKey, ConnectionStatus, ScopeKind};
use tessera_federation::Secret;
use tessera_federation::connect::ConnectError;
use tessera_proto::ErrorCode;
use time::OffsetDateTime;

use super::provider_error;
use super::tokens::{TokenSet, expiry};
use crate::error::ApiError;
use crate::state::AppState;

/// A token this close to expiry is refreshed before it is handed out.
pub const REFRESH_MARGIN: time::Duration = time::Duration::seconds(60);
/// How long a lease lets its holder refresh before others may take over.
const LEASE: time::Duration = time::Duration::seconds(30);
/// How long a request waits for another instance's refresh before giving up (503).
const WAIT_FOR_OTHERS: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(50);

/// A fresh access token and where it came from.
#[derive(Debug)]
pub struct Fresh {
    pub key: ConnectionKey,
    pub access_token: Secret,
    pub expires_at: Option<OffsetDateTime>,
    /// Whether this call refreshed it at the provider.
    pub refreshed: bool,
}

/// The keys a read for `agent`'s `provider` connection tries, most specific first.
pub fn candidates(agent: &Agent, provider: &str, name: &str) -> Vec<ConnectionKey> {
    let key = |scope_kind, scope_id: String| ConnectionKey {
        tenant_id: agent.tenant_id,
        scope_kind,
        scope_id,
        provider: provider.to_owned(),
        name: name.to_owned(),
    };
    std::iter::once(key(ScopeKind::Agent, agent.id.to_string()))
        .chain(
            agent
                .capabilities
                .iter()
                .map(|role| key(ScopeKind::Role, role.clone())),
        )
        .chain(std::iter::once(key(
            ScopeKind::Tenant,
            agent.tenant_id.to_string(),
        )))
        .collect()
}

fn is_fresh(connection: &Connection, now: OffsetDateTime) -> bool {
    connection.status == ConnectionStatus::Connected
        && connection
            .expires_at
            .is_none_or(|at| at - REFRESH_MARGIN > now)
}

/// 409 for a connection someone must connect again, with where to start.
pub fn needs_reauth(state: &AppState, agent: &Agent, connection: &Connection) -> ApiError {
    let (code, why) = match connection.status {
        ConnectionStatus::Expired => (
            ErrorCode::ConnectionExpired,
            "expired and cannot be refreshed",
        ),
        ConnectionStatus::Revoked => (ErrorCode::ConnectionRevoked, "was disconnected"),
        _ => (
            ErrorCode::ConnectionNeedsReauth,
            "was refused by the provider (revoked or expired grant)",
        ),
    };
    ApiError::new(
        code,
        format!(
            "the `{}` connection {why}: a person must connect it again",
            connection.key.provider
        ),
    )
    .with_start_url(format!(
        "{}/v1/agents/{}/integrations/{}/start",
        state.issuer, agent.id, connection.key.provider
    ))
}

impl AppState {
    /// The connection a read for `agent` resolves to, most specific first.
    pub async fn resolve_connection(
        &self,
        agent: &Agent,
        provider: &str,
        name: &str,
    ) -> Result<Connection, ApiError> {
        for key in candidates(agent, provider, name) {
            if let Some(connection) = self.store.connection(&key).await? {
                return Ok(connection);
            }
        }
        Err(ApiError::not_found("connection"))
    }

    /// A fresh access token for `agent`'s `provider` connection. `stale` names a token the
    /// provider just refused (the proxy's 401): it is refreshed even if not near expiry,
    /// unless someone has replaced it meanwhile.
    pub async fn fresh_token(
        &self,
        agent: &Agent,
        provider: &str,
        stale: Option<&Secret>,
    ) -> Result<Fresh, ApiError> {
        let connection = self
            .resolve_connection(agent, provider, tessera_core::connection::DEFAULT_NAME)
            .await?;
        let now = self.clock.now();
        let replaced = |tokens: &TokenSet| {
            stale.is_none_or(|stale| stale.expose() != tokens.access_token.expose())
        };
        if is_fresh(&connection, now) {
            let tokens = self.open_tokens(&connection)?;
            if replaced(&tokens) {
                return Ok(Fresh {
                    key: connection.key,
                    access_token: tokens.access_token,
                    expires_at: connection.expires_at,
                    refreshed: false,
                });
            }
        }
        let flight = self.vault.flight(&connection.key);
        let _turn = flight.lock().await;
        let started = tokio::time::Instant::now();
        loop {
            let connection = self
                .store
                .connection(&connection.key)
                .await?
                .ok_or_else(|| ApiError::not_found("connection"))?;
            if matches!(
                connection.status,
                ConnectionStatus::NeedsReauth
                    | ConnectionStatus::Expired
                    | ConnectionStatus::Revoked
            ) {
                return Err(needs_reauth(self, agent, &connection));
            }
            let tokens = self.open_tokens(&connection)?;
            let now = self.clock.now();
            if is_fresh(&connection, now) && replaced(&tokens) {
                return Ok(Fresh {
                    key: connection.key,
                    access_token: tokens.access_token,
                    expires_at: connection.expires_at,
                    refreshed: false,
                });
            }
            if self
                .store
                .lease_connection(&connection.key, &self.vault.instance, now + LEASE, now)
                .await?
            {
                // Another instance may have stored new tokens and let its lease go between the
                // read above and this lease: refreshing from that read would call the provider
                // a second time. The row is read again and, if it moved, the lease let go.
                let moved = self
                    .store
                    .connection(&connection.key)
                    .await?
                    .is_none_or(|current| current.revision != connection.revision);
                if moved {
                    self.store
                        .release_lease(&connection.key, &self.vault.instance)
                        .await?;
                    continue;
                }
                match self.refresh_leased(agent, connection, tokens).await? {
                    Some(fresh) => return Ok(fresh),
                    // Someone stored newer tokens (or disconnected) meanwhile: read those.
                    None => continue,
                }
            }
            if started.elapsed() > WAIT_FOR_OTHERS {
                return Err(ApiError::new(
                    ErrorCode::Unavailable,
                    "another instance is refreshing this connection; retry shortly",
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Refreshes a connection this instance holds the lease of, and stores the outcome. None
    /// when the row moved past the revision read (another write won): nothing was stored.
    async fn refresh_leased(
        &self,
        agent: &Agent,
        mut connection: Connection,
        tokens: TokenSet,
    ) -> Result<Option<Fresh>, ApiError> {
        let owner = self.vault.instance.clone();
        let Some(refresh_token) = tokens.refresh_token.clone() else {
            connection.status = ConnectionStatus::Expired;
            connection.updated_at = self.clock.now();
            if !self.store_outcome(&connection, &owner).await? {
                return Ok(None);
            }
            return Err(needs_reauth(self, agent, &connection));
        };
        let connector = match self.vault.connector(&connection.key.provider).await {
            Ok(connector) => connector,
            Err(error) => {
                self.store.release_lease(&connection.key, &owner).await?;
                return Err(error);
            }
        };
        let outcome = connector.refresh(&self.vault.http, &refresh_token).await;
        let now = self.clock.now();
        match outcome {
            Ok(granted) => {
                let renewed = TokenSet {
                    access_token: granted.access_token,
                    // A provider that does not rotate keeps the refresh token it gave before.
                    refresh_token: granted.refresh_token.or(Some(refresh_token)),
                };
                connection.sealed_tokens = self.seal_tokens(&connection.key, &renewed)?;
                connection.expires_at = expiry(now, granted.expires_in);
                if !granted.scopes.is_empty() {
                    connection.scopes = granted.scopes;
                }
                connection.status = ConnectionStatus::Connected;
                connection.refreshed_at = Some(now);
                connection.updated_at = now;
                let stored = self.store_outcome(&connection, &owner).await?;
                metrics::counter!("tessera_connection_refreshes_total",
                    "outcome" => if stored { "success" } else { "superseded" })
                .increment(1);
                Ok(stored.then(|| Fresh {
                    key: connection.key,
                    access_token: renewed.access_token,
                    expires_at: connection.expires_at,
                    refreshed: true,
                }))
            }
            Err(ConnectError::InvalidGrant) => {
                connection.status = ConnectionStatus::NeedsReauth;
                connection.updated_at = now;
                // A refresh token refused because another refresh already rotated it is no
                // reason to ask for consent: that refresh's tokens are read instead.
                if !self.store_outcome(&connection, &owner).await? {
                    return Ok(None);
                }
                metrics::counter!("tessera_connection_refreshes_total", "outcome" => "invalid_grant")
                    .increment(1);
                Err(needs_reauth(self, agent, &connection))
            }
            Err(error) => {
                self.store.release_lease(&connection.key, &owner).await?;
                metrics::counter!("tessera_connection_refreshes_total", "outcome" => "failed")
                    .increment(1);
                Err(provider_error(&error))
            }
        }
    }

    /// Writes a refresh's outcome over the revision it started from; when another write won,
    /// lets go of the lease (if still held) and says so.
    async fn store_outcome(&self, connection: &Connection, owner: &str) -> Result<bool, ApiError> {
        if self
            .store
            .update_connection(connection, Some(owner))
            .await?
        {
            return Ok(true);
        }
        self.store.release_lease(&connection.key, owner).await?;
        Ok(false)
    }
}
