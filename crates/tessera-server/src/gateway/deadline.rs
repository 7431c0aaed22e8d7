//! The deadline for the response head: the route's own timeout, else the gateway's (30 s by
//! default). A streamed body that follows is bounded by the idle timeout instead, per chunk.

use std::time::Duration;

use axum::response::Response;
use tessera_proto::ErrorCode;

use super::Exchange;
use crate::state::AppState;

/// How long the request may wait for its response head.
pub fn of(state: &AppState, exchange: &Exchange<'_>) -> Duration {
    exchange
        .route
        .and_then(|(route, _)| route.timeout())
        .unwrap_or(state.gateway.timeout)
}

/// The answer when the response head did not come within `timeout`: a 504.
pub fn passed(exchange: &Exchange<'_>, timeout: Duration) -> Response {
    metrics::counter!("tessera_gateway_timeouts_total").increment(1);
    super::failure(
        ErrorCode::UpstreamTimeout,
        format!("no response within {} s", timeout.as_secs_f64()),
        exchange.request_id(),
    )
}
