//! `/v1/auth/refresh` and `/v1/auth/logout`: rotating a session's refresh token, and ending
//! the session.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_proto::ErrorCode;
use tessera_proto::people as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::openapi::{BodyErrors, SessionErrors};
use crate::people::cookies;
use crate::people::signed_in::SignedIn;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(refresh))
        .routes(routes!(logout))
}

/// Exchange a refresh token (body or `tessera_refresh` cookie) for a new access token and a new
/// refresh token. The old one is used up; presenting it again revokes the whole session.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth",
    request_body = wire::RefreshRequest,
    responses((status = 200, body = wire::SessionGrant), (status = 401, body = tessera_proto::ErrorBody), BodyErrors, SessionErrors))]
async fn refresh(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    // Browsers send nothing (the cookie carries the token); API clients send JSON.
    let from_body = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<wire::RefreshRequest>(&body)
            .map_err(|e| ApiError::new(ErrorCode::InvalidJson, e.to_string()))?
            .refresh_token
    };
    let presented = from_body
        .as_deref()
        .or_else(|| cookies::get(&headers, cookies::REFRESH_COOKIE))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthenticated,
                "send the refresh token as `refresh_token` or the `tessera_refresh` cookie",
            )
        })?;
    Ok(state
        .refresh_session(&ctx, presented)
        .await?
        .into_response())
}

/// End the current session: its access and refresh tokens stop working at once, and the
/// cookies are cleared.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    responses((status = 204), (status = 401, body = tessera_proto::ErrorBody), SessionErrors),
    security(("session" = [])))]
async fn logout(
    State(state): State<AppState>,
    ctx: RequestContext,
    me: SignedIn,
) -> Result<Response, ApiError> {
    state.end_session(&ctx, me.user_id, me.session_id).await?;
    let mut headers = HeaderMap::new();
    cookies::clear(&mut headers, cookies::secure_for(&state.issuer));
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}
