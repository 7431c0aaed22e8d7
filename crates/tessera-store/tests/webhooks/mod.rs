//! The webhook part of the `Store` contract, on the backend the suite runs against: the delivery
//! queue's leases (one holder per delivery, also under concurrent claims), fan-out bound to the
//! consumer cursor, attempt records and the disable rule, redelivery, and tenant isolation.

use std::collections::BTreeSet;

use tessera_core::webhook::{
    Attempt, AttemptReport, Delivery, DeliveryFilter, DeliveryStatus, DisablePolicy,
    DisabledReason, EventTypes, NextStep, Recorded, Redelivery, Webhook, WebhookPatch,
    WebhookStatus, WebhookStore,
};
use tessera_core::{AuditEventId, DeliveryId, Store, WebhookId};
use tessera_store::SqlStore;

use crate::support::{T0, at, on_configured_backend, stored_tenant};

macro_rules! webhook_tests {
    ($($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                on_configured_backend(|store| async move { cases::$case(&store).await }).await;
            }
        )*
    };
}

webhook_tests!(
    subscriptions_round_trip_change_and_rotate,
    fan_out_is_bound_to_the_cursor_and_never_doubles,
    a_lease_hands_each_delivery_to_one_holder,
    attempts_retry_dead_letter_and_disable,
    redelivery_and_tenant_isolation,
    finished_deliveries_are_pruned,
);

fn webhook(tenant: &tessera_core::tenant::Tenant) -> Webhook {
    Webhook {
        id: WebhookId::generate(),
        tenant_id: tenant.id,
        url: "https://hooks.example.com/in".into(),
        event_types: EventTypes::new(["agent.create", "token.revoke"]).unwrap(),
        description: Some("ops".into()),
        status: WebhookStatus::Active,
        disabled_reason: None,
        sealed_secret: vec![1, 2, 3, 255],
        previous_sealed_secret: None,
        previous_secret_expires_at: None,
        dead_letter_streak: 0,
        failing_since: None,
        created_at: T0,
        updated_at: T0,
    }
}

fn delivery(hook: &Webhook) -> Delivery {
    Delivery::queue(
        hook,
        AuditEventId::generate(),
        "agent.create",
        r#"{"type":"agent.create"}"#.into(),
        T0,
    )
}

fn report(delivery: &Delivery, lease: &str, at_secs: i64, next: NextStep) -> AttemptReport {
    AttemptReport {
        tenant_id: delivery.tenant_id,
        webhook_id: delivery.webhook_id,
        delivery_id: delivery.id,
        lease: lease.into(),
        attempt: Attempt {
            number: delivery.attempts + 1,
            attempted_at: at(at_secs),
            status_code: (next == NextStep::Delivered).then_some(200).or(Some(500)),
            error: (next != NextStep::Delivered).then(|| "HTTP 500".into()),
            duration_ms: 12,
        },
        next,
    }
}

fn lenient() -> DisablePolicy {
    DisablePolicy {
        after_dead_letters: 100,
        failing_since_before: at(-1_000_000),
    }
}

/// Queues deliveries through the consumer cursor, as the dispatcher does.
async fn enqueue(store: &SqlStore, deliveries: &[Delivery]) {
    let from = store.event_cursor("webhooks").await.unwrap();
    assert!(
        store
            .enqueue_deliveries("webhooks", from, from + 1, deliveries)
            .await
            .unwrap()
    );
}

mod cases {
    use super::*;

