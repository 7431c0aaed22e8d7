//! Fan-out: reads the audit log after the `webhooks` cursor, matches each event against its
//! tenant's active subscriptions and queues one delivery per match, moving the cursor in the
//! same transaction (so an event is queued once, whichever instance gets there first).

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use tessera_core::webhook::{Delivery, Webhook};
use tessera_core::{StoreError, TenantId};

use super::payload::event_body;
use crate::state::AppState;

/// The cursor this consumer keeps in the store.
pub const CONSUMER: &str = "webhooks";
/// Events read per batch.
const BATCH: u32 = 500;

/// Queues the deliveries of the next batch of events; returns how many events it consumed
/// (0 when there were none, or when another instance consumed them first).
pub async fn dispatch_batch(state: &AppState) -> Result<usize, StoreError> {
    let from = state.store.event_cursor(CONSUMER).await?;
    let events = state.store.audit_events_after(from, BATCH).await?;
    let Some(last) = events.last() else {
        return Ok(0);
    };
    let to = last.seq;
    let mut subscriptions: BTreeMap<TenantId, Vec<Webhook>> = BTreeMap::new();
    for tenant in events.iter().filter_map(|e| e.event.tenant_id) {
        if let Entry::Vacant(slot) = subscriptions.entry(tenant) {
            slot.insert(state.store.active_webhooks(tenant).await?);
        }
    }
    let now = state.clock.now();
    let mut deliveries = Vec::new();
    for chained in &events {
        let event = &chained.event;
        // Installation-wide events have no tenant, hence no subscriptions.
        let Some(webhooks) = event.tenant_id.and_then(|t| subscriptions.get(&t)) else {
            continue;
        };
        let mut body = None;
        for webhook in webhooks {
            if webhook.wants(&event.action, event.occurred_at) {
                let body = body.get_or_insert_with(|| event_body(event));
                deliveries.push(Delivery::queue(
                    webhook,
                    event.id,
                    &event.action,
                    body.clone(),
                    now,
                ));
            }
        }
    }
    if !state
        .store
        .enqueue_deliveries(CONSUMER, from, to, &deliveries)
        .await?
    {
        return Ok(0);
    }
    if !deliveries.is_empty() {
        metrics::counter!("tessera_webhook_deliveries_queued_total")
            .increment(deliveries.len() as u64);
    }
    Ok(events.len())
}
