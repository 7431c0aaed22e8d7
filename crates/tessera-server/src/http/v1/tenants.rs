//! `/v1/tenants`: registration (open or operator-only), reading, suspension, plan changes.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_core::api_key::{ApiKey, KeyOwner};
use tessera_core::tenant::{Plan, Tenant, TenantKind, TenantStatus};
use tessera_core::{ApiKeyId, Scopes, TenantId, scope, validate};
use tessera_crypto::{GeneratedSecret, SecretKind};
use tessera_proto::ErrorCode;
use tessera_proto::tenants as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::Fact;
use crate::auth::Principal;
use crate::auth::extract::{Operator, Read, TenantAccess, rate_limited};
use crate::config::Registration;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::{ApiJson, path_id};
use crate::http::openapi::{BodyErrors, KeyErrors};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_tenant))
        .routes(routes!(get_tenant))
        .routes(routes!(suspend_tenant))
        .routes(routes!(reactivate_tenant))
        .routes(routes!(set_plan))
}

pub fn view(tenant: &Tenant) -> wire::Tenant {
    wire::Tenant {
        id: tenant.id.to_string(),
        name: tenant.name.clone(),
        kind: match tenant.kind {
            TenantKind::Consumer => wire::TenantKind::Consumer,
            TenantKind::Provider => wire::TenantKind::Provider,
        },
        plan: match tenant.plan {
            Plan::Explorer => wire::Plan::Explorer,
            Plan::Professional => wire::Plan::Professional,
            Plan::Business => wire::Plan::Business,
            Plan::Enterprise => wire::Plan::Enterprise,
        },
        status: match tenant.status {
            TenantStatus::Active => wire::TenantStatus::Active,
            TenantStatus::Suspended => wire::TenantStatus::Suspended,
        },
        created_at: tenant.created_at,
    }
}

/// Register a tenant. Returns its first API key (scope `*`), shown only here.
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants",
    request_body = wire::CreateTenantRequest,
    responses((status = 201, body = wire::CreatedTenant), KeyErrors, BodyErrors),
    security((), ("api_key" = [])))]
async fn create_tenant(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    ApiJson(body): ApiJson<wire::CreateTenantRequest>,
) -> Result<Response, Response> {
    let operator = match crate::auth::extract::presented_credential(&headers) {
        Some(_) => Some(state.authenticate(&headers, &ctx).await?),
        None => None,
    };
    let actor = match &operator {
        Some(principal @ Principal::Operator { .. }) => principal.actor(),
        Some(Principal::User { .. }) => {
            let message = "signed-in people create tenants with `POST /v1/me/tenants`";
            return Err(ApiError::new(ErrorCode::InsufficientScope, message).into_response());
        }
        Some(_) => {
            let message =
                "tenant keys cannot register tenants; send no credential, or the operator's key";
            return Err(ApiError::new(ErrorCode::InsufficientScope, message).into_response());
        }
        None if state.config.registration == Registration::Operator => {
            let message = "open registration is off; ask the operator to create the tenant";
            return Err(ApiError::new(ErrorCode::RegistrationClosed, message).into_response());
        }
        None => "anonymous".to_owned(),
    };
    let name =
        validate::name("name", &body.name, 100).map_err(|e| ApiError::from(e).into_response())?;
    let email = validate::email(&body.email).map_err(|e| ApiError::from(e).into_response())?;
    if operator.is_none() {
        state.limits.register(ctx.client_ip).map_err(rate_limited)?;
    }

    let tenant = Tenant {
        id: TenantId::generate(),
        name,
        email,
        kind: match body.kind {
            wire::TenantKind::Consumer => TenantKind::Consumer,
            wire::TenantKind::Provider => TenantKind::Provider,
        },
        plan: Plan::Explorer,
        status: TenantStatus::Active,
        created_at: state.clock.now(),
    };
    let secret = register(&state, &ctx, actor, &tenant)
        .await
        .map_err(IntoResponse::into_response)?;
    let body = wire::CreatedTenant {
        tenant: view(&tenant),
        api_key: secret.secret.expose().to_owned(),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Stores a new tenant with its first API key (scope `*`) and audits it; returns the key.
pub(crate) async fn register(
    state: &AppState,
    ctx: &RequestContext,
    actor: String,
    tenant: &Tenant,
) -> Result<GeneratedSecret, ApiError> {
    let secret = GeneratedSecret::new(SecretKind::TenantApiKey);
    let key = ApiKey {
        id: ApiKeyId::generate(),
        owner: KeyOwner::Tenant(tenant.id),
        name: "initial".to_owned(),
        scopes: Scopes::one(scope::ALL),
        secret_hash: secret.hash,
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
        created_at: tenant.created_at,
    };
    state.store.create_tenant(tenant, &key).await?;
    state
        .audit(
            ctx,
            Fact::success(Some(tenant.id), actor, "tenant.create", tenant.id),
        )
        .await;
    Ok(secret)
}

/// Read a tenant.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}", tag = "tenants",
    params(("tenant_id" = String, Path)),
    responses((status = 200, body = wire::Tenant), KeyErrors),
    security(("api_key" = [])))]
