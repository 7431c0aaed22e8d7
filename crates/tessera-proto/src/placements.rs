//! Provisioning: starting an entity's runtime (`/v1/start`), a stack of them
//! (`/v1/start/stack`), and the placements that say where each runtime listens.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::tenants::Plan;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// The new entity's (tenant's) name, 1 to 100 characters.
    #[schema(example = "Acme research desk")]
    pub name: String,
    /// The entity's contact address; none until someone claims it.
    pub email: Option<String>,
    /// The entity's plan; `explorer` by default. The blueprint's agents count against it.
    pub plan: Option<Plan>,
    /// The runtime's existing base URL, with `provisioning_backend = "static"` only.
    #[schema(example = "http://10.0.0.7:8080")]
    pub address: Option<String>,
    /// What the runtime is to become. Tessera creates the `agents` it lists (each
    /// `{name, description?, capabilities?, scopes?}`; other fields, and `roles`, are for the
    /// runtime) and then posts the whole blueprint, as sent, to the runtime's init path.
    #[schema(value_type = Option<Object>, example = json!({"agents": [{"name": "researcher"}], "roles": ["analyst"]}))]
    pub blueprint: Option<Value>,
}

/// One agent a blueprint lists (the fields Tessera reads; others are left to the runtime).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BlueprintAgent {
    pub name: String,
    pub description: Option<String>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlacementStatus {
    Starting,
    Running,
    Restarting,
    Failed,
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlacementBackend {
    Process,
    Systemd,
    Static,
}

/// An agent the blueprint made, with its first client secret (shown only here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StartedAgent {
    pub name: String,
    pub agent_id: String,
    pub client_secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StartedEntity {
    #[schema(example = "ten_0193a3b0c1d27e8f9a0b1c2d3e4f5a6b")]
    pub entity_id: String,
    pub name: String,
    /// The port Tessera gave the runtime; absent for a registered address.
    pub port: Option<u16>,
    pub address: String,
    pub status: PlacementStatus,
    /// The entity's first API key, with scope `*`. Shown only in this response.
    pub api_key: String,
    pub agents: Vec<StartedAgent>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StackRequest {
    /// Started dependencies first; names are unique, 1 to 100 characters.
    pub components: Vec<StackComponent>,
    /// Applied once every component is up: each is posted to its `from` runtime's edges path.
    #[serde(default)]
    pub edges: Vec<StackEdge>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StackComponent {
    pub name: String,
    /// Names of components that must be up before this one starts.
    #[serde(default)]
    pub depends_on: Vec<String>,
    pub plan: Option<Plan>,
    pub email: Option<String>,
    /// With `provisioning_backend = "static"` only.
    pub address: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub blueprint: Option<Value>,
}

/// A connection between two components. The `from` runtime receives
/// `{from, to, to_entity_id, to_address, …the edge's other fields}` at its edges path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StackEdge {
    pub from: String,
    pub to: String,
    /// Anything else the runtimes need to know about the edge.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StartedStack {
    /// In the order they were started.
    pub components: Vec<StartedEntity>,
    /// How many edges were applied.
    pub edges: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Placement {
    pub entity_id: String,
    /// The agent older clients name in `X-Entity` instead of the entity.
    pub agent_id: Option<String>,
    pub address: String,
    pub port: Option<u16>,
    pub backend: PlacementBackend,
    /// The Tessera instance that supervises the runtime.
    pub owner: String,
    pub status: PlacementStatus,
    pub pid: Option<u32>,
    /// Restarts after unexpected exits.
    pub restarts: u32,
    /// Why it is not running, when it is not.
    pub detail: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlacementList {
    pub placements: Vec<Placement>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListPlacementsQuery {
    /// 1 to 200; 50 by default.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}
