//! Webhook subscriptions and their deliveries.
//!
//! A subscription names a URL and the event types it wants. Every audit event of its tenant
//! that matches becomes one [`Delivery`], stored before it is sent (the queue lives in the
//! store, so deliveries survive restarts). A delivery is attempted until the receiver answers
//! 2xx or the [`RetryPolicy`] runs out; then it is dead-lettered. A subscription that keeps
//! dead-lettering is disabled ([`DisablePolicy`]).

use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::store::StoreResult;
use crate::validate::ValidationError;
use crate::{AuditEventId, DeliveryId, Page, TenantId, WebhookId};

/// Every event type.
pub const ALL_EVENTS: &str = "*";
/// Event types a subscription may list, at most.
pub const MAX_EVENT_TYPES: usize = 64;

text_enum!(
    WebhookStatus { Active = "active", Disabled = "disabled" }
);

text_enum!(
    /// Why a subscription was disabled: by a caller (`manual`), because too many deliveries
    /// in a row were dead-lettered (`dead_letters`), or because every attempt failed for longer
    /// than the policy allows (`failing_too_long`).
    DisabledReason {
        Manual = "manual",
        DeadLetters = "dead_letters",
        FailingTooLong = "failing_too_long",
    }
);

text_enum!(
    /// `pending`: waiting for its next attempt; `delivered`: a receiver answered 2xx;
    /// `dead_letter`: every attempt of its last round failed.
    DeliveryStatus {
        Pending = "pending",
        Delivered = "delivered",
        DeadLetter = "dead_letter",
    }
);

/// The event types a subscription receives: exact names (`agent.create`) or `*` for all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTypes(Vec<String>);

impl EventTypes {
    /// Checks each name (`*`, or dot-separated words of `a-z`, `0-9`, `_`, `-`), sorts them and
    /// drops repeats.
    pub fn new<I, S>(names: I) -> Result<Self, ValidationError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let invalid = |problem: String| ValidationError {
            field: "event_types",
            problem,
        };
        let mut list: Vec<String> = names.into_iter().map(Into::into).collect();
        if list.is_empty() {
            return Err(invalid("must name at least one event type (or `*`)".into()));
        }
        if list.len() > MAX_EVENT_TYPES {
            return Err(invalid(format!(
                "must hold at most {MAX_EVENT_TYPES} entries"
            )));
        }
        if let Some(bad) = list.iter().find(|name| !is_event_type(name)) {
            let shown: String = bad.chars().take(64).collect();
            return Err(invalid(format!(
                "`{shown}` is not an event type (like `agent.create`) or `*`"
            )));
        }
        list.sort();
        list.dedup();
        Ok(Self(list))
    }

    pub fn matches(&self, event_type: &str) -> bool {
        self.0.iter().any(|n| n == ALL_EVENTS || n == event_type)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

/// `*`, or words of lowercase letters, digits, `_` and `-` joined by single dots.
fn is_event_type(name: &str) -> bool {
    name == ALL_EVENTS
        || (name.len() <= 100
            && name.split('.').all(|word| {
                !word.is_empty()
                    && word.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                    })
            }))
}

/// A subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: WebhookId,
    pub tenant_id: TenantId,
    pub url: String,
    pub event_types: EventTypes,
    pub description: Option<String>,
    pub status: WebhookStatus,
    pub disabled_reason: Option<DisabledReason>,
    /// The signing secret (`whsec_…`), sealed with the master key; associated data: the id.
    pub sealed_secret: Vec<u8>,
    /// The secret before the last rotation, which keeps signing alongside the new one until
    /// `previous_secret_expires_at`.
    pub previous_sealed_secret: Option<Vec<u8>>,
    pub previous_secret_expires_at: Option<OffsetDateTime>,
    /// Deliveries dead-lettered in a row; a delivered one resets it.
    pub dead_letter_streak: i64,
    /// When the current run of failed attempts began; None once one succeeds.
    pub failing_since: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Webhook {
    /// Whether this subscription receives `event_type` events that happened at `at`: it is
    /// active, wants the type, and existed then.
    pub fn wants(&self, event_type: &str, at: OffsetDateTime) -> bool {
        self.status == WebhookStatus::Active
            && self.event_types.matches(event_type)
            && at >= self.created_at
    }

    /// The sealed secrets that sign at `now`: the current one, and the previous one during
    /// its overlap.
    pub fn signing_secrets(&self, now: OffsetDateTime) -> Vec<&[u8]> {
        let mut secrets = vec![self.sealed_secret.as_slice()];
        if let (Some(previous), Some(until)) = (
            &self.previous_sealed_secret,
            self.previous_secret_expires_at,
        ) && now < until
        {
            secrets.push(previous.as_slice());
        }
        secrets
    }
}

