//! Workload identity: trust policies for outside issuers' tokens, and the OIDC tokens and AWS
//! credentials Tessera mints for an agent's workloads.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTrustPolicyRequest {
    /// The outside issuer exactly as its tokens' `iss` names it (https; its OpenID discovery
    /// document must be at `<issuer>/.well-known/openid-configuration`).
    #[schema(example = "https://token.actions.githubusercontent.com")]
    pub issuer: String,
    /// The value the token's `aud` must hold.
    #[schema(example = "https://github.com/acme")]
    pub audience: String,
    /// Claim name → pattern, every one of which must match: exact, except that `*` stands for
    /// any run of characters other than `:`.
    #[schema(example = json!({"repository": "acme/api", "ref": "refs/heads/main"}))]
    pub conditions: BTreeMap<String, String>,
    /// The agent a matching token acts as (of this tenant).
    pub agent_id: String,
    /// The most an exchange yields; within the agent's own scopes.
    #[schema(example = json!(["deploy"]))]
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TrustPolicy {
    pub id: String,
    pub tenant_id: String,
    pub issuer: String,
    pub audience: String,
    pub conditions: BTreeMap<String, String>,
    pub agent_id: String,
    pub scopes: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TrustPolicyList {
    pub trust_policies: Vec<TrustPolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OidcTokenRequest {
    /// Who will verify the token (its `aud`): a cloud's token service, an API.
    #[schema(
        example = "https://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/p/providers/tessera"
    )]
    pub audience: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OidcToken {
    /// A JWT signed by Tessera's key ring: `iss` Tessera, `sub` the agent, `aud` the audience,
    /// verifiable from `/.well-known/openid-configuration` and its JWKS.
    pub token: String,
    /// `urn:ietf:params:oauth:token-type:jwt`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AwsCredentialsRequest {
    /// The IAM role to assume; its trust policy must accept Tessera as an OIDC provider
    /// (audience `sts.amazonaws.com`, subject the agent id).
    #[schema(example = "arn:aws:iam::123456789012:role/deploy")]
    pub role_arn: String,
    /// 900 to 43200; 3600 when omitted (the role's maximum session duration still applies).
    #[serde(default)]
    pub duration_seconds: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// When the credentials expire (RFC 3339, as AWS STS wrote it).
    pub expiration: String,
    /// The assumed role's session ARN.
    pub assumed_role_arn: Option<String>,
}
