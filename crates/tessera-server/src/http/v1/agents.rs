//! `/v1/tenants/{tenant_id}/agents`: agents (create, list, read, change, delete) and their
//! client secrets (add one to rotate with overlap, list, remove).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tessera_core::agent::{Agent, AgentPatch, AgentStatus, ClientSecret};
use tessera_core::{AgentId, ClientSecretId, Scopes, TenantId, validate};
use tessera_crypto::{GeneratedSecret, SecretKind};
use tessera_proto::agents as wire;
use tessera_proto::{ErrorBody, ErrorCode};
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::extract::{AgentsWrite, Read, TenantAccess};
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::{ApiJson, ApiQuery, path_id};
use crate::http::openapi::{BodyErrors, KeyErrors};
use crate::state::AppState;

const MAX_SCOPES: usize = 64;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_agent, list_agents))
        .routes(routes!(get_agent, update_agent, delete_agent))
        .routes(routes!(create_secret, list_secrets))
        .routes(routes!(delete_secret))
}

fn view(agent: &Agent) -> wire::Agent {
    wire::Agent {
        id: agent.id.to_string(),
        tenant_id: agent.tenant_id.to_string(),
        name: agent.name.clone(),
        description: agent.description.clone(),
        capabilities: agent.capabilities.clone(),
        scopes: agent.scopes.iter().map(str::to_owned).collect(),
        status: match agent.status {
            AgentStatus::Active => wire::AgentStatus::Active,
            AgentStatus::Disabled => wire::AgentStatus::Disabled,
        },
        created_at: agent.created_at,
        updated_at: agent.updated_at,
    }
}

fn agent_scopes(scopes: Vec<String>) -> Result<Scopes, ApiError> {
    if scopes.len() > MAX_SCOPES {
        return Err(ApiError::invalid(format!("scopes: at most {MAX_SCOPES}")));
    }
    Scopes::new(scopes).map_err(|e| ApiError::invalid(format!("scopes: {e}")))
}

fn description(text: Option<String>) -> Result<Option<String>, ApiError> {
    Ok(text
        .map(|t| validate::text("description", &t, 1000))
        .transpose()?)
}

pub(crate) fn new_secret(
    agent: AgentId,
    expires_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<(GeneratedSecret, ClientSecret), ApiError> {
    if expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::invalid("expires_at: must be in the future"));
    }
    let generated = GeneratedSecret::new(SecretKind::ClientSecret);
    let record = ClientSecret {
        id: ClientSecretId::generate(),
        agent_id: agent,
        secret_hash: generated.hash,
        expires_at: expires_at.map(|at| at.replace_nanosecond(0).unwrap_or(at)),
        created_at: now,
    };
    Ok((generated, record))
}

/// A new agent of `tenant` from a creation request, checked field by field.
pub(crate) fn draft(
    tenant: TenantId,
    body: wire::CreateAgentRequest,
    now: OffsetDateTime,
) -> Result<Agent, ApiError> {
    Ok(Agent {
        id: AgentId::generate(),
        tenant_id: tenant,
        name: validate::name("name", &body.name, 100)?,
        description: description(body.description)?,
        capabilities: validate::labels("capabilities", &body.capabilities)?,
        scopes: agent_scopes(body.scopes)?,
        status: AgentStatus::Active,
        created_at: now,
        updated_at: now,
    })
}

pub(super) async fn find_agent(
    state: &AppState,
    tenant: TenantId,
    raw_id: &str,
) -> Result<Agent, ApiError> {
    let id: AgentId = path_id(raw_id)?;
    state
        .store
        .agent(tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))
}

/// Create an agent and its first client secret (shown only in this response).
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/agents", tag = "agents",
    params(("tenant_id" = String, Path)),
    request_body = wire::CreateAgentRequest,
    responses((status = 201, body = wire::CreatedAgent), KeyErrors, BodyErrors),
    security(("api_key" = [])))]
