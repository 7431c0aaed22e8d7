//! Webhook subscriptions, the delivery queue and the attempt history.
//!
//! The queue is `webhook_deliveries`: a delivery is handed to one sender at a time by a lease
//! (a token and an expiry written by a conditional update, re-checked by PostgreSQL against the
//! latest row version, so two instances never both win it), and the sender's report is applied
//! only while it still holds that lease.

mod rows;

use async_trait::async_trait;
use sqlx::AnyConnection;
use tessera_core::store::StoreResult;
use tessera_core::webhook::{
    Attempt, AttemptReport, Delivery, DeliveryFilter, DeliveryStatus, DisablePolicy,
    DisabledReason, NextStep, Recorded, Redelivery, Webhook, WebhookPatch, WebhookStore,
};
use tessera_core::{DeliveryId, Page, TenantId, WebhookId};
use time::OffsetDateTime;

use self::rows::{attempt_columns, delivery_columns, event_types_json, webhook_columns};
use crate::SqlStore;
use crate::error::{db_error, write_error};
use crate::rows::{all, opt_secs, secs};

/// Sorts after every delivery id, so "no cursor" in a newest-first listing needs no other query.
const AFTER_EVERY_ID: &str = "~";

impl SqlStore {
    async fn read_webhook_on(
        conn: &mut AnyConnection,
        tenant: TenantId,
        id: WebhookId,
    ) -> StoreResult<Option<Webhook>> {
        sqlx::query(concat!(
            "SELECT ",
            webhook_columns!(),
            " FROM webhooks WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(rows::webhook)
        .transpose()
    }

    async fn read_delivery_on(
        conn: &mut AnyConnection,
        tenant: TenantId,
        webhook: WebhookId,
        id: DeliveryId,
    ) -> StoreResult<Option<Delivery>> {
        sqlx::query(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2 AND id = $3"
        ))
        .bind(tenant.to_string())
        .bind(webhook.to_string())
        .bind(id.to_string())
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(rows::delivery)
        .transpose()
    }

    /// Applies an attempt's consequence to its subscription: a success clears the failure
    /// counters, a failure starts (or continues) the failing run, a dead letter lengthens the
    /// streak; then disables the subscription when the policy says so.
    async fn count_outcome(
        conn: &mut AnyConnection,
        report: &AttemptReport,
        disable: &DisablePolicy,
    ) -> StoreResult<Option<DisabledReason>> {
        let tenant = report.tenant_id.to_string();
        let webhook = report.webhook_id.to_string();
        let at = secs(report.attempt.attempted_at);
        let statement = match report.next {
            // The first two write only on a change, so that a busy, healthy subscription's
            // deliveries do not queue on its row.
            NextStep::Delivered => {
                "UPDATE webhooks SET dead_letter_streak = 0, failing_since = NULL \
                 WHERE tenant_id = $1 AND id = $2 \
                 AND (dead_letter_streak <> 0 OR failing_since IS NOT NULL)"
            }
            NextStep::RetryAt(_) => {
                "UPDATE webhooks SET failing_since = $3 \
                 WHERE tenant_id = $1 AND id = $2 AND failing_since IS NULL"
            }
            NextStep::DeadLetter => {
                "UPDATE webhooks SET failing_since = COALESCE(failing_since, $3), \
                 dead_letter_streak = dead_letter_streak + 1 WHERE tenant_id = $1 AND id = $2"
            }
        };
        let mut counters = sqlx::query(statement).bind(&tenant).bind(&webhook);
        if report.next != NextStep::Delivered {
            counters = counters.bind(at);
        }
        counters.execute(&mut *conn).await.map_err(db_error)?;
        if report.next == NextStep::Delivered {
            return Ok(None);
        }
        let rules = [
            (
                DisabledReason::DeadLetters,
                "UPDATE webhooks SET status = 'disabled', disabled_reason = $3, updated_at = $4 \
                 WHERE tenant_id = $1 AND id = $2 AND status = 'active' AND dead_letter_streak >= $5",
                disable.after_dead_letters,
            ),
            (
                DisabledReason::FailingTooLong,
                "UPDATE webhooks SET status = 'disabled', disabled_reason = $3, updated_at = $4 \
                 WHERE tenant_id = $1 AND id = $2 AND status = 'active' AND failing_since <= $5",
                secs(disable.failing_since_before),
            ),
        ];
        for (reason, statement, threshold) in rules {
            let disabled = sqlx::query(statement)
                .bind(&tenant)
                .bind(&webhook)
                .bind(reason.as_str())
                .bind(at)
                .bind(threshold)
                .execute(&mut *conn)
                .await
                .map_err(db_error)?
                .rows_affected();
            if disabled == 1 {
                return Ok(Some(reason));
            }
        }
        Ok(None)
    }
}

#[async_trait]
impl WebhookStore for SqlStore {
    async fn insert_webhook(&self, webhook: &Webhook) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO webhooks (",
            webhook_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(webhook.id.to_string())
        .bind(webhook.tenant_id.to_string())
        .bind(&webhook.url)
        .bind(event_types_json(&webhook.event_types))
        .bind(webhook.description.as_deref())
        .bind(webhook.status.as_str())
        .bind(webhook.disabled_reason.map(DisabledReason::as_str))
        .bind(webhook.sealed_secret.as_slice())
        .bind(webhook.previous_sealed_secret.as_deref())
        .bind(opt_secs(webhook.previous_secret_expires_at))
        .bind(webhook.dead_letter_streak)
        .bind(opt_secs(webhook.failing_since))
        .bind(secs(webhook.created_at))
        .bind(secs(webhook.updated_at))
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "webhooks.tenant_id"))?;
        Ok(())
    }

    async fn webhook(&self, tenant: TenantId, id: WebhookId) -> StoreResult<Option<Webhook>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        Self::read_webhook_on(&mut conn, tenant, id).await
    }

    async fn webhooks(
        &self,
        tenant: TenantId,
        after: Option<WebhookId>,
        limit: u32,
    ) -> StoreResult<Page<Webhook, WebhookId>> {
        let limit = limit.max(1);
        let rows = sqlx::query(concat!(
            "SELECT ",
            webhook_columns!(),
            " FROM webhooks WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(tenant.to_string())
        // Every id sorts after the empty string.
        .bind(after.map(|id| id.to_string()).unwrap_or_default())
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let mut items = all(rows, rows::webhook)?;
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next_cursor = if more {
            items.last().map(|w| w.id)
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn active_webhooks(&self, tenant: TenantId) -> StoreResult<Vec<Webhook>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            webhook_columns!(),
            " FROM webhooks WHERE tenant_id = $1 AND status = 'active' ORDER BY id"
        ))
        .bind(tenant.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        all(rows, rows::webhook)
    }

    async fn update_webhook(
        &self,
        tenant: TenantId,
        id: WebhookId,
        patch: &WebhookPatch,
        at: OffsetDateTime,
    ) -> StoreResult<Option<Webhook>> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // Write first, so the row (PostgreSQL) or the database (SQLite) is locked before the
        // read and a concurrent change can be neither lost nor fail the commit.
        let touched =
            sqlx::query("UPDATE webhooks SET updated_at = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.to_string())
                .bind(id.to_string())
                .bind(secs(at))
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected();
        if touched == 0 {
            return Ok(None);
        }
        let Some(mut webhook) = Self::read_webhook_on(&mut tx, tenant, id).await? else {
            return Ok(None);
        };
        webhook.apply(patch, at);
        sqlx::query(
            "UPDATE webhooks SET url = $3, event_types = $4, description = $5, status = $6, \
             disabled_reason = $7, dead_letter_streak = $8, failing_since = $9, updated_at = $10 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .bind(&webhook.url)
        .bind(event_types_json(&webhook.event_types))
        .bind(webhook.description.as_deref())
        .bind(webhook.status.as_str())
        .bind(webhook.disabled_reason.map(DisabledReason::as_str))
        .bind(webhook.dead_letter_streak)
        .bind(opt_secs(webhook.failing_since))
        .bind(secs(webhook.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(Some(webhook))
    }

    async fn rotate_webhook_secret(
        &self,
        tenant: TenantId,
        id: WebhookId,
        sealed_secret: &[u8],
        previous_expires_at: OffsetDateTime,
        at: OffsetDateTime,
    ) -> StoreResult<Option<Webhook>> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // Right-hand sides read the row as it was, so the current secret becomes the previous.
        let rotated = sqlx::query(
            "UPDATE webhooks SET previous_sealed_secret = sealed_secret, \
             previous_secret_expires_at = $3, sealed_secret = $4, updated_at = $5 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .bind(secs(previous_expires_at))
        .bind(sealed_secret)
        .bind(secs(at))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if rotated == 0 {
            return Ok(None);
        }
        let webhook = Self::read_webhook_on(&mut tx, tenant, id).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(webhook)
    }

    async fn delete_webhook(&self, tenant: TenantId, id: WebhookId) -> StoreResult<bool> {
        // Its deliveries and their attempts go with it (ON DELETE CASCADE).
        let deleted = sqlx::query("DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_error)?
            .rows_affected();
        Ok(deleted > 0)
    }

    async fn enqueue_deliveries(
        &self,
        consumer: &str,
        from: i64,
        to: i64,
        deliveries: &[Delivery],
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // A write first: SQLite takes its write lock here, PostgreSQL the cursor row's lock in
        // the update below; a second instance with the same batch waits, then finds it moved.
        sqlx::query(
            "INSERT INTO event_cursors (consumer, seq) VALUES ($1, 0) \
             ON CONFLICT (consumer) DO NOTHING",
        )
        .bind(consumer)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let moved =
            sqlx::query("UPDATE event_cursors SET seq = $3 WHERE consumer = $1 AND seq = $2")
                .bind(consumer)
                .bind(from)
                .bind(to)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected();
        if moved != 1 {
            tx.rollback().await.map_err(db_error)?;
            return Ok(false);
        }
        for delivery in deliveries {
            sqlx::query(concat!(
                "INSERT INTO webhook_deliveries (",
                delivery_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
                 ON CONFLICT (webhook_id, event_id) DO NOTHING"
            ))
            .bind(delivery.id.to_string())
            .bind(delivery.tenant_id.to_string())
            .bind(delivery.webhook_id.to_string())
            .bind(delivery.event_id.to_string())
            .bind(&delivery.event_type)
            .bind(&delivery.payload)
            .bind(delivery.status.as_str())
            .bind(i64::from(delivery.attempts))
            .bind(i64::from(delivery.round_start))
            .bind(opt_secs(delivery.next_attempt_at))
            .bind(opt_secs(delivery.last_attempt_at))
            .bind(delivery.last_status_code.map(i64::from))
            .bind(delivery.last_error.as_deref())
            .bind(opt_secs(delivery.delivered_at))
            .bind(secs(delivery.created_at))
            .execute(&mut *tx)
            .await
            .map_err(|e| write_error(e, "webhook_deliveries.webhook_id"))?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease: &str,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<(Delivery, Webhook)>> {
        // The outer conditions repeat the inner ones: PostgreSQL re-checks them against the
        // newest version of a row another claim has just leased, and then skips it.
        sqlx::query(
            "UPDATE webhook_deliveries SET lease_token = $1, lease_until = $2 WHERE id IN (\
               SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
               WHERE d.status = 'pending' AND d.next_attempt_at <= $3 \
               AND (d.lease_until IS NULL OR d.lease_until <= $3) AND w.status = 'active' \
               ORDER BY d.next_attempt_at, d.id LIMIT $4) \
             AND status = 'pending' AND next_attempt_at <= $3 \
             AND (lease_until IS NULL OR lease_until <= $3)",
        )
        .bind(lease)
        .bind(secs(lease_until))
        .bind(secs(now))
        .bind(i64::from(limit.max(1)))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        let deliveries = all(
            sqlx::query(concat!(
                "SELECT ",
                delivery_columns!(),
                " FROM webhook_deliveries WHERE lease_token = $1 ORDER BY id"
            ))
            .bind(lease)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?,
            rows::delivery,
        )?;
        if deliveries.is_empty() {
            return Ok(Vec::new());
        }
        let webhooks = all(
            sqlx::query(concat!(
                "SELECT ",
                webhook_columns!(),
                " FROM webhooks WHERE id IN \
                 (SELECT webhook_id FROM webhook_deliveries WHERE lease_token = $1)"
            ))
            .bind(lease)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?,
            rows::webhook,
        )?;
        Ok(deliveries
            .into_iter()
            .filter_map(|d| {
                let webhook = webhooks
                    .iter()
                    .find(|w| w.id == d.webhook_id && w.tenant_id == d.tenant_id)?;
                Some((d, webhook.clone()))
            })
            .collect())
    }

    async fn record_attempt(
        &self,
        report: &AttemptReport,
        disable: &DisablePolicy,
    ) -> StoreResult<Recorded> {
        let attempt = &report.attempt;
        let at = secs(attempt.attempted_at);
        let (status, next_at, delivered_at) = match report.next {
            NextStep::Delivered => (DeliveryStatus::Delivered, None, Some(at)),
            NextStep::RetryAt(next) => (DeliveryStatus::Pending, Some(secs(next)), None),
            NextStep::DeadLetter => (DeliveryStatus::DeadLetter, None, None),
        };
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let updated = sqlx::query(
            "UPDATE webhook_deliveries SET status = $4, attempts = $5, next_attempt_at = $6, \
             last_attempt_at = $7, last_status_code = $8, last_error = $9, \
             delivered_at = COALESCE($10, delivered_at), lease_token = NULL, lease_until = NULL \
             WHERE tenant_id = $1 AND id = $2 AND lease_token = $3",
        )
        .bind(report.tenant_id.to_string())
        .bind(report.delivery_id.to_string())
        .bind(&report.lease)
        .bind(status.as_str())
        .bind(i64::from(attempt.number))
        .bind(next_at)
        .bind(at)
        .bind(attempt.status_code.map(i64::from))
        .bind(attempt.error.as_deref())
        .bind(delivered_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if updated == 0 {
            tx.rollback().await.map_err(db_error)?;
            return Ok(Recorded::LeaseLost);
        }
        sqlx::query(concat!(
            "INSERT INTO webhook_attempts (delivery_id, tenant_id, ",
            attempt_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (delivery_id, number) DO NOTHING"
        ))
        .bind(report.delivery_id.to_string())
        .bind(report.tenant_id.to_string())
        .bind(i64::from(attempt.number))
        .bind(at)
        .bind(attempt.status_code.map(i64::from))
        .bind(attempt.error.as_deref())
        .bind(i64::from(attempt.duration_ms))
        .execute(&mut *tx)
        .await
        .map_err(|e| write_error(e, "webhook_attempts.delivery_id"))?;
        let disabled = Self::count_outcome(&mut tx, report, disable).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Recorded::Done { disabled })
    }

    async fn deliveries(
        &self,
        tenant: TenantId,
        filter: &DeliveryFilter,
        before: Option<DeliveryId>,
        limit: u32,
    ) -> StoreResult<Page<Delivery, DeliveryId>> {
        let limit = limit.max(1);
        let rows = sqlx::query(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM webhook_deliveries WHERE tenant_id = $1",
            " AND ($2 IS NULL OR webhook_id = $2) AND ($3 IS NULL OR status = $3)",
            " AND id < $4 ORDER BY id DESC LIMIT $5"
        ))
        .bind(tenant.to_string())
        .bind(filter.webhook.map(|id| id.to_string()))
        .bind(filter.status.map(DeliveryStatus::as_str))
        .bind(
            before
                .map(|id| id.to_string())
                .unwrap_or_else(|| AFTER_EVERY_ID.to_owned()),
        )
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let mut items = all(rows, rows::delivery)?;
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next_cursor = if more {
            items.last().map(|d| d.id)
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn delivery(
        &self,
        tenant: TenantId,
        webhook: WebhookId,
        id: DeliveryId,
    ) -> StoreResult<Option<Delivery>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        Self::read_delivery_on(&mut conn, tenant, webhook, id).await
    }

    async fn delivery_attempts(
        &self,
        tenant: TenantId,
        id: DeliveryId,
    ) -> StoreResult<Vec<Attempt>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            attempt_columns!(),
            " FROM webhook_attempts WHERE tenant_id = $1 AND delivery_id = $2 ORDER BY number"
        ))
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        all(rows, rows::attempt)
    }

    async fn prune_deliveries(&self, before: OffsetDateTime, limit: u32) -> StoreResult<u64> {
        // Their attempts go with them (ON DELETE CASCADE).
        let deleted = sqlx::query(
            "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries \
             WHERE created_at < $1 AND status <> 'pending' ORDER BY created_at LIMIT $2)",
        )
        .bind(secs(before))
        .bind(i64::from(limit.max(1)))
        .execute(&self.pool)
        .await
        .map_err(db_error)?
        .rows_affected();
        Ok(deleted)
    }

    async fn redeliver(
        &self,
        tenant: TenantId,
        webhook: WebhookId,
        id: DeliveryId,
        at: OffsetDateTime,
    ) -> StoreResult<Redelivery> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let queued = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $4, \
             round_start = attempts, lease_token = NULL, lease_until = NULL \
             WHERE tenant_id = $1 AND webhook_id = $2 AND id = $3 AND status <> 'pending'",
        )
        .bind(tenant.to_string())
        .bind(webhook.to_string())
        .bind(id.to_string())
        .bind(secs(at))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        let delivery = Self::read_delivery_on(&mut tx, tenant, webhook, id).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(match delivery {
            Some(delivery) if queued == 1 => Redelivery::Queued(Box::new(delivery)),
            Some(_) => Redelivery::AlreadyPending,
            None => Redelivery::NotFound,
        })
    }
}
