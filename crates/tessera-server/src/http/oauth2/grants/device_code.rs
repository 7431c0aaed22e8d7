//! `urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4–3.5): a device polls with its
//! device code until the person approves (tokens, once), denies (`access_denied`) or lets it
//! expire (`expired_token`); meanwhile `authorization_pending`, and `slow_down` to a device that
//! polls faster than its interval. An approval becomes a grant like an authorization code's, so
//! its tokens are revocable and its refresh tokens rotate. With a DPoP proof the access token is
//! bound to its key, and a public client's grant too (RFC 9449 §5).

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_core::GrantId;
use tessera_core::authz::{AppGrant, Grant, GrantRefreshToken};
use tessera_core::device::DevicePoll;
use tessera_crypto::{Confirmation, SecretKind, sha256};
use tessera_proto::OAuthErrorCode;
use tessera_proto::oauth2::TokenResponse;

use super::super::form::OAuthForm;
use super::super::token::signing_failed;
use super::{actor, app_client, grant_key, refuse};
use crate::audit::Fact;
use crate::context::RequestContext;
use crate::error::OAuthError;
use crate::state::AppState;

pub(in super::super) async fn exchange(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    form: &OAuthForm,
    cnf: Option<Confirmation>,
) -> Result<TokenResponse, Response> {
    let client = app_client(state, ctx, headers, form).await?;
    if !client.allows(AppGrant::DeviceCode) {
        let error = super::super::device::not_registered();
        return Err(refuse(state, ctx, &client, client.id, error).await);
    }
    let invalid = |why: &str| OAuthError::new(OAuthErrorCode::InvalidGrant, why);
    let device_code = match form.require("device_code") {
        Ok(code) => code,
        Err(error) => return Err(refuse(state, ctx, &client, "", error).await),
    };
    if SecretKind::of(device_code) != Some(SecretKind::DeviceCode) {
        let error = invalid("the device code is not valid");
        return Err(refuse(state, ctx, &client, "", error).await);
    }
    let now = state.clock.now();
    let hash = sha256(device_code.as_bytes());
    let poll = state
        .store
        .poll_device_authorization(&hash, client.id, now)
        .await
        .map_err(|e| OAuthError::from(e).into_response())?;
    let device = match poll {
        DevicePoll::Approved(device) => *device,
        // The normal state of a poll: answered, not audited (a device polls every few seconds).
        DevicePoll::Pending => {
            return Err(polling(
                OAuthErrorCode::AuthorizationPending,
                "the person has not answered yet; poll again after the interval",
            ));
        }
        DevicePoll::SlowDown => {
            return Err(polling(
                OAuthErrorCode::SlowDown,
                "polled before the interval passed; the interval is now 5 seconds longer",
            ));
        }
        DevicePoll::Denied => {
            let error = OAuthError::new(OAuthErrorCode::AccessDenied, "the person declined");
            return Err(status_400(
                refuse(state, ctx, &client, client.id, error).await,
            ));
        }
        DevicePoll::Expired => {
            let error = OAuthError::new(
                OAuthErrorCode::ExpiredToken,
                "the device code has expired; start again",
            );
            return Err(refuse(state, ctx, &client, client.id, error).await);
        }
        DevicePoll::Invalid => {
            let error = invalid("the device code is unknown, used or not this client's");
            return Err(refuse(state, ctx, &client, "", error).await);
        }
    };
    let Some(user_id) = device.user_id else {
        let error = invalid("the device authorization names nobody");
        return Err(refuse(state, ctx, &client, "", error).await);
    };
    let grant = Grant {
        id: GrantId::generate(),
        tenant_id: device.tenant_id,
        client_id: device.client_id,
        user_id,
        scope: device.scope,
        auth_time: device.auth_time.unwrap_or(now),
        // The device code stands in for the authorization code, already used: the grant can
        // never be redeemed as a code.
        code_hash: hash,
        redirect_uri: String::new(),
        code_challenge: None,
        nonce: None,
        code_expires_at: now,
        code_used_at: Some(now),
        created_at: now,
        revoked_at: None,
        resources: device.resource.into_iter().collect(),
        dpop_jkt: grant_key(&client, cnf.as_ref()),
    };
    let aud = grant
        .resources
        .first()
        .cloned()
        .unwrap_or_else(|| state.audience.clone());
    if let Err(error) = state.store.create_grant(&grant).await {
        return Err(OAuthError::from(error).into_response());
    }
    let tokens = state
        .issue_grant_tokens(&grant, &grant.scope, aud, AppGrant::DeviceCode, None, cnf)
        .map_err(|e| signing_failed(e).into_response())?;
    if let Some(refresh_hash) = tokens.refresh_hash {
        let first = GrantRefreshToken {
            hash: refresh_hash,
            grant_id: grant.id,
            expires_at: now + state.grant_refresh_ttl(),
        };
        if let Err(error) = state.store.insert_grant_refresh_token(&first).await {
            return Err(OAuthError::from(error).into_response());
        }
    }
    let fact = Fact::success(
        Some(client.tenant_id),
        actor(&client),
        "token.issue",
        grant.id,
    );
    state.audit(ctx, fact).await;
    Ok(tokens.response)
}

/// RFC 8628 §3.5 answers every polling error with 400, whatever the code's usual status.
fn polling(code: OAuthErrorCode, description: &str) -> Response {
    status_400(OAuthError::new(code, description).into_response())
}

fn status_400(mut response: Response) -> Response {
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
}
