//! The authorization step: find where the request goes (the placement of the entity named by
//! `X-Entity` or `entity=`, else the longest configured route), then let it through only for
//! a caller who belongs there. Public routes need no credential.

use std::sync::Arc;

use axum::extract::Request;
use axum::response::Response;
use tessera_core::TenantId;
use tessera_core::placement::PlacementStatus;
use tessera_gateway::headers;
use tessera_gateway::proxy::Upstream;
use tessera_proto::ErrorCode;

use super::authenticate::{Authentication, GatewayCaller, authentication, context};
use super::failure;
use super::placements::Lookup;
use crate::auth::extract::rate_limited;
use crate::state::AppState;

const OWN_LISTENER: &str =
    "that upstream is one of Tessera's own listeners; the gateway does not forward there";

/// Where an authorized request goes, and as whom.
#[derive(Debug, Clone)]
pub struct Destination {
    pub upstream: Upstream,
    /// The tenant the request is for; `None` on a public route.
    pub tenant_id: Option<TenantId>,
    /// `None` on a public route: nothing identifying is injected.
    pub caller: Option<Arc<GatewayCaller>>,
}

/// The entity named by `X-Entity`, else by the `entity` query parameter.
pub(super) fn named_entity(request: &Request) -> Option<String> {
    if let Some(value) = request.headers().get(&headers::X_ENTITY) {
        return Some(String::from_utf8_lossy(value.as_bytes()).trim().to_owned());
    }
    url::form_urlencoded::parse(request.uri().query()?.as_bytes())
        .find(|(name, _)| name == "entity")
        .map(|(_, value)| value.into_owned())
}

/// The destination of a request for `entity`: its running placement, for a caller of that
/// entity (or the operator).
async fn to_entity(
    state: &AppState,
    caller: &Arc<GatewayCaller>,
    entity: &str,
    request_id: &str,
) -> Result<Destination, Response> {
    let placement = match state.gateway.placements.find(state, entity).await {
        Ok(Lookup::Found(placement)) => placement,
        Ok(Lookup::Unknown) => {
            let message = format!("no entity {entity:?} has a placement");
            return Err(failure(ErrorCode::UnknownEntity, message, request_id));
        }
        Ok(Lookup::Malformed) => {
            let message = "`X-Entity` must be an entity id (`ten_…`) or an agent id (`agt_…`)";
            return Err(failure(ErrorCode::InvalidId, message, request_id));
        }
        Err(error) => {
            tracing::error!(request_id, error = %error, "reading a placement failed");
            let code = ErrorCode::Unavailable;
            return Err(failure(code, code.description(), request_id));
        }
    };
    // Checked before the status: a caller of another tenant learns nothing about the runtime.
    if caller
        .tenant_id
        .is_some_and(|own| own != placement.entity_id)
    {
        let message = "the credential belongs to another tenant than this entity";
        return Err(failure(ErrorCode::TenantMismatch, message, request_id));
    }
    if placement.status != PlacementStatus::Running {
        let message = format!("the entity's runtime is {}", placement.status.as_str());
        return Err(failure(ErrorCode::PlacementNotRunning, message, request_id));
    }
    let upstream = placement
        .address
        .parse::<url::Url>()
        .map_err(|e| e.to_string())
        .and_then(|url| Upstream::parse(&url).map_err(|e| e.to_string()))
        .map_err(|error| failure(ErrorCode::PlacementNotRunning, error, request_id))?;
    let Some(upstream) = state.gateway.usable(&upstream) else {
        return Err(failure(ErrorCode::NoRoute, OWN_LISTENER, request_id));
    };
    let upstream = upstream.clone();
    Ok(Destination {
        upstream,
        tenant_id: Some(placement.entity_id),
        caller: Some(Arc::clone(caller)),
    })
}

pub async fn decide<F, Fut>(state: &AppState, mut request: Request, next: F) -> Response
where
    F: FnOnce(Request, Destination) -> Fut,
    Fut: Future<Output = Response>,
{
    let request_id = context(&request).request_id.unwrap_or_default();
    let route = state.gateway.routes.find(request.uri().path());
    if let Some((_, upstream)) = route.filter(|(route, _)| route.public) {
        let Some(upstream) = state.gateway.usable(upstream) else {
            return failure(ErrorCode::NoRoute, OWN_LISTENER, &request_id);
        };
        let destination = Destination {
            upstream: upstream.clone(),
            tenant_id: None,
            caller: None,
        };
        return next(request, destination).await;
    }
    let caller = match authentication(state, &mut request).await {
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
    if let Some(entity) = named_entity(&request) {
        return match to_entity(state, &caller, &entity, &request_id).await {
            Ok(destination) => next(request, destination).await,
            Err(response) => response,
        };
    }
    let Some((route, upstream)) = route else {
        return failure(
            ErrorCode::NoRoute,
            "no route serves this path; name an entity with `X-Entity` or `entity=`",
            &request_id,
        );
    };
    let Some(upstream) = state.gateway.usable(upstream) else {
        return failure(ErrorCode::NoRoute, OWN_LISTENER, &request_id);
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
    let destination = Destination {
        upstream: upstream.clone(),
        tenant_id: Some(tenant_id),
        caller: Some(caller),
    };
    next(request, destination).await
}
