//! Usage counters, maintained as events happen, that analytics read.
//!
//! A counter is keyed by (tenant, agent, hour, kind) and holds how many times the agent did
//! `kind` in that UTC hour. The `usage` consumer of the audit log turns events into counts with
//! [`count_events`] and applies each batch together with its cursor move
//! ([`UsageStore::apply_usage_batch`]), so a batch is counted exactly once however many
//! instances run the consumer. Writers that do not go through the log (the gateway, later) add
//! counts directly with [`UsageStore::add_usage`]. Queries only ever read counters, never the log.

use std::collections::BTreeMap;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::audit::{AuditEvent, Outcome};
use crate::store::StoreResult;
use crate::{AgentId, TenantId};

text_enum!(
    /// What an agent did: `token_issued` (an access token was issued to it), `gateway_call`
    /// (the gateway forwarded a request it made; counted once the gateway exists), `other`
    /// (any other event it was the actor of: a refused token request, an introspection, a
    /// revocation). New kinds need no migration: the stored kind is its text.
    UsageKind { TokenIssued = "token_issued", GatewayCall = "gateway_call", Other = "other" }
);

/// The audit action the gateway will record per forwarded request.
pub const GATEWAY_ACTION: &str = "gateway.request";

/// Seconds in a counter's hour.
pub const HOUR_SECS: i64 = 3600;
/// Seconds in a day bucket (UTC days).
pub const DAY_SECS: i64 = 86_400;

/// The width of a time bucket in a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    Hour,
    Day,
}

impl Bucket {
    pub fn secs(self) -> i64 {
        match self {
            Self::Hour => HOUR_SECS,
            Self::Day => DAY_SECS,
        }
    }

    /// The start of the bucket that holds `at` (UTC).
    pub fn floor(self, at: OffsetDateTime) -> OffsetDateTime {
        let secs = at.unix_timestamp();
        let start = secs - secs.rem_euclid(self.secs());
        // In range: it is at most `at`, and a bucket width away from it.
        OffsetDateTime::from_unix_timestamp(start).unwrap_or(at)
    }
}

/// An increment of one counter, and the time of the latest event it counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageCount {
    pub tenant_id: TenantId,
    pub agent_id: AgentId,
    /// The start of the UTC hour counted.
    pub hour: OffsetDateTime,
    pub kind: UsageKind,
    pub n: i64,
    pub last_at: OffsetDateTime,
}

/// One stored hourly counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourlyUsage {
    pub agent_id: AgentId,
    pub hour: OffsetDateTime,
    pub kind: UsageKind,
    pub n: i64,
}

/// An agent's all-time count of one kind and when it last happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentUsage {
    pub agent_id: AgentId,
    pub kind: UsageKind,
    pub n: i64,
    pub last_at: OffsetDateTime,
}

/// What an event counts as: the agent it is the activity of, and the kind. None for events
/// that are no agent's own activity (an agent created by a key, a failed client
/// authentication, where the agent is not proven, installation events).
pub fn classify(event: &AuditEvent) -> Option<(TenantId, AgentId, UsageKind)> {
    let tenant = event.tenant_id?;
    let agent: AgentId = event.actor.strip_prefix("agent:")?.parse().ok()?;
    let kind = match (event.action.as_str(), event.outcome) {
        ("token.issue", Outcome::Success) => UsageKind::TokenIssued,
        (GATEWAY_ACTION, _) => UsageKind::GatewayCall,
        _ => UsageKind::Other,
    };
    Some((tenant, agent, kind))
}

