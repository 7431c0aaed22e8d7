//! OAuth clients: the applications a tenant registers so that people sign in to them through
//! Tessera (authorization code with PKCE, OpenID Connect), registered through the tenant's API
//! or dynamically (RFC 7591, managed per RFC 7592).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOAuthClientRequest {
    /// Shown to people on the consent screen.
    #[schema(example = "Invoice dashboard")]
    pub name: String,
    /// Where codes may be sent, matched exactly: `https` URLs, `http` on a loopback address
    /// (native apps), or a private-use scheme such as `com.example.app:/callback`. No fragment.
    #[schema(example = json!(["https://app.example.com/callback"]))]
    pub redirect_uris: Vec<String>,
    /// A public client (a browser or native app that cannot keep a secret) gets no secret and
    /// must use PKCE (S256). Confidential by default.
    #[serde(default)]
    pub public: bool,
    /// The most the client may ask for; default `openid profile email offline_access`.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// A confidential client that authenticates with `private_key_jwt` (RFC 7523) instead of a
    /// secret: its public signing keys, a JWK Set (ES256, EdDSA or RS256 keys)…
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    /// …or the https URL where it publishes them (fetched, and fetched again for a new `kid`).
    #[serde(default)]
    pub jwks_uri: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OAuthClient {
    pub client_id: String,
    pub tenant_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub public: bool,
    /// `none` for public clients; confidential clients use `client_secret_basic` (or
    /// `client_secret_post`), or `private_key_jwt` with their keys.
    #[schema(example = "client_secret_basic")]
    pub token_endpoint_auth_method: String,
    /// A `private_key_jwt` client's keys, as registered (normalised public JWKs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    pub scopes: Vec<String>,
    /// The grants the client may use.
    pub grant_types: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreatedOAuthClient {
    pub client: OAuthClient,
    /// Confidential clients only; shown only in this response (Tessera keeps its SHA-256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OAuthClientList {
    pub clients: Vec<OAuthClient>,
}

/// RFC 7591 §2: the metadata a client registers itself with at `POST /oauth2/register`.
/// Unknown fields are ignored, as the RFC asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClientRegistrationRequest {
    /// Required (1 to 10) with the `authorization_code` grant; a client of the device grant
    /// alone may have none.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub client_name: Option<String>,
    /// `client_secret_basic` (default), `client_secret_post`, `private_key_jwt` (with `jwks` or
    /// `jwks_uri`), or `none` (a public client).
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    /// A `private_key_jwt` client's public signing keys: a JWK Set (RFC 7517)…
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    /// …or the https URL where it publishes them.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// `authorization_code` (default, with `refresh_token`), `refresh_token`, and
    /// `urn:ietf:params:oauth:grant-type:device_code` (RFC 8628). Not `client_credentials`: a
    /// machine acting as itself is an agent.
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    /// `code` only (none for a client of the device grant alone).
    #[serde(default)]
    pub response_types: Option<Vec<String>>,
    /// Space-separated; default `openid profile email offline_access`.
    #[serde(default)]
    pub scope: Option<String>,
}

/// RFC 7592 §2.2: the whole metadata that replaces a registration's at
/// `PUT /oauth2/register/{client_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClientUpdateRequest {
    /// The registration's client id, repeated.
    pub client_id: String,
    /// When sent, it must be the client's current secret (it is kept; it is never changed here).
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(flatten)]
    pub metadata: ClientRegistrationRequest,
}

/// RFC 7591 §3.2.1 and RFC 7592 §3: the registered client, with what manages it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClientRegistration {
    pub client_id: String,
    /// Confidential clients, in the registration response only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// 0: the secret does not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    pub client_id_issued_at: i64,
    /// In the registration response only: the bearer token for `registration_client_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<String>,
    pub registration_client_uri: String,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub scope: String,
}
