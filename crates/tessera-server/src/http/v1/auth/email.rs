//! `/v1/auth/email`: sign in (or sign up, or add an address to the signed-in user) with a link
//! or a 6-digit code sent by email.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_core::people::IdentityKind;
use tessera_core::validate;
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
use crate::people::email::{Ask, Proven, Purpose, TTL};
use crate::people::redirect::link_ended;
use crate::people::sessions::{Issued, actor};
use crate::people::signed_in::{MaybeSignedIn, SignedIn};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start))
        .routes(routes!(verify))
        .routes(routes!(callback))
}

/// Send a sign-in email holding a link and a 6-digit code (both single-use, valid 15 minutes;
/// a new email replaces the last). The answer is the same whether or not the address has an
/// account. With a session, the email adds the address to the signed-in user instead, and
/// only that user's session can complete it.
#[utoipa::path(post, path = "/v1/auth/email/start", tag = "auth",
    request_body = wire::EmailStartRequest,
    responses((status = 202, body = wire::EmailStarted),
        (status = 503, description = "The email could not be sent; try again later.", body = tessera_proto::ErrorBody),
        BodyErrors, SessionErrors))]
async fn start(
    State(state): State<AppState>,
    ctx: RequestContext,
    MaybeSignedIn(me): MaybeSignedIn,
    ApiJson(body): ApiJson<wire::EmailStartRequest>,
) -> Result<Response, ApiError> {
    let email = validate::email(&body.email)?;
    let redirect_to = body
        .redirect_to
        .as_deref()
        .map(|url| state.allowed_redirect(url))
        .transpose()?;
    let actor = me.map_or_else(|| "anonymous".to_owned(), |me| me.actor());
    state.count_email_send(&ctx, &email)?;
    let ask = Ask {
        purpose: Purpose::SignIn,
        email: email.clone(),
        redirect_to,
        link_to: me.map(|me| me.user_id),
        password: None,
        name: None,
    };
    state.send_challenge_email(&ctx, ask).await?;
    let fact = Fact::success(None, actor, "auth.email.start", &email);
    state.audit(&ctx, fact).await;
    let started = wire::EmailStarted {
        expires_in: TTL.whole_seconds(),
    };
    Ok((StatusCode::ACCEPTED, Json(started)).into_response())
}

/// Sign in with the 6-digit code from the email (`created` says whether the address signed
/// up). Five wrong codes burn the email.
#[utoipa::path(post, path = "/v1/auth/email/verify", tag = "auth",
    request_body = wire::EmailVerifyRequest,
    responses((status = 200, body = wire::SessionGrant),
        BodyErrors, SessionErrors))]
async fn verify(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    MaybeSignedIn(me): MaybeSignedIn,
    ApiJson(body): ApiJson<wire::EmailVerifyRequest>,
) -> Result<Response, ApiError> {
    let email = validate::email(&body.email)?;
    if body.code.len() != 6 || !body.code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid(
            "code: must be the 6 digits from the email",
        ));
    }
    let proven = match state
        .prove_email_by_code(&ctx, Purpose::SignIn, &email, &body.code)
        .await
    {
        Ok(proven) => proven,
        Err(error) => return Err(refused(&state, &ctx, error).await),
    };
    Ok(sign_in(&state, &ctx, &headers, me, proven)
        .await?
        .0
        .into_response())
}

/// The emailed link. Signs in, sets the session cookies, and redirects to the `redirect_to`
/// given at start (or answers with the session grant when there was none). When the link fails
/// and it carries an allowed `redirect_to`, the browser goes there with `?error=<code>`.
#[utoipa::path(get, path = "/v1/auth/email/callback", tag = "auth",
    params(wire::EmailCallbackQuery),
    responses((status = 200, body = wire::SessionGrant),
        (status = 302, description = "Signed in (cookies set), or failed (`?error=`): back to `redirect_to`."),
        SessionErrors))]
async fn callback(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    MaybeSignedIn(me): MaybeSignedIn,
    ApiQuery(query): ApiQuery<wire::EmailCallbackQuery>,
) -> Response {
    let signed_in = match state
        .prove_email_by_link(&ctx, Purpose::SignIn, &query.token)
        .await
    {
        Ok(proven) => sign_in(&state, &ctx, &headers, me, proven).await,
        Err(error) => Err(refused(&state, &ctx, error).await),
    };
    link_ended(&state, signed_in, query.redirect_to.as_deref())
}

/// Ends a proven email in a session: the address's user (created on first use), or the user
/// who asked to add it. Returns where the browser should go next.
async fn sign_in(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    me: Option<SignedIn>,
    proven: Proven,
) -> Result<(Issued, Option<Url>), ApiError> {
    let link_to = proven.completed_by(me)?;
    let door = Door {
        email: Some(proven.email.clone()),
        ..Door::new(IdentityKind::Email, proven.email)
    };
    let entered = state.enter(ctx, door, link_to).await?;
    let fact = Fact::success(
        None,
        actor(entered.user.id),
        "auth.email.sign_in",
        entered.user.id,
    );
    state.audit(ctx, fact).await;
    let issued = state
        .start_session(ctx, headers, &entered.user, "email", entered.created)
        .await?;
    Ok((issued, proven.redirect_to))
}

/// Audits a refused code or link and passes the error on.
async fn refused(state: &AppState, ctx: &RequestContext, error: ApiError) -> ApiError {
    let fact = Fact::failure(
        None,
        "anonymous".to_owned(),
        "auth.email.sign_in",
        "",
        error.code().code(),
    );
    state.audit(ctx, fact).await;
    error
}
