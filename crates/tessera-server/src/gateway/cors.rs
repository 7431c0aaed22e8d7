//! CORS for `/api`: the configured origins may call cross-origin, with credentials. Preflight
//! requests are answered here, so they never need credentials of their own.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use tessera_gateway::headers::X_REQUEST_ID;
use tessera_gateway::ratelimit;
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

use crate::config::Config;

pub fn layer(config: &Config) -> CorsLayer {
    let origins: Vec<HeaderValue> = config
        .gateway_cors_origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods(AllowMethods::mirror_request())
        .allow_headers(AllowHeaders::mirror_request())
        .allow_credentials(true)
        .expose_headers(
            std::iter::once(&X_REQUEST_ID)
                .chain(ratelimit::HEADERS)
                .cloned()
                .collect::<Vec<HeaderName>>(),
        )
        .max_age(std::time::Duration::from_secs(600))
}

/// Whether the CORS layer has anything to do with `request`: it names an origin, or it is a
/// preflight (the layer answers every `OPTIONS` itself).
pub fn is_cross_origin(request: &Request) -> bool {
    request.method() == Method::OPTIONS || request.headers().contains_key(header::ORIGIN)
}

/// What the CORS layer adds to a response for a request without an origin: the answer depends
/// on these request headers, so caches must key on them.
pub fn vary(headers: &mut HeaderMap) {
    headers.append(
        header::VARY,
        HeaderValue::from_static(
            "origin, access-control-request-method, access-control-request-headers",
        ),
    );
}
