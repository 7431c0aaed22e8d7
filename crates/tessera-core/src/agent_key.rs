//! Agents' registered public keys (for `private_key_jwt` client authentication, RFC 7523, and
//! the agent's DID document), and the single-use record of presented JWT ids (client assertions,
//! DPoP proofs) that stops a replay on every instance.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::store::StoreResult;
use crate::{AgentId, TenantId};

/// The most keys one agent may register (rotation needs two; a few more for overlap).
pub const MAX_AGENT_KEYS: usize = 10;

/// A public key an agent signs its client assertions with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentKey {
    pub tenant_id: TenantId,
    pub agent_id: AgentId,
    /// Unique per agent; the RFC 7638 thumbprint unless the agent named it.
    pub kid: String,
    /// ES256, EdDSA or RS256.
    pub alg: String,
    /// The public JWK, normalised, as JSON text.
    pub jwk: String,
    pub created_at: OffsetDateTime,
}

text_enum!(
    /// What kind of JWT a used `jti` belongs to: each has its own namespace.
    ReplayKind { ClientAssertion = "client_assertion", DpopProof = "dpop_proof" }
);

#[async_trait]
pub trait AgentKeyStore: Send + Sync {
    /// Adds a key unless the agent already has `MAX_AGENT_KEYS`, in one transaction: false
    /// then. A `kid` the agent already uses is `StoreError::Conflict("agent_keys.kid")`.
    async fn insert_agent_key(&self, key: &AgentKey) -> StoreResult<bool>;
    /// An agent's keys, oldest first.
    async fn agent_keys(&self, tenant: TenantId, agent: AgentId) -> StoreResult<Vec<AgentKey>>;
    /// Deletes one key; false when the tenant's agent has no such key.
    async fn delete_agent_key(
        &self,
        tenant: TenantId,
        agent: AgentId,
        kid: &str,
    ) -> StoreResult<bool>;
    /// Records the first use of a JWT id (given as a digest) until `expires_at`, and drops the
    /// records that expired by `now`. False when it was already used: a replay. Of two
    /// concurrent uses, on any instances, exactly one is first.
    async fn first_use(
        &self,
        kind: ReplayKind,
        jti_hash: &[u8; 32],
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;
}
