//! `/v1/auth/password`: register and sign in with an email address and a password.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_core::people::IdentityKind;
use tessera_core::validate;
use tessera_proto::ErrorCode;
use tessera_proto::people as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::Fact;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::ApiJson;
use crate::http::openapi::{BodyErrors, SessionErrors};
use crate::people::accounts::Door;
use crate::people::password;
use crate::people::sessions::Issued;
use crate::people::signed_in::MaybeSignedIn;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
}

/// Create an account with an email address and a password (at least 12 characters). With a
/// session, adds a password to the signed-in user instead.
#[utoipa::path(post, path = "/v1/auth/password/register", tag = "auth",
    request_body = wire::PasswordRegisterRequest,
    responses((status = 201, body = wire::SessionGrant), (status = 409, body = tessera_proto::ErrorBody), BodyErrors, SessionErrors))]
async fn register(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    MaybeSignedIn(me): MaybeSignedIn,
    ApiJson(body): ApiJson<wire::PasswordRegisterRequest>,
) -> Result<Response, ApiError> {
    let email = validate::email(&body.email)?;
    let name = body
        .name
        .as_deref()
        .map(|name| validate::name("name", name, 100))
        .transpose()?;
    check_password(&body.password)?;
    if me.is_none() {
        state
            .limits
            .register(ctx.client_ip)
            .map_err(ApiError::rate_limited)?;
    }
    let taken = || {
        ApiError::new(
            ErrorCode::IdentityTaken,
            "this email address already has a password; sign in instead",
        )
    };
    // Registering never replaces a password (not even the caller's own: that is a change of
    // password, which needs the old one).
    if state
        .store
        .identity(&IdentityKind::Password, &email)
        .await?
        .is_some()
    {
        return Err(taken());
    }
    let hash = password::hash(body.password)
        .await
        .map_err(ApiError::internal)?;
    let door = Door {
        credential: Some(hash),
        name,
        ..Door::new(IdentityKind::Password, email)
    };
    let entered = state.enter(&ctx, door, me).await?;
    if !entered.created && me.is_none() {
        // A concurrent registration of the same address won.
        return Err(taken());
    }
    let fact = Fact::success(
        None,
        crate::people::sessions::actor(entered.user.id),
        "auth.password.register",
        entered.user.id,
    );
    state.audit(&ctx, fact).await;
    let issued: Issued = state
        .start_session(&ctx, &headers, &entered.user, "password", entered.created)
        .await?;
    Ok(issued.with_status(StatusCode::CREATED).into_response())
}

/// Sign in with an email address and a password. A wrong password and an unknown address get
/// the same answer, in the same time; repeated failures make the account and the address wait.
#[utoipa::path(post, path = "/v1/auth/password/login", tag = "auth",
    request_body = wire::PasswordLoginRequest,
    responses((status = 200, body = wire::SessionGrant), (status = 401, body = tessera_proto::ErrorBody), (status = 429, body = tessera_proto::ErrorBody), BodyErrors, SessionErrors))]
async fn login(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    ApiJson(body): ApiJson<wire::PasswordLoginRequest>,
) -> Result<Response, ApiError> {
    let refused = || {
        ApiError::new(
            ErrorCode::InvalidCredentials,
            "the email or password is wrong",
        )
    };
    // Anything that cannot be an account is refused like a wrong password.
    let account = validate::email(&body.email).unwrap_or_else(|_| body.email.to_lowercase());
    let now = state.clock.now();
    if let Err(wait) = state
        .people
        .password_backoff
        .check(&account, ctx.client_ip, now)
    {
        return Err(ApiError::rate_limited(wait.unsigned_abs()));
    }
    let identity = state
        .store
        .identity(&IdentityKind::Password, &account)
        .await?;
    let stored = identity.as_ref().and_then(|i| i.credential.clone());
    let password = body.password.chars().take(password::MAX_LENGTH).collect();
    if !password::verify(password, stored).await {
        state
            .people
            .password_backoff
            .failed(&account, ctx.client_ip, now);
        let fact = Fact::failure(
            None,
            "anonymous".to_owned(),
            "auth.password.login",
            "",
            "invalid_credentials",
        );
        state.audit(&ctx, fact).await;
        return Err(refused());
    }
    let Some(identity) = identity else {
        return Err(refused());
    };
    state.people.password_backoff.succeeded(&account);
    let entered = state
        .enter(
            &ctx,
            Door::new(IdentityKind::Password, identity.subject),
            None,
        )
        .await?;
    let fact = Fact::success(
        None,
        crate::people::sessions::actor(entered.user.id),
        "auth.password.login",
        entered.user.id,
    );
    state.audit(&ctx, fact).await;
    Ok(state
        .start_session(&ctx, &headers, &entered.user, "password", false)
        .await?
        .into_response())
}

fn check_password(password: &str) -> Result<(), ApiError> {
    let length = password.chars().count();
    if length < password::MIN_LENGTH {
        return Err(ApiError::invalid(format!(
            "password: must be at least {} characters",
            password::MIN_LENGTH
        )));
    }
    if length > password::MAX_LENGTH {
        return Err(ApiError::invalid(format!(
            "password: must be at most {} characters",
            password::MAX_LENGTH
        )));
    }
    Ok(())
}
