//! Delegation grants: a person authorizes an agent of a tenant they belong to to act for them
//! (RFC 8693 token exchange at `/oauth2/token` with the person's token as the subject).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDelegationRequest {
    /// The agent of this tenant that may act for the calling person.
    #[schema(example = "agt_0190f5b8e3c47a3c9a1b2c3d4e5f6a7b")]
    pub agent_id: String,
    /// The most a token exchanged under the grant may carry (it is narrowed further by the
    /// agent's own scopes and by the person's token).
    #[schema(example = json!(["orders:read"]))]
    pub scopes: Vec<String>,
    /// Seconds until the grant expires: 60 to 31536000 (a year); default 30 days.
    #[serde(default)]
    pub expires_in: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Delegation {
    pub id: String,
    pub tenant_id: String,
    /// The person who delegates.
    pub user_id: String,
    /// The agent that may act for them.
    pub agent_id: String,
    pub scopes: Vec<String>,
    /// `active`, `expired` or `revoked`.
    #[schema(example = "active")]
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DelegationList {
    /// Newest first.
    pub delegations: Vec<Delegation>,
}
