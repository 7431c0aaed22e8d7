//! `authorization_code` (RFC 6749 §4.1.3 with PKCE, RFC 7636): an application trades the code
//! its redirect URI received for the person's tokens. The code is used up by the first attempt,
//! whatever its outcome; presenting it again revokes the grant and every token issued from it
//! (RFC 6749 §4.1.2). With a DPoP proof the access token is bound to the proof's key, and a
//! public client's grant too (RFC 9449 §5); a code issued for `dpop_jkt` needs a proof by that
//! key (§10).

use axum::http::HeaderMap;
use axum::response::Response;
use subtle::ConstantTimeEq;
use tessera_core::authz::{AppGrant, Grant, GrantRefreshToken, Redemption};
use tessera_crypto::oidc::{is_pkce_value, pkce_s256};
use tessera_crypto::{Confirmation, SecretKind, sha256};
use tessera_proto::OAuthErrorCode;
use tessera_proto::oauth2::TokenResponse;

use super::super::form::OAuthForm;
use super::super::token::signing_failed;
use super::{actor, app_client, check_grant_key, grant_audience, grant_key, refuse};
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
    let invalid = |why: &str| OAuthError::new(OAuthErrorCode::InvalidGrant, why);
    let (code, redirect_uri) = match (form.require("code"), form.require("redirect_uri")) {
        (Ok(code), Ok(redirect_uri)) => (code, redirect_uri),
        (Err(error), _) | (_, Err(error)) => {
            return Err(refuse(state, ctx, &client, "", error).await);
        }
    };
    if SecretKind::of(code) != Some(SecretKind::AuthorizationCode) {
        let error = invalid("the code is not valid");
        return Err(refuse(state, ctx, &client, "", error).await);
    }
    let now = state.clock.now();
    let redemption = state
        .store
        .redeem_code(&sha256(code.as_bytes()), client.id, now)
        .await
        .map_err(|e| refuse_now(OAuthError::from(e)))?;
    let grant = match redemption {
        Redemption::Redeemed(grant) => grant,
        Redemption::Replayed(grant) => {
            let error = invalid(
                "the code was used before: the grant and every token issued from it are revoked",
            );
            return Err(refuse(state, ctx, &client, grant.id, error).await);
        }
        Redemption::Invalid => {
            let error = invalid("the code is unknown, expired, used or not this client's");
            return Err(refuse(state, ctx, &client, "", error).await);
        }
    };
    let aud = match check(&grant, redirect_uri, form.get("code_verifier"))
        .and_then(|()| grant_audience(state, &grant, form))
        .and_then(|aud| check_grant_key(&grant, cnf.as_ref()).map(|()| aud))
    {
        Ok(aud) => aud,
        Err(error) => return Err(refuse(state, ctx, &client, grant.id, error).await),
    };
    if grant.dpop_jkt.is_none()
        && let Some(jkt) = grant_key(&client, cnf.as_ref())
        && let Err(error) = state.store.bind_grant_dpop_key(grant.id, &jkt).await
    {
        return Err(refuse_now(OAuthError::from(error)));
    }
    let tokens = state
        .issue_grant_tokens(
            &grant,
            &grant.scope,
            aud,
            AppGrant::AuthorizationCode,
            None,
            cnf,
        )
        .map_err(|e| refuse_now(signing_failed(e)))?;
    if let Some(hash) = tokens.refresh_hash {
        let first = GrantRefreshToken {
            hash,
            grant_id: grant.id,
            expires_at: now + state.grant_refresh_ttl(),
        };
        if let Err(error) = state.store.insert_grant_refresh_token(&first).await {
            return Err(refuse_now(OAuthError::from(error)));
        }
    }
    let fact = Fact::success(
        Some(client.tenant_id),
        actor(&client),
        "token.issue",
        grant.id,
    );
    state.audit(ctx, fact).await;
    Ok(tokens.response)
}

/// The token request must repeat the authorization request's redirect URI exactly, and prove
/// PKCE when the request carried a challenge. A verifier without a challenge is refused too:
/// it means the challenge was stripped from the request (RFC 9700 §4.8.2).
fn check(grant: &Grant, redirect_uri: &str, verifier: Option<&str>) -> Result<(), OAuthError> {
    let invalid = |why: &str| OAuthError::new(OAuthErrorCode::InvalidGrant, why);
    if grant.redirect_uri != redirect_uri {
        return Err(invalid(
            "redirect_uri differs from the authorization request's",
        ));
    }
    match (&grant.code_challenge, verifier) {
        (Some(challenge), Some(verifier)) => {
            let matches = is_pkce_value(verifier)
                && bool::from(pkce_s256(verifier).as_bytes().ct_eq(challenge.as_bytes()));
            if matches {
                Ok(())
            } else {
                Err(invalid("code_verifier does not match the code_challenge"))
            }
        }
        (Some(_), None) => Err(invalid(
            "code_verifier is required: the authorization request carried a code_challenge",
        )),
        (None, Some(_)) => Err(invalid(
            "code_verifier sent, but the authorization request carried no code_challenge",
        )),
        (None, None) => Ok(()),
    }
}

fn refuse_now(error: OAuthError) -> Response {
    axum::response::IntoResponse::into_response(error)
}
