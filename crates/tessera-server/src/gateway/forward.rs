//! The last step: the request, its headers made fit to forward, goes to the upstream; the
//! response streams back. Metrics per upstream: requests by status, time to the response
//! head, failures by kind.

use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::response::Response;
use metrics::{Counter, Histogram};
use tessera_gateway::headers::{self, Client, VerifiedIdentity};
use tessera_gateway::proxy::Upstream;
use tessera_gateway::ratelimit::Permit;
use tessera_proto::ErrorCode;

use super::authorize::Destination;
use super::{Exchange, GatewayLog, failure};
use crate::state::AppState;
use crate::telemetry::Handles;

pub async fn forward(
    state: &AppState,
    exchange: &Exchange<'_>,
    (mut parts, body): (Parts, Body),
    destination: Destination,
    permit: Option<Permit>,
) -> Response {
    let ctx = exchange.ctx;
    let request_id = exchange.request_id();
    let identity =
        destination
            .caller
            .as_ref()
            .zip(destination.tenant_id)
            .map(|(caller, tenant)| VerifiedIdentity {
                tenant_id: tenant.to_string(),
                user_id: caller.user_id.map(|user| user.to_string()),
                agent_id: caller.agent_id.map(|agent| agent.to_string()),
                scopes: caller.scopes.to_string(),
            });
    let client = Client {
        ip: ctx.client_ip,
        proto: state.gateway.client_proto,
        trust_forwarded: state.config.gateway_trust_forwarded,
    };
    headers::prepare_request(&mut parts.headers, identity, request_id, client);
    let upstream = &destination.upstream;
    let started = Instant::now();
    let outcome = state
        .gateway
        .proxy
        .forward(
            Request::from_parts(parts, body),
            &destination.upstream,
            state.gateway.idle_timeout,
            permit,
        )
        .await;
    let mut response = match outcome {
        Ok(response) => {
            let response = response.map(Body::new);
            DURATIONS
                .get(upstream.clone(), |upstream| {
                    metrics::histogram!("tessera_gateway_upstream_duration_seconds", "upstream" => upstream.authority().to_string())
                })
                .record(started.elapsed().as_secs_f64());
            REQUESTS
                .get((upstream.clone(), response.status().as_u16()), |(upstream, status)| {
                    metrics::counter!("tessera_gateway_upstream_requests_total", "upstream" => upstream.authority().to_string(), "status" => status.to_string())
                })
                .increment(1);
            response
        }
        Err(error) => {
            metrics::counter!("tessera_gateway_upstream_errors_total", "upstream" => upstream.authority().to_string(), "kind" => error.kind())
                .increment(1);
            tracing::warn!(request_id, upstream = upstream.authority().as_str(), error = %error, "forwarding failed");
            failure(
                ErrorCode::UpstreamUnavailable,
                error.to_string(),
                request_id,
            )
        }
    };
    response.extensions_mut().insert(GatewayLog {
        tenant: destination.tenant_id,
        upstream: Some(destination.upstream),
    });
    response
}

/// Time to the response head, by upstream.
static DURATIONS: Handles<Upstream, Histogram> = Handles::new();
/// Responses by upstream and status.
static REQUESTS: Handles<(Upstream, u16), Counter> = Handles::new();
