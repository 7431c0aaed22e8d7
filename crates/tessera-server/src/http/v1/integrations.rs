//! Per-agent OAuth: `/v1/agents/{agent_id}/integrations/{provider}/start` (a person, or the
//! tenant's key, begins a connection), the public callback the provider sends the browser to,
//! the agent's connections and disconnecting one, and the provider-agnostic ingest verb (with
//! the operator's key here; without a key on the internal listener).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use tessera_core::agent::Agent;
use tessera_core::connection::{
    Connection, ConnectionKey, ConnectionStatus, DEFAULT_NAME, ScopeKind,
};
use tessera_core::people::{Challenge, ChallengeKind};
use tessera_core::{AgentId, TenantId};
use tessera_crypto::sha256;
use tessera_federation::Secret;
use tessera_federation::connect::Granted;
use tessera_proto::connections as wire;
use tessera_proto::{ErrorBody, ErrorCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::Fact;
use crate::auth::extract::{AgentAccess, AgentsWrite, Operator, Read};
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::{ApiJson, ApiQuery};
use crate::http::openapi::{BodyErrors, KeyErrors};
use crate::people::redirect::found;
use crate::state::AppState;
use crate::vault::ensure_enabled;
use crate::vault::state::StateClaims;

/// How long a begun connection (its `state`) stays valid.
const STATE_TTL: time::Duration = time::Duration::seconds(600);
/// Access tokens given to ingest are at most this long.
const MAX_TOKEN_LEN: usize = 8 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start))
        .routes(routes!(callback))
        .routes(routes!(list))
        .routes(routes!(disconnect))
        .routes(routes!(ingest_as_operator))
}

/// What a begun connection keeps until its callback (the challenge's payload).
#[derive(Serialize, Deserialize)]
struct Pending {
    tenant_id: String,
    agent_id: String,
    pkce_verifier: Option<String>,
}

/// The audit target of a connection.
pub fn target(key: &ConnectionKey) -> String {
    format!(
        "{}:{}/{}/{}",
        key.scope_kind.as_str(),
        key.scope_id,
        key.provider,
        key.name
    )
}

fn agent_key(agent: &Agent, provider: &str) -> ConnectionKey {
    ConnectionKey {
        tenant_id: agent.tenant_id,
        scope_kind: ScopeKind::Agent,
        scope_id: agent.id.to_string(),
        provider: provider.to_owned(),
        name: DEFAULT_NAME.to_owned(),
    }
}

fn random_nonce() -> String {
    let mut bytes = [0u8; 32];
    // The system RNG failing is unrecoverable; there is nothing safe to hand out instead.
    #[allow(clippy::expect_used)]
    aws_lc_rs::rand::fill(&mut bytes).expect("system random number generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

impl AppState {
    /// Where `provider` sends the browser back (registered at the provider exactly so).
    pub fn integration_redirect_uri(&self, provider: &str) -> String {
        format!("{}/v1/integrations/{provider}/callback", self.issuer)
    }
}

/// Begin connecting the agent's account at `provider`: returns the URL to send the person who
/// consents to. The `state` is HMAC-bound to the agent, single-use, valid 10 minutes.
#[utoipa::path(get, path = "/v1/agents/{agent_id}/integrations/{provider}/start", tag = "connections",
    params(("agent_id" = String, Path), ("provider" = String, Path)),
    responses((status = 200, body = wire::StartedConnection), KeyErrors,
        (status = 503, body = ErrorBody, description = "`<provider>_oauth_not_configured` (`setup_required`)")),
    security(("api_key" = []), ("session" = [])))]
