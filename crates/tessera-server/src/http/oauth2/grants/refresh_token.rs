//! `refresh_token` (RFC 6749 §6) for applications: each refresh token works once and the
//! response carries the next; a used one presented again means it leaked, and the whole grant —
//! every refresh and access token of the family — is revoked (OAuth 2.0 Security BCP §4.14.2).
//! A public client's refresh tokens of a DPoP-bound grant need a proof by the grant's key
//! (RFC 9449 §5); with a proof, the new access token is bound to its key.

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use tessera_core::Scopes;
use tessera_core::authz::{AppGrant, GrantRotation};
use tessera_crypto::{Confirmation, GeneratedSecret, SecretKind, sha256};
use tessera_proto::OAuthErrorCode;
use tessera_proto::oauth2::TokenResponse;

use super::super::form::OAuthForm;
use super::super::token::signing_failed;
use super::{actor, app_client, check_grant_key, grant_audience, refuse};
use crate::audit::Fact;
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
    let client = app_client(state, ctx, headers, form).await?;
    // Its registration may have dropped the grant (RFC 7592) since the token was issued.
    if !client.allows(AppGrant::RefreshToken) {
        let error = OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "the client is not registered for the refresh_token grant",
        );
        return Err(refuse(state, ctx, &client, "", error).await);
    }
    let invalid = |why: &str| OAuthError::new(OAuthErrorCode::InvalidGrant, why);
    let presented = match form.require("refresh_token") {
        Ok(token) => token,
        Err(error) => return Err(refuse(state, ctx, &client, "", error).await),
    };
    if SecretKind::of(presented) != Some(SecretKind::GrantRefreshToken) {
        let error = invalid("the refresh token is not valid");
        return Err(refuse(state, ctx, &client, "", error).await);
    }
    let hash = sha256(presented.as_bytes());
    // The scope, resource and a public client's DPoP key are checked before the token is used
    // up, so a too-wide request, or a thief's without the key, costs nothing.
    let requested = match form.get("scope") {
        None => None,
        Some(text) => match Scopes::parse(text) {
            Ok(scopes) => Some(scopes),
            Err(e) => {
                let error = OAuthError::new(OAuthErrorCode::InvalidScope, e.to_string());
                return Err(refuse(state, ctx, &client, "", error).await);
            }
        },
    };
    if requested.is_some() || form.get("resource").is_some() || client.is_public() {
        let granted = state
            .store
            .grant_of_refresh_token(&hash)
            .await
            .map_err(|e| OAuthError::from(e).into_response())?;
        if let Some(grant) = granted.filter(|g| g.client_id == client.id) {
            if requested
                .as_ref()
                .is_some_and(|r| !r.is_subset(&grant.scope))
            {
                let error = OAuthError::new(
                    OAuthErrorCode::InvalidScope,
                    "the requested scope exceeds what the person granted",
                );
                return Err(refuse(state, ctx, &client, grant.id, error).await);
            }
            if let Err(error) = grant_audience(state, &grant, form) {
                return Err(refuse(state, ctx, &client, grant.id, error).await);
            }
            if client.is_public()
                && let Err(error) = check_grant_key(&grant, cnf.as_ref())
            {
                return Err(refuse(state, ctx, &client, grant.id, error).await);
            }
        }
    }
    let now = state.clock.now();
    let next = GeneratedSecret::new(SecretKind::GrantRefreshToken);
    let rotation = state
        .store
        .rotate_grant_refresh_token(
            &hash,
            client.id,
            &next.hash,
            now + state.grant_refresh_ttl(),
            now,
        )
        .await
        .map_err(|e| OAuthError::from(e).into_response())?;
    let grant = match rotation {
        GrantRotation::Rotated(grant) => grant,
        GrantRotation::Reused(grant) => {
            let error = invalid(
                "this refresh token was used before: the grant and every token issued from it \
                 are revoked",
            );
            return Err(refuse(state, ctx, &client, grant.id, error).await);
        }
        GrantRotation::Invalid => {
            let error =
                invalid("the refresh token is unknown, expired, revoked or not this client's");
            return Err(refuse(state, ctx, &client, "", error).await);
        }
    };
    let scope = requested.unwrap_or_else(|| grant.scope.clone());
    // Checked above, before the token was used up, whenever the request named a resource.
    let aud = match grant_audience(state, &grant, form) {
        Ok(aud) => aud,
        Err(error) => return Err(refuse(state, ctx, &client, grant.id, error).await),
    };
    let tokens = state
        .issue_grant_tokens(&grant, &scope, aud, AppGrant::RefreshToken, Some(next), cnf)
        .map_err(|e| signing_failed(e).into_response())?;
    let fact = Fact::success(
        Some(client.tenant_id),
        actor(&client),
        "token.refresh",
        grant.id,
    );
    state.audit(ctx, fact).await;
    Ok(tokens.response)
}
