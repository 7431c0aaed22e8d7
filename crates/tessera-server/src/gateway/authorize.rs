//! The authorization step: find where the request goes (the placement of the entity named by
//! `X-Entity` or `entity=`, else the longest configured route), then let it through only for
//! a caller who belongs there. Public routes need no credential. An access token passes only
//! where its audience is the destination's resource (RFC 8707); a 401 names the resource's
//! metadata (RFC 9728).

use std::sync::Arc;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::response::Response;
use tessera_core::TenantId;
use tessera_core::placement::PlacementStatus;
use tessera_gateway::headers;
use tessera_gateway::proxy::Upstream;
use tessera_gateway::routes::Route;
use tessera_proto::ErrorCode;

use super::authenticate::{Authentication, GatewayCaller, authentication};
use super::placements::Lookup;
use super::{Exchange, failure};
use crate::auth::extract::rate_limited;
use crate::resources::bearer_challenge;
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

/// Where the request goes, or the answer that it may not (401, 403, 404 …).
pub async fn decide(
    state: &AppState,
    exchange: &Exchange<'_>,
    head: &Parts,
) -> Result<Destination, Response> {
    let request_id = exchange.request_id();
    let route = exchange.route;
    if let Some((_, upstream)) = route.filter(|(route, _)| route.public) {
        let Some(upstream) = state.gateway.usable(upstream) else {
            return Err(failure(ErrorCode::NoRoute, OWN_LISTENER, request_id));
        };
        return Ok(Destination {
            upstream: upstream.clone(),
            tenant_id: None,
            caller: None,
        });
    }
    // Where a client learns how to get a token for this destination (RFC 9728).
    let challenged = |response| challenge(state, route, response);
    let caller = match authentication(state, exchange, head).await {
        Authentication::Caller(caller) => Arc::clone(caller),
        Authentication::Missing => {
            let message =
                "send an API key (`X-API-Key` or `Authorization: Bearer`) or an access token";
            return Err(challenged(failure(
                ErrorCode::Unauthenticated,
                message,
                request_id,
            )));
        }
        Authentication::Refused {
            code,
            message,
            dpop: None,
        } => {
            return Err(challenged(failure(*code, message, request_id)));
        }
        Authentication::Refused {
            code,
            message,
            dpop: Some(dpop),
        } => {
            let mut response = failure(*code, message, request_id);
            dpop.apply(state, &mut response);
            return Err(response);
        }
        Authentication::Blocked(wait) => return Err(rate_limited(*wait)),
        Authentication::Unavailable => {
            let code = ErrorCode::Unavailable;
            return Err(failure(code, code.description(), request_id));
        }
    };
    let named = exchange.entity.as_deref();
    // RFC 8707: an access token passes only where its `aud` is the destination's resource — a
    // route's own, else (an entity's runtime, a route without one) Tessera's default audience.
    let resource = match (&named, route) {
        (None, Some((route, _))) => route.resource.as_ref().map(url::Url::as_str),
        _ => None,
    };
    if let Some(aud) = &caller.token_audience
        && aud != resource.unwrap_or(&state.audience)
    {
        let message = match resource {
            Some(resource) => format!("this route takes access tokens issued for `{resource}`"),
            None => format!("the access token is for `{aud}`, not for this destination"),
        };
        let response = failure(ErrorCode::Unauthenticated, message, request_id);
        return Err(challenged(response));
    }
    if let Some(entity) = named {
        return to_entity(state, &caller, entity, request_id).await;
    }
    let Some((route, upstream)) = route else {
        return Err(failure(
            ErrorCode::NoRoute,
            "no route serves this path; name an entity with `X-Entity` or `entity=`",
            request_id,
        ));
    };
    let Some(upstream) = state.gateway.usable(upstream) else {
        return Err(failure(ErrorCode::NoRoute, OWN_LISTENER, request_id));
    };
    if let Some(missing) = route
        .scopes
        .iter()
        .find(|scope| !caller.scopes.grants(scope))
    {
        let message = format!("this route needs scope `{missing}`");
        return Err(failure(ErrorCode::InsufficientScope, message, request_id));
    }
    let Some(tenant_id) = caller.tenant_id else {
        let message =
            "the operator's key reaches a tenant's runtime only by naming it (`X-Entity`)";
        return Err(failure(ErrorCode::TenantMismatch, message, request_id));
    };
    Ok(Destination {
        upstream: upstream.clone(),
        tenant_id: Some(tenant_id),
        caller: Some(caller),
    })
}

/// A 401 of the gateway names the resource's metadata (RFC 9728), as the MCP authorization
/// specification has protected resources do: the route's own when it has a resource.
fn challenge(
    state: &AppState,
    route: Option<(&Route, &Upstream)>,
    mut response: Response,
) -> Response {
    let metadata = || {
        state.resource_metadata_url(
            route
                .filter(|(route, _)| route.resource.is_some())
                .map(|(route, _)| route.prefix.as_str()),
        )
    };
    if response.status() == axum::http::StatusCode::UNAUTHORIZED
        && let Ok(value) = HeaderValue::from_str(&bearer_challenge(&metadata()))
    {
        response
            .headers_mut()
            .insert(axum::http::header::WWW_AUTHENTICATE, value);
    }
    response
}
