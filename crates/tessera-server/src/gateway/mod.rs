//! The gateway: `/api/*` is never handled here, it is forwarded. Layers, outermost first —
//! request id → access log → panic recovery (the steps every request goes through; the
//! public listener's front door, `http::front`, applies them) → [`cors`] (tower-http's layer,
//! for cross-origin requests; see [`Entry::serve`]) → then the gateway's own phases, each a
//! module and each able to answer in place of the next: [`deadline`] → [`limit`] (plan rate
//! limits) → [`authorize`] → [`forward`] (the proxy). The phases are plain async functions
//! called in order, not tower layers, because a layer costs a boxed future and a service clone
//! per request, which showed in the gateway benchmark.
//!
//! The limiter counts per tenant, so it must know the caller before the authorization step
//! decides: [`authenticate::authentication`] resolves the credential once (from the caches)
//! and keeps the outcome in the [`Exchange`] for both.

mod authenticate;
mod authorize;
mod cors;
mod deadline;
mod forward;
mod limit;
mod people;
mod placements;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use serde_json::json;
use tessera_core::TenantId;
use tessera_gateway::proxy::{Proxy, Upstream};
use tessera_gateway::routes::{Route, RouteTable};
use tessera_proto::ErrorCode;
use tower::{Layer, Service, ServiceExt};
use tower_http::cors::Cors;

use crate::config::Config;
use crate::context::RequestContext;
use crate::state::AppState;

/// The gateway's configuration and connection pool, built once.
#[derive(Debug)]
pub struct Gateway {
    pub routes: RouteTable,
    pub proxy: Proxy,
    /// For the response head, unless the route sets its own.
    pub timeout: Duration,
    /// For each chunk of a streamed response body.
    pub idle_timeout: Duration,
    /// `https` when clients reach Tessera over TLS (its public URL says so), else `http`.
    pub client_proto: &'static str,
    /// Running placements, briefly (see [`placements`]).
    pub(crate) placements: placements::PlacementCache,
    /// Tessera's own listeners: never an upstream (the internal endpoints must stay out of
    /// reach of `/api`, and forwarding to itself would loop).
    own_listeners: [SocketAddr; 2],
}

impl Gateway {
    pub fn new(config: &Config) -> Self {
        Self {
            // Validated with the rest of the configuration.
            routes: RouteTable::new(&config.gateway_routes).unwrap_or_default(),
            proxy: Proxy::new(Duration::from_millis(config.gateway_connect_timeout_ms), 64),
            timeout: Duration::from_secs(config.gateway_timeout_secs),
            idle_timeout: Duration::from_secs(config.gateway_idle_timeout_secs),
            client_proto: match &config.public_url {
                Some(url) if url.scheme() == "https" => "https",
                _ => "http",
            },
            placements: placements::PlacementCache::new(10_000),
            own_listeners: [config.listen, config.internal_listen],
        }
    }

    /// `upstream`, unless it is one of Tessera's own listeners.
    pub fn usable<'u>(&self, upstream: &'u Upstream) -> Option<&'u Upstream> {
        (!self.own_listeners.iter().any(|&own| upstream.is(own))).then_some(upstream)
    }
}

/// Where the public listener's front door hands every `/api` request: first CORS, then the
/// phases.
#[derive(Debug, Clone)]
pub struct Entry {
    state: AppState,
    cors: Cors<GatewayService>,
    /// Whether any origin may call cross-origin: only then does a response depend on a
    /// request's `Origin` (and say so in `Vary`).
    cross_origin: bool,
}

impl Entry {
    pub fn new(state: &AppState) -> Self {
        Self {
            state: state.clone(),
            cors: cors::layer(&state.config).layer(GatewayService(state.clone())),
            cross_origin: !state.config.gateway_cors_origins.is_empty(),
        }
    }