async fn create_agent(
    State(state): State<AppState>,
    access: TenantAccess<AgentsWrite>,
    ctx: RequestContext,
    ApiJson(body): ApiJson<wire::CreateAgentRequest>,
) -> Result<(StatusCode, Json<wire::CreatedAgent>), ApiError> {
    let now = state.clock.now();
    let agent = draft(access.tenant_id, body, now)?;
    let (generated, secret) = new_secret(agent.id, None, now)?;
    // Read from the store, not the cache: a plan just changed on another instance counts.
    let plan = state
        .store
        .tenant(access.tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?
        .plan;
    let max_agents = state.config.plans.limits(plan).max_agents;
    if !state
        .store
        .create_agent(&agent, &secret, max_agents)
        .await?
    {
        let max = max_agents.unwrap_or_default();
        let message = format!(
            "the {} plan allows at most {max} agent{}; delete one, or ask the operator to change the plan",
            plan.as_str(),
            if max == 1 { "" } else { "s" },
        );
        return Err(ApiError::new(ErrorCode::PlanLimitReached, message));
    }
    state
        .audit(&ctx, access.fact("agent.create", agent.id))
        .await;
    let created = wire::CreatedAgent {
        agent: view(&agent),
        client_id: agent.id.to_string(),
        client_secret: generated.secret.expose().to_owned(),
        client_secret_id: secret.id.to_string(),
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// List the tenant's agents, oldest first, a page at a time.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/agents", tag = "agents",
    params(("tenant_id" = String, Path), wire::ListAgentsQuery),
    responses((status = 200, body = wire::AgentList), KeyErrors),
    security(("api_key" = [])))]
async fn list_agents(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
    ApiQuery(query): ApiQuery<wire::ListAgentsQuery>,
) -> Result<Json<wire::AgentList>, ApiError> {
    let limit = super::page_limit(query.limit)?;
    let after: Option<AgentId> = super::cursor(query.cursor.as_deref())?;
    let page = state.store.agents(access.tenant_id, after, limit).await?;
    Ok(Json(wire::AgentList {
        agents: page.items.iter().map(view).collect(),
        next_cursor: page.next_cursor.map(|c| c.to_string()),
    }))
}

/// Read an agent.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/agents/{agent_id}", tag = "agents",
    params(("tenant_id" = String, Path), ("agent_id" = String, Path)),
    responses((status = 200, body = wire::Agent), KeyErrors),
    security(("api_key" = [])))]
async fn get_agent(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
    Path(ids): Path<(String, String)>,
) -> Result<Json<wire::Agent>, ApiError> {
    Ok(Json(view(
        &find_agent(&state, access.tenant_id, &ids.1).await?,
    )))
}

/// Change an agent. A disabled agent gets no tokens and its tokens stop being active.
#[utoipa::path(patch, path = "/v1/tenants/{tenant_id}/agents/{agent_id}", tag = "agents",
    params(("tenant_id" = String, Path), ("agent_id" = String, Path)),
    request_body = wire::UpdateAgentRequest,
    responses((status = 200, body = wire::Agent), KeyErrors, BodyErrors),
    security(("api_key" = [])))]
async fn update_agent(
    State(state): State<AppState>,
    access: TenantAccess<AgentsWrite>,
    ctx: RequestContext,
    Path(ids): Path<(String, String)>,
    ApiJson(body): ApiJson<wire::UpdateAgentRequest>,
) -> Result<Json<wire::Agent>, ApiError> {
    let id: AgentId = path_id(&ids.1)?;
    let patch = AgentPatch {
        name: body
            .name
            .map(|n| validate::name("name", &n, 100))
            .transpose()?,
        description: body.description.map(description).transpose()?,
        capabilities: body
            .capabilities
            .map(|c| validate::labels("capabilities", &c))
            .transpose()?,
        scopes: body.scopes.map(agent_scopes).transpose()?,
        status: body.status.map(|s| match s {
            wire::AgentStatus::Active => AgentStatus::Active,
            wire::AgentStatus::Disabled => AgentStatus::Disabled,
        }),
    };
    let agent = state
        .store
        .update_agent(access.tenant_id, id, &patch, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    state.agents.invalidate(&id);
    state.audit(&ctx, access.fact("agent.update", id)).await;
    Ok(Json(view(&agent)))
}

/// Delete an agent and its secrets; its tokens stop being active.
#[utoipa::path(delete, path = "/v1/tenants/{tenant_id}/agents/{agent_id}", tag = "agents",
    params(("tenant_id" = String, Path), ("agent_id" = String, Path)),
    responses((status = 204), KeyErrors),
    security(("api_key" = [])))]
