//! The authorization step: find where the request goes (the entity's placement, else the
//! longest configured route), then let it through only for a caller who belongs there. Public
//! routes need no credential.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tessera_core::TenantId;
use tessera_gateway::proxy::Upstream;
use tessera_proto::ErrorCode;

use super::authenticate::{Authentication, GatewayCaller, authentication, context};
use super::failure;
use crate::auth::extract::rate_limited;
use crate::state::AppState;

/// Where an authorized request goes, and as whom.
#[derive(Debug, Clone)]
pub struct Destination {
    pub upstream: Upstream,
    /// The tenant the request is for; `None` on a public route.
    pub tenant_id: Option<TenantId>,
    /// `None` on a public route: nothing identifying is injected.
    pub caller: Option<Arc<GatewayCaller>>,
}

pub async fn authorize(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let request_id = context(&request).request_id.unwrap_or_default();
    let route = state.gateway.routes.find(request.uri().path()).cloned();
    if let Some(route) = route.as_ref().filter(|route| route.public) {
        return match Upstream::parse(&route.upstream) {
            Ok(upstream) => {
                request.extensions_mut().insert(Destination {
                    upstream,
                    tenant_id: None,
                    caller: None,
                });
                next.run(request).await
            }
            Err(error) => failure(ErrorCode::NoRoute, error.to_string(), &request_id),
        };
    }
    let caller = match authentication(&state, &mut request).await {
        Authentication::Caller(caller) => caller,
        Authentication::Missing => {
            let message =
                "send an API key (`X-API-Key` or `Authorization: Bearer`) or an access token";
            return failure(ErrorCode::Unauthenticated, message, &request_id);
        }
        Authentication::Refused { code, message } => return failure(code, message, &request_id),
        Authentication::Blocked(wait) => return rate_limited(wait),
        Authentication::Unavailable => {
            let code = ErrorCode::Unavailable;
            return failure(code, code.description(), &request_id);
        }
    };
    let Some(route) = route else {
        return failure(
            ErrorCode::NoRoute,
            "no route serves this path; name an entity with `X-Entity` or `entity=`",
            &request_id,
        );
    };
    if let Some(missing) = route
        .scopes
        .iter()
        .find(|scope| !caller.scopes.grants(scope))
    {
        let message = format!("this route needs scope `{missing}`");
        return failure(ErrorCode::InsufficientScope, message, &request_id);
    }
    let Some(tenant_id) = caller.tenant_id else {
        let message =
            "the operator's key reaches a tenant's runtime only by naming it (`X-Entity`)";
        return failure(ErrorCode::TenantMismatch, message, &request_id);
    };
    let upstream = match Upstream::parse(&route.upstream) {
        Ok(upstream) => upstream,
        Err(error) => return failure(ErrorCode::NoRoute, error.to_string(), &request_id),
    };
    request.extensions_mut().insert(Destination {
        upstream,
        tenant_id: Some(tenant_id),
        caller: Some(caller),
    });
    next.run(request).await
}
