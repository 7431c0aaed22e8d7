//! The `usage` consumer of the audit log: it reads events in log order after its cursor, turns
//! them into usage counts ([`tessera_core::usage::count_events`]) and applies each batch in the
//! same store transaction that moves its cursor by compare-and-set.
//!
//! Every instance runs it. Two instances that read the same batch both try to move the cursor
//! from the same position; the store lets exactly one succeed and only that one's counts are
//! written (the loser's transaction adds nothing and it simply reads on from the new cursor). A
//! crash before the commit leaves counts and cursor untouched, so the batch is read again: each
//! event is counted exactly once. Counts lag the log by at most one wake-up: the local audit
//! writer wakes the consumer after each append, and events appended by other instances are
//! picked up every `usage_poll_secs`.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::usage::count_events;
use tessera_core::{Store, StoreError};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::state::AppState;

/// The consumer's name in the store's cursor table.
pub const CONSUMER: &str = "usage";
/// Events read and applied per transaction at most.
const BATCH: u32 = 500;

/// Applies the next batch of the log after the consumer's cursor. Returns how many events the
/// batch held (0 when caught up), whether this call or another instance applied it.
pub async fn consume_once(store: &dyn Store) -> Result<usize, StoreError> {
    let from = store.event_cursor(CONSUMER).await?;
    let events = store.audit_events_after(from, BATCH).await?;
    let Some(last) = events.last() else {
        return Ok(0);
    };
    let counts = count_events(events.iter().map(|e| &e.event));
    if store
        .apply_usage_batch(CONSUMER, from, last.seq, &counts)
        .await?
    {
        metrics::counter!("tessera_usage_events_consumed_total").increment(events.len() as u64);
    }
    Ok(events.len())
}

/// The running consumer of one instance.
#[derive(Debug)]
pub struct UsageConsumer {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl UsageConsumer {
    pub fn spawn(state: &AppState) -> Self {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(
            Arc::clone(&state.store),
            state.audit_writer.appended(),
            Duration::from_secs(state.config.usage_poll_secs),
            stopped,
        ));
        Self { stop, task }
    }

    /// Stops after the batch in progress (which is one transaction, so it is either applied
    /// whole or read again at the next start).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::warn!(error = %error, "the usage consumer ended abnormally");
        }
    }
}

async fn run(
    store: Arc<dyn Store>,
    appended: Arc<Notify>,
    poll: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    while !*stopped.borrow() {
        // Registered before reading, so an append during the read still wakes the next wait.
        let wake = appended.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        match consume_once(store.as_ref()).await {
            // A full batch: there may be more right away.
            Ok(read) if read == BATCH as usize => continue,
            Ok(_) => {}
            Err(error) => tracing::warn!(error = %error, "counting usage failed; retrying"),
        }
        tokio::select! {
            () = &mut wake => {}
            () = tokio::time::sleep(poll) => {}
            changed = stopped.changed() => {
                // The handle is gone without a word: nobody can stop this task any more.
                if changed.is_err() {
                    break;
                }
            }
        }
    }
}
