//! `POST /oauth2/revoke` (RFC 7009). Answers 200 whether or not the token was valid. A client
//! (an agent, an application) revokes only the tokens issued to it; a tenant's API key, any of
//! its tenant's. A revoked token is refused by every check from the moment this returns, and
//! after restarts (the revocation is stored until the token expires).
//!
//! An access token is revoked alone. A refresh token of an application's grant revokes the grant
//! (RFC 7009 §2.1): its refresh tokens and every access token issued from it.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_core::TenantId;
use tessera_crypto::{SecretKind, sha256};
use tessera_proto::OAuthErrorBody;
use tessera_proto::oauth2::TokenForm;
use time::OffsetDateTime;

use super::TokenCaller;
use super::form::OAuthForm;
use crate::audit::Fact;
use crate::context::RequestContext;
use crate::error::OAuthError;
use crate::state::AppState;

/// Revoke an access token.
#[utoipa::path(post, path = "/oauth2/revoke", tag = "oauth2",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200), (status = 400, body = OAuthErrorBody), (status = 401, body = OAuthErrorBody), (status = 429, body = OAuthErrorBody)),
    security(("client_secret_basic" = []), ("api_key" = [])))]
pub(super) async fn revoke(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match OAuthForm::parse(&headers, &body) {
        Ok(form) => form,
        Err(error) => return error.into_response(),
    };
    let caller = match TokenCaller::authenticate(&state, &headers, &form, &ctx).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let token = match form.require("token") {
        Ok(token) => token,
        Err(error) => return error.into_response(),
    };
    // `token_type_hint` is not needed: a refresh token is told by its form.
    if SecretKind::of(token) == Some(SecretKind::GrantRefreshToken) {
        return revoke_grant(&state, &ctx, &caller, token).await;
    }
    // Only a token that verifies is ours to revoke; one that does not is already useless.
    let Ok(claims) = state.verify_any_signed_token(token).await else {
        return StatusCode::OK.into_response();
    };
    let Ok(tenant) = claims.tenant_id.parse::<TenantId>() else {
        return StatusCode::OK.into_response();
    };
    if !caller.may_revoke(&claims) {
        return not_the_callers(&state, &ctx, &caller, &claims.jti).await;
    }
    let expires_at =
        OffsetDateTime::from_unix_timestamp(claims.exp).unwrap_or_else(|_| state.clock.now());
    if let Err(error) = state
        .revocations
        .revoke(&claims.jti, tenant, expires_at, state.clock.now())
        .await
    {
        return OAuthError::from(error).into_response();
    }
    revoked(&state, &ctx, &caller, tenant, &claims.jti).await;
    StatusCode::OK.into_response()
}

/// Revokes the grant whose refresh token `token` is, if the caller may.
async fn revoke_grant(
    state: &AppState,
    ctx: &RequestContext,
    caller: &TokenCaller,
    token: &str,
) -> Response {
    let grant = match state
        .store
        .grant_of_refresh_token(&sha256(token.as_bytes()))
        .await
    {
        Ok(Some(grant)) => grant,
        // Unknown: nothing to revoke.
        Ok(None) => return StatusCode::OK.into_response(),
        Err(error) => return OAuthError::from(error).into_response(),
    };
    if !caller.may_revoke_grant(&grant) {
        return not_the_callers(state, ctx, caller, grant.id).await;
    }
    match state.store.revoke_grant(grant.id, state.clock.now()).await {
        Ok(true) => revoked(state, ctx, caller, grant.tenant_id, grant.id).await,
        // Revoked before: nothing changes.
        Ok(false) => {}
        Err(error) => return OAuthError::from(error).into_response(),
    }
    StatusCode::OK.into_response()
}

/// Audits a revocation (of a token by its `jti`, or of a grant by its id).
async fn revoked(
    state: &AppState,
    ctx: &RequestContext,
    caller: &TokenCaller,
    tenant: TenantId,
    target: impl ToString,
) {
    let fact = Fact::success(
        Some(tenant),
        caller.actor().to_owned(),
        "token.revoke",
        target,
    );
    state.audit(ctx, fact).await;
}

/// The caller may not revoke `target`: audited, and answered 200 all the same, as a token that
/// is not valid is (RFC 7009 §2.2).
async fn not_the_callers(
    state: &AppState,
    ctx: &RequestContext,
    caller: &TokenCaller,
    target: impl ToString,
) -> Response {
    let fact = Fact::failure(
        None,
        caller.actor().to_owned(),
        "token.revoke",
        target,
        "not_the_callers",
    );
    state.audit(ctx, fact).await;
    StatusCode::OK.into_response()
}
