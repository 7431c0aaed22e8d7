//! Agents: non-human principals inside a tenant. An agent is also an OAuth 2 client whose
//! `client_id` is its id and whose secrets are kept as SHA-256 digests.

use time::OffsetDateTime;

use crate::{AgentId, ClientSecretId, Scopes, TenantId};

text_enum!(
    /// A disabled agent cannot obtain tokens and its tokens stop validating.
    AgentStatus { Active = "active", Disabled = "disabled" }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub id: AgentId,
    pub tenant_id: TenantId,
    pub name: String,
    pub description: Option<String>,
    /// What the agent can do, as free-form labels (certified later by the CA).
    pub capabilities: Vec<String>,
    /// The most an access token of this agent may carry.
    pub scopes: Scopes,
    pub status: AgentStatus,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A change to an agent; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub capabilities: Option<Vec<String>>,
    pub scopes: Option<Scopes>,
    pub status: Option<AgentStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSecret {
    pub id: ClientSecretId,
    pub agent_id: AgentId,
    pub secret_hash: [u8; 32],
    pub expires_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}
