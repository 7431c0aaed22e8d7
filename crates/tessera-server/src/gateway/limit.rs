//! Plan limits on the gateway, per tenant: requests per minute and per day (counted in Redis
//! when configured, else in process) and requests in flight (the plan's concurrent tasks).
//! Every counted response carries `X-RateLimit-Limit`, `-Remaining` and `-Reset`; a refusal is
//! a 429 with `Retry-After`.
//!
//! Only authenticated callers are counted, against their own tenant: a request without a good
//! credential never spends a tenant's budget (the authorization step refuses it, and failed
//! credentials are limited per client address). The operator's key is not counted.

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use tessera_proto::ErrorCode;

use super::authenticate::{Authentication, authentication};
use super::{Exchange, failure};
use crate::error::ApiError;
use crate::state::AppState;

pub async fn admit<F, Fut>(
    state: &AppState,
    exchange: &Exchange<'_>,
    request: Request,
    next: F,
) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    if exchange.is_public() {
        return next(request).await;
    }
    let Authentication::Caller(caller) = authentication(state, exchange, &request).await else {
        return next(request).await;
    };
    let Some(tenant) = caller.tenant_id else {
        return next(request).await;
    };
    let plan = match state.tenant_plan(tenant).await {
        Ok(Some(plan)) => plan,
        // A credential of a tenant that no longer exists: refused by the next step.
        Ok(None) => return next(request).await,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let limits = state.config.plans.limits(plan);
    let request_id = exchange.request_id();
    let decision = state.rate_limits.check(tenant, limits).await;
    if !decision.allowed {
        metrics::counter!("tessera_gateway_rate_limited_total", "tenant" => tenant.to_string(), "limit" => "requests")
            .increment(1);
        let message = format!(
            "the {} plan allows {} requests in this window; retry in {} s",
            plan.as_str(),
            decision.limit,
            decision.retry_after_secs.unwrap_or(decision.reset_secs)
        );
        let mut response = failure(ErrorCode::RateLimited, message, request_id);
        decision.write_headers(response.headers_mut());
        return response;
    }
    let permit = match state.concurrency.acquire(tenant, limits) {
        Ok(permit) => permit,
        Err(refused) => {
            metrics::counter!("tessera_gateway_rate_limited_total", "tenant" => tenant.to_string(), "limit" => "concurrent_tasks")
                .increment(1);
            let message = format!(
                "the {} plan allows {} concurrent requests; retry when one finishes",
                plan.as_str(),
                refused.limit
            );
            let mut response = failure(ErrorCode::RateLimited, message, request_id);
            decision.write_headers(response.headers_mut());
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, http::HeaderValue::from(1));
            return response;
        }
    };
    let mut response = next(request).await;
    decision.write_headers(response.headers_mut());
    // The task lasts until its response body is done (a stream may run for minutes): the
    // permit goes with the body and is released when the body is dropped.
    response.map(|body| {
        Body::new(body.map_frame(move |frame| {
            let _held = &permit;
            frame
        }))
    })
}
