//! The grants of `/oauth2/token`, one file each. Each authenticates its client, checks the grant
//! and returns the token response, or the response that refuses it (audited either way).

pub(super) mod authorization_code;
pub(super) mod client_credentials;
pub(super) mod device_code;
pub(super) mod jwt_bearer;
pub(super) mod refresh_token;
pub(super) mod token_exchange;

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tessera_core::agent::Agent;
use tessera_core::authz::{Grant, OAuthClient};
use tessera_crypto::Confirmation;
use tessera_proto::OAuthErrorCode;

use super::client_auth::authenticate_app;
use super::form::OAuthForm;
use super::{audit_client_failure, client_failure};
use crate::audit::Fact;
use crate::context::RequestContext;
use crate::error::OAuthError;
use crate::state::AppState;

/// The actor of audit events about an application.
pub(super) fn actor(client: &OAuthClient) -> String {
    format!("client:{}", client.id)
}

/// The application calling the token endpoint, or the refusal (counted and audited).
async fn app_client(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    form: &OAuthForm,
) -> Result<OAuthClient, Response> {
    match authenticate_app(state, headers, form).await {
        Ok(client) => Ok(client),
        Err(error) => {
            audit_client_failure(state, ctx, "token.issue", &error).await;
            Err(client_failure(state, ctx, error))
        }
    }
}

/// The agent whose client credentials the request carries, or the refusal (counted and
/// audited as `action`).
async fn agent_client(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    form: &OAuthForm,
    action: &'static str,
) -> Result<Agent, Response> {
    match client_credentials::authenticate(state, headers, form).await {
        Ok(agent) => Ok(agent),
        Err(error) => {
            audit_client_failure(state, ctx, action, &error).await;
            Err(client_failure(state, ctx, error))
        }
    }
}

/// An authenticated agent's grant, audited as `action` either way: with the issued token's
/// target when granted, with the refusal's code when not.
async fn audited<T>(
    state: &AppState,
    ctx: &RequestContext,
    agent: &Agent,
    action: &'static str,
    outcome: Result<(T, String), OAuthError>,
) -> Result<T, Response> {
    let actor = format!("agent:{}", agent.id);
    match outcome {
        Ok((response, target)) => {
            let fact = Fact::success(Some(agent.tenant_id), actor, action, target);
            state.audit(ctx, fact).await;
            Ok(response)
        }
        Err(error) => {
            let fact = Fact::failure(
                Some(agent.tenant_id),
                actor,
                action,
                "",
                error.code().code(),
            );
            state.audit(ctx, fact).await;
            Err(error.into_response())
        }
    }
}

/// A refused grant of an authenticated application: audited, then answered.
async fn refuse(
    state: &AppState,
    ctx: &RequestContext,
    client: &OAuthClient,
    target: impl ToString,
    error: OAuthError,
) -> Response {
    let fact = Fact::failure(
        Some(client.tenant_id),
        actor(client),
        "token.issue",
        target,
        error.code().code(),
    );
    state.audit(ctx, fact).await;
    error.into_response()
}

/// RFC 8707 at the token endpoint for a person's grant: the token's `aud` is the resource the
/// request names, which must be one of the grant's (Tessera's API for a grant without one), or
/// else the grant's first. One resource per token request: a client wanting tokens for two of
/// the grant's resources asks twice (down-scoping, RFC 8707 §2.2), as MCP clients do.
fn grant_audience(state: &AppState, grant: &Grant, form: &OAuthForm) -> Result<String, OAuthError> {
    let covered = |aud: &str| {
        if grant.resources.is_empty() {
            aud == state.audience
        } else {
            grant.resources.iter().any(|r| r == aud)
        }
    };
    match state.requested_audience(form.get("resource"))? {
        Some(aud) if covered(&aud) => Ok(aud),
        Some(_) => Err(OAuthError::new(
            OAuthErrorCode::InvalidTarget,
            "the grant does not cover this resource",
        )),
        None => Ok(grant
            .resources
            .first()
            .cloned()
            .unwrap_or_else(|| state.audience.clone())),
    }
}

/// RFC 9449 §5, §10: a grant bound to a DPoP key gives tokens only to a request whose proof is
/// by that key.
fn check_grant_key(grant: &Grant, cnf: Option<&Confirmation>) -> Result<(), OAuthError> {
    let Some(bound) = &grant.dpop_jkt else {
        return Ok(());
    };
    match cnf {
        Some(cnf) if bool::from(cnf.jkt.as_bytes().ct_eq(bound.as_bytes())) => Ok(()),
        Some(_) => Err(OAuthError::new(
            OAuthErrorCode::InvalidGrant,
            "the grant is bound to another DPoP key than this proof's",
        )),
        None => Err(OAuthError::new(
            OAuthErrorCode::InvalidGrant,
            "the grant is bound to a DPoP key: send a proof by it (`DPoP` header)",
        )),
    }
}

/// The DPoP key a new grant of `client` is bound to: a public client's proof key, so that its
/// refresh tokens need a proof by it (RFC 9449 §5). A confidential client's refresh tokens are
/// bound to its authentication instead, and it may change keys.
fn grant_key(client: &OAuthClient, cnf: Option<&Confirmation>) -> Option<String> {
    cnf.filter(|_| client.is_public()).map(|c| c.jkt.clone())
}
