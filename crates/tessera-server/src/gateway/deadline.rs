//! The deadline for the response head: the route's own timeout, else the gateway's (30 s by
//! default). A streamed body that follows is bounded by the idle timeout instead, per chunk.

use axum::extract::Request;
use axum::response::Response;
use tessera_proto::ErrorCode;

use super::Exchange;
use crate::state::AppState;

pub async fn within<F, Fut>(
    state: &AppState,
    exchange: &Exchange<'_>,
    request: Request,
    next: F,
) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let timeout = exchange
        .route
        .and_then(|(route, _)| route.timeout())
        .unwrap_or(state.gateway.timeout);
    match tokio::time::timeout(timeout, next(request)).await {
        Ok(response) => response,
        Err(_) => {
            metrics::counter!("tessera_gateway_timeouts_total").increment(1);
            super::failure(
                ErrorCode::UpstreamTimeout,
                format!("no response within {} s", timeout.as_secs_f64()),
                exchange.request_id(),
            )
        }
    }
}