    /// A cross-origin request (or a preflight) goes through tower-http's CORS layer, its
    /// context in its extensions for the service behind. Any other goes straight to the
    /// phases and only gets `Vary` (when origins are configured): the layer would add nothing
    /// else that means anything to it, and it builds and merges its headers for every request:
    /// about 8 % of the gateway's instructions per request (callgrind).
    pub async fn serve(&self, ctx: &RequestContext, mut request: Request) -> Response {
        if cors::is_cross_origin(&request) {
            ctx.attach(request.extensions_mut());
            let Ok(response) = self.cors.clone().oneshot(request).await;
            return response;
        }
        let mut response = handle(&self.state, ctx, request).await;
        if self.cross_origin {
            cors::vary(response.headers_mut());
        }
        response
    }
}

/// Every `/api` request, through the phases in order.
#[derive(Debug, Clone)]
struct GatewayService(AppState);

impl Service<Request> for GatewayService {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let state = self.0.clone();
        let ctx = RequestContext::of(request.extensions());
        Box::pin(async move { Ok(handle(&state, &ctx, request).await) })
    }
}

async fn handle(state: &AppState, ctx: &RequestContext, request: Request) -> Response {
    let exchange = &Exchange::of(state, ctx, &request);
    let timeout = deadline::of(state, exchange);
    // The phases' future is made where the timer holds it: passed through a function of its
    // own, it was copied once more (it is most of the request's future).
    match tokio::time::timeout(timeout, phases(state, exchange, request)).await {
        Ok(response) => response,
        Err(_) => deadline::passed(exchange, timeout),
    }
}

/// The phases after the deadline, one after the other; each may answer in place of the rest.
/// Sequential calls rather than each phase wrapping the next: nested, every phase's future held
/// the next one's (the limiter's was 4 KB); in turn, they share their space (3.5 KB with the
/// timer), and less of it is copied as each future is made.
///
/// The limiter and the authorization step look at the request's head only (a body is not
/// `Sync`: a future holding a reference to the whole request could not move between threads).
async fn phases(state: &AppState, exchange: &Exchange<'_>, request: Request) -> Response {
    let (head, body) = request.into_parts();
    let limit::Admission { decision, permit } = match limit::admit(state, exchange, &head).await {
        Ok(admission) => admission,
        Err(refused) => return refused,
    };
    let mut response = match authorize::decide(state, exchange, &head).await {
        Ok(destination) => {
            forward::forward(state, exchange, (head, body), destination, permit).await
        }
        // Answered at once: the permit is given back here.
        Err(refused) => refused,
    };
    if let Some(decision) = decision {
        decision.write_headers(response.headers_mut());
    }
    response
}

/// What the phases need to know about a request, worked out once for all of them.
#[derive(Debug)]
pub(crate) struct Exchange<'s> {
    /// The client's address and the request id.
    pub ctx: &'s RequestContext,
    /// The configured route the path falls under (longest prefix), if any.
    pub route: Option<(&'s Route, &'s Upstream)>,
    /// The entity named by `X-Entity`, else by the `entity` query parameter.
    pub entity: Option<String>,
    /// Who is calling, once a phase has asked ([`authenticate::authentication`]).
    authentication: std::sync::OnceLock<authenticate::Authentication>,
}

impl<'s> Exchange<'s> {
    fn of(state: &'s AppState, ctx: &'s RequestContext, request: &Request) -> Self {
        Self {
            ctx,
            route: state.gateway.routes.find(request.uri().path()),
            entity: authorize::named_entity(request),
            authentication: std::sync::OnceLock::new(),
        }
    }

    pub fn request_id(&self) -> &str {
        self.ctx.request_id.as_deref().unwrap_or("")
    }

    /// Whether the route is served without credentials.
    pub fn is_public(&self) -> bool {
        self.route.is_some_and(|(route, _)| route.public)
    }
}

/// What the access log adds for a gateway request: the tenant served and the upstream used.
/// Kept as they are, not as text: they are formatted only when the line is written.
#[derive(Debug, Clone, Default)]
pub struct GatewayLog {
    pub tenant: Option<TenantId>,
    pub upstream: Option<Upstream>,
}

/// A gateway error: the usual `{error, message}` plus the request id, so that a client can
/// quote it when an upstream fails.
pub(crate) fn failure(code: ErrorCode, message: impl Into<String>, request_id: &str) -> Response {
    let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::BAD_GATEWAY);
    let body = json!({"error": code.code(), "message": message.into(), "request_id": request_id});
    let mut response = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"tessera\""),
        );
    }
    response
}