async fn start(
    State(state): State<AppState>,
    access: AgentAccess<AgentsWrite>,
    ctx: RequestContext,
    Path(ids): Path<(String, String)>,
) -> Result<Json<wire::StartedConnection>, ApiError> {
    let provider = ids.1;
    let usable = ensure_enabled(&access.agent);
    let connector = match usable.and(state.vault.connector(&provider).await) {
        Ok(connector) => connector,
        Err(error) => {
            let fact = Fact::failure(
                Some(access.agent.tenant_id),
                access.principal.actor(),
                "connection.start",
                target(&agent_key(&access.agent, &provider)),
                error.code().code(),
            );
            state.audit(&ctx, fact).await;
            return Err(error);
        }
    };
    let now = state.clock.now();
    let claims = StateClaims {
        agent_id: access.agent.id,
        nonce: random_nonce(),
        expires_at: now + STATE_TTL,
    };
    let signed = state.vault.state_key()?.mint(&claims);
    let authorization = connector.authorize(&signed, &state.integration_redirect_uri(&provider));
    let pending = Pending {
        tenant_id: access.agent.tenant_id.to_string(),
        agent_id: access.agent.id.to_string(),
        pkce_verifier: authorization.pkce_verifier,
    };
    state
        .store
        .insert_challenge(&Challenge {
            key: sha256(claims.nonce.as_bytes()),
            kind: ChallengeKind::ConnectionState,
            subject: provider.clone(),
            payload: serde_json::to_string(&pending).map_err(ApiError::internal)?,
            failures: 0,
            expires_at: claims.expires_at,
            created_at: now,
        })
        .await?;
    state
        .audit(
            &ctx,
            access.fact(
                "connection.start",
                target(&agent_key(&access.agent, &provider)),
            ),
        )
        .await;
    Ok(Json(wire::StartedConnection {
        authorize_url: authorization.url,
    }))
}

/// A refused callback: why (the `?error=` reason and audit reason), and the error to answer
/// with when there is no return URL.
struct Refusal {
    reason: &'static str,
    error: ApiError,
    tenant: Option<TenantId>,
}

fn refused(reason: &'static str, message: &str) -> Refusal {
    Refusal {
        reason,
        error: ApiError::new(ErrorCode::InvalidState, message.to_owned()),
        tenant: None,
    }
}

/// The provider's redirect back: checks the `state` (MAC, expiry, single use, provider,
/// agent), exchanges the code, stores the tokens, and sends the browser to the return URL
/// with `?connected=<provider>` or `?error=<reason>`.
#[utoipa::path(get, path = "/v1/integrations/{provider}/callback", tag = "connections",
    params(("provider" = String, Path), wire::CallbackQuery),
    responses(
        (status = 302, description = "To `integrations_return_url` with `connected` or `error`"),
        (status = 200, body = wire::Connected, description = "Connected (no return URL configured)"),
        (status = 400, body = ErrorBody, description = "A refused state or code (no return URL configured)"),
        (status = 502, body = ErrorBody, description = "The provider refused the code or failed (no return URL configured)"),
        (status = 503, body = ErrorBody, description = "`<provider>_oauth_not_configured` (no return URL configured)")))]
async fn callback(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(provider): Path<String>,
    ApiQuery(query): ApiQuery<wire::CallbackQuery>,
) -> Response {
    let return_url = state.config.integrations_return_url.clone();
    match complete(&state, &provider, query).await {
        Ok(connection) => {
            let fact = Fact::success(
                Some(connection.key.tenant_id),
                format!("agent:{}", connection.key.scope_id),
                "connection.callback",
                target(&connection.key),
            );
            state.audit(&ctx, fact).await;
            match return_url {
                Some(mut to) => {
                    to.query_pairs_mut().append_pair("connected", &provider);
                    found(axum::http::HeaderMap::new(), &to)
                }
                None => Json(wire::Connected {
                    connected: provider,
                })
                .into_response(),
            }
        }
        Err(refusal) => {
            let fact = Fact::failure(
                refusal.tenant,
                "anonymous".to_owned(),
                "connection.callback",
                format!("provider:{provider}"),
                refusal.reason,
            );
            state.audit(&ctx, fact).await;
            match return_url {
                Some(mut to) => {
                    to.query_pairs_mut().append_pair("error", refusal.reason);
                    found(axum::http::HeaderMap::new(), &to)
                }
                None => refusal.error.into_response(),
            }
        }
    }
}

