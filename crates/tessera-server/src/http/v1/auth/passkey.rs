//! `/v1/auth/passkey`: register a passkey (at sign-up, or for the signed-in person) and sign in
//! with one, usernameless. Each is a start (WebAuthn options and a single-use handle) and a
//! finish (the authenticator's answer and the handle).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_proto::people as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::ApiJson;
use crate::http::openapi::{BodyErrors, PasskeyErrors, SessionErrors};
use crate::people::signed_in::MaybeSignedIn;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register_start))
        .routes(routes!(register_finish))
        .routes(routes!(login_start))
        .routes(routes!(login_finish))
}

/// Start registering a passkey. Without a session it will create a new user whose only door is
/// the passkey; with one, it is added to the signed-in user (their passkeys are excluded).
#[utoipa::path(post, path = "/v1/auth/passkey/register/start", tag = "auth",
    request_body = wire::PasskeyRegisterStartRequest,
    responses((status = 200, body = wire::PasskeyCeremony), BodyErrors, SessionErrors, PasskeyErrors))]
async fn register_start(
    State(state): State<AppState>,
    ctx: RequestContext,
    MaybeSignedIn(me): MaybeSignedIn,
    ApiJson(body): ApiJson<wire::PasskeyRegisterStartRequest>,
) -> Result<axum::Json<wire::PasskeyCeremony>, ApiError> {
    Ok(axum::Json(
        state
            .start_passkey_registration(&ctx, me, body.name)
            .await?,
    ))
}

/// Finish a registration with the authenticator's attestation. Signs the new user in (201), or
/// links the passkey to the signed-in user who started it and starts a new session.
#[utoipa::path(post, path = "/v1/auth/passkey/register/finish", tag = "auth",
    request_body = wire::PasskeyFinishRequest,
    responses((status = 201, body = wire::SessionGrant), BodyErrors, SessionErrors, PasskeyErrors))]
async fn register_finish(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    MaybeSignedIn(me): MaybeSignedIn,
    ApiJson(body): ApiJson<wire::PasskeyFinishRequest>,
) -> Result<Response, ApiError> {
    let issued = state
        .finish_passkey_registration(&ctx, &headers, me, body)
        .await?;
    Ok(issued.with_status(StatusCode::CREATED).into_response())
}

/// Start a usernameless sign-in: the options allow any passkey registered here.
#[utoipa::path(post, path = "/v1/auth/passkey/login/start", tag = "auth",
    responses((status = 200, body = wire::PasskeyCeremony), (status = 429, body = tessera_proto::ErrorBody), PasskeyErrors))]
async fn login_start(
    State(state): State<AppState>,
    ctx: RequestContext,
) -> Result<axum::Json<wire::PasskeyCeremony>, ApiError> {
    Ok(axum::Json(state.start_passkey_login(&ctx).await?))
}

/// Finish a sign-in with the authenticator's assertion: the challenge, the signature and the
/// signature counter are checked, and the new counter is stored.
#[utoipa::path(post, path = "/v1/auth/passkey/login/finish", tag = "auth",
    request_body = wire::PasskeyFinishRequest,
    responses((status = 200, body = wire::SessionGrant), BodyErrors, SessionErrors, PasskeyErrors))]
async fn login_finish(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    ApiJson(body): ApiJson<wire::PasskeyFinishRequest>,
) -> Result<Response, ApiError> {
    Ok(state
        .finish_passkey_login(&ctx, &headers, body)
        .await?
        .into_response())
}
