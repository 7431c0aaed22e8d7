//! The layers around every route, outermost first: request id → access log and metrics →
//! panic recovery → body limit.

use std::any::Any;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tessera_proto::ErrorCode;

use crate::context::{RequestContext, RequestId};
use crate::error::ApiError;
use crate::gateway::GatewayLog;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Accepts the client's `X-Request-ID` when it is a sane token (so ids can be correlated
/// across services), otherwise generates one; echoes it on the response.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(X_REQUEST_ID.clone(), value);
    }
    response
}

/// One JSON log line and the request metrics per request. Only the path is logged, never the
/// query or headers (they can carry credentials).
pub async fn access_log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let (mut parts, body) = request.into_parts();
    let ctx = <RequestContext as axum::extract::FromRequestParts<()>>::from_request_parts(
        &mut parts,
        &(),
    )
    .await
    .unwrap_or_else(|never| match never {});
    let response = next.run(Request::from_parts(parts, body)).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let gateway = response.extensions().get::<GatewayLog>();
    let tenant = gateway.and_then(|g| g.tenant.as_deref()).unwrap_or("");
    let upstream = gateway.and_then(|g| g.upstream.as_deref()).unwrap_or("");
    metrics::counter!("tessera_http_requests_total", "route" => route.clone(), "method" => method.to_string(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!("tessera_http_request_duration_seconds", "route" => route.clone(), "method" => method.to_string())
        .record(elapsed.as_secs_f64());
    tracing::info!(
        request_id = ctx.request_id.as_deref().unwrap_or(""),
        client_ip = %ctx.client_ip,
        method = %method,
        path,
        route,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        tenant,
        upstream,
        "request"
    );
    response
}

/// Turns a panic in a handler into a JSON 500 (the panic itself is logged).
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("non-string panic");
    ApiError::internal(format!("handler panicked: {detail}")).into_response()
}

pub async fn not_found() -> Response {
    ApiError::new(ErrorCode::NotFound, "no such route").into_response()
}

pub async fn method_not_allowed() -> Response {
    let mut response = ApiError::new(
        ErrorCode::MethodNotAllowed,
        "the route exists, but not with this method",
    )
    .into_response();
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
}