async fn complete(
    state: &AppState,
    provider: &str,
    query: wire::CallbackQuery,
) -> Result<Connection, Refusal> {
    let connector = state
        .vault
        .connector(provider)
        .await
        .map_err(|error| Refusal {
            reason: "provider_not_configured",
            error,
            tenant: None,
        })?;
    if query.error.is_some() {
        return Err(refused(
            "provider_denied",
            "the provider did not grant access (the person declined, or it refused)",
        ));
    }
    let (Some(code), Some(signed)) = (query.code, query.state) else {
        return Err(refused("state_invalid", "`code` and `state` are required"));
    };
    let now = state.clock.now();
    let key = state.vault.state_key().map_err(|error| Refusal {
        reason: "internal",
        error,
        tenant: None,
    })?;
    let claims = key
        .verify(&signed, now)
        .map_err(|e| refused(e.reason(), "the state is forged, altered or expired"))?;
    let store_failed = |error: tessera_core::StoreError| Refusal {
        reason: "internal",
        error: error.into(),
        tenant: None,
    };
    let challenge = state
        .store
        .take_challenge(
            ChallengeKind::ConnectionState,
            &sha256(claims.nonce.as_bytes()),
            now,
        )
        .await
        .map_err(store_failed)?
        .ok_or_else(|| refused("state_used", "the state was used already or has expired"))?;
    let pending: Pending = serde_json::from_str(&challenge.payload).map_err(|e| Refusal {
        reason: "internal",
        error: ApiError::internal(e),
        tenant: None,
    })?;
    let tenant: TenantId = pending
        .tenant_id
        .parse()
        .map_err(|_| refused("state_invalid", "the state's record is unreadable"))?;
    let agent_id: AgentId = pending
        .agent_id
        .parse()
        .map_err(|_| refused("state_invalid", "the state's record is unreadable"))?;
    if challenge.subject != provider || agent_id != claims.agent_id {
        return Err(Refusal {
            tenant: Some(tenant),
            ..refused(
                "state_mismatch",
                "the state was issued for another provider or agent",
            )
        });
    }
    // The agent may have been disabled or deleted since the person was sent to consent: then
    // the code is not even exchanged.
    let agent = state
        .store
        .agent_by_client_id(agent_id)
        .await
        .map_err(store_failed)?
        .filter(|agent| agent.tenant_id == tenant)
        .ok_or_else(|| Refusal {
            tenant: Some(tenant),
            ..refused("agent_not_found", "the agent no longer exists")
        })?;
    ensure_enabled(&agent).map_err(|error| Refusal {
        reason: "agent_disabled",
        error,
        tenant: Some(tenant),
    })?;
    let granted = connector
        .exchange(
            &state.vault.http,
            &code,
            &state.integration_redirect_uri(provider),
            pending.pkce_verifier.as_deref(),
        )
        .await
        .map_err(|e| Refusal {
            reason: e.reason(),
            error: crate::vault::provider_error(&e),
            tenant: Some(tenant),
        })?;
    let key = ConnectionKey {
        tenant_id: tenant,
        scope_kind: ScopeKind::Agent,
        scope_id: agent_id.to_string(),
        provider: provider.to_owned(),
        name: DEFAULT_NAME.to_owned(),
    };
    state
        .store_connection(key, granted)
        .await
        .map_err(|error| Refusal {
            reason: "internal",
            error,
            tenant: Some(tenant),
        })
}

pub(crate) fn view(
    connection: &Connection,
    has_refresh: bool,
    now: time::OffsetDateTime,
) -> wire::Connection {
    let status = match connection.status {
        ConnectionStatus::Connected
            if !has_refresh && connection.expires_at.is_some_and(|at| at <= now) =>
        {
            wire::ConnectionStatus::Expired
        }
        ConnectionStatus::Connected => wire::ConnectionStatus::Connected,
        ConnectionStatus::Expired => wire::ConnectionStatus::Expired,
        ConnectionStatus::NeedsReauth => wire::ConnectionStatus::NeedsReauth,
        ConnectionStatus::Revoked => wire::ConnectionStatus::Revoked,
    };
    wire::Connection {
        provider: connection.key.provider.clone(),
        name: connection.key.name.clone(),
        scope_kind: match connection.key.scope_kind {
            ScopeKind::Tenant => wire::ScopeKind::Tenant,
            ScopeKind::Role => wire::ScopeKind::Role,
            ScopeKind::Agent => wire::ScopeKind::Agent,
        },
        scope_id: connection.key.scope_id.clone(),
        status,
        scopes: connection.scopes.clone(),
        account: connection.account.clone(),
        connected_at: connection.connected_at,
        refreshed_at: connection.refreshed_at,
        expires_at: connection.expires_at,
    }
}

