//! The sealed token set, and [`AppState::store_connection`]: the one code path that stores a
//! connection, whether its tokens came from a callback's code exchange or from the ingest verb.

use serde::{Deserialize, Serialize};
use tessera_core::connection::{Connection, ConnectionKey, ConnectionStatus};
use tessera_federation::Secret;
use tessera_federation::connect::Granted;
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::state::AppState;

/// What is sealed in a connection's row. Never printed, never logged.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenSet {
    pub access_token: Secret,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("refresh_token", &self.refresh_token.is_some())
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn seal_tokens(&self, key: &ConnectionKey, tokens: &TokenSet) -> Result<Vec<u8>, ApiError> {
        let json = zeroize::Zeroizing::new(serde_json::to_vec(tokens).map_err(ApiError::internal)?);
        Ok(self.master.seal(&json, &key.aad()))
    }

    pub fn open_tokens(&self, connection: &Connection) -> Result<TokenSet, ApiError> {
        let json = self
            .master
            .open(&connection.sealed_tokens, &connection.key.aad())
            .map_err(|e| ApiError::internal(format!("opening a connection's tokens: {e}")))?;
        serde_json::from_slice(&json)
            .map_err(|e| ApiError::internal(format!("a connection's token set: {e}")))
    }

    /// Seals `granted` and stores it under `key` as a new connection (replacing one there).
    pub async fn store_connection(
        &self,
        key: ConnectionKey,
        granted: Granted,
    ) -> Result<Connection, ApiError> {
        let now = self.clock.now();
        let tokens = TokenSet {
            access_token: granted.access_token,
            refresh_token: granted.refresh_token,
        };
        let connection = Connection {
            sealed_tokens: self.seal_tokens(&key, &tokens)?,
            key,
            status: ConnectionStatus::Connected,
            scopes: granted.scopes,
            account: granted.account,
            expires_at: expiry(now, granted.expires_in),
            connected_at: now,
            refreshed_at: None,
            updated_at: now,
            // The store numbers the write; nothing reads this copy's revision.
            revision: 0,
        };
        self.store.put_connection(&connection).await?;
        Ok(connection)
    }
}

/// When a token given `expires_in` seconds at `now` expires (capped: a provider's absurd
/// number must not overflow the clock).
pub fn expiry(now: OffsetDateTime, expires_in: Option<u64>) -> Option<OffsetDateTime> {
    expires_in.map(|s| {
        now + time::Duration::seconds(i64::try_from(s.min(10 * 365 * 86_400)).unwrap_or(0))
    })
}
