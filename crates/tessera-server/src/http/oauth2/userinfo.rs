//! `/oauth2/userinfo` (OpenID Connect Core §5.3): the signed-in person's claims, as far as the
//! access token's scopes allow — `sub` for `openid`, `name` for `profile`, `email` (a verified
//! address, when the person has one) and `email_verified` for `email`. Only tokens an application holds for a person qualify.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tessera_core::authz::{EMAIL, OPENID, PROFILE};
use tessera_core::{Scopes, UserId};
use tessera_proto::oauth2::UserInfo;
use tessera_proto::{OAuthErrorBody, OAuthErrorCode};

use crate::auth::extract::presented_credential;
use crate::error::OAuthError;
use crate::state::AppState;
use crate::tokens::Inactive;

/// The person's claims (GET).
#[utoipa::path(get, path = "/oauth2/userinfo", tag = "oauth2",
    responses((status = 200, body = UserInfo), (status = 401, body = OAuthErrorBody), (status = 403, body = OAuthErrorBody)),
    security(("session" = [])))]
pub(super) async fn userinfo_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    userinfo(&state, &headers).await
}

/// The person's claims (POST, as OpenID Connect allows).
#[utoipa::path(post, path = "/oauth2/userinfo", tag = "oauth2",
    responses((status = 200, body = UserInfo), (status = 401, body = OAuthErrorBody), (status = 403, body = OAuthErrorBody)),
    security(("session" = [])))]
pub(super) async fn userinfo_post(State(state): State<AppState>, headers: HeaderMap) -> Response {
    userinfo(&state, &headers).await
}

async fn userinfo(state: &AppState, headers: &HeaderMap) -> Response {
    match claims(state, headers).await {
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

async fn claims(state: &AppState, headers: &HeaderMap) -> Result<UserInfo, OAuthError> {
    let invalid = |why: &str| OAuthError::new(OAuthErrorCode::InvalidToken, why);
    let token = presented_credential(headers)
        .ok_or_else(|| invalid("send the access token as `Authorization: Bearer`"))?;
    let claims = match state.validate_access_token(token).await {
        Ok(claims) => claims,
        Err(Inactive::Store(error)) => return Err(error.into()),
        Err(inactive) => {
            return Err(invalid(&format!(
                "the access token is not active: {inactive}"
            )));
        }
    };
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
