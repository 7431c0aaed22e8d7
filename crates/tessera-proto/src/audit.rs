//! The audit log: events, listings, verification reports.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
}

/// One event, with its place in the tenant's hash chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEvent {
    pub id: String,
    /// Position in the tenant's chain, from 1.
    pub seq: i64,
    /// `api_key:<id>`, `agent:<id>`, `operator:<id>` or `anonymous`.
    pub actor: String,
    #[schema(example = "agent.create")]
    pub action: String,
    pub target: String,
    pub outcome: Outcome,
    /// The error code of a failure; empty on success.
    pub reason: String,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// Hex SHA-256 of the previous link and this event.
    pub hash: String,
    pub prev_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEventList {
    pub events: Vec<AuditEvent>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub outcome: Option<Outcome>,
    /// RFC 3339; events at or after it.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>)]
    pub since: Option<OffsetDateTime>,
    /// RFC 3339; events before it.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>)]
    pub until: Option<OffsetDateTime>,
    /// 1 to 500; 100 by default.
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BrokenLink {
    /// The chain position where verification failed.
    pub seq: i64,
    /// The event there, when one exists.
    pub event_id: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VerifyReport {
    pub chain: String,
    pub ok: bool,
    pub events_checked: u64,
    pub checkpoints_checked: u64,
    /// The position of the newest event checked.
    pub head: i64,
    pub first_broken: Option<BrokenLink>,
}
