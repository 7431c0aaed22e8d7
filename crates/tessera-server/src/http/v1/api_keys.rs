//! `/v1/tenants/{tenant_id}/api-keys`: create (shown once), list (never the secret), revoke.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tessera_core::api_key::{ApiKey, KeyOwner};
use tessera_core::{ApiKeyId, Scopes, validate};
use tessera_crypto::{GeneratedSecret, SecretKind};
use tessera_proto::api_keys as wire;
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::extract::{ApiKeysWrite, Read, TenantAccess};
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::{ApiJson, path_id};
use crate::http::openapi::{BodyErrors, KeyErrors};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_api_key, list_api_keys))
        .routes(routes!(revoke_api_key))
}

fn view(key: &ApiKey, now: OffsetDateTime) -> wire::ApiKey {
    let status = if key.revoked_at.is_some() {
        wire::ApiKeyStatus::Revoked
    } else if key.is_expired(now) {
        wire::ApiKeyStatus::Expired
    } else {
        wire::ApiKeyStatus::Active
    };
    wire::ApiKey {
        id: key.id.to_string(),
        name: key.name.clone(),
        scopes: key.scopes.iter().map(str::to_owned).collect(),
        status,
        expires_at: key.expires_at,
        last_used_at: key.last_used_at,
        revoked_at: key.revoked_at,
        created_at: key.created_at,
    }
}

/// Create an API key. The key is in this response only; Tessera keeps its SHA-256.
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/api-keys", tag = "api-keys",
    params(("tenant_id" = String, Path)),
    request_body = wire::CreateApiKeyRequest,
    responses((status = 201, body = wire::CreatedApiKey), KeyErrors, BodyErrors),
    security(("api_key" = [])))]
async fn create_api_key(
    State(state): State<AppState>,
    access: TenantAccess<ApiKeysWrite>,
    ctx: RequestContext,
    ApiJson(body): ApiJson<wire::CreateApiKeyRequest>,
) -> Result<(StatusCode, Json<wire::CreatedApiKey>), ApiError> {
    let owner = KeyOwner::Tenant(access.tenant_id);
    let (key, created) = issue(&state, owner, body, &access.principal.grantable())?;
    state.store.insert_api_key(&key).await?;
    state
        .audit(&ctx, access.fact("api_key.create", key.id))
        .await;
    Ok((StatusCode::CREATED, Json(created)))
}

/// A new key for `owner` as the request asks, within `grantable`; the caller stores and audits
/// it. Returns the stored form and the response that shows the secret once.
pub(crate) fn issue(
    state: &AppState,
    owner: KeyOwner,
    body: wire::CreateApiKeyRequest,
    grantable: &Scopes,
) -> Result<(ApiKey, wire::CreatedApiKey), ApiError> {
    let name = validate::name("name", &body.name, 100)?;
    if body.scopes.is_empty() {
        return Err(ApiError::invalid("scopes: name at least one scope"));
    }
    let scopes = Scopes::for_tenant_key(body.scopes)
        .map_err(|e| ApiError::invalid(format!("scopes: {e}")))?;
    if !grantable.grants_all(&scopes) {
        return Err(ApiError::new(
            tessera_proto::ErrorCode::InsufficientScope,
            "a key cannot create a key with scopes it does not hold itself",
        ));
    }
    let now = state.clock.now();
    if body.expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::invalid("expires_at: must be in the future"));
    }
    let secret = GeneratedSecret::new(SecretKind::TenantApiKey);
    let key = ApiKey {
        id: ApiKeyId::generate(),
        owner,
        name,
        scopes,
        secret_hash: secret.hash,
        // Stored at whole seconds, like every timestamp.
        expires_at: body
            .expires_at
            .map(|at| at.replace_nanosecond(0).unwrap_or(at)),
        revoked_at: None,
        last_used_at: None,
        created_at: now,
    };
    let created = wire::CreatedApiKey {
        id: key.id.to_string(),
        name: key.name.clone(),
        scopes: key.scopes.iter().map(str::to_owned).collect(),
        expires_at: key.expires_at,
        created_at: key.created_at,
        key: secret.secret.expose().to_owned(),
    };
    Ok((key, created))
}

/// The owner's keys as listed.
pub(crate) async fn list(state: &AppState, owner: KeyOwner) -> Result<wire::ApiKeyList, ApiError> {
    let now = state.clock.now();
    let keys = state.store.api_keys(owner).await?;
    Ok(wire::ApiKeyList {
        api_keys: keys.iter().map(|k| view(k, now)).collect(),
    })
}

/// Revokes one of the owner's keys, effective at once on this instance (the cache forgets it).
pub(crate) async fn revoke(
    state: &AppState,
    owner: KeyOwner,
    raw_id: &str,
) -> Result<ApiKeyId, ApiError> {
    let key_id: ApiKeyId = path_id(raw_id)?;
    let revoked = state
        .store
        .revoke_api_key(owner, key_id, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    state.api_keys.forget(&revoked.secret_hash);
    Ok(key_id)
}

/// List the tenant's API keys, newest first (never the secrets).
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/api-keys", tag = "api-keys",
    params(("tenant_id" = String, Path)),
    responses((status = 200, body = wire::ApiKeyList), KeyErrors),
    security(("api_key" = [])))]
async fn list_api_keys(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
) -> Result<Json<wire::ApiKeyList>, ApiError> {
    Ok(Json(
        list(&state, KeyOwner::Tenant(access.tenant_id)).await?,
    ))
}

/// Revoke an API key. It is refused from the moment this returns.
#[utoipa::path(delete, path = "/v1/tenants/{tenant_id}/api-keys/{key_id}", tag = "api-keys",
    params(("tenant_id" = String, Path), ("key_id" = String, Path)),
    responses((status = 204), KeyErrors),
    security(("api_key" = [])))]
async fn revoke_api_key(
    State(state): State<AppState>,
    access: TenantAccess<ApiKeysWrite>,
    ctx: RequestContext,
    Path(ids): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let key_id = revoke(&state, KeyOwner::Tenant(access.tenant_id), &ids.1).await?;
    state
        .audit(&ctx, access.fact("api_key.revoke", key_id))
        .await;
    Ok(StatusCode::NO_CONTENT)
}
