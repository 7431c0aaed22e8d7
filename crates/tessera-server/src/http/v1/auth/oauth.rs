//! `/v1/auth/oauth/{provider}`: sign in with Google, GitHub or any configured OpenID provider.
//! `start` sends the browser to the provider (state, PKCE S256, nonce, a browser-binding
//! cookie); the provider sends it back to `callback`, which checks all of that, has the
//! provider's answer verified by `tessera-federation`, and ends in a session.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use tessera_core::people::IdentityKind;
use tessera_proto::ErrorCode;
use tessera_proto::people as wire;
use url::Url;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::Fact;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::ApiQuery;
use crate::http::openapi::SessionErrors;
use crate::people::accounts::Door;
use crate::people::cookies;
use crate::people::oauth::{PendingSignIn, STATE_TTL, federation_error};
use crate::people::redirect::{failed_to, found, signed_in_to};
use crate::people::sessions::{Issued, actor};
use crate::people::signed_in::{MaybeSignedIn, SignedIn};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start))
        .routes(routes!(callback))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StartQuery {
    /// Where to send the browser once signed in (a URL on this server's origin or one of
    /// `sign_in_redirect_origins`). Without it, the callback answers with the session JSON.
    redirect_to: Option<String>,
}

/// What the provider appends to the redirect URI (RFC 6749 §4.1.2, RFC 9207).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Begin signing in with a configured provider: a redirect (302) to the provider's
/// authorization endpoint with `state`, PKCE (S256) and, for OpenID providers, a nonce; an
/// HttpOnly cookie binds the sign-in to this browser for 10 minutes. With a session, the
/// provider's account is linked to the signed-in user at the callback.
#[utoipa::path(get, path = "/v1/auth/oauth/{provider}/start", tag = "auth",
    params(("provider" = String, Path, description = "A provider of `oauth_providers` (`google`, `github`, …)"), StartQuery),
    responses(
        (status = 302, description = "To the provider; sets the `tessera_oauth` cookie"),
        (status = 502, body = tessera_proto::ErrorBody, description = "The provider's discovery failed"),
        (status = 503, body = tessera_proto::ErrorBody, description = "`<provider>_oauth_not_configured`, with `setup_required`"),
        SessionErrors))]
async fn start(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(provider): Path<String>,
    MaybeSignedIn(me): MaybeSignedIn,
    ApiQuery(query): ApiQuery<StartQuery>,
) -> Result<Response, ApiError> {
    if !state.people.oauth.is_configured(&provider) {
        return Err(ApiError::oauth_not_configured(&provider));
    }
    let redirect_to = query
        .redirect_to
        .as_deref()
        .map(|raw| state.allowed_redirect(raw))
        .transpose()?;
    state
        .people
        .sign_in_started(ctx.client_ip)
        .map_err(ApiError::rate_limited)?;
    let resolved = state.people.oauth.get(&provider).await?;
    let started = state.begin_oauth(&resolved, redirect_to, me).await?;
    let to = Url::parse(&started.authorization_url).map_err(ApiError::internal)?;
    let mut headers = HeaderMap::new();
    cookies::set_oauth_binding(
        &mut headers,
        &started.browser_binding,
        STATE_TTL.whole_seconds(),
        cookies::secure_for(&state.issuer),
    );
    Ok(found(headers, &to))
}

/// Where the provider sends the browser back. The `state` is used up by any call; it must
/// come from this browser (the `tessera_oauth` cookie) and this provider. The code is
/// exchanged (with the PKCE verifier) and the ID token verified (issuer, audience, nonce,
/// expiry, signature from the issuer's keys) or, for GitHub, the user fetched. Success: the
/// session cookies and a redirect (302) to `redirect_to`, or the session JSON (201 when the
/// user is new) when the sign-in had none. Failure: a redirect to `redirect_to?error=<reason>`,
/// or a JSON error.
#[utoipa::path(get, path = "/v1/auth/oauth/{provider}/callback", tag = "auth",
    params(("provider" = String, Path, description = "The provider the sign-in began with"), CallbackQuery),
    responses(
        (status = 200, body = wire::SessionGrant),
        (status = 201, body = wire::SessionGrant),
        (status = 302, description = "To `redirect_to` (with `error=<reason>` on failure)"),
        (status = 502, body = tessera_proto::ErrorBody, description = "The provider could not be reached or answered something unusable"),
        (status = 503, body = tessera_proto::ErrorBody, description = "`<provider>_oauth_not_configured`, with `setup_required`"),
        SessionErrors))]
