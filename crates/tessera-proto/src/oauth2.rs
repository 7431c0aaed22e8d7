//! OAuth 2 token, introspection and metadata documents.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The form of `POST /oauth2/token` (`application/x-www-form-urlencoded`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `client_credentials` (agents), `authorization_code` or `refresh_token` (applications).
    #[schema(example = "client_credentials")]
    pub grant_type: String,
    /// Space-separated; a subset of the agent's scopes (or of the grant's, when refreshing).
    /// Omit for all of them.
    pub scope: Option<String>,
    /// For `client_secret_post` and public clients; otherwise use HTTP Basic.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// `authorization_code`: the code the redirect URI received.
    pub code: Option<String>,
    /// `authorization_code`: the redirect URI of the authorization request, exactly.
    pub redirect_uri: Option<String>,
    /// `authorization_code`: the PKCE verifier of the request's `code_challenge`.
    pub code_verifier: Option<String>,
    /// `refresh_token`: the refresh token (single-use; the response carries the next one).
    pub refresh_token: Option<String>,
    /// Token exchange (RFC 8693): the token of the party to act for — an agent's access token
    /// (perhaps itself exchanged), or, under the person's delegation grant to the acting agent,
    /// a person's session token or an access token an application holds for the person.
    pub subject_token: Option<String>,
    /// Token exchange: `urn:ietf:params:oauth:token-type:access_token`.
    pub subject_token_type: Option<String>,
    /// Token exchange, optional: the acting agent's own access token.
    pub actor_token: Option<String>,
    /// Token exchange: required with `actor_token`; `urn:ietf:params:oauth:token-type:access_token`.
    pub actor_token_type: Option<String>,
    /// Token exchange, optional: `urn:ietf:params:oauth:token-type:access_token` (the only one).
    pub requested_token_type: Option<String>,
    /// RFC 8707: the resource the access token is for (Tessera's API or a gateway route's
    /// resource); it becomes the token's `aud`. One per request: a person's grant allows only
    /// the resources it was authorized for (by default its first); a token exchange's subject
    /// token bound to a resource other than Tessera's API allows only that one.
    pub resource: Option<String>,
    /// Token exchange (RFC 8693 §2.1): the logical name of the target service, which for
    /// Tessera is a resource identifier as for `resource` (both sent: the same one).
    pub audience: Option<String>,
    /// `urn:ietf:params:oauth:grant-type:device_code`: the device code of
    /// `/oauth2/device_authorization`.
    pub device_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    pub expires_in: i64,
    pub scope: String,
    /// Applications granted `offline_access`: the next refresh token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// OpenID Connect: the ID token, when the code was issued for scope `openid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// The answer to a token exchange (RFC 8693 §2.2.1): a token response naming what it issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenExchangeResponse {
    #[serde(flatten)]
    pub token: TokenResponse,
    #[schema(example = "urn:ietf:params:oauth:token-type:access_token")]
    pub issued_token_type: String,
}

/// OpenID Connect `/oauth2/userinfo`: the claims the access token's scopes allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserInfo {
    /// The user id (the ID token's `sub`).
    pub sub: String,
    /// Scope `profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Scope `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Scope `email`: whether the person proved they receive mail at `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

/// The form of `POST /oauth2/introspect` and `POST /oauth2/revoke`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenForm {
    pub token: String,
    pub token_type_hint: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// RFC 7662 §2.2. An inactive token gets `{"active": false}` and nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct IntrospectionResponse {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The key a DPoP-bound token is bound to (RFC 9449 §6.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<TokenConfirmation>,
    /// A token from a token exchange: the actor chain of RFC 8693 §4.1 (`{"sub": newest actor,
    /// "act": {"sub": the one before, …}}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub act: Option<serde_json::Value>,
}

/// A token's confirmation claim: the RFC 7638 thumbprint of the key it is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenConfirmation {
    pub jkt: String,
}

/// RFC 8414 authorization server metadata; also the OpenID Connect discovery document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    /// RFC 7591, when the operator allows dynamic registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    pub jwks_uri: String,
    pub introspection_endpoint: String,
    pub revocation_endpoint: String,
    pub grant_types_supported: Vec<String>,
    pub response_types_supported: Vec<String>,
    pub response_modes_supported: Vec<String>,
    pub code_challenge_methods_supported: Vec<String>,
    /// RFC 9207: the authorization response carries `iss`.
    pub authorization_response_iss_parameter_supported: bool,
    pub claims_supported: Vec<String>,
    /// OpenID Connect Discovery: the `prompt` values the authorization endpoint honours.
    pub prompt_values_supported: Vec<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    pub scopes_supported: Vec<String>,
    pub subject_types_supported: Vec<String>,
    pub id_token_signing_alg_values_supported: Vec<String>,
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// RFC 9449: the algorithms DPoP proofs may use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dpop_signing_alg_values_supported: Vec<String>,
    pub service_documentation: String,
    /// RFC 8628: where devices start the device authorization grant.
    pub device_authorization_endpoint: String,
    /// RFC 9728 §4: the resources (RFC 8707) Tessera issues tokens for.
    pub protected_resources: Vec<String>,
}

/// OAuth 2.0 Protected Resource Metadata (RFC 9728): a resource Tessera guards and how to get
/// a token for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProtectedResourceMetadata {
    /// The resource identifier (RFC 8707): the `aud` of tokens for it.
    pub resource: String,
    /// Tessera's issuer identifier.
    pub authorization_servers: Vec<String>,
    pub scopes_supported: Vec<String>,
    /// `header`: `Authorization: Bearer` (or `DPoP`).
    pub bearer_methods_supported: Vec<String>,
    /// The algorithms of DPoP proofs the resource accepts (RFC 9728 §2, RFC 9449).
    #[serde(default)]
    pub dpop_signing_alg_values_supported: Vec<String>,
    pub resource_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_documentation: Option<String>,
}

/// The form of `POST /oauth2/device_authorization` (RFC 8628 §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceAuthorizationRequest {
    /// An application's client id (public clients send only this).
    pub client_id: Option<String>,
    /// Confidential clients: `client_secret_post` (or HTTP Basic).
    pub client_secret: Option<String>,
    /// Space-separated; default: the client's scopes.
    pub scope: Option<String>,
    /// RFC 8707: the resource the tokens are for.
    pub resource: Option<String>,
}

/// The answer of `POST /oauth2/device_authorization` (RFC 8628 §3.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceAuthorizationResponse {
    /// For the device's polls of `/oauth2/token`; single-use.
    pub device_code: String,
    /// For the person to type at `verification_uri`.
    #[schema(example = "WDJB-MJHT")]
    pub user_code: String,
    pub verification_uri: String,
    /// `verification_uri` with the user code filled in.
    pub verification_uri_complete: String,
    pub expires_in: i64,
    /// Seconds between polls.
    pub interval: i64,
}