    pub async fn subscriptions_round_trip_change_and_rotate(store: &SqlStore) {
        let (tenant, _) = stored_tenant(store).await;
        let mut hooks = Vec::new();
        for _ in 0..3 {
            let hook = webhook(&tenant);
            store.insert_webhook(&hook).await.unwrap();
            hooks.push(hook);
        }
        assert_eq!(
            store.webhook(tenant.id, hooks[0].id).await.unwrap(),
            Some(hooks[0].clone())
        );
        let first = store.webhooks(tenant.id, None, 2).await.unwrap();
        assert_eq!(first.items, hooks[..2]);
        let rest = store
            .webhooks(tenant.id, first.next_cursor, 2)
            .await
            .unwrap();
        assert_eq!((rest.items.len(), rest.next_cursor), (1, None));

        let patch = WebhookPatch {
            url: Some("https://other.example.com/".into()),
            description: Some(None),
            status: Some(WebhookStatus::Disabled),
            ..WebhookPatch::default()
        };
        let changed = store
            .update_webhook(tenant.id, hooks[0].id, &patch, at(5))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(changed.url, "https://other.example.com/");
        assert_eq!(changed.description, None);
        assert_eq!(changed.disabled_reason, Some(DisabledReason::Manual));
        assert_eq!(changed.event_types, hooks[0].event_types);
        assert_eq!(store.active_webhooks(tenant.id).await.unwrap().len(), 2);

        let rotated = store
            .rotate_webhook_secret(tenant.id, hooks[1].id, &[9, 9], at(86_400), at(10))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rotated.sealed_secret, [9, 9]);
        assert_eq!(
            rotated.previous_sealed_secret,
            Some(hooks[1].sealed_secret.clone())
        );
        assert_eq!(rotated.previous_secret_expires_at, Some(at(86_400)));
        assert!(store.delete_webhook(tenant.id, hooks[2].id).await.unwrap());
        assert!(!store.delete_webhook(tenant.id, hooks[2].id).await.unwrap());
    }

    pub async fn fan_out_is_bound_to_the_cursor_and_never_doubles(store: &SqlStore) {
        let (tenant, _) = stored_tenant(store).await;
        let hook = webhook(&tenant);
        store.insert_webhook(&hook).await.unwrap();
        let first = delivery(&hook);
        assert!(
            store
                .enqueue_deliveries("webhooks", 0, 5, std::slice::from_ref(&first))
                .await
                .unwrap()
        );
        // Another instance with the same batch finds the cursor moved and queues nothing.
        let late = delivery(&hook);
        assert!(
            !store
                .enqueue_deliveries("webhooks", 0, 5, &[late])
                .await
                .unwrap()
        );
        // The same event fanned out again is queued once.
        let again = Delivery {
            id: DeliveryId::generate(),
            ..first.clone()
        };
        assert!(
            store
                .enqueue_deliveries("webhooks", 5, 6, &[again])
                .await
                .unwrap()
        );
        assert_eq!(store.event_cursor("webhooks").await.unwrap(), 6);
        let queued = store
            .deliveries(tenant.id, &DeliveryFilter::default(), None, 10)
            .await
            .unwrap();
        assert_eq!(queued.items, [first]);
    }

    pub async fn a_lease_hands_each_delivery_to_one_holder(store: &SqlStore) {
        let (tenant, _) = stored_tenant(store).await;
        let hook = webhook(&tenant);
        store.insert_webhook(&hook).await.unwrap();
        let all: Vec<Delivery> = (0..20).map(|_| delivery(&hook)).collect();
        enqueue(store, &all).await;

        let (a, b) = tokio::join!(
            store.claim_deliveries(at(0), "lease-a", at(60), 15),
            store.claim_deliveries(at(0), "lease-b", at(60), 15),
        );
        let ids = |claimed: &[(Delivery, Webhook)]| -> BTreeSet<DeliveryId> {
            claimed.iter().map(|(d, _)| d.id).collect()
        };
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(ids(&a).is_disjoint(&ids(&b)), "two holders of one delivery");
        assert!(
            a.iter()
                .all(|(d, w)| w.id == d.webhook_id && w.tenant_id == tenant.id)
        );
        // Whatever neither got (PostgreSQL may skip rows the other was locking) is still due.
        let rest = store
            .claim_deliveries(at(0), "lease-c", at(60), 20)
            .await
            .unwrap();
        let mut held = ids(&a);
        held.extend(ids(&b));
        assert!(held.is_disjoint(&ids(&rest)));
        held.extend(ids(&rest));
        assert_eq!(held.len(), 20);
        assert!(
            store
                .claim_deliveries(at(59), "lease-d", at(120), 20)
                .await
                .unwrap()
                .is_empty(),
            "leases hold until they expire"
        );

        // An expired lease can be taken over; the old holder's report then changes nothing.
        let taken = store
            .claim_deliveries(at(60), "lease-e", at(120), 20)
            .await
            .unwrap();
        assert_eq!(taken.len(), 20);
        // Under SKIP LOCKED either concurrent claim may come back empty; the first holder of
        // anything serves as the stale one.
        let (stale, stale_lease) = [(&a, "lease-a"), (&b, "lease-b"), (&rest, "lease-c")]
            .into_iter()
            .find_map(|(claimed, lease)| claimed.first().map(|(d, _)| (d, lease)))
            .expect("twenty deliveries were claimed");
        assert_eq!(
            store
                .record_attempt(
                    &report(stale, stale_lease, 61, NextStep::Delivered),
                    &lenient()
                )
                .await
                .unwrap(),
            Recorded::LeaseLost
        );
        assert_eq!(
            store
                .record_attempt(
                    &report(stale, "lease-e", 61, NextStep::Delivered),
                    &lenient()
                )
                .await
                .unwrap(),
            Recorded::Done { disabled: None }
        );
        let done = store
            .delivery(tenant.id, hook.id, stale.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(done.status, DeliveryStatus::Delivered);
        assert_eq!(done.delivered_at, Some(at(61)));
    }

    pub async fn attempts_retry_dead_letter_and_disable(store: &SqlStore) {
        let (tenant, _) = stored_tenant(store).await;
        let hook = webhook(&tenant);
        store.insert_webhook(&hook).await.unwrap();
        let (first, second) = (delivery(&hook), delivery(&hook));
        enqueue(store, &[first.clone(), second.clone()]).await;
        let policy = DisablePolicy {
            after_dead_letters: 2,
            failing_since_before: at(-1_000_000),
        };

        let claimed = store
            .claim_deliveries(at(0), "l1", at(60), 1)
            .await
            .unwrap();
        let (d, _) = &claimed[0];
        let retry = report(d, "l1", 1, NextStep::RetryAt(at(100)));
        assert_eq!(
            store.record_attempt(&retry, &policy).await.unwrap(),
            Recorded::Done { disabled: None }
        );
        let pending = store
            .delivery(tenant.id, hook.id, d.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (pending.status, pending.attempts, pending.next_attempt_at),
            (DeliveryStatus::Pending, 1, Some(at(100)))
        );
        assert_eq!(pending.last_status_code, Some(500));
        let failing = store.webhook(tenant.id, hook.id).await.unwrap().unwrap();
        assert_eq!(failing.failing_since, Some(at(1)));

        // Not due before its time; the other one is.
        let claimed = store
            .claim_deliveries(at(50), "l2", at(110), 5)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        let (other, _) = &claimed[0];
        assert_ne!(other.id, d.id);
        let dead = report(other, "l2", 51, NextStep::DeadLetter);
        assert_eq!(
            store.record_attempt(&dead, &policy).await.unwrap(),
            Recorded::Done { disabled: None }
        );
        let claimed = store
            .claim_deliveries(at(100), "l3", at(160), 5)
            .await
            .unwrap();
        let (again, _) = &claimed[0];
        assert_eq!(again.attempts, 1);
        let dead = report(again, "l3", 101, NextStep::DeadLetter);
        assert_eq!(
            store.record_attempt(&dead, &policy).await.unwrap(),
            Recorded::Done {
                disabled: Some(DisabledReason::DeadLetters)
            }
        );
        let disabled = store.webhook(tenant.id, hook.id).await.unwrap().unwrap();
        assert_eq!(disabled.status, WebhookStatus::Disabled);
        assert_eq!(disabled.dead_letter_streak, 2);
        let attempts = store.delivery_attempts(tenant.id, again.id).await.unwrap();
        assert_eq!(
            attempts.iter().map(|a| a.number).collect::<Vec<_>>(),
            [1, 2]
        );
        let letters = DeliveryFilter {
            webhook: None,
            status: Some(DeliveryStatus::DeadLetter),
        };
        let page = store
            .deliveries(tenant.id, &letters, None, 1)
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        let next = store
            .deliveries(tenant.id, &letters, page.next_cursor, 1)
            .await
            .unwrap();
        assert!(next.items[0].id < page.items[0].id, "newest first");

        // Enabling forgives; failing for too long disables again, for that reason.
        let enable = WebhookPatch {
            status: Some(WebhookStatus::Active),
            ..WebhookPatch::default()
        };
        let enabled = store
            .update_webhook(tenant.id, hook.id, &enable, at(200))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (enabled.dead_letter_streak, enabled.failing_since),
            (0, None)
        );
        let third = Delivery {
            next_attempt_at: Some(at(200)),
            ..delivery(&hook)
        };
        enqueue(store, std::slice::from_ref(&third)).await;
        let claimed = store
            .claim_deliveries(at(200), "l4", at(260), 5)
            .await
            .unwrap();
        let (d, _) = &claimed[0];
        let too_long = DisablePolicy {
            after_dead_letters: 100,
            failing_since_before: at(300),
        };
        let retry = report(d, "l4", 201, NextStep::RetryAt(at(400)));
        assert_eq!(
            store.record_attempt(&retry, &too_long).await.unwrap(),
            Recorded::Done {
                disabled: Some(DisabledReason::FailingTooLong)
            }
        );
        assert!(
            store
                .claim_deliveries(at(500), "l5", at(560), 5)
                .await
                .unwrap()
                .is_empty(),
            "a disabled subscription's deliveries wait"
        );
    }

    pub async fn redelivery_and_tenant_isolation(store: &SqlStore) {
        let (tenant, _) = stored_tenant(store).await;
        let (other, _) = stored_tenant(store).await;
        let hook = webhook(&tenant);
        store.insert_webhook(&hook).await.unwrap();
        let d = delivery(&hook);
        enqueue(store, std::slice::from_ref(&d)).await;
        assert_eq!(
            store
                .redeliver(tenant.id, hook.id, d.id, at(1))
                .await
                .unwrap(),
            Redelivery::AlreadyPending
        );
        let claimed = store
            .claim_deliveries(at(0), "l1", at(60), 1)
            .await
            .unwrap();
        store
            .record_attempt(
                &report(&claimed[0].0, "l1", 1, NextStep::DeadLetter),
                &lenient(),
            )
            .await
            .unwrap();
        let Redelivery::Queued(queued) = store
            .redeliver(tenant.id, hook.id, d.id, at(5))
            .await
            .unwrap()
        else {
            panic!("a dead letter is redelivered");
        };
        assert_eq!(queued.status, DeliveryStatus::Pending);
        assert_eq!((queued.attempts, queued.round_start), (1, 1));
        assert_eq!(queued.next_attempt_at, Some(at(5)));

        // Another tenant reaches none of it, whatever ids it knows.
        assert_eq!(store.webhook(other.id, hook.id).await.unwrap(), None);
        assert!(
            store
                .webhooks(other.id, None, 10)
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert!(store.active_webhooks(other.id).await.unwrap().is_empty());
        let patch = WebhookPatch {
            status: Some(WebhookStatus::Disabled),
            ..WebhookPatch::default()
        };
        assert_eq!(
            store
                .update_webhook(other.id, hook.id, &patch, at(6))
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .rotate_webhook_secret(other.id, hook.id, &[1], at(9), at(6))
                .await
                .unwrap(),
            None
        );
        assert_eq!(store.delivery(other.id, hook.id, d.id).await.unwrap(), None);
        assert!(
            store
                .delivery_attempts(other.id, d.id)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .deliveries(other.id, &DeliveryFilter::default(), None, 10)
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert_eq!(
            store
                .redeliver(other.id, hook.id, d.id, at(6))
                .await
                .unwrap(),
            Redelivery::NotFound
        );
        assert!(!store.delete_webhook(other.id, hook.id).await.unwrap());
        // Deleting a subscription takes its deliveries and attempts with it.
        assert!(store.delete_webhook(tenant.id, hook.id).await.unwrap());
        assert!(
            store
                .delivery_attempts(tenant.id, d.id)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .deliveries(tenant.id, &DeliveryFilter::default(), None, 10)
                .await
                .unwrap()
                .items
                .is_empty()
        );
    }

    pub async fn finished_deliveries_are_pruned(store: &SqlStore) {
        let (tenant, _) = stored_tenant(store).await;
        let hook = webhook(&tenant);
        store.insert_webhook(&hook).await.unwrap();
        let (done, waiting) = (delivery(&hook), delivery(&hook));
        let recent = Delivery {
            created_at: at(100),
            next_attempt_at: Some(at(100)),
            ..delivery(&hook)
        };
        enqueue(store, &[done.clone(), waiting.clone(), recent.clone()]).await;
        for (d, _) in store
            .claim_deliveries(at(100), "l1", at(160), 10)
            .await
            .unwrap()
        {
            if d.id != waiting.id {
                store
                    .record_attempt(&report(&d, "l1", 101, NextStep::Delivered), &lenient())
                    .await
                    .unwrap();
            }
        }
        // Only finished deliveries queued before the cut go; a pending one stays whatever its age.
        assert_eq!(store.prune_deliveries(at(50), 10).await.unwrap(), 1);
        assert_eq!(store.prune_deliveries(at(50), 10).await.unwrap(), 0);
        let left: BTreeSet<DeliveryId> = store
            .deliveries(tenant.id, &DeliveryFilter::default(), None, 10)
            .await
            .unwrap()
            .items
            .iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(left, BTreeSet::from([waiting.id, recent.id]));
        assert!(
            store
                .delivery_attempts(tenant.id, done.id)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
