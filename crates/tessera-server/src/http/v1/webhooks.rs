//! `/v1/tenants/{tenant_id}/webhooks`: subscriptions (create with a secret shown once, list,
//! read, change, delete, rotate the secret with 24 h of overlap), their delivery history, the
//! tenant's dead letters, and redelivery.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tessera_core::webhook::{
    Attempt, Delivery, DeliveryFilter, DeliveryStatus, DisabledReason, EventTypes, Redelivery,
    Webhook, WebhookPatch, WebhookStatus,
};
use tessera_core::{DeliveryId, TenantId, WebhookId, validate};
use tessera_proto::webhooks as wire;
use tessera_proto::{ErrorBody, ErrorCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::extract::{Read, TenantAccess, WebhooksWrite};
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::{ApiJson, ApiQuery, path_id};
use crate::http::openapi::{BodyErrors, KeyErrors};
use crate::state::AppState;
use crate::webhooks::{signing, ssrf};

/// How long a rotated-out secret keeps signing alongside the new one.
const SECRET_OVERLAP: time::Duration = time::Duration::hours(24);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_webhook, list_webhooks))
        .routes(routes!(list_dead_letters))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(rotate_secret))
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(redeliver))
}

fn view(webhook: &Webhook) -> wire::Webhook {
    wire::Webhook {
        id: webhook.id.to_string(),
        tenant_id: webhook.tenant_id.to_string(),
        url: webhook.url.clone(),
        event_types: webhook.event_types.iter().map(str::to_owned).collect(),
        description: webhook.description.clone(),
        status: match webhook.status {
            WebhookStatus::Active => wire::WebhookStatus::Active,
            WebhookStatus::Disabled => wire::WebhookStatus::Disabled,
        },
        disabled_reason: webhook.disabled_reason.map(|r| match r {
            DisabledReason::Manual => wire::DisabledReason::Manual,
            DisabledReason::DeadLetters => wire::DisabledReason::DeadLetters,
            DisabledReason::FailingTooLong => wire::DisabledReason::FailingTooLong,
        }),
        previous_secret_expires_at: webhook.previous_secret_expires_at,
        created_at: webhook.created_at,
        updated_at: webhook.updated_at,
    }
}

fn delivery_view(delivery: &Delivery) -> wire::Delivery {
    wire::Delivery {
        id: delivery.id.to_string(),
        webhook_id: delivery.webhook_id.to_string(),
        event_id: delivery.event_id.to_string(),
        event_type: delivery.event_type.clone(),
        status: match delivery.status {
            DeliveryStatus::Pending => wire::DeliveryStatus::Pending,
            DeliveryStatus::Delivered => wire::DeliveryStatus::Delivered,
            DeliveryStatus::DeadLetter => wire::DeliveryStatus::DeadLetter,
        },
        attempts: delivery.attempts,
        next_attempt_at: delivery.next_attempt_at,
        last_attempt_at: delivery.last_attempt_at,
        last_status_code: delivery.last_status_code,
        last_error: delivery.last_error.clone(),
        delivered_at: delivery.delivered_at,
        created_at: delivery.created_at,
    }
}

fn attempt_view(attempt: &Attempt) -> wire::DeliveryAttempt {
    wire::DeliveryAttempt {
        number: attempt.number,
        attempted_at: attempt.attempted_at,
        status_code: attempt.status_code,
        error: attempt.error.clone(),
        duration_ms: attempt.duration_ms,
    }
}

fn target_url(state: &AppState, raw: &str) -> Result<String, ApiError> {
    ssrf::check_url(raw, state.config.webhooks_allow_private_targets)
        .map(String::from)
        .map_err(ApiError::invalid)
}

fn description(text: Option<String>) -> Result<Option<String>, ApiError> {
    Ok(text
        .map(|t| validate::text("description", &t, 1000))
        .transpose()?)
}

