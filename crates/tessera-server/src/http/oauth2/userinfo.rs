//! `/oauth2/userinfo` (OpenID Connect Core §5.3): the signed-in person's claims, as far as the
//! access token's scopes allow — `sub` for `openid`, `name` for `profile`, `email` (a verified
//! address, when the person has one) and `email_verified` for `email`. Only tokens an application
//! holds for a person qualify; a DPoP-bound one only with its proof (RFC 9449).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use tessera_core::authz::{EMAIL, OPENID, PROFILE};
use tessera_core::{Scopes, UserId};
use tessera_crypto::AccessTokenClaims;
use tessera_proto::oauth2::UserInfo;
use tessera_proto::{OAuthErrorBody, OAuthErrorCode};

use crate::auth::extract::presented_credential;
use crate::dpop::resource::{DpopChallenge, DpopError, Scheme, dpop_token};
use crate::error::OAuthError;
use crate::state::AppState;
use crate::tokens::Inactive;

const USERINFO_PATH: &str = "/oauth2/userinfo";

/// The person's claims (GET). A DPoP-bound token is presented as `Authorization: DPoP` with a
/// proof (RFC 9449 §7); its refusals carry a `DPoP` challenge, with `DPoP-Nonce` when the proof
/// lacks the server's current nonce.
#[utoipa::path(get, path = "/oauth2/userinfo", tag = "oauth2",
    params(("DPoP" = Option<String>, Header, description = "RFC 9449 proof, with `Authorization: DPoP <token>` for a DPoP-bound token")),
    responses((status = 200, body = UserInfo), (status = 401, body = OAuthErrorBody, description = "`WWW-Authenticate: Bearer` or, for a DPoP presentation, `DPoP` (`invalid_token`, `invalid_dpop_proof`, `use_dpop_nonce` with `DPoP-Nonce`)"), (status = 403, body = OAuthErrorBody)),
    security(("session" = [])))]
pub(super) async fn userinfo_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    userinfo(&state, &Method::GET, &headers).await
}

/// The person's claims (POST, as OpenID Connect allows).
#[utoipa::path(post, path = "/oauth2/userinfo", tag = "oauth2",
    params(("DPoP" = Option<String>, Header, description = "RFC 9449 proof, with `Authorization: DPoP <token>` for a DPoP-bound token")),
    responses((status = 200, body = UserInfo), (status = 401, body = OAuthErrorBody, description = "`WWW-Authenticate: Bearer` or, for a DPoP presentation, `DPoP` (`invalid_token`, `invalid_dpop_proof`, `use_dpop_nonce` with `DPoP-Nonce`)"), (status = 403, body = OAuthErrorBody)),
    security(("session" = [])))]
pub(super) async fn userinfo_post(State(state): State<AppState>, headers: HeaderMap) -> Response {
    userinfo(&state, &Method::POST, &headers).await
}

async fn userinfo(state: &AppState, method: &Method, headers: &HeaderMap) -> Response {
    let token = match presented_token(state, method, headers).await {
        Ok(token) => token,
        Err(refusal) => return refusal,
    };
    match claims(state, token).await {
        Ok(info) => {
            let mut response = Json(info).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => error.into_response(),
    }
}

/// The claims of the request's access token, once its DPoP binding holds; else the refusal,
/// challenged with the scheme the token was (or must be) presented under.
async fn presented_token(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
) -> Result<AccessTokenClaims, Response> {
    let dpop = dpop_token(headers);
    let scheme = if dpop.is_some() {
        Scheme::Dpop
    } else {
        Scheme::Bearer
    };
    let refuse = |challenge: DpopChallenge| {
        let code = match challenge.error {
            DpopError::InvalidToken => OAuthErrorCode::InvalidToken,
            DpopError::InvalidDpopProof => OAuthErrorCode::InvalidDpopProof,
            DpopError::UseDpopNonce => OAuthErrorCode::UseDpopNonce,
        };
        let mut response = OAuthError::new(code, challenge.description.clone()).into_response();
        challenge.apply(state, &mut response);
        response
    };
    let invalid = |why: String| match scheme {
        Scheme::Bearer => OAuthError::new(OAuthErrorCode::InvalidToken, why).into_response(),
        Scheme::Dpop => refuse(DpopChallenge::new(DpopError::InvalidToken, why)),
    };
    let token = presented_credential(headers).or(dpop).ok_or_else(|| {
        invalid("send the access token as `Authorization: Bearer` (or `DPoP`)".to_owned())
    })?;
    let claims = match state.validate_access_token(token).await {
        Ok(claims) => claims,
        Err(Inactive::Store(error)) => return Err(OAuthError::from(error).into_response()),
        Err(inactive) => {
            return Err(invalid(format!(
                "the access token is not active: {inactive}"
            )));
        }
    };
    match state
        .check_token_binding(headers, method, USERINFO_PATH, scheme, token, &claims)
        .await
    {
        Ok(()) => Ok(claims),
        Err(refusal) if refusal.is_store() => {
            tracing::error!(error = %refusal, "checking a DPoP proof failed");
            Err(OAuthError::new(
                OAuthErrorCode::TemporarilyUnavailable,
                OAuthErrorCode::TemporarilyUnavailable.description(),
            )
            .into_response())
        }
        Err(refusal) => Err(refuse(refusal.challenge())),
    }
}

async fn claims(state: &AppState, claims: AccessTokenClaims) -> Result<UserInfo, OAuthError> {
    let invalid = |why: &str| OAuthError::new(OAuthErrorCode::InvalidToken, why);
    if !claims.is_application_token() {
        return Err(invalid("not a token an application holds for a person"));
    }
    let scopes = Scopes::parse(&claims.scope).unwrap_or_default();
    if !scopes.contains(OPENID) {
        return Err(OAuthError::new(
            OAuthErrorCode::InsufficientScope,
            "the access token lacks scope `openid`",
        ));
    }
    let user_id: UserId = claims
        .sub
        .parse()
        .map_err(|_| invalid("the token's subject is not a person"))?;
    let user = state
        .store
        .user(user_id)
        .await?
        .ok_or_else(|| invalid("the person no longer exists"))?;
    // A user's address is one a door vouched for (an email link, a provider's verified
    // address); a password sign-up proves nothing about its address and sets none.
    let email = scopes.contains(EMAIL).then_some(user.email).flatten();
    let email_verified = email.as_ref().map(|_| true);
    Ok(UserInfo {
        sub: claims.sub,
        name: scopes.contains(PROFILE).then_some(user.name).flatten(),
        email,
        email_verified,
    })
}
