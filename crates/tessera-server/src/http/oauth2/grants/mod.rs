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
fn actor(client: &OAuthClient) -> String {
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

/// RFC 8707 at the token endpoint for a person's grant: a request may name the grant's resource
/// again (or Tessera's API for a grant without one), never another.
fn check_resource(state: &AppState, grant: &Grant, form: &OAuthForm) -> Result<(), OAuthError> {
    match state.requested_audience(form.get("resource"))? {
        Some(aud) if aud != grant.resource.as_deref().unwrap_or(&state.audience) => {
            Err(OAuthError::new(
                OAuthErrorCode::InvalidTarget,
                "the grant does not cover this resource",
            ))
        }
        _ => Ok(()),
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
