//! The storage port. `tessera-store` implements it once over SQLite and PostgreSQL; the server
//! holds it as `Arc<dyn Store>`. Every tenant-owned read and write takes the tenant id, so a
//! query can only ever see one tenant's rows.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::agent::{Agent, AgentPatch, ClientSecret};
use crate::agent_key::AgentKeyStore;
use crate::api_key::{ApiKey, KeyOwner};
use crate::audit::{AuditEvent, AuditFilter, ChainedEvent, Checkpoint, LinkHash};
use crate::authz::AuthorizationStore;
use crate::connection::ConnectionStore;
use crate::delegation::DelegationStore;
use crate::device::DeviceStore;
use crate::mail::OutboxStore;
use crate::people::{ChallengeStore, PeopleStore, SessionStore};
use crate::placement::PlacementStore;
use crate::signing_key::SigningKeyRecord;
use crate::tenant::{Plan, Tenant, TenantStatus};
use crate::trust::TrustPolicyStore;
use crate::usage::UsageStore;
use crate::wallet_binding::WalletBindingStore;
use crate::webhook::WebhookStore;
use crate::{AgentId, ApiKeyId, ClientSecretId, OperatorId, TenantId};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken (the name of the rule says which).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The database could not be reached or answered with an error; the text is for logs only.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A stored row could not be read back into a domain object; the text is for logs only.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// One page of a listing ordered by id, and the cursor for the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T, C> {
    pub items: Vec<T>,
    pub next_cursor: Option<C>,
}

