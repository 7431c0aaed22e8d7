//! Agents' registered public keys (for `private_key_jwt` client authentication and their DID
//! documents).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// A public key to register: exactly one of `jwk` and `pem`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAgentKeyRequest {
    /// A public JWK (RFC 7517): EC P-256, OKP Ed25519 or RSA (2048 bits or more).
    #[serde(default)]
    #[schema(value_type = Option<Object>, example = json!({"kty": "EC", "crv": "P-256", "x": "…", "y": "…"}))]
    pub jwk: Option<serde_json::Value>,
    /// A PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
    #[serde(default)]
    pub pem: Option<String>,
    /// ES256, EdDSA or RS256; must fit the key (default: the key's own).
    #[serde(default)]
    pub alg: Option<String>,
    /// The key id assertions name in their header (default: the JWK's `kid`, else its RFC
    /// 7638 thumbprint).
    #[serde(default)]
    pub kid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentKey {
    pub kid: String,
    pub alg: String,
    /// The public JWK as stored (public members, `kid`, `alg`, `use`).
    #[schema(value_type = Object)]
    pub jwk: serde_json::Value,
    /// The key's RFC 7638 SHA-256 thumbprint.
    pub thumbprint: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentKeyList {
    pub keys: Vec<AgentKey>,
}
