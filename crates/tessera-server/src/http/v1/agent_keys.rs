//! `/v1/tenants/{tenant_id}/agents/{agent_id}/keys`: the public keys an agent signs its client
//! assertions with (`private_key_jwt`): register (a JWK or a PEM public key), list, delete.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tessera_core::StoreError;
use tessera_core::agent_key::{AgentKey, MAX_AGENT_KEYS};
use tessera_crypto::ClientKey;
use tessera_proto::agent_keys as wire;
use tessera_proto::{ErrorBody, ErrorCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::agents::find_agent;
use crate::auth::extract::{AgentsWrite, Read, TenantAccess};
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::ApiJson;
use crate::http::openapi::{BodyErrors, KeyErrors};
use crate::state::AppState;

const MAX_KID: usize = 128;
const MAX_PEM: usize = 4096;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_key, list_keys))
        .routes(routes!(delete_key))
}

/// The wire view of a stored key (whose JWK was checked when it was registered).
pub(crate) fn view(key: &AgentKey) -> Result<wire::AgentKey, ApiError> {
    let jwk: serde_json::Value = serde_json::from_str(&key.jwk)
        .map_err(|e| ApiError::internal(format!("agent_keys.jwk: {e}")))?;
    let parsed = ClientKey::from_jwk(&jwk, Some(&key.alg))
        .map_err(|e| ApiError::internal(format!("agent_keys.jwk: {e}")))?;
    Ok(wire::AgentKey {
        kid: key.kid.clone(),
        alg: key.alg.clone(),
        jwk,
        thumbprint: parsed.thumbprint,
        created_at: key.created_at,
    })
}

fn check_kid(kid: &str) -> Result<(), ApiError> {
    let fits = |c: char| c.is_ascii_alphanumeric() || "-_.~:".contains(c);
    if kid.is_empty() || kid.len() > MAX_KID || !kid.chars().all(fits) {
        return Err(ApiError::invalid(format!(
            "kid: 1 to {MAX_KID} characters of A-Z a-z 0-9 - _ . ~ :"
        )));
    }
    Ok(())
}

/// The key a registration describes, normalised.
fn parse_key(body: &wire::CreateAgentKeyRequest) -> Result<ClientKey, ApiError> {
    let alg = body.alg.as_deref();
    let parsed = match (&body.jwk, &body.pem) {
        (Some(jwk), None) => ClientKey::from_jwk(jwk, alg),
        (None, Some(pem)) if pem.len() <= MAX_PEM => ClientKey::from_pem(pem, alg),
        (None, Some(_)) => return Err(ApiError::invalid(format!("pem: at most {MAX_PEM} bytes"))),
        _ => return Err(ApiError::invalid("send exactly one of `jwk` and `pem`")),
    };
    let mut key = parsed.map_err(|e| ApiError::invalid(format!("key: {e}")))?;
    if let Some(kid) = &body.kid {
        key.kid.clone_from(kid);
        key.jwk["kid"] = serde_json::Value::from(kid.as_str());
    }
    check_kid(&key.kid)?;
    Ok(key)
}

/// Register a public key the agent signs client assertions with (`private_key_jwt`).
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/agents/{agent_id}/keys", tag = "agents",
    params(("tenant_id" = String, Path), ("agent_id" = String, Path)),
    request_body = wire::CreateAgentKeyRequest,
    responses((status = 201, body = wire::AgentKey), (status = 409, body = ErrorBody), KeyErrors, BodyErrors),
    security(("api_key" = [])))]
async fn create_key(
    State(state): State<AppState>,
    access: TenantAccess<AgentsWrite>,
    ctx: RequestContext,
    Path(ids): Path<(String, String)>,
    ApiJson(body): ApiJson<wire::CreateAgentKeyRequest>,
) -> Result<(StatusCode, Json<wire::AgentKey>), ApiError> {
    let agent = find_agent(&state, access.tenant_id, &ids.1).await?;
    let key = parse_key(&body)?;
    let record = AgentKey {
        tenant_id: agent.tenant_id,
        agent_id: agent.id,
        kid: key.kid.clone(),
        alg: key.alg.as_str().to_owned(),
        jwk: key.jwk.to_string(),
        created_at: state.clock.now(),
    };
    let inserted = match state.store.insert_agent_key(&record).await {
        Err(StoreError::Conflict(_)) => {
            let message = format!("the agent already has a key `{}`", key.kid);
            return Err(ApiError::new(ErrorCode::Conflict, message));
        }
        other => other?,
    };
    if !inserted {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("an agent holds at most {MAX_AGENT_KEYS} keys; delete one first"),
        ));
    }
    state
        .audit(
            &ctx,
            access.fact("agent.key.create", format!("{}/{}", agent.id, key.kid)),
        )
        .await;
    Ok((StatusCode::CREATED, Json(view(&record)?)))
}

/// List an agent's registered public keys.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/agents/{agent_id}/keys", tag = "agents",
    params(("tenant_id" = String, Path), ("agent_id" = String, Path)),
    responses((status = 200, body = wire::AgentKeyList), KeyErrors),
    security(("api_key" = [])))]
async fn list_keys(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
    Path(ids): Path<(String, String)>,
) -> Result<Json<wire::AgentKeyList>, ApiError> {
    let agent = find_agent(&state, access.tenant_id, &ids.1).await?;
    let keys = state.store.agent_keys(agent.tenant_id, agent.id).await?;
    Ok(Json(wire::AgentKeyList {
        keys: keys.iter().map(view).collect::<Result<_, _>>()?,
    }))
}

/// Delete a key; assertions it signs are refused from the moment this returns.
#[utoipa::path(delete, path = "/v1/tenants/{tenant_id}/agents/{agent_id}/keys/{kid}", tag = "agents",
    params(("tenant_id" = String, Path), ("agent_id" = String, Path), ("kid" = String, Path)),
    responses((status = 204), KeyErrors),
    security(("api_key" = [])))]
async fn delete_key(
    State(state): State<AppState>,
    access: TenantAccess<AgentsWrite>,
    ctx: RequestContext,
    Path(ids): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let agent = find_agent(&state, access.tenant_id, &ids.1).await?;
    check_kid(&ids.2)?;
    if !state
        .store
        .delete_agent_key(agent.tenant_id, agent.id, &ids.2)
        .await?
    {
        return Err(ApiError::not_found("key"));
    }
    state
        .audit(
            &ctx,
            access.fact("agent.key.delete", format!("{}/{}", agent.id, ids.2)),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}
