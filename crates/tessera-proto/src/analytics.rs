//! Analytics: token trends, agent activity (heat-map data) and per-agent usage, all read from
//! usage counters kept as events happen. Buckets are UTC hours or days; ranges are half-open,
//! `[since, until)`, widened to whole buckets.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::agents::AgentStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Hour,
    Day,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TokenTrendQuery {
    /// `hour` (the default; at most 90 days) or `day` (UTC days; at most 366 days).
    pub bucket: Option<Bucket>,
    /// RFC 3339. Defaults to 24 hours (hourly) or 30 days (daily) before `until`.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<OffsetDateTime>,
    /// RFC 3339, exclusive. Defaults to now.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub until: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TrendPoint {
    /// The start of the bucket.
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    pub tokens_issued: u64,
}

/// Tokens issued to the tenant's agents per bucket, every bucket of the range included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenTrend {
    pub bucket: Bucket,
    /// The start of the first bucket.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// The end of the last bucket (exclusive).
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
    pub points: Vec<TrendPoint>,
    /// The sum over the range.
    pub total: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AgentActivityQuery {
    /// RFC 3339. Defaults to 7 days before `until`; the range is at most 90 days.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<OffsetDateTime>,
    /// RFC 3339, exclusive. Defaults to now.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub until: Option<OffsetDateTime>,
    /// Only this agent's activity.
    pub agent_id: Option<String>,
}

/// One agent in one UTC hour (only hours with activity are listed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ActivityCell {
    pub agent_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub hour: OffsetDateTime,
    /// Everything the agent did in the hour: the kinds below and its other events (refused
    /// token requests, introspections, revocations).
    pub events: u64,
    pub tokens_issued: u64,
    /// Requests the gateway forwarded for the agent. Always 0 until the gateway exists.
    pub gateway_calls: u64,
}

/// Heat-map data: activity per agent per hour, ordered by hour then agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentActivity {
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
    pub cells: Vec<ActivityCell>,
    /// True when there were more cells than one response holds (the latest hours are left
    /// out): ask for a shorter range or one agent.
    pub truncated: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsageSummaryQuery {
    /// 1 to 200; 50 by default.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One agent's all-time usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentUsage {
    pub agent_id: String,
    pub name: String,
    pub status: AgentStatus,
    pub tokens_issued: u64,
    /// Requests the gateway forwarded for the agent. Always 0 until the gateway exists.
    pub gateway_calls: u64,
    /// Every event the agent was the actor of, the two above included.
    pub events: u64,
    /// The agent's latest activity; absent when it never did anything.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen_at: Option<OffsetDateTime>,
}

/// The tenant's agents (in id order, a page at a time) with their usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UsageSummary {
    pub agents: Vec<AgentUsage>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}
