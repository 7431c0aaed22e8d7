//! `/v1/auth/password/reset`: choose a new password with a code mailed to the account's address.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_core::validate;
use tessera_proto::people as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::password::{check_password, validate_code};
use crate::audit::Fact;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::ApiJson;
use crate::http::openapi::{BodyErrors, SessionErrors};
use crate::people::email::TTL;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start))
        .routes(routes!(finish))
}

/// Ask for a password reset. The answer is the same whether or not the address has an account:
/// an account with a password gets a 6-digit code (single use, 15 minutes, replaced by the next,
/// burnt after 5 wrong tries), any other address a note that it has no password.
#[utoipa::path(post, path = "/v1/auth/password/reset/start", tag = "auth",
    request_body = wire::PasswordResetStartRequest,
    responses((status = 202, body = wire::EmailStarted),
        (status = 503, description = "The email could not be sent; try again later.", body = tessera_proto::ErrorBody),
        BodyErrors, SessionErrors))]
async fn start(
    State(state): State<AppState>,
    ctx: RequestContext,
    ApiJson(body): ApiJson<wire::PasswordResetStartRequest>,
) -> Result<Response, ApiError> {
    let email = validate::email(&body.email)?;
    state.ask_password_reset(&ctx, &email).await?;
    let fact = Fact::success(
        None,
        "anonymous".to_owned(),
        "auth.password.reset_start",
        &email,
    );
    state.audit(&ctx, fact).await;
    let started = wire::EmailStarted {
        expires_in: TTL.whole_seconds(),
    };
    Ok((StatusCode::ACCEPTED, Json(started)).into_response())
}

/// Set a new password with the code from the reset email. Every session of the account ends,
/// and a new one begins.
#[utoipa::path(post, path = "/v1/auth/password/reset/finish", tag = "auth",
    request_body = wire::PasswordResetFinishRequest,
    responses((status = 200, body = wire::SessionGrant),
        BodyErrors, SessionErrors))]
async fn finish(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    ApiJson(body): ApiJson<wire::PasswordResetFinishRequest>,
) -> Result<Response, ApiError> {
    let email = validate::email(&body.email)?;
    validate_code(&body.code)?;
    // Checked before the code is looked at, so a bad password does not use the code up.
    check_password(&body.new_password)?;
    let entered = match state
        .reset_password(&ctx, &email, &body.code, body.new_password)
        .await
    {
        Ok(entered) => entered,
        Err(error) => {
            let fact = Fact::failure(
                None,
                "anonymous".to_owned(),
                "auth.password.reset",
                "",
                error.code().code(),
            );
            state.audit(&ctx, fact).await;
            return Err(error);
        }
    };
    Ok(state
        .start_session(&ctx, &headers, &entered.user, "password", false)
        .await?
        .into_response())
}
