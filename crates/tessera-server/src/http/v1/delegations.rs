//! `/v1/tenants/{tenant_id}/delegations`: people's delegation grants to the tenant's agents.
//!
//! - Create: a person, by their session, authorizes an agent of a tenant they belong to (any
//!   role) to act for them within some scopes until some time. API keys, even a person's own,
//!   cannot delegate: the grant lends the person themself, and a key's scopes say nothing of
//!   that.
//! - List: the tenant's owners and admins, its API keys (scope `read`) and the operator see
//!   every grant of the tenant; other members see their own.
//! - Revoke: the person who granted it, or whoever may manage agents in the tenant (owners,
//!   admins, keys with `agents:write`, the operator). Every token exchanged under the grant,
//!   through every further exchange, stops being active at once.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tessera_core::delegation::DelegationGrant;
use tessera_core::{AgentId, DelegationId, IdError, Scopes, scope};
use tessera_proto::ErrorCode;
use tessera_proto::delegations as wire;
use time::Duration;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Principal;
use crate::auth::extract::{Read, TenantAccess};
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::{ApiJson, path_id};
use crate::http::openapi::{BodyErrors, KeyErrors};
use crate::state::AppState;

const MAX_SCOPES: usize = 64;
const DEFAULT_EXPIRES_IN: i64 = 30 * 86_400;
const MAX_EXPIRES_IN: i64 = 365 * 86_400;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_delegation, list_delegations))
        .routes(routes!(revoke_delegation))
}

fn view(grant: &DelegationGrant, now: time::OffsetDateTime) -> wire::Delegation {
    let status = if grant.revoked_at.is_some() {
        "revoked"
    } else if grant.expires_at <= now {
        "expired"
    } else {
        "active"
    };
    wire::Delegation {
        id: grant.id.to_string(),
        tenant_id: grant.tenant_id.to_string(),
        user_id: grant.user_id.to_string(),
        agent_id: grant.agent_id.to_string(),
        scopes: grant.scopes.iter().map(str::to_owned).collect(),
        status: status.to_owned(),
        expires_at: grant.expires_at,
        created_at: grant.created_at,
        revoked_at: grant.revoked_at,
    }
}

/// Authorize an agent of the tenant to act for the signed-in person (token exchange with the
/// person's session token as the subject).
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/delegations", tag = "delegations",
    params(("tenant_id" = String, Path)),
    request_body = wire::CreateDelegationRequest,
    responses((status = 201, body = wire::Delegation), KeyErrors, BodyErrors),
    security(("session" = [])))]
async fn create_delegation(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
    ctx: RequestContext,
    ApiJson(body): ApiJson<wire::CreateDelegationRequest>,
) -> Result<(StatusCode, Json<wire::Delegation>), ApiError> {
    let Principal::User {
        user_id,
        key_id: None,
        ..
    } = &access.principal
    else {
        return Err(ApiError::new(
            ErrorCode::InsufficientScope,
            "only a person delegates: call with the person's session token",
        ));
    };
    let agent_id: AgentId = body
        .agent_id
        .parse()
        .map_err(|e: IdError| ApiError::invalid(format!("agent_id: {e}")))?;
    let agent = state
        .store
        .agent(access.tenant_id, agent_id)
        .await?
        .ok_or_else(|| ApiError::invalid("agent_id: the tenant has no such agent"))?;
    if agent.status != tessera_core::agent::AgentStatus::Active {
        return Err(ApiError::invalid("agent_id: the agent is disabled"));
    }
    if body.scopes.is_empty() || body.scopes.len() > MAX_SCOPES {
        return Err(ApiError::invalid(format!(
            "scopes: between 1 and {MAX_SCOPES}"
        )));
    }
    let scopes = Scopes::new(body.scopes).map_err(|e| ApiError::invalid(format!("scopes: {e}")))?;
    let expires_in = body.expires_in.unwrap_or(DEFAULT_EXPIRES_IN);
    if !(60..=MAX_EXPIRES_IN).contains(&expires_in) {
        return Err(ApiError::invalid(format!(
            "expires_in: between 60 and {MAX_EXPIRES_IN} seconds"
        )));
    }
    let now = state.clock.now();
    let grant = DelegationGrant {
        id: DelegationId::generate(),
        tenant_id: access.tenant_id,
        user_id: *user_id,
        agent_id,
        scopes,
        expires_at: now + Duration::seconds(expires_in),
        created_at: now,
        revoked_at: None,
    };
    state.store.create_delegation(&grant).await?;
    let target = format!("{} agent:{}", grant.id, grant.agent_id);
    state
        .audit(&ctx, access.fact("delegation.create", target))
        .await;
    Ok((StatusCode::CREATED, Json(view(&grant, now))))
}

/// Whether the caller sees (and may revoke) every grant of the tenant, not only its own.
fn oversees(principal: &Principal) -> bool {
    match principal {
        Principal::User { membership, .. } => membership.is_some_and(|(_, role)| role.manages()),
        Principal::Operator { .. } | Principal::TenantKey { .. } => true,
    }
}

/// List delegation grants, newest first: all of the tenant's for its owners, admins, keys and
/// the operator; a member's own otherwise.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/delegations", tag = "delegations",
    params(("tenant_id" = String, Path)),
    responses((status = 200, body = wire::DelegationList), KeyErrors),
    security(("api_key" = []), ("session" = [])))]
async fn list_delegations(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
) -> Result<Json<wire::DelegationList>, ApiError> {
    let only = match &access.principal {
        Principal::User { user_id, .. } if !oversees(&access.principal) => Some(*user_id),
        _ => None,
    };
    let grants = state.store.delegations(access.tenant_id, only).await?;
    let now = state.clock.now();
    Ok(Json(wire::DelegationList {
        delegations: grants.iter().map(|g| view(g, now)).collect(),
    }))
}

/// Revoke a delegation grant: every token exchanged under it stops being active at once.
#[utoipa::path(delete, path = "/v1/tenants/{tenant_id}/delegations/{delegation_id}", tag = "delegations",
    params(("tenant_id" = String, Path), ("delegation_id" = String, Path)),
    responses((status = 204), KeyErrors),
    security(("api_key" = []), ("session" = [])))]
async fn revoke_delegation(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
    ctx: RequestContext,
    Path(ids): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id: DelegationId = path_id(&ids.1)?;
    let not_found = || ApiError::not_found("live delegation");
    let grant = state
        .store
        .delegation(access.tenant_id, id)
        .await?
        .ok_or_else(not_found)?;
    let own =
        matches!(&access.principal, Principal::User { user_id, .. } if *user_id == grant.user_id);
    if !own {
        // A member sees only their own grants: another's is not there for them.
        if !oversees(&access.principal) {
            return Err(not_found());
        }
        if !access.principal.may(access.tenant_id, scope::AGENTS_WRITE) {
            return Err(ApiError::new(
                ErrorCode::InsufficientScope,
                format!(
                    "revoking another person's delegation needs scope `{}`",
                    scope::AGENTS_WRITE
                ),
            ));
        }
    }
    state
        .store
        .revoke_delegation(access.tenant_id, id, state.clock.now())
        .await?
        .ok_or_else(not_found)?;
    state
        .audit(&ctx, access.fact("delegation.revoke", id))
        .await;
    Ok(StatusCode::NO_CONTENT)
}