#[async_trait]
pub trait Store:
    WebhookStore
    + UsageStore
    + PlacementStore
    + PeopleStore
    + SessionStore
    + ChallengeStore
    + OutboxStore
    + ConnectionStore
    + AuthorizationStore
    + AgentKeyStore
    + DelegationStore
    + TrustPolicyStore
    + WalletBindingStore
    + DeviceStore
    + Send
    + Sync
    + std::fmt::Debug
    + 'static
{
    /// Whether the database answers.
    async fn ping(&self) -> StoreResult<()>;

    // Operator.
    async fn operator(&self) -> StoreResult<Option<OperatorId>>;
    /// Creates the operator account if there is none; returns it and whether it was created.
    async fn ensure_operator(
        &self,
        id: OperatorId,
        at: OffsetDateTime,
    ) -> StoreResult<(OperatorId, bool)>;

    // Tenants.
    /// Creates a tenant and its first API key in one transaction.
    async fn create_tenant(&self, tenant: &Tenant, first_key: &ApiKey) -> StoreResult<()>;
    async fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>>;
    /// Sets the status; false when there is no such tenant.
    async fn set_tenant_status(&self, id: TenantId, status: TenantStatus) -> StoreResult<bool>;
    /// Sets the plan; returns the plan it had, or None when there is no such tenant.
    async fn set_tenant_plan(&self, id: TenantId, plan: Plan) -> StoreResult<Option<Plan>>;

    // API keys.
    async fn insert_api_key(&self, key: &ApiKey) -> StoreResult<()>;
    async fn api_key_by_hash(&self, secret_hash: &[u8; 32]) -> StoreResult<Option<ApiKey>>;
    /// The keys of one owner (a tenant, a user), newest first (revoked ones included).
    async fn api_keys(&self, owner: KeyOwner) -> StoreResult<Vec<ApiKey>>;
    /// Marks an owner's key revoked; returns it, or None when the owner has no such live key.
    async fn revoke_api_key(
        &self,
        owner: KeyOwner,
        id: ApiKeyId,
        at: OffsetDateTime,
    ) -> StoreResult<Option<ApiKey>>;
    async fn touch_api_key(&self, id: ApiKeyId, at: OffsetDateTime) -> StoreResult<()>;

    // Agents and their client secrets.
    /// Creates an agent and its first client secret in one transaction, unless the tenant
    /// already has `max_agents` agents (None: no limit): then nothing is written and the answer
    /// is false. Concurrent creations in one tenant cannot both pass the last free place.
    async fn create_agent(
        &self,
        agent: &Agent,
        secret: &ClientSecret,
        max_agents: Option<u64>,
    ) -> StoreResult<bool>;
    async fn agent(&self, tenant: TenantId, id: AgentId) -> StoreResult<Option<Agent>>;
    /// An agent found by its id alone: for client authentication, where the tenant is not yet known.
    async fn agent_by_client_id(&self, id: AgentId) -> StoreResult<Option<Agent>>;
    async fn agents(
        &self,
        tenant: TenantId,
        after: Option<AgentId>,
        limit: u32,
    ) -> StoreResult<Page<Agent, AgentId>>;
    async fn update_agent(
        &self,
        tenant: TenantId,
        id: AgentId,
        patch: &AgentPatch,
        at: OffsetDateTime,
    ) -> StoreResult<Option<Agent>>;
    /// Deletes the agent and its secrets; false when the tenant has no such agent.
    async fn delete_agent(&self, tenant: TenantId, id: AgentId) -> StoreResult<bool>;
    async fn insert_client_secret(&self, secret: &ClientSecret) -> StoreResult<()>;
    async fn client_secrets(&self, agent: AgentId) -> StoreResult<Vec<ClientSecret>>;
    async fn delete_client_secret(&self, agent: AgentId, id: ClientSecretId) -> StoreResult<bool>;

    // Signing keys.
    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    /// Adds a key and retires the keys that signed before it, in one transaction.
    async fn rotate_signing_key(
        &self,
        next: &SigningKeyRecord,
        unpublish_retired_at: OffsetDateTime,
    ) -> StoreResult<()>;

    // Token revocation.
    /// Records a revoked token id until the token would have expired anyway.
    async fn revoke_token(
        &self,
        jti: &str,
        tenant: TenantId,
        expires_at: OffsetDateTime,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn is_token_revoked(&self, jti: &str) -> StoreResult<bool>;

    // Audit log.
    /// Appends events to their chains in one transaction, each linked to its chain's head by
    /// `hash = sha256(link_input(prev_hash, chain_seq, event))`. Appends are serialized across
    /// instances, so `seq` order is commit order.
    async fn append_audit(
        &self,
        events: &[AuditEvent],
        sha256: LinkHash,
    ) -> StoreResult<Vec<ChainedEvent>>;
    /// A tenant's events matching `filter`, oldest first, after chain position `after`.
    async fn audit_page(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<Page<ChainedEvent, i64>>;
    /// One chain's events after position `after`, in chain order (verification, export).
    async fn audit_chain(
        &self,
        chain: &str,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<ChainedEvent>>;
    /// Every chain's events after log position `after`, in log order: what consumers read.
    async fn audit_events_after(&self, after: i64, limit: u32) -> StoreResult<Vec<ChainedEvent>>;
    /// Records a checkpoint (idempotent per chain position).
    async fn insert_checkpoint(&self, checkpoint: &Checkpoint) -> StoreResult<()>;
    /// A chain's checkpoints, oldest first.
    async fn checkpoints(&self, chain: &str) -> StoreResult<Vec<Checkpoint>>;
    /// Every chain that has events.
    async fn audit_chains(&self) -> StoreResult<Vec<String>>;
    /// Chains whose head is past their last checkpoint: (chain, head position, head hash).
    async fn unsigned_chain_heads(&self) -> StoreResult<Vec<(String, i64, [u8; 32])>>;
    /// Deletes a chain's events up to and including `through`, and the checkpoints before it
    /// (the one at `through` anchors what remains). Returns how many events went.
    async fn prune_audit(&self, chain: &str, through: i64) -> StoreResult<u64>;

    // Consumers of the log (webhooks, NATS, usage counters) and how far each has read.
    async fn event_cursor(&self, consumer: &str) -> StoreResult<i64>;
    /// Moves a consumer from `from` to `to`; false when another instance moved it first.
    async fn advance_event_cursor(&self, consumer: &str, from: i64, to: i64) -> StoreResult<bool>;
}
