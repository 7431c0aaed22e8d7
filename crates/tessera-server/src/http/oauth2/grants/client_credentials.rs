//! `client_credentials` (RFC 6749 §4.4): an agent authenticates with its client secret or a
//! signed assertion (`private_key_jwt`) and gets an access token for itself, with its scopes or a
//! subset, for Tessera's API or the resource it names (RFC 8707). With a DPoP proof (RFC 9449)
//! the token is bound to the proof's key (`cnf.jkt`).

use axum::http::HeaderMap;
use axum::response::Response;
use tessera_core::Scopes;
use tessera_core::agent::Agent;
use tessera_crypto::Confirmation;
use tessera_proto::OAuthErrorCode;
use tessera_proto::oauth2::TokenResponse;

use super::super::client_assertion;
use super::super::client_auth::Presented;
use super::super::form::OAuthForm;
use super::super::token::signing_failed;
use super::{agent_client, audited};
use crate::context::RequestContext;
use crate::error::OAuthError;
use crate::state::AppState;

pub(in super::super) async fn exchange(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    form: &OAuthForm,
    cnf: Option<Confirmation>,
) -> Result<TokenResponse, Response> {
    let agent = agent_client(state, ctx, headers, form, "token.issue").await?;
    let outcome = issue(state, form, &agent, cnf);
    let issued = audited(state, ctx, &agent, "token.issue", outcome).await;
    if issued.is_ok() {
        // Here, not in `issue`: the jwt-bearer grant issues through it and counts its own.
        metrics::counter!("tessera_tokens_issued_total", "grant_type" => "client_credentials")
            .increment(1);
    }
    issued
}

/// The agent whose client credentials the request carries (token exchange's actor too).
pub(super) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &OAuthForm,
) -> Result<Agent, OAuthError> {
    if client_assertion::presented(form) {
        return client_assertion::authenticate(state, headers, form).await;
    }
    let presented = Presented::read(headers, form)?.ok_or_else(|| {
        OAuthError::new(
            OAuthErrorCode::InvalidClient,
            "client authentication is required",
        )
    })?;
    presented.authenticate(state).await
}

pub(super) fn issue(
    state: &AppState,
    form: &OAuthForm,
    agent: &Agent,
    cnf: Option<Confirmation>,
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
        .issue_access_token(agent, &scopes, audience.as_deref(), cnf)
        .map_err(signing_failed)?;
    let response = TokenResponse {
        access_token: token,
        token_type: crate::dpop::token_type(claims.cnf.as_ref()).to_owned(),
        expires_in: claims.exp - claims.iat,
        scope: claims.scope,
        refresh_token: None,
        id_token: None,
    };
    Ok((response, claims.jti))
}
