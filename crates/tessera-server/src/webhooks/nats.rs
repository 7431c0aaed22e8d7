//! Events to NATS JetStream: when `nats_url` is set, every event of the log is published, in
//! log order, to `tessera.<tenant id or "installation">.<event type>` on the stream
//! `TESSERA_EVENTS` (created if missing, subjects `tessera.>`), with the event id as
//! `Nats-Msg-Id` so JetStream drops the repeats a retry or a second instance may send. The
//! `nats` cursor moves only past acknowledged events: while NATS is down nothing is lost, the
//! publisher retries with backoff, and requests never wait for it.

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use tessera_core::audit::ChainedEvent;
use tokio::sync::watch;

use super::payload::event_body;
use crate::config::Secret;
use crate::state::AppState;

/// The cursor this consumer keeps in the store.
pub const CONSUMER: &str = "nats";
pub const STREAM: &str = "TESSERA_EVENTS";
pub const SUBJECT_PREFIX: &str = "tessera";
/// Events published per batch.
const BATCH: u32 = 256;
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The subject an event is published on.
pub fn subject(event: &ChainedEvent) -> String {
    let scope = event
        .event
        .tenant_id
        .map_or_else(|| "installation".to_owned(), |t| t.to_string());
    // Event types are dotted words already; anything else a subject cannot hold becomes `_`.
    let event_type: String = event
        .event
        .action
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{SUBJECT_PREFIX}.{scope}.{event_type}")
}

/// Publishes until `stop` says so.
pub async fn run(state: AppState, url: Secret, mut stop: watch::Receiver<bool>) {
    let poll = Duration::from_millis(state.config.events_poll_interval_ms);
    let appended = state.audit_writer.appended();
    let mut backoff = poll;
    let mut context = None;
    loop {
        if *stop.borrow() {
            return;
        }
        let wait = match ensure_connected(&mut context, &url).await {
            Err(error) => {
                tracing::warn!(error = %error, retry_in_ms = backoff.as_millis() as u64, "NATS unavailable; events wait in the log");
                metrics::counter!("tessera_events_publish_failures_total", "sink" => "nats")
                    .increment(1);
                next_backoff(&mut backoff, poll)
            }
            Ok(js) => match publish_batch(&state, js).await {
                Ok(n) if n == BATCH as usize => {
                    backoff = poll;
                    continue;
                }
                Ok(_) => {
                    backoff = poll;
                    poll
                }
                Err(error) => {
                    tracing::warn!(error = %error, retry_in_ms = backoff.as_millis() as u64, "publishing events to NATS failed; retrying");
                    metrics::counter!("tessera_events_publish_failures_total", "sink" => "nats")
                        .increment(1);
                    next_backoff(&mut backoff, poll)
                }
            },
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = appended.notified(), if wait == poll => {}
            // An error means the `Workers` are gone: stop as well.
            changed = stop.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

fn next_backoff(backoff: &mut Duration, poll: Duration) -> Duration {
    let wait = *backoff;
    *backoff = (*backoff * 2).clamp(poll, MAX_BACKOFF);
    wait
}

/// Connects (once; the client reconnects by itself afterwards) and makes sure the stream exists.
async fn ensure_connected<'c>(
    context: &'c mut Option<jetstream::Context>,
    url: &Secret,
) -> Result<&'c jetstream::Context, String> {
    if context.is_none() {
        let servers: Vec<&str> = url.expose().split(',').map(str::trim).collect();
        let client = async_nats::ConnectOptions::new()
            .name("tessera")
            .connection_timeout(Duration::from_secs(5))
            .connect(&servers[..])
            .await
            .map_err(|e| format!("connecting: {e}"))?;
        let js = jetstream::new(client);
        js.get_or_create_stream(stream::Config {
            name: STREAM.to_owned(),
            subjects: vec![format!("{SUBJECT_PREFIX}.>")],
            ..Default::default()
        })
        .await
        .map_err(|e| format!("creating stream {STREAM}: {e}"))?;
        tracing::info!(stream = STREAM, "publishing events to NATS JetStream");
        *context = Some(js);
    }
    context.as_ref().ok_or_else(|| "not connected".to_owned())
}

/// Publishes the next batch and moves the cursor past every event JetStream acknowledged.
async fn publish_batch(state: &AppState, js: &jetstream::Context) -> Result<usize, String> {
    let from = state
        .store
        .event_cursor(CONSUMER)
        .await
        .map_err(|e| e.to_string())?;
    let events = state
        .store
        .audit_events_after(from, BATCH)
        .await
        .map_err(|e| e.to_string())?;
    if events.is_empty() {
        return Ok(0);
    }
    // Send them all, then collect the acknowledgements in order.
    let mut pending = Vec::with_capacity(events.len());
    let mut failure = None;
    for event in &events {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", event.event.id.to_string().as_str());
        match js
            .publish_with_headers(subject(event), headers, event_body(&event.event).into())
            .await
        {
            Ok(ack) => pending.push((event.seq, ack)),
            Err(error) => {
                failure = Some(error.to_string());
                break;
            }
        }
    }
    let mut acked = from;
    let mut published = 0usize;
    for (seq, ack) in pending {
        match ack.await {
            Ok(_) => {
                acked = seq;
                published += 1;
            }
            Err(error) => {
                failure.get_or_insert_with(|| error.to_string());
                break;
            }
        }
    }
    if acked > from {
        metrics::counter!("tessera_events_published_total", "sink" => "nats")
            .increment(published as u64);
        // False: another instance moved it first; what we sent was deduplicated by JetStream.
        state
            .store
            .advance_event_cursor(CONSUMER, from, acked)
            .await
            .map_err(|e| e.to_string())?;
    }
    match failure {
        Some(error) => Err(error),
        None => Ok(events.len()),
    }
}