/// The agent's own connections, by provider: status, granted scopes, account, times.
#[utoipa::path(get, path = "/v1/agents/{agent_id}/integrations", tag = "connections",
    params(("agent_id" = String, Path)),
    responses((status = 200, body = wire::ConnectionList), KeyErrors),
    security(("api_key" = []), ("session" = [])))]
async fn list(
    State(state): State<AppState>,
    access: AgentAccess<Read>,
) -> Result<Json<wire::ConnectionList>, ApiError> {
    let now = state.clock.now();
    let stored = state
        .store
        .scope_connections(
            access.agent.tenant_id,
            ScopeKind::Agent,
            &access.agent.id.to_string(),
        )
        .await?;
    let mut connections = Vec::with_capacity(stored.len());
    for connection in &stored {
        // Only a live connection's expiry depends on a refresh token (a revoked one has none).
        let has_refresh = connection.status == ConnectionStatus::Connected
            && state.open_tokens(connection)?.refresh_token.is_some();
        connections.push(view(connection, has_refresh, now));
    }
    Ok(Json(wire::ConnectionList { connections }))
}

/// Disconnect the agent's account at `provider`: the tokens are erased (the connection is
/// listed as `revoked` until someone connects again), and the grant is revoked at the provider
/// where it supports revocation.
#[utoipa::path(delete, path = "/v1/agents/{agent_id}/integrations/{provider}", tag = "connections",
    params(("agent_id" = String, Path), ("provider" = String, Path)),
    responses((status = 204, description = "Disconnected"), KeyErrors,
        (status = 409, body = ErrorBody, description = "`conflict`: the connection changed meanwhile; retry")),
    security(("api_key" = []), ("session" = [])))]
async fn disconnect(
    State(state): State<AppState>,
    access: AgentAccess<AgentsWrite>,
    ctx: RequestContext,
    Path(ids): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let provider = ids.1;
    crate::people::oauth::check_name(&provider)
        .map_err(|why| ApiError::invalid(format!("provider: {why}")))?;
    let key = agent_key(&access.agent, &provider);
    let connection = state
        .store
        .connection(&key)
        .await?
        .filter(|c| c.status != ConnectionStatus::Revoked)
        .ok_or_else(|| ApiError::not_found("connection"))?;
    let tokens = state.open_tokens(&connection);
    let now = state.clock.now();
    let erased = Connection {
        status: ConnectionStatus::Revoked,
        sealed_tokens: Vec::new(),
        expires_at: None,
        updated_at: now,
        ..connection
    };
    // Over the revision read: a refresh that lands first would otherwise survive the erasure.
    if !state.store.update_connection(&erased, None).await? {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the connection changed while it was being disconnected; retry",
        ));
    }
    // The tokens are gone from the vault whatever the provider says; revocation is the
    // provider's half, and its failure is recorded, not fatal.
    let revoked = match (tokens, state.vault.connector(&provider).await) {
        (Ok(tokens), Ok(connector)) if connector.revokes() => connector
            .revoke(
                &state.vault.http,
                &tokens.access_token,
                tokens.refresh_token.as_ref(),
            )
            .await
            .map_err(|e| e.reason()),
        (Ok(_), Ok(_)) => Ok(()),
        _ => Err("provider_unavailable"),
    };
    let fact = match revoked {
        Ok(()) => access.fact("connection.disconnect", target(&key)),
        Err(reason) => Fact::failure(
            Some(access.agent.tenant_id),
            access.principal.actor(),
            "connection.disconnect",
            target(&key),
            reason,
        ),
    };
    state.audit(&ctx, fact).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Store a token set obtained elsewhere under a scope key (tenant, role or agent). The same
/// path the callback takes; on the internal listener no key is needed.
#[utoipa::path(post, path = "/v1/integrations/credentials/ingest", tag = "connections",
    request_body = wire::IngestRequest,
    responses((status = 201, body = wire::Connection), KeyErrors, BodyErrors,
        (status = 503, body = ErrorBody, description = "`<provider>_oauth_not_configured` (`setup_required`)")),
    security(("api_key" = [])))]
async fn ingest_as_operator(
    State(state): State<AppState>,
    Operator(operator): Operator,
    ctx: RequestContext,
    ApiJson(body): ApiJson<wire::IngestRequest>,
) -> Result<(StatusCode, Json<wire::Connection>), ApiError> {
    ingest(&state, &ctx, operator.actor(), body).await
}