impl Webhook {
    /// Applies a change made at `at`.
    pub fn apply(&mut self, patch: &WebhookPatch, at: OffsetDateTime) {
        if let Some(url) = &patch.url {
            self.url.clone_from(url);
        }
        if let Some(types) = &patch.event_types {
            self.event_types = types.clone();
        }
        if let Some(description) = &patch.description {
            self.description.clone_from(description);
        }
        match patch.status {
            Some(WebhookStatus::Active) if self.status != WebhookStatus::Active => {
                // A fresh start: the failures that disabled it are forgiven.
                self.status = WebhookStatus::Active;
                self.disabled_reason = None;
                self.dead_letter_streak = 0;
                self.failing_since = None;
            }
            Some(WebhookStatus::Disabled) if self.status != WebhookStatus::Disabled => {
                self.status = WebhookStatus::Disabled;
                self.disabled_reason = Some(DisabledReason::Manual);
            }
            _ => {}
        }
        self.updated_at = at;
    }
}

/// Changes to a subscription; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub event_types: Option<EventTypes>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
    /// Enabling resets the failure counters; disabling records [`DisabledReason::Manual`].
    pub status: Option<WebhookStatus>,
}

/// One event's delivery to one subscription. Every attempt sends the same body under the same
/// `webhook-id` (the event id), so receivers can drop repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub tenant_id: TenantId,
    pub webhook_id: WebhookId,
    pub event_id: AuditEventId,
    pub event_type: String,
    /// The JSON body, fixed when the delivery is queued.
    pub payload: String,
    pub status: DeliveryStatus,
    /// Attempts made so far, over every round.
    pub attempts: u32,
    /// Attempts made before the current round began (a redelivery starts a new round).
    pub round_start: u32,
    pub next_attempt_at: Option<OffsetDateTime>,
    pub last_attempt_at: Option<OffsetDateTime>,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub delivered_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

impl Delivery {
    /// A delivery of `event_id` to `webhook`, due at once.
    pub fn queue(
        webhook: &Webhook,
        event_id: AuditEventId,
        event_type: &str,
        payload: String,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id: DeliveryId::generate(),
            tenant_id: webhook.tenant_id,
            webhook_id: webhook.id,
            event_id,
            event_type: event_type.to_owned(),
            payload,
            status: DeliveryStatus::Pending,
            attempts: 0,
            round_start: 0,
            next_attempt_at: Some(now),
            last_attempt_at: None,
            last_status_code: None,
            last_error: None,
            delivered_at: None,
            created_at: now,
        }
    }
}

/// One attempt to deliver, as recorded in the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first attempt of the delivery, counting across rounds.
    pub number: u32,
    pub attempted_at: OffsetDateTime,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<u16>,
    /// Why it failed (timeout, connection refused, refused target, non-2xx); None on success.
    pub error: Option<String>,
    pub duration_ms: u32,
}

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Delivered,
    RetryAt(OffsetDateTime),
    DeadLetter,
}

/// The delays between attempts of a round: attempt `n + 1` follows a failed attempt `n` after
/// `delays[n - 1]`, stretched by up to ±20 % of jitter so that receivers recovering from an
/// outage are not hit by every sender at once. A round is `delays.len() + 1` attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    pub delays: Vec<Duration>,
}

impl RetryPolicy {
    pub fn attempts_per_round(&self) -> u32 {
        u32::try_from(self.delays.len())
            .unwrap_or(u32::MAX - 1)
            .saturating_add(1)
    }

