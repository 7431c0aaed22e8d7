//! Delivery: leases due deliveries from the store, POSTs each (signed, to an allowed address,
//! no redirects, bounded by `webhooks_timeout_secs`), and records the attempt with what follows
//! it: delivered on 2xx, otherwise a retry after the next delay of the schedule or, after the
//! last, a dead letter. A subscription the record disables is announced with a
//! `webhook.disabled` audit event, which flows to the other subscriptions and NATS like any.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::HeaderValue;
use tessera_core::AuditEventId;
use tessera_core::audit::{AuditEvent, Outcome};
use tessera_core::webhook::{
    Attempt, AttemptReport, Delivery, DisablePolicy, DisabledReason, NextStep, Recorded,
    RetryPolicy, Webhook,
};
use time::OffsetDateTime;
use url::Url;

use super::signing;
use super::ssrf::{self, GuardedResolver};
use crate::state::AppState;

/// Attempts in flight at once, per instance.
pub const MAX_IN_FLIGHT: usize = 32;
/// How long a lease outlives the attempt's timeout.
const LEASE_MARGIN_SECS: u64 = 30;
/// Characters of an error kept in the history.
const MAX_ERROR_LEN: usize = 300;

/// What an instance needs to send deliveries.
#[derive(Debug, Clone)]
pub struct Deliverer {
    state: AppState,
    client: reqwest::Client,
    retry: RetryPolicy,
}