async fn find_webhook(
    state: &AppState,
    tenant: TenantId,
    raw_id: &str,
) -> Result<Webhook, ApiError> {
    let id: WebhookId = path_id(raw_id)?;
    state
        .store
        .webhook(tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))
}

/// Subscribe a URL to events. The response shows the signing secret, once.
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/webhooks", tag = "webhooks",
    params(("tenant_id" = String, Path)),
    request_body = wire::CreateWebhookRequest,
    responses((status = 201, body = wire::CreatedWebhook), KeyErrors, BodyErrors),
    security(("api_key" = [])))]
async fn create_webhook(
    State(state): State<AppState>,
    access: TenantAccess<WebhooksWrite>,
    ctx: RequestContext,
    ApiJson(body): ApiJson<wire::CreateWebhookRequest>,
) -> Result<(StatusCode, Json<wire::CreatedWebhook>), ApiError> {
    let url = target_url(&state, &body.url)?;
    let event_types = EventTypes::new(body.event_types)?;
    let description = description(body.description)?;
    let now = state.clock.now();
    let id = WebhookId::generate();
    let (sealed_secret, secret) = signing::new_secret(&state.master, id);
    let webhook = Webhook {
        id,
        tenant_id: access.tenant_id,
        url,
        event_types,
        description,
        status: WebhookStatus::Active,
        disabled_reason: None,
        sealed_secret,
        previous_sealed_secret: None,
        previous_secret_expires_at: None,
        dead_letter_streak: 0,
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    state.store.insert_webhook(&webhook).await?;
    state.audit(&ctx, access.fact("webhook.create", id)).await;
    let created = wire::CreatedWebhook {
        webhook: view(&webhook),
        secret: secret.expose().to_owned(),
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// List the tenant's subscriptions, oldest first, a page at a time.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/webhooks", tag = "webhooks",
    params(("tenant_id" = String, Path), wire::ListWebhooksQuery),
    responses((status = 200, body = wire::WebhookList), KeyErrors),
    security(("api_key" = [])))]
async fn list_webhooks(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
    ApiQuery(query): ApiQuery<wire::ListWebhooksQuery>,
) -> Result<Json<wire::WebhookList>, ApiError> {
    let limit = super::page_limit(query.limit)?;
    let after = super::cursor::<WebhookId>(query.cursor.as_deref())?;
    let page = state.store.webhooks(access.tenant_id, after, limit).await?;
    Ok(Json(wire::WebhookList {
        webhooks: page.items.iter().map(view).collect(),
        next_cursor: page.next_cursor.map(|c| c.to_string()),
    }))
}

/// Read a subscription (never its secret).
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/webhooks/{webhook_id}", tag = "webhooks",
    params(("tenant_id" = String, Path), ("webhook_id" = String, Path)),
    responses((status = 200, body = wire::Webhook), KeyErrors),
    security(("api_key" = [])))]
async fn get_webhook(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
    Path(ids): Path<(String, String)>,
) -> Result<Json<wire::Webhook>, ApiError> {
    Ok(Json(view(
        &find_webhook(&state, access.tenant_id, &ids.1).await?,
    )))
}

/// Change a subscription; `status: active` re-enables a disabled one.
#[utoipa::path(patch, path = "/v1/tenants/{tenant_id}/webhooks/{webhook_id}", tag = "webhooks",
    params(("tenant_id" = String, Path), ("webhook_id" = String, Path)),
    request_body = wire::UpdateWebhookRequest,
    responses((status = 200, body = wire::Webhook), KeyErrors, BodyErrors),
    security(("api_key" = [])))]