    /// What follows a failed attempt, the `attempt_in_round`-th (from 1) of its round, at
    /// `now`; `jitter` is a random number in [0, 1).
    pub fn after_failure(
        &self,
        attempt_in_round: u32,
        now: OffsetDateTime,
        jitter: f64,
    ) -> NextStep {
        let Some(delay) = usize::try_from(attempt_in_round)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| self.delays.get(i))
        else {
            return NextStep::DeadLetter;
        };
        let factor = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
        let secs = (delay.as_secs_f64() * factor).round();
        // Stored times are whole seconds; a non-zero delay never rounds to zero.
        let secs = if delay.is_zero() { 0.0 } else { secs.max(1.0) };
        NextStep::RetryAt(now + time::Duration::seconds(secs as i64))
    }
}

/// When a subscription that keeps failing is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisablePolicy {
    /// After this many deliveries in a row are dead-lettered.
    pub after_dead_letters: i64,
    /// When every attempt since this time has failed.
    pub failing_since_before: OffsetDateTime,
}

/// The result of one attempt, reported by whoever holds the delivery's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptReport {
    pub tenant_id: TenantId,
    pub webhook_id: WebhookId,
    pub delivery_id: DeliveryId,
    /// The lease the attempt was made under; a report under a lost lease changes nothing.
    pub lease: String,
    pub attempt: Attempt,
    pub next: NextStep,
}

/// What recording an attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Recorded; the subscription was disabled by it (for this reason).
    Done { disabled: Option<DisabledReason> },
    /// The lease had expired and another holder took the delivery over; nothing was changed.
    LeaseLost,
}

/// What asking for a redelivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redelivery {
    /// Queued for an attempt now, with a fresh round of retries.
    Queued(Box<Delivery>),
    /// It is still pending: its retries are under way.
    AlreadyPending,
    NotFound,
}

/// Which deliveries a listing returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub webhook: Option<WebhookId>,
    pub status: Option<DeliveryStatus>,
}

