//! `/v1/auth/password`: sign up with an email address and a password (confirmed by email), and
//! sign in with them.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_core::people::IdentityKind;
use tessera_core::validate;
use tessera_proto::ErrorCode;
use tessera_proto::people as wire;
use url::Url;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::Fact;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::{ApiJson, ApiQuery};
use crate::http::openapi::{BodyErrors, SessionErrors};
use crate::people::accounts::Door;
use crate::people::email::{Proven, Purpose, TTL};
use crate::people::password;
use crate::people::redirect::link_ended;
use crate::people::sessions::{Issued, actor};
use crate::people::sign_up::SignUp;
use crate::people::signed_in::{MaybeSignedIn, SignedIn};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(confirm))
        .routes(routes!(callback))
        .routes(routes!(login))
}

/// Sign up with an email address and a password (at least 12 characters); with a session, add a
/// password to the signed-in user. The answer is the same whether or not the address has an
/// account: a new address gets an email whose link or 6-digit code confirms the sign-up (single
/// use, 15 minutes, replaced by the next); an address with an account gets an email saying so,
/// and nothing changes.
#[utoipa::path(post, path = "/v1/auth/password/register", tag = "auth",
    request_body = wire::PasswordRegisterRequest,
    responses((status = 202, body = wire::EmailStarted),
        (status = 503, description = "The email could not be sent; try again later.", body = tessera_proto::ErrorBody),
        BodyErrors, SessionErrors))]
async fn register(
    State(state): State<AppState>,
    ctx: RequestContext,
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
    let redirect_to = body
        .redirect_to
        .as_deref()
        .map(|url| state.allowed_redirect(url))
        .transpose()?;
    if me.is_none() {
        state
            .limits
            .register(ctx.client_ip)
            .map_err(ApiError::rate_limited)?;
    }
    let sign_up = SignUp {
        email: email.clone(),
        password: body.password,
        name,
        redirect_to,
    };
    state.ask_password_sign_up(&ctx, sign_up, me).await?;
    let actor = me.map_or_else(|| "anonymous".to_owned(), |me| me.actor());
    let fact = Fact::success(None, actor, "auth.password.register", &email);
    state.audit(&ctx, fact).await;
    let started = wire::EmailStarted {
        expires_in: TTL.whole_seconds(),
    };
    Ok((StatusCode::ACCEPTED, Json(started)).into_response())
}

/// Confirm a password sign-up with the 6-digit code from its email: creates the account (the
/// password and the address are its doors) and signs in, or, when a signed-in user asked, adds
/// them to that user (only that user's session can). Five wrong codes burn the email.
#[utoipa::path(post, path = "/v1/auth/password/confirm", tag = "auth",
    request_body = wire::EmailVerifyRequest,
    responses((status = 201, description = "The account was created.", body = wire::SessionGrant),
        (status = 200, description = "The password was added to the signed-in user.", body = wire::SessionGrant),
        (status = 409, body = tessera_proto::ErrorBody),
        BodyErrors, SessionErrors))]
async fn confirm(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    MaybeSignedIn(me): MaybeSignedIn,
    ApiJson(body): ApiJson<wire::EmailVerifyRequest>,
) -> Result<Response, ApiError> {
    let email = validate::email(&body.email)?;
    validate_code(&body.code)?;
    let proven = match state
        .prove_email_by_code(&ctx, Purpose::SignUp, &email, &body.code)
        .await
    {
        Ok(proven) => proven,
        Err(error) => return Err(refused(&state, &ctx, error).await),
    };
    Ok(signed_up(&state, &ctx, &headers, me, proven)
        .await?
        .0
        .into_response())
}

/// The link in a sign-up's email: confirms it like the code, sets the session cookies and
/// redirects to the `redirect_to` given at sign-up (or answers with the session grant when there
/// was none). When the link fails and it carries an allowed `redirect_to`, the browser goes there
/// with `?error=<code>`.
#[utoipa::path(get, path = "/v1/auth/password/callback", tag = "auth",
    params(wire::EmailCallbackQuery),
    responses((status = 201, description = "The account was created.", body = wire::SessionGrant),
        (status = 200, description = "The password was added to the signed-in user.", body = wire::SessionGrant),
        (status = 302, description = "Signed up (cookies set), or failed (`?error=`): back to `redirect_to`."),
        (status = 409, body = tessera_proto::ErrorBody),
        SessionErrors))]
async fn callback(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    MaybeSignedIn(me): MaybeSignedIn,
    ApiQuery(query): ApiQuery<wire::EmailCallbackQuery>,
) -> Response {
    let signed_up = match state
        .prove_email_by_link(&ctx, Purpose::SignUp, &query.token)
        .await
    {
        Ok(proven) => signed_up(&state, &ctx, &headers, me, proven).await,
        Err(error) => Err(refused(&state, &ctx, error).await),
    };
    link_ended(&state, signed_up, query.redirect_to.as_deref())
}

/// Ends a confirmed sign-up in a session, like every door. Returns where the browser goes next.
async fn signed_up(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    me: Option<SignedIn>,
    proven: Proven,
) -> Result<(Issued, Option<Url>), ApiError> {
    let redirect_to = proven.redirect_to.clone();
    let entered = state.finish_password_sign_up(ctx, proven, me).await?;
    let fact = Fact::success(
        None,
        actor(entered.user.id),
        "auth.password.confirm",
        entered.identity.id,
    );
    state.audit(ctx, fact).await;
    let issued = state
        .start_session(ctx, headers, &entered.user, "password", entered.created)
        .await?;
    // 201 when the sign-up made the user; 200 when it added a password to the signed-in one.
    let status = if entered.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((issued.with_status(status), redirect_to))
}

/// Audits a refused code or link and passes the error on.
async fn refused(state: &AppState, ctx: &RequestContext, error: ApiError) -> ApiError {
    let fact = Fact::failure(
        None,
        "anonymous".to_owned(),
        "auth.password.confirm",
        "",
        error.code().code(),
    );
    state.audit(ctx, fact).await;
    error
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
        actor(entered.user.id),
        "auth.password.login",
        entered.user.id,
    );
    state.audit(&ctx, fact).await;
    Ok(state
        .start_session(&ctx, &headers, &entered.user, "password", false)
        .await?
        .into_response())
}

pub(super) fn validate_code(code: &str) -> Result<(), ApiError> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid(
            "code: must be the 6 digits from the email",
        ));
    }
    Ok(())
}

pub(super) fn check_password(password: &str) -> Result<(), ApiError> {
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
