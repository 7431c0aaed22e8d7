//! `/console/device` (RFC 8628 §3.3): where a signed-in person enters the user code their device
//! shows, sees the same consent screen as an authorization request, and approves or denies.
//! A browser without a session goes to the sign-in page first and comes back. A code that
//! matches no pending authorization counts as a failed authentication of the address, so user
//! codes cannot be guessed faster than the sign-in limit allows.

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use tessera_core::device::{DeviceAuthorization, DeviceDecision};
use tessera_crypto::{normalize_user_code, sha256};

use super::authorize::{ConsentPage, ScopeLine};
use crate::audit::Fact;
use crate::auth::extract::rate_limited;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::console::{browser_session, page, same_origin};
use crate::people::sessions::actor;
use crate::people::signed_in::SignedIn;
use crate::state::AppState;

const DECIDE: &str = "/console/device/decide";

#[derive(Template)]
#[template(path = "console/device.html")]
struct DevicePage {
    user_code: String,
    message: Option<String>,
    /// The person answered: nothing more to enter.
    done: bool,
}

fn entry(user_code: String, message: Option<&str>, status: StatusCode) -> Response {
    let form = DevicePage {
        user_code,
        message: message.map(str::to_owned),
        done: false,
    };
    (status, page(&form)).into_response()
}

fn finished(message: &str) -> Response {
    page(&DevicePage {
        user_code: String::new(),
        message: Some(message.to_owned()),
        done: true,
    })
}

/// To the sign-in page, which resumes or starts a session and comes back to `here`.
fn to_login(here: &str) -> Response {
    let login = format!(
        "/console/login?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", here)
            .append_pair("resume", "")
            .finish()
    );
    Redirect::to(&login).into_response()
}

#[derive(serde::Deserialize)]
pub(super) struct DeviceQuery {
    user_code: Option<String>,
}

/// The form to enter a user code (filled in when the device's link carried it).
pub(super) async fn show(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    Query(query): Query<DeviceQuery>,
) -> Response {
    let typed = query.user_code.unwrap_or_default();
    if browser_session(&state, &ctx, &headers).await.is_none() {
        let here = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("user_code", &typed)
            .finish();
        return to_login(&format!("/console/device?{here}"));
    }
    entry(typed, None, StatusCode::OK)
}

/// A signed-in person and the pending authorization their form names, or the page to show
/// instead.
async fn pending(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    typed: &str,
) -> Result<(SignedIn, DeviceAuthorization, [u8; 32]), Response> {
    if !same_origin(headers, &state.issuer) {
        return Err((StatusCode::FORBIDDEN, "cross-origin form refused").into_response());
    }
    // Before the session: a blocked address is told so, not sent to sign in again.
    state
        .limits
        .auth_allowed(ctx.client_ip)
        .map_err(rate_limited)?;
    let Some(me) = browser_session(state, ctx, headers).await else {
        return Err(to_login("/console/device"));
    };
    let unknown = || {
        state.limits.auth_failed(ctx.client_ip);
        entry(
            typed.to_owned(),
            Some("That code matches no device waiting for approval. Check it and try again."),
            StatusCode::BAD_REQUEST,
        )
    };
    let Some(canonical) = normalize_user_code(typed) else {
        return Err(unknown());
    };
    let hash = sha256(canonical.as_bytes());
    match state
        .store
        .pending_device_authorization(&hash, state.clock.now())
        .await
    {
        Ok(Some(device)) => Ok((me, device, hash)),
        Ok(None) => {
            let fact = Fact::failure(None, me.actor(), "device.lookup", "", "unknown_user_code");
            state.audit(ctx, fact).await;
            Err(unknown())
        }
        Err(error) => Err(ApiError::from(error).into_response()),
    }
}

fn form(body: &Bytes) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The entered code: the consent screen for its device.
pub(super) async fn enter(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let typed = form(&body).remove("user_code").unwrap_or_default();
    let (_, device, _) = match pending(&state, &ctx, &headers, &typed).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let client = match state.store.oauth_client_by_id(device.client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => return finished("The application of this device no longer exists."),
        Err(error) => return ApiError::from(error).into_response(),
    };
    let tenant_name = match state.store.tenant(client.tenant_id).await {
        Ok(tenant) => tenant.map(|t| t.name).unwrap_or_default(),
        Err(error) => return ApiError::from(error).into_response(),
    };
    page(&ConsentPage {
        client_name: client.name,
        tenant_name,
        scopes: ScopeLine::all(&device.scope),
        resources: device.resource.into_iter().collect(),
        request: typed,
        action: DECIDE,
    })
}

/// The person's answer: approve (the device's next poll gets the tokens) or deny.
pub(super) async fn decide(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = form(&body);
    let typed = fields.get("request").map_or("", String::as_str);
    let (me, device, hash) = match pending(&state, &ctx, &headers, typed).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let now = state.clock.now();
    let (decision, action, message) = match fields.get("decision").map(String::as_str) {
        Some("allow") => {
            let auth_time = match state.store.session(me.session_id).await {
                Ok(Some(session)) => session.created_at,
                Ok(None) => return to_login("/console/device"),
                Err(error) => return ApiError::from(error).into_response(),
            };
            if let Err(error) = state
                .store
                .save_consent(
                    device.client_id,
                    me.user_id,
                    device
                        .resource
                        .as_deref()
                        .and_then(|r| state.consent_resource(r)),
                    &device.scope,
                    now,
                )
                .await
            {
                return ApiError::from(error).into_response();
            }
            (
                DeviceDecision::Approve {
                    user: me.user_id,
                    auth_time,
                },
                "device.approve",
                "Approved. Your device is connected; you can close this page.",
            )
        }
        Some("deny") => (
            DeviceDecision::Deny,
            "device.deny",
            "Denied. The device gets no access.",
        ),
        _ => {
            return ApiError::invalid("decision must be `allow` or `deny`").into_response();
        }
    };
    match state
        .store
        .decide_device_authorization(&hash, decision, now)
        .await
    {
        Ok(true) => {
            let fact = Fact::success(
                Some(device.tenant_id),
                actor(me.user_id),
                action,
                device.client_id,
            );
            state.audit(&ctx, fact).await;
            finished(message)
        }
        Ok(false) => finished("This device authorization was already answered or has expired."),
        Err(error) => ApiError::from(error).into_response(),
    }
}
