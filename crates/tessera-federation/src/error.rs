//! Every way a federated sign-in can fail, each with a stable reason code for logs, metrics
//! and the server's error table. No variant carries a token, code or secret.

/// A failed step of a federated sign-in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FederationError {
    #[error("invalid provider configuration: {0}")]
    InvalidConfig(String),
    #[error("OpenID discovery for `{issuer}` failed: {detail}")]
    DiscoveryFailed { issuer: String, detail: String },
    /// The discovery document's `issuer`, an ID token's `iss` or an authorization response's
    /// `iss` (RFC 9207) is not, byte for byte, the configured issuer.
    #[error("the provider says its issuer is `{found}`, not the configured `{expected}`")]
    WrongIssuer { expected: String, found: String },
    #[error("fetching the provider's signing keys failed: {0}")]
    JwksFailed(String),
    #[error("the token endpoint could not be reached: {0}")]
    TokenEndpointUnreachable(String),
    /// The token endpoint refused the code; `error` is its RFC 6749 §5.2 code (`invalid_grant`
    /// for a used, expired or foreign code or a wrong PKCE verifier), when it sent one.
    #[error(
        "the provider refused the authorization code (HTTP {status}, error {error:?}, {description:?})"
    )]
    TokenExchangeFailed {
        status: u16,
        error: Option<String>,
        description: Option<String>,
    },
    /// The token endpoint answered success with something unusable (not JSON, no access
    /// token, not a bearer token, no ID token from an OIDC provider).
    #[error("the token response is unusable: {0}")]
    InvalidTokenResponse(String),
    /// Not a signed JWT, a header or claim missing or of the wrong type, or a signing key
    /// that does not fit the token's algorithm.
    #[error("the ID token is malformed: {0}")]
    InvalidIdToken(String),
    /// `none`, HMAC (anyone who knows the client secret could forge those) or an algorithm
    /// this crate does not verify.
    #[error("the ID token is signed with `{0}`, which is not accepted")]
    DisallowedAlgorithm(String),
    #[error("the ID token names a signing key the provider does not publish ({kid:?})")]
    UnknownSigningKey { kid: Option<String> },
    #[error("the ID token's signature does not verify")]
    BadSignature,
    /// `aud` does not contain this client, or `azp` names another client.
    #[error("the ID token was issued to another client")]
    WrongAudience,
    #[error("the ID token's nonce is not the one this sign-in sent")]
    NonceMismatch,
    #[error("the ID token has expired")]
    IdTokenExpired,
    /// `iat` or `nbf` further in the future than clock skew explains.
    #[error("the ID token is not valid yet")]
    IdTokenNotYetValid,
    /// The userinfo endpoint or GitHub's user API failed or answered something unusable.
    #[error("fetching the user's profile failed: {0}")]
    UserinfoFailed(String),
    /// An OpenID Connect operation asked of a provider that is not one (GitHub).
    #[error("the provider does not speak OpenID Connect")]
    NotOpenIdConnect,
}

impl FederationError {
    /// A stable, machine-readable code for this failure.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidConfig(_) => "invalid_config",
            Self::DiscoveryFailed { .. } => "discovery_failed",
            Self::WrongIssuer { .. } => "wrong_issuer",
            Self::JwksFailed(_) => "jwks_failed",
            Self::TokenEndpointUnreachable(_) => "token_endpoint_unreachable",
            Self::TokenExchangeFailed { .. } => "token_exchange_failed",
            Self::InvalidTokenResponse(_) => "invalid_token_response",
            Self::InvalidIdToken(_) => "invalid_id_token",
            Self::DisallowedAlgorithm(_) => "disallowed_algorithm",
            Self::UnknownSigningKey { .. } => "unknown_signing_key",
            Self::BadSignature => "bad_signature",
            Self::WrongAudience => "wrong_audience",
            Self::NonceMismatch => "nonce_mismatch",
            Self::IdTokenExpired => "id_token_expired",
            Self::IdTokenNotYetValid => "id_token_not_yet_valid",
            Self::UserinfoFailed(_) => "userinfo_failed",
            Self::NotOpenIdConnect => "not_oidc",
        }
    }
}
