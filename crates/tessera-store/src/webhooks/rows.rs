//! Stored rows of the webhook tables read back into domain objects, and their column lists.

use sqlx::any::AnyRow;
use tessera_core::StoreError;
use tessera_core::webhook::{
    Attempt, Delivery, DeliveryStatus, DisabledReason, EventTypes, Webhook, WebhookStatus,
};

use crate::error::corrupt;
use crate::rows::{get, opt_time, parsed, time, word};

macro_rules! webhook_columns {
    () => {
        "id, tenant_id, url, event_types, description, status, disabled_reason, sealed_secret, \
         previous_sealed_secret, previous_secret_expires_at, dead_letter_streak, failing_since, \
         created_at, updated_at"
    };
}
macro_rules! delivery_columns {
    () => {
        "id, tenant_id, webhook_id, event_id, event_type, payload, status, attempts, round_start, \
         next_attempt_at, last_attempt_at, last_status_code, last_error, delivered_at, created_at"
    };
}
macro_rules! attempt_columns {
    () => {
        "number, attempted_at, status_code, error, duration_ms"
    };
}
pub(crate) use {attempt_columns, delivery_columns, webhook_columns};

/// The stored form of a subscription's event types: a JSON array of strings.
pub(crate) fn event_types_json(types: &EventTypes) -> String {
    serde_json::Value::from(types.iter().collect::<Vec<_>>()).to_string()
}

fn count<T: TryFrom<i64>>(row: &AnyRow, column: &'static str) -> Result<T, StoreError>
where
    T::Error: std::fmt::Display,
{
    let n: i64 = get(row, column)?;
    T::try_from(n).map_err(|e| corrupt(column, e))
}

fn opt_count<T: TryFrom<i64>>(row: &AnyRow, column: &'static str) -> Result<Option<T>, StoreError>
where
    T::Error: std::fmt::Display,
{
    let n: Option<i64> = get(row, column)?;
    n.map(T::try_from)
        .transpose()
        .map_err(|e| corrupt(column, e))
}

pub(crate) fn webhook(row: &AnyRow) -> Result<Webhook, StoreError> {
    let types: Vec<String> = parsed(row, "event_types", |text| serde_json::from_str(text))?;
    let reason: Option<String> = get(row, "disabled_reason")?;
    Ok(Webhook {
        id: parsed(row, "id", str::parse)?,
        tenant_id: parsed(row, "tenant_id", str::parse)?,
        url: get(row, "url")?,
        event_types: EventTypes::new(types).map_err(|e| corrupt("event_types", e))?,
        description: get(row, "description")?,
        status: word(row, "status", WebhookStatus::parse)?,
        disabled_reason: reason
            .map(|r| DisabledReason::parse(&r).ok_or_else(|| corrupt("disabled_reason", r)))
            .transpose()?,
        sealed_secret: get(row, "sealed_secret")?,
        previous_sealed_secret: get(row, "previous_sealed_secret")?,
        previous_secret_expires_at: opt_time(row, "previous_secret_expires_at")?,
        dead_letter_streak: get(row, "dead_letter_streak")?,
        failing_since: opt_time(row, "failing_since")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(crate) fn delivery(row: &AnyRow) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        id: parsed(row, "id", str::parse)?,
        tenant_id: parsed(row, "tenant_id", str::parse)?,
        webhook_id: parsed(row, "webhook_id", str::parse)?,
        event_id: parsed(row, "event_id", str::parse)?,
        event_type: get(row, "event_type")?,
        payload: get(row, "payload")?,
        status: word(row, "status", DeliveryStatus::parse)?,
        attempts: count(row, "attempts")?,
        round_start: count(row, "round_start")?,
        next_attempt_at: opt_time(row, "next_attempt_at")?,
        last_attempt_at: opt_time(row, "last_attempt_at")?,
        last_status_code: opt_count(row, "last_status_code")?,
        last_error: get(row, "last_error")?,
        delivered_at: opt_time(row, "delivered_at")?,
        created_at: time(row, "created_at")?,
    })
}

pub(crate) fn attempt(row: &AnyRow) -> Result<Attempt, StoreError> {
    Ok(Attempt {
        number: count(row, "number")?,
        attempted_at: time(row, "attempted_at")?,
        status_code: opt_count(row, "status_code")?,
        error: get(row, "error")?,
        duration_ms: count(row, "duration_ms")?,
    })
}