/// Storage of webhook subscriptions, deliveries (the queue) and their attempts. Every read and
/// write of a tenant's objects takes the tenant id.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn insert_webhook(&self, webhook: &Webhook) -> StoreResult<()>;
    async fn webhook(&self, tenant: TenantId, id: WebhookId) -> StoreResult<Option<Webhook>>;
    /// The tenant's subscriptions in id order (oldest first), after `after`.
    async fn webhooks(
        &self,
        tenant: TenantId,
        after: Option<WebhookId>,
        limit: u32,
    ) -> StoreResult<Page<Webhook, WebhookId>>;
    /// The tenant's active subscriptions (for fanning events out).
    async fn active_webhooks(&self, tenant: TenantId) -> StoreResult<Vec<Webhook>>;
    async fn update_webhook(
        &self,
        tenant: TenantId,
        id: WebhookId,
        patch: &WebhookPatch,
        at: OffsetDateTime,
    ) -> StoreResult<Option<Webhook>>;
    /// Makes `sealed_secret` the secret and keeps the current one signing until
    /// `previous_expires_at`.
    async fn rotate_webhook_secret(
        &self,
        tenant: TenantId,
        id: WebhookId,
        sealed_secret: &[u8],
        previous_expires_at: OffsetDateTime,
        at: OffsetDateTime,
    ) -> StoreResult<Option<Webhook>>;
    /// Deletes a subscription with its deliveries; false when the tenant has none such.
    async fn delete_webhook(&self, tenant: TenantId, id: WebhookId) -> StoreResult<bool>;

    /// Queues the deliveries of a batch of events and moves the event consumer `consumer` from
    /// `from` to `to`, in one transaction; false (and nothing queued) when another instance
    /// moved the cursor first. A delivery that exists already for the same subscription and
    /// event is skipped, so an event is queued once per subscription whatever happens.
    async fn enqueue_deliveries(
        &self,
        consumer: &str,
        from: i64,
        to: i64,
        deliveries: &[Delivery],
    ) -> StoreResult<bool>;
    /// Leases up to `limit` pending deliveries that are due at `now` and whose subscription is
    /// active, until `lease_until`, under the token `lease`; returns them with their
    /// subscriptions. A delivery under an unexpired lease is never handed out twice.
    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease: &str,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<(Delivery, Webhook)>>;
    /// Records an attempt and its consequence for the delivery and the subscription, in one
    /// transaction, and disables the subscription when `disable` says so.
    async fn record_attempt(
        &self,
        report: &AttemptReport,
        disable: &DisablePolicy,
    ) -> StoreResult<Recorded>;
    /// The tenant's deliveries matching `filter`, newest first, before `before`.
    async fn deliveries(
        &self,
        tenant: TenantId,
        filter: &DeliveryFilter,
        before: Option<DeliveryId>,
        limit: u32,
    ) -> StoreResult<Page<Delivery, DeliveryId>>;
    async fn delivery(
        &self,
        tenant: TenantId,
        webhook: WebhookId,
        id: DeliveryId,
    ) -> StoreResult<Option<Delivery>>;
    /// A delivery's attempts, first first.
    async fn delivery_attempts(
        &self,
        tenant: TenantId,
        id: DeliveryId,
    ) -> StoreResult<Vec<Attempt>>;
    /// Deletes up to `limit` finished (delivered or dead-lettered) deliveries, with their
    /// attempts, queued before `before`, of every tenant; returns how many went.
    async fn prune_deliveries(&self, before: OffsetDateTime, limit: u32) -> StoreResult<u64>;
    /// Queues a delivered or dead-lettered delivery again, due at `at`.
    async fn redeliver(
        &self,
        tenant: TenantId,
        webhook: WebhookId,
        id: DeliveryId,
        at: OffsetDateTime,
    ) -> StoreResult<Redelivery>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_are_names_or_star() {
        let types = EventTypes::new(["agent.create", "agent.create", "token.revoke"]).unwrap();
        assert_eq!(
            types.iter().collect::<Vec<_>>(),
            ["agent.create", "token.revoke"]
        );
        assert!(types.matches("agent.create") && !types.matches("agent.delete"));
        assert!(EventTypes::new(["*"]).unwrap().matches("anything.at_all"));
        for bad in [
            "",
            "Agent.Create",
            "agent..create",
            ".x",
            "x.",
            "a b",
            "agent.*",
            "é",
        ] {
            assert!(EventTypes::new([bad]).is_err(), "{bad}");
        }
        assert!(EventTypes::new(Vec::<String>::new()).is_err());
        assert!(EventTypes::new((0..65).map(|i| format!("e{i}"))).is_err());
    }

    #[test]
    fn retries_follow_the_schedule_with_bounded_jitter_then_dead_letter() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let policy = RetryPolicy {
            delays: vec![Duration::from_secs(10), Duration::from_secs(100)],
        };
        assert_eq!(policy.attempts_per_round(), 3);
        let at = |attempt, jitter| match policy.after_failure(attempt, now, jitter) {
            NextStep::RetryAt(at) => (at - now).whole_seconds(),
            other => panic!("{other:?}"),
        };
        assert_eq!(at(1, 0.0), 8);
        assert_eq!(at(1, 0.5), 10);
        assert_eq!(at(1, 0.999), 12);
        assert_eq!(at(2, 0.5), 100);
        assert!((80..=120).contains(&at(2, 0.3)));
        assert_eq!(policy.after_failure(3, now, 0.5), NextStep::DeadLetter);
        let once = RetryPolicy { delays: vec![] };
        assert_eq!(once.after_failure(1, now, 0.0), NextStep::DeadLetter);
        let tiny = RetryPolicy {
            delays: vec![Duration::from_secs(1)],
        };
        assert!(matches!(tiny.after_failure(1, now, 0.0), NextStep::RetryAt(t) if t > now));
    }

    #[test]
    fn the_previous_secret_signs_only_during_its_overlap() {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(1);
        let webhook = Webhook {
            id: WebhookId::generate(),
            tenant_id: TenantId::generate(),
            url: "https://example.com/hook".into(),
            event_types: EventTypes::new(["*"]).unwrap(),
            description: None,
            status: WebhookStatus::Active,
            disabled_reason: None,
            sealed_secret: vec![1],
            previous_sealed_secret: Some(vec![2]),
            previous_secret_expires_at: Some(now + time::Duration::hours(24)),
            dead_letter_streak: 0,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        assert_eq!(webhook.signing_secrets(now).len(), 2);
        assert_eq!(
            webhook.signing_secrets(now + time::Duration::hours(24)),
            [&[1u8][..]]
        );
        assert!(webhook.wants("agent.create", now));
        assert!(!webhook.wants("agent.create", now - time::Duration::seconds(1)));
    }
}
