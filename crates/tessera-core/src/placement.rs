//! Placements: where an entity's (a tenant's) runtime listens, which backend started it, and
//! whether it is up. The gateway routes `X-Entity` traffic by them; provisioning writes them.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::store::StoreResult;
use crate::{AgentId, Page, TenantId};

text_enum!(
    /// `starting`: launched, not yet healthy; `running`: answering its health path;
    /// `restarting`: exited and being started again; `failed`: could not be (re)started;
    /// `stopped`: stopped on purpose (a stack rolled back). Only `running` receives traffic.
    PlacementStatus {
        Starting = "starting",
        Running = "running",
        Restarting = "restarting",
        Failed = "failed",
        Stopped = "stopped",
    }
);

impl PlacementStatus {
    /// Whether the runtime is meant to be up (so its port is taken, and a restart of Tessera
    /// starts it again).
    pub fn is_live(self) -> bool {
        matches!(self, Self::Starting | Self::Running | Self::Restarting)
    }
}

text_enum!(
    /// What started the runtime: a child process of Tessera, a transient systemd unit, or
    /// nothing (an address registered by the operator).
    PlacementBackend { Process = "process", Systemd = "systemd", Static = "static" }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The entity (tenant) whose runtime this is.
    pub entity_id: TenantId,
    /// The agent older clients name in `X-Entity` instead of the entity.
    pub agent_id: Option<AgentId>,
    /// The runtime's base URL (`http://127.0.0.1:20001`), where the gateway forwards to.
    pub address: String,
    /// The port Tessera allocated for it; None for a registered (static) address.
    pub port: Option<u16>,
    pub backend: PlacementBackend,
    /// The Tessera instance that supervises the runtime (`provisioning_owner`).
    pub owner: String,
    pub status: PlacementStatus,
    pub state: PlacementState,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// What changes while a runtime lives: recorded together by [`PlacementStore::set_placement_state`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlacementState {
    /// The runtime's process id (process backend), for operators and tests.
    pub pid: Option<u32>,
    /// Restarts after unexpected exits since the placement was made.
    pub restarts: u32,
    /// Why it is not running (the last exit, the failed health check), for operators.
    pub detail: Option<String>,
}

#[async_trait]
pub trait PlacementStore: Send + Sync {
    /// Records a new placement; a second one for the same entity is `Conflict("placements.entity_id")`.
    async fn insert_placement(&self, placement: &Placement) -> StoreResult<()>;
    /// The entity's placement: one primary-key lookup (the gateway's hot path).
    async fn placement(&self, entity: TenantId) -> StoreResult<Option<Placement>>;
    /// The placement an agent id routes to (older rows): one unique-index lookup.
    async fn placement_by_agent(&self, agent: AgentId) -> StoreResult<Option<Placement>>;
    /// Every placement, oldest entity first, a page at a time (operator).
    async fn placements(
        &self,
        after: Option<TenantId>,
        limit: u32,
    ) -> StoreResult<Page<Placement, TenantId>>;
    /// The placements one Tessera instance supervises: what it restarts at start, and whose
    /// ports it must not hand out again.
    async fn owned_placements(&self, owner: &str) -> StoreResult<Vec<Placement>>;
    /// Sets status, pid, restarts and detail; false when there is no such placement.
    async fn set_placement_state(
        &self,
        entity: TenantId,
        status: PlacementStatus,
        state: &PlacementState,
        at: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Deletes the placement; false when there was none.
    async fn delete_placement(&self, entity: TenantId) -> StoreResult<bool>;
}
