//! The signed-in person behind a request: a session access token as `Authorization: Bearer`
//! (API clients) or the `tessera_session` cookie (browsers), checked against the live session.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use tessera_core::{SessionId, UserId};
use tessera_proto::ErrorCode;

use super::cookies;
use super::sessions::SessionInvalid;
use crate::auth::extract::{presented_credential, rate_limited};
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedIn {
    pub user_id: UserId,
    pub session_id: SessionId,
}

impl SignedIn {
    pub fn actor(&self) -> String {
        super::sessions::actor(self.user_id)
    }
}

/// The session token of a request, if it carries one: a bearer that is a JWT (API keys are
/// `prefix_…` and never contain dots), else the cookie.
pub fn session_token(headers: &HeaderMap) -> Option<&str> {
    match presented_credential(headers) {
        Some(credential) if credential.contains('.') => Some(credential),
        // A key was presented: it is not a session, whatever cookies come along.
        Some(_) => None,
        None => cookies::get(headers, cookies::ACCESS_COOKIE),
    }
}

impl AppState {
    /// Authenticates a session token, counting failures per client address like API keys.
    pub async fn signed_in(&self, token: &str, ctx: &RequestContext) -> Result<SignedIn, Response> {
        if let Err(wait) = self.limits.auth_allowed(ctx.client_ip) {
            return Err(rate_limited(wait));
        }
        let failure = match self.validate_session_token(token).await {
            Ok(claims) => {
                let (Ok(user_id), Ok(session_id)) = (claims.sub.parse(), claims.sid.parse()) else {
                    return Err(unauthenticated("the session token is malformed"));
                };
                return Ok(SignedIn {
                    user_id,
                    session_id,
                });
            }
            Err(SessionInvalid::Store(error)) => {
                return Err(ApiError::from(error).into_response());
            }
            Err(failure) => failure,
        };
        self.limits.auth_failed(ctx.client_ip);
        Err(unauthenticated(&failure.to_string()))
    }
}

fn unauthenticated(message: &str) -> Response {
    ApiError::new(ErrorCode::Unauthenticated, message).into_response()
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let ctx = RequestContext::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|never| match never {});
        let Some(token) = session_token(&parts.headers) else {
            return Err(unauthenticated(
                "sign in first: send the session token as `Authorization: Bearer` or the \
                 `tessera_session` cookie",
            ));
        };
        state.signed_in(token, &ctx).await
    }
}

/// The signed-in person when there is one; no credential is not an error here (a door called
/// with a session links the new identity, without one it signs in).
#[derive(Debug, Clone, Copy)]
pub struct MaybeSignedIn(pub Option<SignedIn>);

impl FromRequestParts<AppState> for MaybeSignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let bearer = presented_credential(&parts.headers).filter(|c| c.contains('.'));
        if bearer.is_some() {
            // An API client that sends a session wants to link: a bad one is an error.
            return SignedIn::from_request_parts(parts, state)
                .await
                .map(|signed_in| Self(Some(signed_in)));
        }
        let Some(cookie) = cookies::get(&parts.headers, cookies::ACCESS_COOKIE).map(str::to_owned)
        else {
            return Ok(Self(None));
        };
        // A browser's stale cookie must not stand in the way of signing in again.
        let ctx = RequestContext::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|never| match never {});
        Ok(Self(state.signed_in(&cookie, &ctx).await.ok()))
    }
}