async fn update_webhook(
    State(state): State<AppState>,
    access: TenantAccess<WebhooksWrite>,
    ctx: RequestContext,
    Path(ids): Path<(String, String)>,
    ApiJson(body): ApiJson<wire::UpdateWebhookRequest>,
) -> Result<Json<wire::Webhook>, ApiError> {
    let id: WebhookId = path_id(&ids.1)?;
    let patch = WebhookPatch {
        url: body.url.map(|u| target_url(&state, &u)).transpose()?,
        event_types: body.event_types.map(EventTypes::new).transpose()?,
        description: body.description.map(description).transpose()?,
        status: body.status.map(|s| match s {
            wire::WebhookStatus::Active => WebhookStatus::Active,
            wire::WebhookStatus::Disabled => WebhookStatus::Disabled,
        }),
    };
    let webhook = state
        .store
        .update_webhook(access.tenant_id, id, &patch, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    state.audit(&ctx, access.fact("webhook.update", id)).await;
    Ok(Json(view(&webhook)))
}

/// Delete a subscription with its delivery history; nothing more is sent to it.
#[utoipa::path(delete, path = "/v1/tenants/{tenant_id}/webhooks/{webhook_id}", tag = "webhooks",
    params(("tenant_id" = String, Path), ("webhook_id" = String, Path)),
    responses((status = 204), KeyErrors),
    security(("api_key" = [])))]
async fn delete_webhook(
    State(state): State<AppState>,
    access: TenantAccess<WebhooksWrite>,
    ctx: RequestContext,
    Path(ids): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id: WebhookId = path_id(&ids.1)?;
    if !state.store.delete_webhook(access.tenant_id, id).await? {
        return Err(ApiError::not_found("webhook"));
    }
    state.audit(&ctx, access.fact("webhook.delete", id)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace the signing secret (shown once); the old one keeps signing alongside for 24 hours.
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/webhooks/{webhook_id}/rotate-secret", tag = "webhooks",
    params(("tenant_id" = String, Path), ("webhook_id" = String, Path)),
    responses((status = 200, body = wire::RotatedSecret), KeyErrors),
    security(("api_key" = [])))]
async fn rotate_secret(
    State(state): State<AppState>,
    access: TenantAccess<WebhooksWrite>,
    ctx: RequestContext,
    Path(ids): Path<(String, String)>,
) -> Result<Json<wire::RotatedSecret>, ApiError> {
    let id: WebhookId = path_id(&ids.1)?;
    let now = state.clock.now();
    let (sealed, secret) = signing::new_secret(&state.master, id);
    let expires_at = now + SECRET_OVERLAP;
    state
        .store
        .rotate_webhook_secret(access.tenant_id, id, &sealed, expires_at, now)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    state
        .audit(&ctx, access.fact("webhook.secret.rotate", id))
        .await;
    Ok(Json(wire::RotatedSecret {
        secret: secret.expose().to_owned(),
        previous_secret_expires_at: expires_at,
    }))
}

/// A subscription's deliveries, newest first: status, attempts, last answer, next attempt.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/webhooks/{webhook_id}/deliveries", tag = "webhooks",
    params(("tenant_id" = String, Path), ("webhook_id" = String, Path), wire::ListDeliveriesQuery),
    responses((status = 200, body = wire::DeliveryList), KeyErrors),
    security(("api_key" = [])))]
async fn list_deliveries(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
    Path(ids): Path<(String, String)>,
    ApiQuery(query): ApiQuery<wire::ListDeliveriesQuery>,
) -> Result<Json<wire::DeliveryList>, ApiError> {
    let webhook = find_webhook(&state, access.tenant_id, &ids.1).await?;
    let filter = DeliveryFilter {
        webhook: Some(webhook.id),
        status: query.status.map(|s| match s {
            wire::DeliveryStatus::Pending => DeliveryStatus::Pending,
            wire::DeliveryStatus::Delivered => DeliveryStatus::Delivered,
            wire::DeliveryStatus::DeadLetter => DeliveryStatus::DeadLetter,
        }),
    };
    list(&state, access.tenant_id, &filter, query.limit, query.cursor).await
}

