//! The internal listener (`internal_listen`, loopback by default): endpoints for the
//! operator's network and the runtimes Tessera starts, never served on the public listener nor
//! reachable through `/api`. The network boundary is the credential here, so bind it only
//! where nothing untrusted can connect.
//!
//! Served now: `GET /metrics` (Prometheus: labels name tenants and upstreams), `/health` and
//! `/ready` for probes on that network, and `POST /v1/integrations/credentials/ingest` (store a
//! token set in the vault; on the public listener it needs the operator's key).

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;

use super::{middleware, ops};
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let body_limit = state.config.max_body_bytes;
    Router::new()
        .route("/metrics", get(ops::metrics))
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route(
            "/v1/integrations/credentials/ingest",
            post(super::v1::integrations::ingest_internal),
        )
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn(middleware::access_log))
        .layer(axum::middleware::from_fn(middleware::request_id))
}