async fn callback(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    Path(provider): Path<String>,
    ApiQuery(query): ApiQuery<CallbackQuery>,
) -> Result<Response, ApiError> {
    if !state.people.oauth.is_configured(&provider) {
        return Err(ApiError::oauth_not_configured(&provider));
    }
    let secure = cookies::secure_for(&state.issuer);
    let pending = match query.state.as_deref() {
        Some(value) => state.take_oauth_state(&provider, value).await?,
        None => None,
    };
    let outcome = match &pending {
        Some(pending) => finish(&state, &ctx, &headers, &provider, &query, pending).await,
        None => Err(Failure::new(
            "invalid_state",
            ApiError::new(
                ErrorCode::InvalidState,
                "the sign-in's state is unknown, used or expired; start again",
            ),
        )),
    };
    // Checked when the sign-in began.
    let redirect_to = pending
        .and_then(|p| p.redirect_to)
        .and_then(|to| Url::parse(&to).ok());
    let mut response = match outcome {
        Ok(issued) => signed_in_to(issued, redirect_to),
        Err(failure) => {
            let fact = Fact::failure(
                None,
                "anonymous".to_owned(),
                "auth.oauth.callback",
                &provider,
                &failure.reason,
            );
            state.audit(&ctx, fact).await;
            failed_to(failure.error, &failure.reason, redirect_to)
        }
    };
    // The binding cookie is single-use like the state.
    cookies::set_oauth_binding(response.headers_mut(), "", 0, secure);
    Ok(response)
}

/// A refused callback: the reason for `redirect_to?error=` and the log, and the JSON error.
struct Failure {
    reason: String,
    error: ApiError,
}

impl Failure {
    fn new(reason: &str, error: ApiError) -> Self {
        Self {
            reason: reason.to_owned(),
            error,
        }
    }

    fn api(error: ApiError) -> Self {
        Self::new(error.code().code(), error)
    }

    fn federation(error: tessera_federation::FederationError) -> Self {
        Self::new(error.reason(), federation_error(&error))
    }
}

/// The checks and exchange after the state was taken.
async fn finish(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    provider_name: &str,
    query: &CallbackQuery,
    pending: &PendingSignIn,
) -> Result<Issued, Failure> {
    if !pending.same_browser(cookies::get(headers, cookies::OAUTH_BINDING_COOKIE)) {
        return Err(Failure::new(
            "browser_mismatch",
            ApiError::new(
                ErrorCode::InvalidState,
                "this sign-in was begun in another browser, or its cookie expired; start again",
            ),
        ));
    }
    if let Some(error) = &query.error {
        // RFC 6749 error codes are short snake case; anything else is not passed on.
        let valid = error.len() <= 64 && error.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        let reason = if valid {
            error.as_str()
        } else {
            "provider_error"
        };
        let description = query.error_description.as_deref().unwrap_or_default();
        return Err(Failure::new(
            reason,
            ApiError::new(
                ErrorCode::SignInFailed,
                format!("the provider refused the sign-in: {reason} {description}")
                    .trim_end()
                    .to_owned(),
            ),
        ));
    }
    let provider = state
        .people
        .oauth
        .get(provider_name)
        .await
        .map_err(Failure::api)?;
    provider
        .check_callback_issuer(query.iss.as_deref())
        .map_err(Failure::federation)?;
    let code = query
        .code
        .as_deref()
        .filter(|code| !code.is_empty())
        .ok_or_else(|| Failure::new("missing_code", ApiError::invalid("code: missing")))?;
    let identity = provider
        .complete(
            code,
            &pending.pkce_verifier,
            &pending.nonce,
            &pending.redirect_uri,
            state.clock.now(),
        )
        .await
        .map_err(Failure::federation)?;
    let link_to = linked_session(state, pending).await?;
    let door = Door {
        // Only an address the provider vouches for is the user's.
        email: identity.email.filter(|_| identity.email_verified),
        name: identity.name,
        ..Door::new(
            IdentityKind::OAuth(provider_name.to_owned()),
            identity.subject,
        )
    };
    let entered = state
        .enter(ctx, door, link_to)
        .await
        .map_err(Failure::api)?;
    let fact = Fact::success(
        None,
        actor(entered.user.id),
        "auth.oauth.callback",
        entered.identity.id,
    );
    state.audit(ctx, fact).await;
    let status = if entered.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let method = format!("oauth:{provider_name}");
    state
        .start_session(ctx, headers, &entered.user, &method, entered.created)
        .await
        .map(|issued| issued.with_status(status))
        .map_err(Failure::api)
}

/// The session that began a linking sign-in, if it is still live.
async fn linked_session(
    state: &AppState,
    pending: &PendingSignIn,
) -> Result<Option<SignedIn>, Failure> {
    let (Some(user), Some(session)) = (&pending.link_user, &pending.link_session) else {
        return Ok(None);
    };
    let ended = || {
        Failure::new(
            "session_ended",
            ApiError::new(
                ErrorCode::Unauthenticated,
                "the session that began this sign-in has ended; sign in again",
            ),
        )
    };
    let (Ok(user_id), Ok(session_id)) = (user.parse(), session.parse()) else {
        return Err(ended());
    };
    let live = state
        .store
        .session(session_id)
        .await
        .map_err(|e| Failure::api(e.into()))?
        .is_some_and(|s| s.user_id == user_id && s.is_live(state.clock.now()));
    if !live {
        return Err(ended());
    }
    Ok(Some(SignedIn {
        user_id,
        session_id,
    }))
}
