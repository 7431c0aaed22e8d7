//! The deadline for the response head: the route's own timeout, else the gateway's (30 s by
//! default). A streamed body that follows is bounded by the idle timeout instead, per chunk.

use axum::extract::Request;
use axum::response::Response;
use tessera_proto::ErrorCode;

use super::authenticate::context;
use crate::state::AppState;

pub async fn within<F, Fut>(state: &AppState, request: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let timeout = state
        .gateway
        .routes
        .find(request.uri().path())
        .and_then(|(route, _)| route.timeout())
        .unwrap_or(state.gateway.timeout);
    let request_id = context(&request).request_id.unwrap_or_default();
    match tokio::time::timeout(timeout, next(request)).await {
        Ok(response) => response,
        Err(_) => {
            metrics::counter!("tessera_gateway_timeouts_total").increment(1);
            super::failure(
                ErrorCode::UpstreamTimeout,
                format!("no response within {} s", timeout.as_secs_f64()),
                &request_id,
            )
        }
    }
}
