//! `did:web` documents (W3C DID Core, `did:web` method): `GET /.well-known/did.json` for Tessera
//! itself (its published signing keys) and `GET /v1/agents/{agent_id}/did.json` for each active
//! agent (the public keys it registered), keys as `JsonWebKey2020`. Public, like the JWKS: a DID
//! document is how others verify what its subject signs.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;
use tessera_core::AgentId;
use tessera_core::agent::AgentStatus;
use tessera_core::tenant::TenantStatus;
use tessera_proto::ErrorBody;
use tessera_proto::did::{DidDocument, VerificationMethod};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::json::path_id;
use crate::state::AppState;

const CONTEXTS: [&str; 2] = [
    "https://www.w3.org/ns/did/v1",
    "https://w3id.org/security/suites/jws-2020/v1",
];

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(server_did_document))
        .routes(routes!(agent_did_document))
}

/// Tessera's DID: `did:web:` and the issuer's host (its port's colon encoded) and path, with
/// path segments separated by colons (the `did:web` method's rule).
pub fn server_did(issuer: &str) -> String {
    let Ok(url) = url::Url::parse(issuer) else {
        return format!("did:web:{issuer}");
    };
    let mut did = format!("did:web:{}", url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        did.push_str(&format!("%3A{port}"));
    }
    for segment in url
        .path_segments()
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
    {
        did.push(':');
        did.push_str(segment);
    }
    did
}

/// An agent's DID, resolved (by the `did:web` rule) to `/v1/agents/{agent_id}/did.json`.
pub fn agent_did(issuer: &str, agent: AgentId) -> String {
    format!("{}:v1:agents:{agent}", server_did(issuer))
}

fn document(did: String, controller: Option<String>, keys: Vec<(String, Value)>) -> DidDocument {
    let methods: Vec<VerificationMethod> = keys
        .into_iter()
        .map(|(kid, jwk)| VerificationMethod {
            id: format!("{did}#{kid}"),
            kind: "JsonWebKey2020".to_owned(),
            controller: did.clone(),
            public_key_jwk: jwk,
        })
        .collect();
    let ids: Vec<String> = methods.iter().map(|m| m.id.clone()).collect();
    DidDocument {
        context: CONTEXTS.iter().map(|c| (*c).to_owned()).collect(),
        id: did,
        controller,
        verification_method: methods,
        authentication: ids.clone(),
        assertion_method: ids,
    }
}

/// Tessera's DID document: the keys it signs tokens and certificates with.
#[utoipa::path(get, path = "/.well-known/did.json", tag = "discovery",
    responses((status = 200, body = DidDocument)))]
async fn server_did_document(State(state): State<AppState>) -> Result<Json<DidDocument>, ApiError> {
    let jwks: Value = serde_json::from_str(state.keys.ring().jwks_json())
        .map_err(|e| ApiError::internal(format!("jwks: {e}")))?;
    let keys = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|jwk| Some((jwk.get("kid")?.as_str()?.to_owned(), jwk.clone())))
        .collect();
    Ok(Json(document(server_did(&state.issuer), None, keys)))
}

/// An active agent's DID document: the public keys it registered, controlled by Tessera.
#[utoipa::path(get, path = "/v1/agents/{agent_id}/did.json", tag = "agents",
    params(("agent_id" = String, Path)),
    responses((status = 200, body = DidDocument), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn agent_did_document(
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
) -> Result<Json<DidDocument>, ApiError> {
    let id: AgentId = path_id(&raw_id)?;
    let missing = || ApiError::not_found("agent");
    let agent = state
        .store
        .agent_by_client_id(id)
        .await?
        .ok_or_else(missing)?;
    if agent.status != AgentStatus::Active
        || state.tenant_status(agent.tenant_id).await? != Some(TenantStatus::Active)
    {
        return Err(missing());
    }
    let keys = state
        .store
        .agent_keys(agent.tenant_id, agent.id)
        .await?
        .into_iter()
        .filter_map(|key| Some((key.kid, serde_json::from_str(&key.jwk).ok()?)))
        .collect();
    let did = agent_did(&state.issuer, agent.id);
    Ok(Json(document(did, Some(server_did(&state.issuer)), keys)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_web_encodes_port_and_path() {
        assert_eq!(
            server_did("https://id.example.com"),
            "did:web:id.example.com"
        );
        assert_eq!(
            server_did("http://127.0.0.1:8080"),
            "did:web:127.0.0.1%3A8080"
        );
        assert_eq!(
            server_did("https://example.com/auth/"),
            "did:web:example.com:auth"
        );
    }
}
