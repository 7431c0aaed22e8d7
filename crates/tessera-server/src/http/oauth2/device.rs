//! `POST /oauth2/device_authorization` (RFC 8628 §3.1–3.2): an application on a device without
//! a browser (a CLI, a headless agent) asks for a device code to poll with and a user code for
//! a person to enter at `/console/device`. Both are random; only their SHA-256 is stored.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tessera_core::Scopes;
use tessera_core::authz::{AppGrant, OAuthClient};
use tessera_core::device::{DeviceAuthorization, DeviceStatus};
use tessera_crypto::{GeneratedSecret, SecretKind, normalize_user_code, sha256, user_code};
use tessera_proto::oauth2::{DeviceAuthorizationRequest, DeviceAuthorizationResponse};
use tessera_proto::{OAuthErrorBody, OAuthErrorCode};
use time::Duration;

use super::client_auth::authenticate_app;
use super::form::OAuthForm;
use super::{audit_client_failure, client_failure, guard_failures};
use crate::audit::Fact;
use crate::context::RequestContext;
use crate::error::OAuthError;
use crate::state::AppState;

/// How long a device authorization waits for the person.
const DEVICE_TTL: Duration = Duration::minutes(10);
/// Seconds a device waits between polls at first (RFC 8628's default).
pub(super) const INTERVAL_SECS: i64 = 5;
/// Fresh user codes to try when one collides with a pending authorization's.
const USER_CODE_TRIES: usize = 3;
const ACTION: &str = "device.authorize";

/// Start a device authorization (RFC 8628).
#[utoipa::path(post, path = "/oauth2/device_authorization", tag = "oauth2",
    request_body(content = DeviceAuthorizationRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, body = DeviceAuthorizationResponse),
        (status = 400, body = OAuthErrorBody), (status = 401, body = OAuthErrorBody), (status = 429, body = OAuthErrorBody),
    ),
    security((), ("client_secret_basic" = [])))]
pub(super) async fn device_authorization(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(response) = guard_failures(&state, &ctx) {
        return response;
    }
    let form = match OAuthForm::parse(&headers, &body) {
        Ok(form) => form,
        Err(error) => return error.into_response(),
    };
    let client = match authenticate_app(&state, &headers, &form).await {
        Ok(client) => client,
        Err(error) => {
            audit_client_failure(&state, &ctx, ACTION, &error).await;
            return client_failure(&state, &ctx, error);
        }
    };
    if !client.allows(AppGrant::DeviceCode) {
        return refuse(&state, &ctx, &client, not_registered()).await;
    }
    let (scope, resource) = match requested(&state, &client, &form) {
        Ok(requested) => requested,
        Err(error) => return refuse(&state, &ctx, &client, error).await,
    };
    let now = state.clock.now();
    let device_code = GeneratedSecret::new(SecretKind::DeviceCode);
    let mut stored = None;
    for _ in 0..USER_CODE_TRIES {
        let shown = user_code();
        let Some(canonical) = normalize_user_code(&shown) else {
            continue;
        };
        let device = DeviceAuthorization {
            device_code_hash: device_code.hash,
            user_code_hash: sha256(canonical.as_bytes()),
            tenant_id: client.tenant_id,
            client_id: client.id,
            scope: scope.clone(),
            resource: resource.clone(),
            status: DeviceStatus::Pending,
            user_id: None,
            auth_time: None,
            interval_secs: INTERVAL_SECS,
            last_polled_at: None,
            expires_at: now + DEVICE_TTL,
            created_at: now,
        };
        match state.store.create_device_authorization(&device).await {
            Ok(()) => {
                stored = Some(shown);
                break;
            }
            Err(tessera_core::StoreError::Conflict(_)) => {}
            Err(error) => return OAuthError::from(error).into_response(),
        }
    }
    let Some(shown) = stored else {
        let error = OAuthError::new(
            OAuthErrorCode::TemporarilyUnavailable,
            "no free user code; retry",
        );
        return refuse(&state, &ctx, &client, error).await;
    };
    let fact = Fact::success(Some(client.tenant_id), actor(&client), ACTION, client.id);
    state.audit(&ctx, fact).await;
    let verification_uri = format!("{}/console/device", state.issuer);
    let answer = DeviceAuthorizationResponse {
        device_code: device_code.secret.expose().to_owned(),
        verification_uri_complete: format!("{verification_uri}?user_code={shown}"),
        user_code: shown,
        verification_uri,
        expires_in: DEVICE_TTL.whole_seconds(),
        interval: INTERVAL_SECS,
    };
    let mut response = Json(answer).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The answer to a client that did not register the device grant (RFC 7591 `grant_types`).
pub(super) fn not_registered() -> OAuthError {
    OAuthError::new(
        OAuthErrorCode::UnauthorizedClient,
        "the client did not register the device_code grant",
    )
}

fn actor(client: &OAuthClient) -> String {
    format!("client:{}", client.id)
}

/// A refused request of an authenticated application: audited, then answered.
async fn refuse(
    state: &AppState,
    ctx: &RequestContext,
    client: &OAuthClient,
    error: OAuthError,
) -> Response {
    let fact = Fact::failure(
        Some(client.tenant_id),
        actor(client),
        ACTION,
        client.id,
        error.code().code(),
    );
    state.audit(ctx, fact).await;
    error.into_response()
}

/// The scope (the client's, or a non-empty subset) and the resource the device asks for.
fn requested(
    state: &AppState,
    client: &OAuthClient,
    form: &OAuthForm,
) -> Result<(Scopes, Option<String>), OAuthError> {
    let scope = client.grantable(match form.get("scope") {
        None => client.scopes.clone(),
        Some(text) => Scopes::parse(text)
            .map_err(|e| OAuthError::new(OAuthErrorCode::InvalidScope, e.to_string()))?,
    });
    if scope.is_empty() || !scope.is_subset(&client.scopes) {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidScope,
            "the requested scope exceeds what the client may ask for",
        ));
    }
    let resource = state.requested_audience(form.get("resource"))?;
    Ok((scope, resource))
}
