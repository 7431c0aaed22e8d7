//! Who may mint an agent's workload tokens and cloud credentials: the agent itself, with any
//! access token of its own (it is proving who it is, nothing more), or a caller allowed to
//! write agents in its tenant (a tenant key, an owner or admin, the operator), who could give
//! it a new secret anyway.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use tessera_core::agent::{Agent, AgentStatus};
use tessera_proto::ErrorCode;

use crate::audit::Fact;
use crate::auth::extract::{AgentAccess, AgentsWrite, path_agent, presented_credential};
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug)]
pub struct WorkloadCaller {
    pub agent: Agent,
    /// The audit actor: `agent:<id>`, or the key's or person's.
    pub actor: String,
}

impl WorkloadCaller {
    pub fn fact(&self, action: &'static str, target: impl ToString) -> Fact<'static> {
        Fact::success(
            Some(self.agent.tenant_id),
            self.actor.clone(),
            action,
            target,
        )
    }

    pub fn failure<'a>(
        &self,
        action: &'static str,
        target: impl ToString,
        reason: &'a str,
    ) -> Fact<'a> {
        Fact::failure(
            Some(self.agent.tenant_id),
            self.actor.clone(),
            action,
            target,
            reason,
        )
    }
}

impl FromRequestParts<AppState> for WorkloadCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        // An agent's access token is a JWT; API keys and sessions go the tenant's way.
        let token = presented_credential(&parts.headers)
            .filter(|c| c.contains('.'))
            .map(str::to_owned);
        if let Some(token) = token
            && let Some(caller) = agent_itself(parts, state, &token).await?
        {
            return Ok(caller);
        }
        let access = AgentAccess::<AgentsWrite>::from_request_parts(parts, state).await?;
        if access.agent.status != AgentStatus::Active {
            let message = "the agent is disabled: it gets no tokens";
            return Err(ApiError::new(ErrorCode::Conflict, message).into_response());
        }
        Ok(Self {
            actor: access.principal.actor(),
            agent: access.agent,
        })
    }
}

/// The agent named by the path, when `token` is an active access token of its own; None when
/// the token is of another kind (a person's session), tried as such afterwards.
async fn agent_itself(
    parts: &mut Parts,
    state: &AppState,
    token: &str,
) -> Result<Option<WorkloadCaller>, Response> {
    let claims = match state.validate_access_token(token).await {
        Ok(claims) => claims,
        Err(crate::tokens::Inactive::Token(tessera_crypto::TokenError::WrongType)) => {
            return Ok(None);
        }
        Err(inactive) => {
            let ctx = RequestContext::from_request_parts(parts, state)
                .await
                .unwrap_or_else(|never| match never {});
            state.limits.auth_failed(ctx.client_ip);
            let message = format!("the access token is not active ({})", inactive.reason());
            return Err(ApiError::new(ErrorCode::Unauthenticated, message).into_response());
        }
    };
    let agent = path_agent(parts, state).await?;
    // Only the agent's own token, never one an application holds for a person; another
    // agent's token learns nothing about this one.
    if claims.gid.is_some() || claims.sub != agent.id.to_string() {
        return Err(ApiError::not_found("agent").into_response());
    }
    Ok(Some(WorkloadCaller {
        actor: format!("agent:{}", agent.id),
        agent,
    }))
}
