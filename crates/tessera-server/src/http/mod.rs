//! The HTTP surface: every router, the OpenAPI document, and the middleware stack.

mod console;
pub(crate) mod cores;
pub(crate) mod did;
pub(crate) mod front;
pub(crate) mod internal;
mod json;
mod middleware;
pub mod oauth2;
pub(crate) mod openapi;
mod ops;
mod protected_resource;
pub mod v1;
mod wellknown;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// The whole public router and the OpenAPI document it was built with.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (routes, api) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(v1::tenants::router())
        .merge(v1::api_keys::router())
        .merge(v1::audit::router())
        .merge(v1::agents::router())
        .merge(v1::agent_keys::router())
        .merge(v1::oauth_clients::router())
        .merge(v1::delegations::router())
        .merge(v1::analytics::router())
        .merge(v1::compliance::router())
        .merge(v1::webhooks::router())
        .merge(v1::provisioning::router())
        .merge(v1::placements::router())
        .merge(v1::auth::router())
        .merge(v1::me::router())
        .merge(v1::members::router())
        .merge(v1::invitations::router())
        .merge(v1::integrations::router())
        .merge(v1::connections::router())
        .merge(v1::trust_policies::router())
        .merge(v1::workload_tokens::router())
        .merge(v1::wallet_bindings::router())
        .merge(oauth2::router())
        .merge(wellknown::router())
        .merge(did::router())
        .merge(protected_resource::router())
        .merge(ops::router())
        .split_for_parts();
    let document = api.to_json().unwrap_or_else(|_| "{}".to_owned());
    let body_limit = state.config.max_body_bytes;
    let router = routes
        .route(
            "/openapi.json",
            get(move || async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    )],
                    document.clone(),
                )
                    .into_response()
            }),
        )
        .merge(console::router())
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            protected_resource::challenge_layer,
        ))
        .with_state(state)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn(middleware::access_log))
        .layer(axum::middleware::from_fn(middleware::request_id));
    (router, api)
}