/// `POST /v1/integrations/credentials/ingest` on the internal listener.
pub(crate) async fn ingest_internal(
    State(state): State<AppState>,
    ctx: RequestContext,
    ApiJson(body): ApiJson<wire::IngestRequest>,
) -> Result<(StatusCode, Json<wire::Connection>), ApiError> {
    ingest(&state, &ctx, "internal".to_owned(), body).await
}

fn check_label(what: &str, text: &str) -> Result<(), ApiError> {
    let valid = !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "{what}: 1 to 64 of a-z, A-Z, 0-9, `-`, `_`, `.`, `:`"
        )))
    }
}

async fn ingest(
    state: &AppState,
    ctx: &RequestContext,
    actor: String,
    body: wire::IngestRequest,
) -> Result<(StatusCode, Json<wire::Connection>), ApiError> {
    let name = body.name.unwrap_or_else(|| DEFAULT_NAME.to_owned());
    check_label("name", &name)?;
    let tokens = body.token_set;
    if tokens.access_token.is_empty() || tokens.access_token.len() > MAX_TOKEN_LEN {
        return Err(ApiError::invalid(format!(
            "token_set.access_token: 1 to {MAX_TOKEN_LEN} characters"
        )));
    }
    if tokens
        .refresh_token
        .as_ref()
        .is_some_and(|t| t.is_empty() || t.len() > MAX_TOKEN_LEN)
    {
        return Err(ApiError::invalid(format!(
            "token_set.refresh_token: 1 to {MAX_TOKEN_LEN} characters"
        )));
    }
    if tokens
        .token_type
        .as_deref()
        .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
    {
        return Err(ApiError::invalid(
            "token_set.token_type: only Bearer tokens",
        ));
    }
    let not_found = |what| ApiError::not_found(what);
    let (tenant_id, scope_kind, scope_id) = match body.scope_kind {
        wire::ScopeKind::Agent => {
            let id: AgentId =
                crate::http::json::path_id(&body.scope_id).map_err(|e| e.prefixed("scope_id"))?;
            let agent = state
                .store
                .agent_by_client_id(id)
                .await?
                .ok_or_else(|| not_found("agent"))?;
            if body
                .tenant_id
                .as_deref()
                .is_some_and(|t| t != agent.tenant_id.to_string())
            {
                return Err(not_found("agent"));
            }
            (agent.tenant_id, ScopeKind::Agent, id.to_string())
        }
        wire::ScopeKind::Tenant => {
            let id: TenantId =
                crate::http::json::path_id(&body.scope_id).map_err(|e| e.prefixed("scope_id"))?;
            if body
                .tenant_id
                .as_deref()
                .is_some_and(|t| t != id.to_string())
            {
                return Err(ApiError::invalid("tenant_id: differs from scope_id"));
            }
            (id, ScopeKind::Tenant, id.to_string())
        }
        wire::ScopeKind::Role => {
            check_label("scope_id", &body.scope_id)?;
            let id: TenantId = crate::http::json::path_id(
                body.tenant_id
                    .as_deref()
                    .ok_or_else(|| ApiError::invalid("tenant_id: required for a role"))?,
            )
            .map_err(|e| e.prefixed("tenant_id"))?;
            (id, ScopeKind::Role, body.scope_id)
        }
    };
    if state.tenant_status(tenant_id).await?.is_none() {
        return Err(not_found("tenant"));
    }
    // A connection the vault could not refresh or proxy would be dead weight.
    state.vault.connector(&body.provider).await?;
    let key = ConnectionKey {
        tenant_id,
        scope_kind,
        scope_id,
        provider: body.provider,
        name,
    };
    let granted = Granted {
        access_token: Secret::new(tokens.access_token),
        refresh_token: tokens.refresh_token.map(Secret::new),
        expires_in: tokens.expires_in,
        scopes: tokens
            .scope
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        account: tokens.account,
    };
    let has_refresh = granted.refresh_token.is_some();
    let connection = state.store_connection(key, granted).await?;
    let fact = Fact::success(
        Some(tenant_id),
        actor,
        "connection.ingest",
        target(&connection.key),
    );
    state.audit(ctx, fact).await;
    Ok((
        StatusCode::CREATED,
        Json(view(&connection, has_refresh, state.clock.now())),
    ))
}
