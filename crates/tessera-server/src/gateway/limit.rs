//! Plan limits on the gateway, per tenant: requests per minute and per day (counted in Redis
//! when configured, else in process) and requests in flight (the plan's concurrent tasks).
//! Every counted response carries `X-RateLimit-Limit`, `-Remaining` and `-Reset`; a refusal is
//! a 429 with `Retry-After`.
//!
//! Only authenticated callers are counted, against their own tenant: a request without a good
//! credential never spends a tenant's budget (the authorization step refuses it, and failed
//! credentials are limited per client address). The operator's key is not counted.

use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use tessera_gateway::ratelimit::{Decision, Permit};
use tessera_proto::ErrorCode;

use super::authenticate::{Authentication, authentication};
use super::{Exchange, failure};
use crate::error::ApiError;
use crate::state::AppState;

/// What the limiter decided for a request it let through; both `None` when it was not
/// counted (a public route, a request without a good credential, which the authorization step
/// answers, or the operator).
#[derive(Default)]
pub struct Admission {
    /// The rate-limit headers for the response.
    pub decision: Option<Decision>,
    /// The plan's concurrent task this request holds. The response body carries it: the task
    /// lasts until the body is done (a stream may run for minutes).
    pub permit: Option<Permit>,
}

/// Lets the request on (counting it against its tenant's plan), or answers it: a 429 when the
/// plan's rate or concurrency is spent.
pub async fn admit(
    state: &AppState,
    exchange: &Exchange<'_>,
    head: &Parts,
) -> Result<Admission, Response> {
    if exchange.is_public() {
        return Ok(Admission::default());
    }
    let Authentication::Caller(caller) = authentication(state, exchange, head).await else {
        return Ok(Admission::default());
    };
    let Some(tenant) = caller.tenant_id else {
        return Ok(Admission::default());
    };
    let plan = match state.tenant_plan(tenant).await {
        Ok(Some(plan)) => plan,
        // A credential of a tenant that no longer exists: refused by the next step.
        Ok(None) => return Ok(Admission::default()),
        Err(error) => return Err(ApiError::from(error).into_response()),
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
        return Err(response);
    }
    match state.concurrency.acquire(tenant, limits) {
        Ok(permit) => Ok(Admission {
            decision: Some(decision),
            permit: Some(permit),
        }),
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
            Err(response)
        }
    }
}