async fn delete_agent(
    State(state): State<AppState>,
    access: TenantAccess<AgentsWrite>,
    ctx: RequestContext,
    Path(ids): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id: AgentId = path_id(&ids.1)?;
    if !state.store.delete_agent(access.tenant_id, id).await? {
        return Err(ApiError::not_found("agent"));
    }
    state.agents.invalidate(&id);
    state.audit(&ctx, access.fact("agent.delete", id)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Add a client secret (rotation: add the new one, move clients over, delete the old one).
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/agents/{agent_id}/secrets", tag = "agents",
    params(("tenant_id" = String, Path), ("agent_id" = String, Path)),
    request_body = wire::CreateClientSecretRequest,
    responses((status = 201, body = wire::CreatedClientSecret), (status = 409, body = ErrorBody), KeyErrors, BodyErrors),
    security(("api_key" = [])))]
async fn create_secret(
    State(state): State<AppState>,
    access: TenantAccess<AgentsWrite>,
    ctx: RequestContext,
    Path(ids): Path<(String, String)>,
    ApiJson(body): ApiJson<wire::CreateClientSecretRequest>,
) -> Result<(StatusCode, Json<wire::CreatedClientSecret>), ApiError> {
    let agent = find_agent(&state, access.tenant_id, &ids.1).await?;
    let now = state.clock.now();
    if state.store.client_secrets(agent.id).await?.len() >= 5 {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "an agent holds at most 5 client secrets; delete one first",
        ));
    }
    let (generated, secret) = new_secret(agent.id, body.expires_at, now)?;
    state.store.insert_client_secret(&secret).await?;
    state
        .audit(&ctx, access.fact("agent.secret.create", secret.id))
        .await;
    let created = wire::CreatedClientSecret {
        id: secret.id.to_string(),
        client_secret: generated.secret.expose().to_owned(),
        expires_at: secret.expires_at,
        created_at: secret.created_at,
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// List an agent's client secrets (never the secrets themselves).
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/agents/{agent_id}/secrets", tag = "agents",
    params(("tenant_id" = String, Path), ("agent_id" = String, Path)),
    responses((status = 200, body = wire::ClientSecretList), KeyErrors),
    security(("api_key" = [])))]
async fn list_secrets(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
    Path(ids): Path<(String, String)>,
) -> Result<Json<wire::ClientSecretList>, ApiError> {
    let agent = find_agent(&state, access.tenant_id, &ids.1).await?;
    let secrets = state.store.client_secrets(agent.id).await?;
    Ok(Json(wire::ClientSecretList {
        secrets: secrets
            .iter()
            .map(|s| wire::ClientSecret {
                id: s.id.to_string(),
                expires_at: s.expires_at,
                created_at: s.created_at,
            })
            .collect(),
    }))
}

/// Delete a client secret; it is refused from the moment this returns.
#[utoipa::path(delete, path = "/v1/tenants/{tenant_id}/agents/{agent_id}/secrets/{secret_id}", tag = "agents",
    params(("tenant_id" = String, Path), ("agent_id" = String, Path), ("secret_id" = String, Path)),
    responses((status = 204), KeyErrors),
    security(("api_key" = [])))]
async fn delete_secret(
    State(state): State<AppState>,
    access: TenantAccess<AgentsWrite>,
    ctx: RequestContext,
    Path(ids): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let agent = find_agent(&state, access.tenant_id, &ids.1).await?;
    let secret_id: ClientSecretId = path_id(&ids.2)?;
    if !state
        .store
        .delete_client_secret(agent.id, secret_id)
        .await?
    {
        return Err(ApiError::not_found("client secret"));
    }
    state
        .audit(&ctx, access.fact("agent.secret.delete", secret_id))
        .await;
    Ok(StatusCode::NO_CONTENT)
}
