//! The layers around every route, outermost first: request id → access log and metrics →
//! panic recovery → body limit.

use std::any::Any;
use std::borrow::Cow;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Histogram};
use tessera_proto::ErrorCode;

use crate::context::{RequestContext, RequestId};
use crate::error::ApiError;
use crate::gateway::GatewayLog;
use crate::telemetry::Handles;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Accepts the client's `X-Request-ID` when it is a sane token (so ids can be correlated
/// across services), otherwise generates one; echoes it on the response.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let id = assign_request_id(&mut request);
    let mut response = next.run(request).await;
    stamp_request_id(&mut response, &id);
    response
}

/// The request's id (the client's when sane, else a new one), kept in its extensions.
pub fn assign_request_id(request: &mut Request) -> String {
    let id = request_id_of(request);
    request.extensions_mut().insert(RequestId(id.clone()));
    id
}

/// The request's id: the client's when sane, else a new one.
pub fn request_id_of(request: &Request) -> String {
    request
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
        .unwrap_or_else(|| {
            let id = uuid::Uuid::now_v7();
            id.hyphenated()
                .encode_lower(&mut uuid::Uuid::encode_buffer())
                .to_owned()
        })
}

pub fn stamp_request_id(response: &mut Response, id: &str) {
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert(X_REQUEST_ID.clone(), value);
    }
}

/// One JSON log line and the request metrics per request. Only the path is logged, never the
/// query or headers (they can carry credentials).
pub async fn access_log(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(Cow::Borrowed("unmatched"), |p| {
            Cow::Owned(p.as_str().to_owned())
        });
    let ctx = RequestContext::of(request.extensions());
    let entry = AccessLog::start(&request, route);
    let response = next.run(request).await;
    entry.finish(&response, &ctx);
    response
}

/// A request being served, until its response is logged.
pub struct AccessLog {
    started: Instant,
    method: Method,
    /// For its path (a clone shares the request's bytes).
    uri: Uri,
    route: Cow<'static, str>,
}

impl AccessLog {
    /// `route`: the route pattern that matched, as metrics label it.
    pub fn start(request: &Request, route: Cow<'static, str>) -> Self {
        Self {
            started: Instant::now(),
            method: request.method().clone(),
            uri: request.uri().clone(),
            route,
        }
    }

    /// `ctx`: the request's, as the request-id layer (or the front door) set it.
    pub fn finish(self, response: &Response, ctx: &RequestContext) {
        let Self {
            started,
            method,
            uri,
            route,
        } = self;
        let elapsed = started.elapsed();
        let status = response.status().as_u16();
        let label = method_label(&method);
        REQUESTS
            .get((route.clone(), label, status), |(route, method, status)| {
                metrics::counter!("tessera_http_requests_total", "route" => route.clone(), "method" => *method, "status" => status.to_string())
            })
            .increment(1);
        DURATIONS
            .get((route.clone(), label), |(route, method)| {
                metrics::histogram!("tessera_http_request_duration_seconds", "route" => route.clone(), "method" => *method)
            })
            .record(elapsed.as_secs_f64());
        let gateway = response.extensions().get::<GatewayLog>();
        tracing::info!(
            request_id = ctx.request_id.as_deref().unwrap_or(""),
            client_ip = %ctx.client_ip,
            method = %method,
            path = uri.path(),
            route = &*route,
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            tenant = gateway.and_then(|g| g.tenant).map(tracing::field::display),
            upstream = gateway
                .and_then(|g| g.upstream.as_ref())
                .map(|u| u.authority().as_str()),
            "request"
        );
    }
}

/// Requests by route, method and status.
static REQUESTS: Handles<(Cow<'static, str>, &'static str, u16), Counter> = Handles::new();
/// Request durations by route and method.
static DURATIONS: Handles<(Cow<'static, str>, &'static str), Histogram> = Handles::new();

/// A method as metrics label it: any method outside the standard ones is `OTHER`, so that a
/// client inventing methods cannot add series without end.
fn method_label(method: &Method) -> &'static str {
    let known = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    const NAMES: [&str; 9] = [
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE",
    ];
    known
        .iter()
        .position(|m| m == method)
        .map_or("OTHER", |at| NAMES[at])
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