impl Deliverer {
    pub fn new(state: AppState) -> Result<Self, reqwest::Error> {
        let config = &state.config;
        let timeout = Duration::from_secs(config.webhooks_timeout_secs);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A proxy from the environment would reach addresses the guard refuses.
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .dns_resolver(GuardedResolver {
                allow_private: config.webhooks_allow_private_targets,
            })
            .user_agent(concat!("Tessera-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let retry = RetryPolicy {
            delays: config
                .webhooks_retry_schedule_secs
                .iter()
                .map(|&secs| Duration::from_secs(secs))
                .collect(),
        };
        Ok(Self {
            state,
            client,
            retry,
        })
    }

    /// Leases up to `limit` due deliveries under a fresh lease token.
    pub async fn claim(
        &self,
        limit: usize,
    ) -> Result<Vec<(String, Delivery, Webhook)>, tessera_core::StoreError> {
        let now = self.state.clock.now();
        let lease = uuid::Uuid::now_v7().simple().to_string();
        let lease_secs = self.state.config.webhooks_timeout_secs + LEASE_MARGIN_SECS;
        let until = now + time::Duration::seconds(i64::try_from(lease_secs).unwrap_or(3600));
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        let claimed = self
            .state
            .store
            .claim_deliveries(now, &lease, until, limit)
            .await?;
        Ok(claimed
            .into_iter()
            .map(|(delivery, webhook)| (lease.clone(), delivery, webhook))
            .collect())
    }

    /// Makes one attempt and records it.
    pub async fn attempt(&self, lease: String, delivery: Delivery, webhook: Webhook) {
        let started_at = self.state.clock.now();
        let started = Instant::now();
        let result = self.send(&delivery, &webhook).await;
        let duration_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
        metrics::histogram!("tessera_webhook_attempt_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        let (status_code, error) = match result {
            Ok(status) if (200..300).contains(&status) => (Some(status), None),
            Ok(status) => (Some(status), Some(format!("HTTP {status}"))),
            Err(error) => (None, Some(error)),
        };
        let number = delivery.attempts + 1;
        let now = self.state.clock.now();
        let next = if error.is_none() {
            NextStep::Delivered
        } else {
            let in_round = number.saturating_sub(delivery.round_start);
            self.retry.after_failure(in_round, now, jitter())
        };
        let outcome = match next {
            NextStep::Delivered => "delivered",
            NextStep::RetryAt(_) => "retry",
            NextStep::DeadLetter => "dead_letter",
        };
        metrics::counter!("tessera_webhook_attempts_total", "outcome" => outcome).increment(1);
        if let Some(error) = &error {
            tracing::info!(delivery_id = %delivery.id, webhook_id = %webhook.id, attempt = number, error = %error, next = outcome, "webhook attempt failed");
        }
        let report = AttemptReport {
            tenant_id: delivery.tenant_id,
            webhook_id: webhook.id,
            delivery_id: delivery.id,
            lease,
            attempt: Attempt {
                number,
                attempted_at: started_at,
                status_code,
                error,
                duration_ms,
            },
            next,
        };
        let config = &self.state.config;
        let failing_for =
            i64::try_from(config.webhooks_disable_after_failing_secs).unwrap_or(i64::MAX);
        let policy = DisablePolicy {
            after_dead_letters: i64::from(config.webhooks_disable_after_dead_letters),
            failing_since_before: now
                .checked_sub(time::Duration::seconds(failing_for))
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        };
        match self.state.store.record_attempt(&report, &policy).await {
            Ok(Recorded::Done { disabled }) => {
                match next {
                    NextStep::Delivered => {
                        metrics::counter!("tessera_webhook_deliveries_total", "outcome" => "delivered").increment(1);
                    }
                    NextStep::DeadLetter => {
                        metrics::counter!("tessera_webhook_deliveries_total", "outcome" => "dead_letter").increment(1);
                        metrics::counter!("tessera_webhook_dead_letters_total").increment(1);
                    }
                    NextStep::RetryAt(_) => {}
                }
                if let Some(reason) = disabled {
                    self.announce_disabled(&webhook, reason).await;
                }
            }
            Ok(Recorded::LeaseLost) => {
                tracing::warn!(delivery_id = %delivery.id, "a webhook attempt outlived its lease; another instance took the delivery over");
            }
            Err(error) => {
                // The lease expires and the delivery is attempted again: at least once.
                tracing::error!(delivery_id = %delivery.id, error = %error, "recording a webhook attempt failed");
            }
        }
    }

    /// POSTs the delivery; the receiver's status, or why there was none.
    async fn send(&self, delivery: &Delivery, webhook: &Webhook) -> Result<u16, String> {
        let config = &self.state.config;
        let url = Url::parse(&webhook.url).map_err(|e| format!("invalid url: {e}"))?;
        ssrf::check_target(&url, config.webhooks_allow_private_targets)?;
        let now = self.state.clock.now();
        let mut keys = Vec::new();
        for sealed in webhook.signing_secrets(now) {
            let key = signing::open(&self.state.master, webhook.id, sealed).map_err(|e| {
                tracing::error!(webhook_id = %webhook.id, error = %e, "cannot open a webhook signing secret");
                "cannot sign: the signing secret does not open (master key changed?)".to_owned()
            })?;
            keys.push(key);
        }
        let msg_id = delivery.event_id.to_string();
        let timestamp = now.unix_timestamp();
        let body = delivery.payload.as_bytes();
        let signature =
            signing::signature_header(keys.iter().map(|k| k.as_slice()), &msg_id, timestamp, body);
        let response = self
            .client
            .post(url)
            .header(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )
            .header("webhook-id", &msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.payload.clone())
            .send()
            .await
            .map_err(|e| describe(&e, config.webhooks_timeout_secs))?;
        Ok(response.status().as_u16())
    }

    async fn announce_disabled(&self, webhook: &Webhook, reason: DisabledReason) {
        tracing::warn!(webhook_id = %webhook.id, tenant_id = %webhook.tenant_id, reason = reason.as_str(), "webhook subscription disabled");
        metrics::counter!("tessera_webhooks_disabled_total", "reason" => reason.as_str())
            .increment(1);
        let event = AuditEvent {
            id: AuditEventId::generate(),
            tenant_id: Some(webhook.tenant_id),
            actor: "system".to_owned(),
            action: "webhook.disabled".to_owned(),
            target: webhook.id.to_string(),
            outcome: Outcome::Success,
            // The reason is on the subscription (`disabled_reason`); `reason` is for failures.
            reason: String::new(),
            client_ip: None,
            request_id: None,
            occurred_at: self.state.clock.now(),
        };
        self.state.audit_writer.record(event).await;
    }
}

/// A transport failure in words, without the URL (it may carry a token in its query).
fn describe(error: &reqwest::Error, timeout_secs: u64) -> String {
    if error.is_timeout() {
        return format!("timed out after {timeout_secs} s");
    }
    let mut text = if error.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text.chars().take(MAX_ERROR_LEN).collect()
}

/// A random number in [0, 1) for jitter.
fn jitter() -> f64 {
    let mut bytes = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        return 0.5;
    }
    // 53 random bits: exactly representable.
    (u64::from_be_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// Runs attempts concurrently, at most [`MAX_IN_FLIGHT`] at a time.
pub type InFlight = tokio::task::JoinSet<()>;

/// Spawns attempts for up to the free capacity; returns how many were claimed.
pub async fn fill(deliverer: &Arc<Deliverer>, in_flight: &mut InFlight) -> usize {
    let free = MAX_IN_FLIGHT.saturating_sub(in_flight.len());
    if free == 0 {
        return 0;
    }
    match deliverer.claim(free).await {
        Ok(claimed) => {
            let n = claimed.len();
            for (lease, delivery, webhook) in claimed {
                let deliverer = Arc::clone(deliverer);
                in_flight.spawn(async move { deliverer.attempt(lease, delivery, webhook).await });
            }
            n
        }
        Err(error) => {
            tracing::warn!(error = %error, "claiming webhook deliveries failed");
            0
        }
    }
}
