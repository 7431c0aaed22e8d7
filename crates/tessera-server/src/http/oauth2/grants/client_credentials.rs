//! `client_credentials` (RFC 6749 §4.4): an agent authenticates with its client secret and gets
//! an access token for itself, with its scopes or a subset, for Tessera's API or the resource
//! it names (RFC 8707).

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use tessera_core::Scopes;
use tessera_core::agent::Agent;
use tessera_proto::OAuthErrorCode;
use tessera_proto::oauth2::TokenResponse;

use super::super::client_auth::Presented;
use super::super::form::OAuthForm;
use super::super::token::signing_failed;
use super::super::{audit_client_failure, client_failure};
use crate::audit::Fact;
use crate::context::RequestContext;
use crate::error::OAuthError;
use crate::state::AppState;

pub(in super::super) async fn exchange(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    form: &OAuthForm,
) -> Result<TokenResponse, Response> {
    let agent = match authenticate(state, headers, form).await {
        Ok(agent) => agent,
        Err(error) => {
            audit_client_failure(state, ctx, "token.issue", &error).await;
            return Err(client_failure(state, ctx, error));
        }
    };
    let actor = format!("agent:{}", agent.id);
    match issue(state, form, &agent) {
        Ok((response, jti)) => {
            let fact = Fact::success(Some(agent.tenant_id), actor, "token.issue", jti);
            state.audit(ctx, fact).await;
            Ok(response)
        }
        Err(error) => {
            let fact = Fact::failure(
                Some(agent.tenant_id),
                actor,
                "token.issue",
                "",
                error.code().code(),
            );
            state.audit(ctx, fact).await;
            Err(error.into_response())
        }
    }
}

async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &OAuthForm,
) -> Result<Agent, OAuthError> {
    let presented = Presented::read(headers, form)?.ok_or_else(|| {
        OAuthError::new(
            OAuthErrorCode::InvalidClient,
            "client authentication is required",
        )
    })?;
    presented.authenticate(state).await
}

fn issue(
    state: &AppState,
    form: &OAuthForm,
    agent: &Agent,
) -> Result<(TokenResponse, String), OAuthError> {
    let scopes = match form.get("scope") {
        None => agent.scopes.clone(),
        Some(requested) => {
            let requested = Scopes::parse(requested)
                .map_err(|e| OAuthError::new(OAuthErrorCode::InvalidScope, e.to_string()))?;
            if !requested.is_subset(&agent.scopes) {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidScope,
                    "the requested scope exceeds the agent's scopes",
                ));
            }
            requested
        }
    };
    let audience = state.requested_audience(form.get("resource"))?;
    let (token, claims) = state
        .issue_access_token(agent, &scopes, audience.as_deref())
        .map_err(signing_failed)?;
    let response = TokenResponse {
        access_token: token,
        token_type: "Bearer".to_owned(),
        expires_in: claims.exp - claims.iat,
        scope: claims.scope,
        refresh_token: None,
        id_token: None,
    };
    Ok((response, claims.jti))
}
