//! `/console`: the server-rendered pages a person signs in with (`/console/login`, which can
//! send them back to where they came from: `?return_to=`), lands on (`/console`: who they are,
//! their doors, sign-out) and signs out with (`POST /console/logout`). The authorization
//! endpoint renders its consent screen with these pages' layout and headers.
//!
//! The pages hold no secret and no inline script: the CSP allows scripts, styles and requests
//! from this origin only, and the buttons' script is served from `/console/assets/`. The
//! session is the `tessera_session` cookie (HttpOnly, SameSite=Lax). Cross-site request forgery:
//! the form POSTs (sign-out, consent) must carry an `Origin` equal to the public URL's origin (every
//! browser sends it on POST; `Referrer-Policy: same-origin` keeps it); the JSON doors the script
//! calls need `Content-Type: application/json`, which no cross-site form can send.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use time::format_description::well_known::Rfc3339;

use crate::context::RequestContext;
use crate::error::ApiError;
use crate::people::cookies;
use crate::people::signed_in::SignedIn;
use crate::state::AppState;

const SCRIPT: &str = include_str!("../../assets/console/console.js");
const STYLE: &str = include_str!("../../assets/console/console.css");
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(home))
        .route("/console/login", get(login))
        .route("/console/logout", post(logout))
        .route("/console/assets/console.js", get(script))
        .route("/console/assets/console.css", get(style))
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    passkeys: bool,
    /// Where the person goes once signed in (the email link and the providers bring them back
    /// there too): the console, or the `return_to` they came with.
    next: String,
    providers: Vec<ProviderLink>,
}

#[derive(serde::Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
}

struct ProviderLink {
    name: String,
    href: String,
}

#[derive(Template)]
#[template(path = "console/home.html")]
struct HomePage {
    user_id: String,
    email: Option<String>,
    name: Option<String>,
    identities: Vec<IdentityRow>,
    passkeys: bool,
}

struct IdentityRow {
    kind: String,
    subject: String,
    last_used: String,
}

async fn login(State(state): State<AppState>, Query(query): Query<LoginQuery>) -> Response {
    // Only where a sign-in may redirect (this origin, or a configured one): no open redirect.
    let next = query
        .return_to
        .and_then(|raw| state.allowed_redirect(&raw).ok())
        .map_or_else(|| format!("{}/console", state.issuer), String::from);
    let providers = state
        .config
        .oauth_providers
        .keys()
        .map(|name| ProviderLink {
            name: name.clone(),
            href: format!(
                "/v1/auth/oauth/{name}/start?{}",
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("redirect_to", &next)
                    .finish()
            ),
        })
        .collect();
    page(&LoginPage {
        passkeys: state.people.passkeys.is_ok(),
        next,
        providers,
    })
}

async fn home(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(me) = browser_session(&state, &ctx, &headers).await else {
        // The access cookie lives 15 minutes, the refresh cookie (sent to /v1/auth only) 30
        // days: the sign-in page first tries to resume the session with it.
        return Ok(Redirect::to("/console/login?resume").into_response());
    };
    let Some(user) = state.store.user(me.user_id).await? else {
        return Ok(Redirect::to("/console/login").into_response());
    };
    let identities = state
        .store
        .identities(me.user_id)
        .await?
        .into_iter()
        .map(|identity| IdentityRow {
            kind: identity.kind.as_str().into_owned(),
            subject: identity.subject,
            last_used: identity
                .last_used_at
                .and_then(|at| at.format(&Rfc3339).ok())
                .unwrap_or_default(),
        })
        .collect();
    Ok(page(&HomePage {
        user_id: user.id.to_string(),
        email: user.email,
        name: user.name,
        identities,
        passkeys: state.people.passkeys.is_ok(),
    }))
}

/// Ends the browser's session (if it still has one) and clears its cookies.
async fn logout(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !same_origin(&headers, &state.issuer) {
        return Ok((StatusCode::FORBIDDEN, "cross-origin form refused").into_response());
    }
    if let Some(me) = browser_session(&state, &ctx, &headers).await {
        state.end_session(&ctx, me.user_id, me.session_id).await?;
    }
    let mut response = Redirect::to("/console/login").into_response();
    cookies::clear(response.headers_mut(), cookies::secure_for(&state.issuer));
    Ok(response)
}

async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

/// The session of the browser's cookie, if it is live (a stale one is no session).
pub(crate) async fn browser_session(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
) -> Option<SignedIn> {
    let token = cookies::get(headers, cookies::ACCESS_COOKIE)?;
    state.signed_in(token, ctx).await.ok()
}

/// Whether a form POST comes from a page of this server.
pub(crate) fn same_origin(headers: &HeaderMap, issuer: &str) -> bool {
    let Ok(public) = url::Url::parse(issuer) else {
        return false;
    };
    headers
        .get(header::ORIGIN)
        .and_then(|origin| origin.to_str().ok())
        .is_some_and(|origin| origin == public.origin().ascii_serialization())
}

pub(crate) fn page(template: &impl Template) -> Response {
    render(template, CSP)
}

/// A page whose form's answer redirects to `target` (the consent screen, whose POST ends at the
/// client's redirect URI): browsers apply `form-action` to the redirects after a submission.
pub(crate) fn page_posting_to(template: &impl Template, target: &url::Url) -> Response {
    let source = match target.scheme() {
        "http" | "https" => target.origin().ascii_serialization(),
        // A native app's private-use scheme.
        scheme => format!("{scheme}:"),
    };
    let csp = CSP.replace(
        "form-action 'self'",
        &format!("form-action 'self' {source}"),
    );
    render(template, &csp)
}

fn render(template: &impl Template, csp: &str) -> Response {
    let Ok(csp) = HeaderValue::from_str(csp) else {
        return ApiError::internal("a content security policy that is no header value")
            .into_response();
    };
    let html = match template.render() {
        Ok(html) => html,
        Err(error) => return ApiError::internal(error).into_response(),
    };
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_origin_may_post_forms() {
        let mut headers = HeaderMap::new();
        assert!(!same_origin(&headers, "http://localhost:8080"), "no Origin");
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://localhost:8080"),
        );
        assert!(same_origin(&headers, "http://localhost:8080"));
        assert!(!same_origin(&headers, "http://localhost:8081"));
        headers.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&headers, "http://localhost:8080"));
    }
}
