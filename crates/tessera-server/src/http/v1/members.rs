//! `/v1/tenants/{tenant_id}/members`: the people of a tenant and their roles. Owners and admins
//! manage members; only owners make or unmake owners; anyone may leave; the last owner cannot
//! leave or be demoted (the store checks it in the same transaction as the change).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tessera_core::UserId;
use tessera_core::people::{MemberChange, Role};
use tessera_proto::ErrorCode;
use tessera_proto::people as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Principal;
use crate::auth::extract::{MembersWrite, Read, TenantAccess};
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::{ApiJson, path_id};
use crate::http::openapi::{BodyErrors, KeyErrors};
use crate::http::v1::me::role_view;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members))
        .routes(routes!(set_role, remove_member))
}

/// The tenant's members and their roles, oldest first.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/members", tag = "tenants",
    params(("tenant_id" = String, Path)),
    responses((status = 200, body = wire::MemberList), KeyErrors),
    security(("api_key" = []), ("session" = [])))]
async fn list_members(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
) -> Result<Json<wire::MemberList>, ApiError> {
    let members = state.store.members(access.tenant_id).await?;
    let mut views = Vec::with_capacity(members.len());
    for member in members {
        let user = state.store.user(member.user_id).await?;
        views.push(wire::Member {
            user_id: member.user_id.to_string(),
            email: user.as_ref().and_then(|u| u.email.clone()),
            name: user.and_then(|u| u.name),
            role: role_view(member.role),
            created_at: member.created_at,
        });
    }
    Ok(Json(wire::MemberList { members: views }))
}

/// Change a member's role. Making or unmaking an owner takes an owner.
#[utoipa::path(patch, path = "/v1/tenants/{tenant_id}/members/{user_id}", tag = "tenants",
    params(("tenant_id" = String, Path), ("user_id" = String, Path)),
    request_body = wire::SetRoleRequest,
    responses((status = 204), (status = 409, body = tessera_proto::ErrorBody), KeyErrors, BodyErrors),
    security(("api_key" = []), ("session" = [])))]
async fn set_role(
    State(state): State<AppState>,
    ctx: RequestContext,
    access: TenantAccess<MembersWrite>,
    Path(ids): Path<(String, String)>,
    ApiJson(body): ApiJson<wire::SetRoleRequest>,
) -> Result<StatusCode, ApiError> {
    let user: UserId = path_id(&ids.1)?;
    let role = match body.role {
        wire::Role::Owner => Role::Owner,
        wire::Role::Admin => Role::Admin,
        wire::Role::Member => Role::Member,
        wire::Role::Viewer => Role::Viewer,
    };
    let current = state
        .store
        .membership(access.tenant_id, user)
        .await?
        .ok_or_else(|| ApiError::not_found("member"))?;
    if (role == Role::Owner || current.role == Role::Owner) && !is_owner(&access.principal) {
        return Err(ApiError::new(
            ErrorCode::InsufficientScope,
            "only an owner makes or unmakes owners",
        ));
    }
    changed(state.store.set_role(access.tenant_id, user, role).await?)?;
    state
        .audit(
            &ctx,
            access.fact("member.role", format!("{user}:{}", role.as_str())),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a member (or leave: any member may remove themselves). Removing an owner takes an
/// owner. The removed person's sessions and keys lose the tenant at once.
#[utoipa::path(delete, path = "/v1/tenants/{tenant_id}/members/{user_id}", tag = "tenants",
    params(("tenant_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 409, body = tessera_proto::ErrorBody), KeyErrors),
    security(("api_key" = []), ("session" = [])))]
async fn remove_member(
    State(state): State<AppState>,
    ctx: RequestContext,
    access: TenantAccess<Read>,
    Path(ids): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let user: UserId = path_id(&ids.1)?;
    let leaving = matches!(access.principal, Principal::User { user_id, .. } if user_id == user);
    if !leaving
        && !access
            .principal
            .may(access.tenant_id, tessera_core::scope::MEMBERS_WRITE)
    {
        return Err(ApiError::new(
            ErrorCode::InsufficientScope,
            "removing another member needs scope `members:write` (owners and admins)",
        ));
    }
    let current = state
        .store
        .membership(access.tenant_id, user)
        .await?
        .ok_or_else(|| ApiError::not_found("member"))?;
    if current.role == Role::Owner && !leaving && !is_owner(&access.principal) {
        return Err(ApiError::new(
            ErrorCode::InsufficientScope,
            "only an owner removes an owner",
        ));
    }
    changed(state.store.remove_member(access.tenant_id, user).await?)?;
    state.audit(&ctx, access.fact("member.remove", user)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether the caller counts as an owner: an owner by membership, or a key of the tenant (or
/// the operator) holding `*`.
pub(crate) fn is_owner(principal: &Principal) -> bool {
    match principal {
        Principal::User { membership, .. } => {
            matches!(membership, Some((_, Role::Owner)))
        }
        other => other.grantable().grants(tessera_core::scope::ALL),
    }
}

fn changed(change: MemberChange) -> Result<(), ApiError> {
    match change {
        MemberChange::Done => Ok(()),
        MemberChange::LastOwner => Err(ApiError::new(
            ErrorCode::LastOwner,
            "the tenant would be left without an owner; make someone else owner first",
        )),
        MemberChange::NotFound => Err(ApiError::not_found("member")),
    }
}
