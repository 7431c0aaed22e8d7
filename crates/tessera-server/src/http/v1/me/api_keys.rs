//! `/v1/me/api-keys`: keys that act as the signed-in person — the same user id and tenants as
//! their session, within their roles (and the scopes the key names).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tessera_core::api_key::KeyOwner;
use tessera_core::{Scopes, scope};
use tessera_proto::api_keys as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::Fact;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::ApiJson;
use crate::http::openapi::{BodyErrors, SessionErrors};
use crate::http::v1::api_keys::{issue, list, revoke};
use crate::people::signed_in::SignedIn;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_key, list_keys))
        .routes(routes!(revoke_key))
}

/// Create an API key that acts as the signed-in user (shown once). Its scopes narrow what the
/// user's roles allow; they never widen it.
#[utoipa::path(post, path = "/v1/me/api-keys", tag = "me",
    request_body = wire::CreateApiKeyRequest,
    responses((status = 201, body = wire::CreatedApiKey), (status = 401, body = tessera_proto::ErrorBody), BodyErrors, SessionErrors),
    security(("session" = [])))]
async fn create_key(
    State(state): State<AppState>,
    ctx: RequestContext,
    me: SignedIn,
    ApiJson(body): ApiJson<wire::CreateApiKeyRequest>,
) -> Result<(StatusCode, Json<wire::CreatedApiKey>), ApiError> {
    let (key, created) = issue(
        &state,
        KeyOwner::User(me.user_id),
        body,
        &Scopes::one(scope::ALL),
    )?;
    state.store.insert_api_key(&key).await?;
    let fact = Fact::success(None, me.actor(), "api_key.create", key.id);
    state.audit(&ctx, fact).await;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The signed-in user's API keys, newest first (never the secrets).
#[utoipa::path(get, path = "/v1/me/api-keys", tag = "me",
    responses((status = 200, body = wire::ApiKeyList), (status = 401, body = tessera_proto::ErrorBody), SessionErrors),
    security(("session" = [])))]
async fn list_keys(
    State(state): State<AppState>,
    me: SignedIn,
) -> Result<Json<wire::ApiKeyList>, ApiError> {
    Ok(Json(list(&state, KeyOwner::User(me.user_id)).await?))
}

/// Revoke one of the signed-in user's API keys.
#[utoipa::path(delete, path = "/v1/me/api-keys/{key_id}", tag = "me",
    params(("key_id" = String, Path)),
    responses((status = 204), (status = 401, body = tessera_proto::ErrorBody), (status = 404, body = tessera_proto::ErrorBody), SessionErrors),
    security(("session" = [])))]
async fn revoke_key(
    State(state): State<AppState>,
    ctx: RequestContext,
    me: SignedIn,
    Path(key_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let key_id = revoke(&state, KeyOwner::User(me.user_id), &key_id).await?;
    let fact = Fact::success(None, me.actor(), "api_key.revoke", key_id);
    state.audit(&ctx, fact).await;
    Ok(StatusCode::NO_CONTENT)
}
