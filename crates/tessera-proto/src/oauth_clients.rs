//! OAuth clients: the applications a tenant registers so that people sign in to them through
//! Tessera (authorization code with PKCE, OpenID Connect).

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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OAuthClient {
    pub client_id: String,
    pub tenant_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub public: bool,
    /// `none` for public clients; confidential clients use `client_secret_basic` or
    /// `client_secret_post`.
    #[schema(example = "client_secret_basic")]
    pub token_endpoint_auth_method: String,
    pub scopes: Vec<String>,
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
