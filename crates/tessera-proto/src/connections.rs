//! Connections to third-party providers (the token vault): starting a connection, listing and
//! disconnecting them, ingesting a token set, reading a fresh token, and the provider-call proxy.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

/// Where to send the person who consents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StartedConnection {
    pub authorize_url: String,
}

/// The provider's redirect back (`code` and `state`, or `error`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

/// A callback's outcome when no `integrations_return_url` is configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Connected {
    pub connected: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    Connected,
    /// The access token expired and cannot be refreshed.
    Expired,
    /// The provider refused the refresh: someone must connect again.
    NeedsReauth,
    Revoked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScopeKind {
    Tenant,
    Role,
    Agent,
}

/// One connection, without its tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Connection {
    pub provider: String,
    pub name: String,
    pub scope_kind: ScopeKind,
    pub scope_id: String,
    pub status: ConnectionStatus,
    /// The scopes the provider granted.
    pub scopes: Vec<String>,
    /// The connected account (email or login) when the provider says.
    pub account: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub connected_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub refreshed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConnectionList {
    pub connections: Vec<Connection>,
}

/// Tokens obtained elsewhere, to keep in the vault.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenSetInput {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// `Bearer` when given.
    #[serde(default)]
    pub token_type: Option<String>,
    /// Seconds from now until the access token expires.
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// Granted scopes, space-separated.
    #[serde(default)]
    pub scope: Option<String>,
    /// The connected account, for display.
    #[serde(default)]
    pub account: Option<String>,
}

// By hand: tokens never print.
impl std::fmt::Debug for TokenSetInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSetInput")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestRequest {
    /// tenant, role or agent.
    pub scope_kind: ScopeKind,
    /// The tenant id, a role name, or the agent id.
    pub scope_id: String,
    /// The tenant the connection belongs to (required for `role`; implied otherwise).
    #[serde(default)]
    pub tenant_id: Option<String>,
    pub provider: String,
    /// Default `oauth_token`.
    #[serde(default)]
    pub name: Option<String>,
    pub token_set: TokenSetInput,
}

/// A fresh access token of a connection.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConnectionToken {
    pub access_token: String,
    pub token_type: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Whose connection answered: agent, role or tenant.
    pub scope_kind: ScopeKind,
    pub scope_id: String,
}

impl std::fmt::Debug for ConnectionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionToken")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A call to the provider's API, made with the agent's token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProxyRequest {
    /// GET, POST, PUT, PATCH or DELETE.
    pub method: String,
    /// Relative to the provider's (first) API base URL, or a full URL under one of them.
    pub path: String,
    #[serde(default)]
    pub query: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    /// Sent as JSON.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
}

/// The provider's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProxyResponse {
    pub status: u16,
    pub content_type: Option<String>,
    /// JSON when the answer parses as JSON, else its text.
    pub body: serde_json::Value,
}
