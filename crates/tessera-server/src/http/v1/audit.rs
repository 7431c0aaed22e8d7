//! `/v1/tenants/{tenant_id}/audit`: the tenant's audit log (filtered, paged), its verification,
//! and a JSON Lines export for a SIEM.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tessera_core::audit::{AuditFilter, ChainedEvent, Outcome, chain_of};
use tessera_proto::audit as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::verify::verify_chain;
use crate::auth::extract::{Read, TenantAccess};
use crate::error::ApiError;
use crate::http::json::ApiQuery;
use crate::http::openapi::KeyErrors;
use crate::state::AppState;

const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 500;
/// Events read per query while exporting.
const EXPORT_PAGE: u32 = 1000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(verify))
        .routes(routes!(export))
}

fn view(stored: &ChainedEvent) -> wire::AuditEvent {
    let event = &stored.event;
    wire::AuditEvent {
        id: event.id.to_string(),
        seq: stored.chain_seq,
        actor: event.actor.clone(),
        action: event.action.clone(),
        target: event.target.clone(),
        outcome: match event.outcome {
            Outcome::Success => wire::Outcome::Success,
            Outcome::Failure => wire::Outcome::Failure,
        },
        reason: event.reason.clone(),
        client_ip: event.client_ip.clone(),
        request_id: event.request_id.clone(),
        occurred_at: event.occurred_at,
        hash: hex(&stored.hash),
        prev_hash: hex(&stored.prev_hash),
    }
}

fn hex(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn filter(query: &wire::AuditQuery) -> Result<AuditFilter, ApiError> {
    if let (Some(since), Some(until)) = (query.since, query.until)
        && since >= until
    {
        return Err(ApiError::invalid("since: must be before until"));
    }
    Ok(AuditFilter {
        actor: query.actor.clone(),
        action: query.action.clone(),
        target: query.target.clone(),
        outcome: query.outcome.map(|o| match o {
            wire::Outcome::Success => Outcome::Success,
            wire::Outcome::Failure => Outcome::Failure,
        }),
        since: query.since,
        until: query.until,
    })
}

/// List the tenant's audit events, oldest first, filtered, a page at a time.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/audit", tag = "audit",
    params(("tenant_id" = String, Path), wire::AuditQuery),
    responses((status = 200, body = wire::AuditEventList), KeyErrors),
    security(("api_key" = [])))]
async fn list_events(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
    ApiQuery(query): ApiQuery<wire::AuditQuery>,
) -> Result<Json<wire::AuditEventList>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit: must be between 1 and {MAX_PAGE}"
        )));
    }
    let after = query
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| ApiError::invalid("cursor: not a cursor this API returned"))
        })
        .transpose()?;
    let filter = filter(&query)?;
    // Read-your-writes on this instance: what this caller just did is in the answer.
    state.audit_writer.flush().await;
    let page = state
        .store
        .audit_page(access.tenant_id, &filter, after, limit)
        .await?;
    Ok(Json(wire::AuditEventList {
        events: page.items.iter().map(view).collect(),
        next_cursor: page.next_cursor.map(|c| c.to_string()),
    }))
}

/// Verify the tenant's chain: recompute every link and check every signed checkpoint.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/audit/verify", tag = "audit",
    params(("tenant_id" = String, Path)),
    responses((status = 200, body = wire::VerifyReport), KeyErrors),
    security(("api_key" = [])))]
async fn verify(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
) -> Result<Json<wire::VerifyReport>, ApiError> {
    state.audit_writer.flush().await;
    let report = verify_chain(&state, &chain_of(Some(access.tenant_id)))
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(report))
}

/// Export the tenant's events as JSON Lines (one event per line, oldest first), streamed.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/audit/export", tag = "audit",
    params(("tenant_id" = String, Path), wire::AuditQuery),
    responses((status = 200, description = "one JSON event per line", content_type = "application/x-ndjson", body = String), KeyErrors),
    security(("api_key" = [])))]
async fn export(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
    ApiQuery(query): ApiQuery<wire::AuditQuery>,
) -> Result<Response, ApiError> {
    let filter = filter(&query)?;
    state.audit_writer.flush().await;
    let tenant = access.tenant_id;
    let pages = futures_util::stream::unfold(Some(0_i64), move |after| {
        let state = state.clone();
        let filter = filter.clone();
        async move {
            let after = after?;
            match state
                .store
                .audit_page(tenant, &filter, Some(after), EXPORT_PAGE)
                .await
            {
                Ok(page) => {
                    let mut lines = String::new();
                    for event in &page.items {
                        match serde_json::to_string(&view(event)) {
                            Ok(line) => {
                                lines.push_str(&line);
                                lines.push('\n');
                            }
                            Err(error) => return Some((Err(std::io::Error::other(error)), None)),
                        }
                    }
                    Some((Ok::<_, std::io::Error>(lines), page.next_cursor))
                }
                // The status line is gone; cutting the stream short is how the client learns.
                Err(error) => {
                    tracing::error!(error = %error, "audit export failed");
                    Some((Err(std::io::Error::other(error.to_string())), None))
                }
            }
        }
    });
    let mut response = Body::from_stream(pages).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(response)
}
