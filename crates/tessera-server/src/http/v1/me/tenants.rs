//! `POST /v1/me/tenants`: a signed-in person creates a tenant and becomes its owner.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use tessera_core::tenant::{Plan, Tenant, TenantKind, TenantStatus};
use tessera_core::{TenantId, validate};
use tessera_proto::people as wire;
use tessera_proto::tenants as tenant_wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::Fact;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::ApiJson;
use crate::http::openapi::{BodyErrors, SessionErrors};
use crate::http::v1::tenants::view;
use crate::people::signed_in::SignedIn;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_tenant))
}

/// Create a tenant owned by the signed-in user. Members, roles and keys are managed from there;
/// no key is handed out (the owner creates the keys they need).
#[utoipa::path(post, path = "/v1/me/tenants", tag = "me",
    request_body = wire::CreateOwnedTenantRequest,
    responses((status = 201, body = tenant_wire::Tenant), (status = 401, body = tessera_proto::ErrorBody), (status = 429, body = tessera_proto::ErrorBody), BodyErrors, SessionErrors),
    security(("session" = [])))]
async fn create_tenant(
    State(state): State<AppState>,
    ctx: RequestContext,
    me: SignedIn,
    ApiJson(body): ApiJson<wire::CreateOwnedTenantRequest>,
) -> Result<(StatusCode, Json<tenant_wire::Tenant>), ApiError> {
    let name = validate::name("name", &body.name, 100)?;
    state
        .limits
        .register(ctx.client_ip)
        .map_err(ApiError::rate_limited)?;
    let user = state
        .store
        .user(me.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    let tenant = Tenant {
        id: TenantId::generate(),
        name,
        email: user.email.unwrap_or_default(),
        kind: match body.kind {
            tenant_wire::TenantKind::Consumer => TenantKind::Consumer,
            tenant_wire::TenantKind::Provider => TenantKind::Provider,
        },
        plan: Plan::Explorer,
        status: TenantStatus::Active,
        created_at: state.clock.now(),
    };
    state.store.create_owned_tenant(&tenant, me.user_id).await?;
    let fact = Fact::success(Some(tenant.id), me.actor(), "tenant.create", tenant.id);
    state.audit(&ctx, fact).await;
    Ok((StatusCode::CREATED, Json(view(&tenant))))
}