/// The tenant's dead letters (deliveries whose every attempt failed), newest first.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/webhooks/dead-letters", tag = "webhooks",
    params(("tenant_id" = String, Path), wire::ListDeadLettersQuery),
    responses((status = 200, body = wire::DeliveryList), KeyErrors),
    security(("api_key" = [])))]
async fn list_dead_letters(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
    ApiQuery(query): ApiQuery<wire::ListDeadLettersQuery>,
) -> Result<Json<wire::DeliveryList>, ApiError> {
    let filter = DeliveryFilter {
        webhook: None,
        status: Some(DeliveryStatus::DeadLetter),
    };
    list(&state, access.tenant_id, &filter, query.limit, query.cursor).await
}

async fn list(
    state: &AppState,
    tenant: TenantId,
    filter: &DeliveryFilter,
    limit: Option<u32>,
    raw_cursor: Option<String>,
) -> Result<Json<wire::DeliveryList>, ApiError> {
    let limit = super::page_limit(limit)?;
    let before = super::cursor::<DeliveryId>(raw_cursor.as_deref())?;
    let page = state
        .store
        .deliveries(tenant, filter, before, limit)
        .await?;
    Ok(Json(wire::DeliveryList {
        deliveries: page.items.iter().map(delivery_view).collect(),
        next_cursor: page.next_cursor.map(|c| c.to_string()),
    }))
}

/// One delivery with its body and every attempt.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/webhooks/{webhook_id}/deliveries/{delivery_id}", tag = "webhooks",
    params(("tenant_id" = String, Path), ("webhook_id" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 200, body = wire::DeliveryDetail), KeyErrors),
    security(("api_key" = [])))]
async fn get_delivery(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
    Path(ids): Path<(String, String, String)>,
) -> Result<Json<wire::DeliveryDetail>, ApiError> {
    let webhook: WebhookId = path_id(&ids.1)?;
    let id: DeliveryId = path_id(&ids.2)?;
    let delivery = state
        .store
        .delivery(access.tenant_id, webhook, id)
        .await?
        .ok_or_else(|| ApiError::not_found("delivery"))?;
    let attempts = state.store.delivery_attempts(access.tenant_id, id).await?;
    let payload = serde_json::from_str(&delivery.payload)
        .unwrap_or_else(|_| serde_json::Value::String(delivery.payload.clone()));
    Ok(Json(wire::DeliveryDetail {
        delivery: delivery_view(&delivery),
        payload,
        attempts: attempts.iter().map(attempt_view).collect(),
    }))
}

/// Queue a delivered or dead-lettered delivery again, now, with a fresh round of retries and
/// the same `webhook-id`.
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", tag = "webhooks",
    params(("tenant_id" = String, Path), ("webhook_id" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 202, body = wire::Delivery), (status = 409, body = ErrorBody), KeyErrors),
    security(("api_key" = [])))]
async fn redeliver(
    State(state): State<AppState>,
    access: TenantAccess<WebhooksWrite>,
    ctx: RequestContext,
    Path(ids): Path<(String, String, String)>,
) -> Result<(StatusCode, Json<wire::Delivery>), ApiError> {
    let webhook = find_webhook(&state, access.tenant_id, &ids.1).await?;
    let id: DeliveryId = path_id(&ids.2)?;
    if webhook.status != WebhookStatus::Active {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the subscription is disabled; enable it (PATCH `status: active`) first",
        ));
    }
    let now = state.clock.now();
    match state
        .store
        .redeliver(access.tenant_id, webhook.id, id, now)
        .await?
    {
        Redelivery::Queued(delivery) => {
            state
                .audit(&ctx, access.fact("webhook.delivery.redeliver", id))
                .await;
            Ok((StatusCode::ACCEPTED, Json(delivery_view(&delivery))))
        }
        Redelivery::AlreadyPending => Err(ApiError::new(
            ErrorCode::Conflict,
            "the delivery is still pending: its retries are under way",
        )),
        Redelivery::NotFound => Err(ApiError::not_found("delivery")),
    }
}