/// The counts a batch of events adds: one per (tenant, agent, hour, kind), in key order (so
/// that concurrent writers touch rows in the same order and cannot deadlock).
pub fn count_events<'a>(events: impl IntoIterator<Item = &'a AuditEvent>) -> Vec<UsageCount> {
    let mut counts: BTreeMap<(TenantId, AgentId, i64, &'static str), UsageCount> = BTreeMap::new();
    for event in events {
        let Some((tenant, agent, kind)) = classify(event) else {
            continue;
        };
        let hour = Bucket::Hour.floor(event.occurred_at);
        let key = (tenant, agent, hour.unix_timestamp(), kind.as_str());
        let count = counts.entry(key).or_insert(UsageCount {
            tenant_id: tenant,
            agent_id: agent,
            hour,
            kind,
            n: 0,
            last_at: event.occurred_at,
        });
        count.n += 1;
        count.last_at = count.last_at.max(event.occurred_at);
    }
    counts.into_values().collect()
}

/// Storage of usage counters. Every read takes the tenant.
#[async_trait]
pub trait UsageStore: Send + Sync {
    /// Adds counts (for writers outside the audit log, such as the gateway).
    async fn add_usage(&self, counts: &[UsageCount]) -> StoreResult<()>;

    /// In one transaction: moves `consumer`'s log cursor from `from` to `to` and adds
    /// `counts`. Returns false, having added nothing, when the cursor was not at `from`
    /// (another instance applied this batch first).
    async fn apply_usage_batch(
        &self,
        consumer: &str,
        from: i64,
        to: i64,
        counts: &[UsageCount],
    ) -> StoreResult<bool>;

    /// The sum of a tenant's `kind` counters per bucket in `[since, until)`, oldest first;
    /// buckets without counts are left out.
    async fn usage_series(
        &self,
        tenant: TenantId,
        kind: UsageKind,
        bucket: Bucket,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<Vec<(OffsetDateTime, i64)>>;

    /// A tenant's hourly counters in `[since, until)` (of one agent when given), ordered by
    /// hour then agent, at most `limit` of them.
    async fn usage_hourly(
        &self,
        tenant: TenantId,
        agent: Option<AgentId>,
        since: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<HourlyUsage>>;

    /// A tenant's all-time counts per agent and kind, ordered by agent; only agents whose ids
    /// lie in `agents` (inclusive) when given.
    async fn usage_totals(
        &self,
        tenant: TenantId,
        agents: Option<(AgentId, AgentId)>,
    ) -> StoreResult<Vec<AgentUsage>>;
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::AuditEventId;

    fn event(
        tenant: Option<TenantId>,
        actor: &str,
        action: &str,
        at: OffsetDateTime,
    ) -> AuditEvent {
        AuditEvent {
            id: AuditEventId::generate(),
            tenant_id: tenant,
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: String::new(),
            outcome: Outcome::Success,
            reason: String::new(),
            client_ip: None,
            request_id: None,
            occurred_at: at,
        }
    }

    #[test]
    fn counts_an_agents_own_events_per_hour_and_kind() {
        let tenant = TenantId::generate();
        let agent = AgentId::generate();
        let actor = format!("agent:{agent}");
        let t = datetime!(2026-01-05 10:15 UTC);
        let mut refused = event(Some(tenant), &actor, "token.issue", t);
        refused.outcome = Outcome::Failure;
        let events = [
            event(Some(tenant), &actor, "token.issue", t),
            event(
                Some(tenant),
                &actor,
                "token.issue",
                t + time::Duration::minutes(30),
            ),
            event(
                Some(tenant),
                &actor,
                "token.issue",
                t + time::Duration::hours(1),
            ),
            refused,
            // Not the agent's own activity.
            event(Some(tenant), "api_key:key_x", "agent.create", t),
            event(None, &actor, "token.issue", t),
            event(Some(tenant), "agent:not-an-id", "token.issue", t),
        ];
        let counts = count_events(&events);
        let summary: Vec<_> = counts
            .iter()
            .map(|c| (c.hour.hour(), c.kind, c.n, c.last_at.minute()))
            .collect();
        assert_eq!(
            summary,
            [
                (10, UsageKind::Other, 1, 15),
                (10, UsageKind::TokenIssued, 2, 45),
                (11, UsageKind::TokenIssued, 1, 15),
            ]
        );
        assert!(
            counts
                .iter()
                .all(|c| c.tenant_id == tenant && c.agent_id == agent)
        );
    }

    #[test]
    fn buckets_start_at_utc_hours_and_days() {
        let at = datetime!(2026-01-05 10:15:42 +02:00);
        assert_eq!(Bucket::Hour.floor(at), datetime!(2026-01-05 08:00 UTC));
        assert_eq!(Bucket::Day.floor(at), datetime!(2026-01-05 00:00 UTC));
    }
}