async fn get_tenant(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
) -> Result<Json<wire::Tenant>, ApiError> {
    let tenant = state
        .store
        .tenant(access.tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    Ok(Json(view(&tenant)))
}

/// Suspend a tenant (operator). Its keys and tokens are refused from this moment.
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/suspend", tag = "tenants",
    params(("tenant_id" = String, Path)),
    responses((status = 200, body = wire::Tenant), KeyErrors),
    security(("api_key" = [])))]
async fn suspend_tenant(
    State(state): State<AppState>,
    Operator(operator): Operator,
    ctx: RequestContext,
    Path(tenant_id): Path<String>,
) -> Result<Json<wire::Tenant>, ApiError> {
    set_status(
        &state,
        &operator,
        &ctx,
        &tenant_id,
        TenantStatus::Suspended,
        "tenant.suspend",
    )
    .await
}

/// Reactivate a suspended tenant (operator).
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/reactivate", tag = "tenants",
    params(("tenant_id" = String, Path)),
    responses((status = 200, body = wire::Tenant), KeyErrors),
    security(("api_key" = [])))]
async fn reactivate_tenant(
    State(state): State<AppState>,
    Operator(operator): Operator,
    ctx: RequestContext,
    Path(tenant_id): Path<String>,
) -> Result<Json<wire::Tenant>, ApiError> {
    set_status(
        &state,
        &operator,
        &ctx,
        &tenant_id,
        TenantStatus::Active,
        "tenant.reactivate",
    )
    .await
}

/// Change a tenant's plan (operator). Its limits apply from its next request; the audit
/// event's target is `<tenant id>:<old plan>-><new plan>`.
#[utoipa::path(put, path = "/v1/tenants/{tenant_id}/plan", tag = "tenants",
    params(("tenant_id" = String, Path)),
    request_body = wire::SetPlanRequest,
    responses((status = 200, body = wire::Tenant), KeyErrors, BodyErrors),
    security(("api_key" = [])))]
async fn set_plan(
    State(state): State<AppState>,
    Operator(operator): Operator,
    ctx: RequestContext,
    Path(tenant_id): Path<String>,
    ApiJson(body): ApiJson<wire::SetPlanRequest>,
) -> Result<Json<wire::Tenant>, ApiError> {
    let id: TenantId = path_id(&tenant_id)?;
    let plan = Plan::parse(&body.plan).ok_or_else(|| {
        ApiError::invalid("plan: must be explorer, professional, business or enterprise")
    })?;
    let old = state
        .store
        .set_tenant_plan(id, plan)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    state.plans.invalidate(&id);
    let change = format!("{id}:{}->{}", old.as_str(), plan.as_str());
    state
        .audit(
            &ctx,
            Fact::success(Some(id), operator.actor(), "tenant.plan_change", change),
        )
        .await;
    let tenant = state
        .store
        .tenant(id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    Ok(Json(view(&tenant)))
}

async fn set_status(
    state: &AppState,
    operator: &Principal,
    ctx: &RequestContext,
    raw_id: &str,
    status: TenantStatus,
    action: &'static str,
) -> Result<Json<wire::Tenant>, ApiError> {
    let id: TenantId = path_id(raw_id)?;
    if !state.store.set_tenant_status(id, status).await? {
        return Err(ApiError::not_found("tenant"));
    }
    state.tenants.invalidate(&id);
    state
        .audit(ctx, Fact::success(Some(id), operator.actor(), action, id))
        .await;
    let tenant = state
        .store
        .tenant(id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    Ok(Json(view(&tenant)))
}
