//! Events going out. The audit log is the outbox: consumers read it in commit order, each
//! keeping its position in the store (a cursor moved by compare-and-set), so nothing is lost
//! across restarts and two instances never both consume the same batch.
//!
//! - [`dispatcher`]: matches events against subscriptions and queues deliveries;
//! - [`deliverer`]: leases due deliveries, sends them signed ([`signing`]) to targets the
//!   [`ssrf`] guard allows, records each attempt, retries, dead-letters, disables;
//! - [`nats`]: publishes every event to NATS JetStream when `nats_url` is set;
//! - [`payload`]: the JSON body of an event, the same on both channels.
//!
//! Finished deliveries are pruned after `webhooks_history_days`.
//!
//! [`Workers`] runs them in the background of [`crate::App::serve`].

pub mod deliverer;
pub mod dispatcher;
pub mod nats;
pub mod payload;
pub mod signing;
pub mod ssrf;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use self::deliverer::{Deliverer, InFlight};
use crate::state::AppState;

/// The background tasks of the event consumers.
#[derive(Debug)]
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// How long stopping waits for attempts in flight before abandoning them (their leases
    /// expire and another instance, or the next start, attempts them again).
    grace: Duration,
}

impl Workers {
    /// Starts fan-out and delivery, and the NATS publisher when `nats_url` is set.
    pub fn start(state: &AppState) -> Self {
        let (stop, stopped) = watch::channel(false);
        let due = Arc::new(Notify::new());
        let mut tasks = vec![tokio::spawn(dispatch(
            state.clone(),
            stopped.clone(),
            Arc::clone(&due),
        ))];
        match Deliverer::new(state.clone()) {
            Ok(deliverer) => tasks.push(tokio::spawn(deliver(
                Arc::new(deliverer),
                state.config.events_poll_interval_ms,
                stopped.clone(),
                due,
            ))),
            Err(error) => {
                tracing::error!(error = %error, "cannot build the webhook HTTP client; webhooks are not delivered");
            }
        }
        if state.config.webhooks_history_days > 0 {
            tasks.push(tokio::spawn(prune(state.clone(), stopped.clone())));
        }
        if let Some(url) = state.config.nats_url.clone() {
            tasks.push(tokio::spawn(nats::run(state.clone(), url, stopped)));
        }
        Self {
            stop,
            tasks,
            grace: Duration::from_secs(state.config.webhooks_timeout_secs + 2),
        }
    }

    /// Stops taking new work, lets attempts in flight finish (for a while) and ends the tasks.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + self.grace;
        for mut task in self.tasks {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}

async fn dispatch(state: AppState, mut stop: watch::Receiver<bool>, due: Arc<Notify>) {
    let poll = Duration::from_millis(state.config.events_poll_interval_ms);
    let appended = state.audit_writer.appended();
    loop {
        if *stop.borrow() {
            return;
        }
        let wait = match dispatcher::dispatch_batch(&state).await {
            Ok(0) => poll,
            Ok(_) => {
                due.notify_one();
                // There may be more right away.
                Duration::ZERO
            }
            Err(error) => {
                tracing::warn!(error = %error, "queueing webhook deliveries failed; retrying");
                poll
            }
        };
        if wait.is_zero() {
            continue;
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = appended.notified() => {}
            // An error means the `Workers` are gone: stop as well.
            changed = stop.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

async fn deliver(
    deliverer: Arc<Deliverer>,
    poll_ms: u64,
    mut stop: watch::Receiver<bool>,
    due: Arc<Notify>,
) {
    let poll = Duration::from_millis(poll_ms);
    let mut in_flight = InFlight::new();
    loop {
        if *stop.borrow() {
            break;
        }
        // Claims what is due, up to the free capacity; a finished attempt frees a slot.
        deliverer::fill(&deliverer, &mut in_flight).await;
        tokio::select! {
            () = tokio::time::sleep(poll) => {}
            () = due.notified() => {}
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            // An error means the `Workers` are gone: stop as well.
            changed = stop.changed() => {
                if changed.is_err() {
                    break;
                }
            }
        }
    }
    // Attempts in flight finish and are recorded (Workers::stop bounds the wait).
    while in_flight.join_next().await.is_some() {}
}

/// How often finished deliveries past `webhooks_history_days` are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);
/// Deliveries deleted per statement, so pruning never holds long locks.
const PRUNE_BATCH: u32 = 1000;

async fn prune(state: AppState, mut stop: watch::Receiver<bool>) {
    let keep = time::Duration::days(i64::from(state.config.webhooks_history_days));
    loop {
        let before = state
            .clock
            .now()
            .checked_sub(keep)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        loop {
            match state.store.prune_deliveries(before, PRUNE_BATCH).await {
                Ok(n) if n == u64::from(PRUNE_BATCH) => {}
                Ok(n) => {
                    if n > 0 {
                        tracing::info!(deleted = n, "pruned old webhook deliveries");
                    }
                    break;
                }
                Err(error) => {
                    tracing::warn!(error = %error, "pruning webhook deliveries failed");
                    break;
                }
            }
            if *stop.borrow() {
                return;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(PRUNE_EVERY) => {}
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    return;
                }
            }
        }
    }
}
