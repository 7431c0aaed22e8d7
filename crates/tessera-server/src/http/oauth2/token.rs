//! `POST /oauth2/token`. Grants: `client_credentials` (an agent acting as itself).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tessera_core::Scopes;
use tessera_core::agent::Agent;
use tessera_proto::oauth2::{TokenRequest, TokenResponse};
use tessera_proto::{OAuthErrorBody, OAuthErrorCode};

use super::client_auth::Presented;
use super::form::OAuthForm;
use super::{audit_client_failure, client_failure, guard_failures};
use crate::audit::Fact;
use crate::context::RequestContext;
use crate::error::OAuthError;
use crate::state::AppState;

/// Issue an access token (RFC 6749 §4.4; RFC 9068 JWT).
#[utoipa::path(post, path = "/oauth2/token", tag = "oauth2",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, body = OAuthErrorBody), (status = 401, body = OAuthErrorBody), (status = 429, body = OAuthErrorBody),
    ),
    security((), ("client_secret_basic" = [])))]
pub(super) async fn token(
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
    let agent = match authenticate(&state, &headers, &form).await {
        Ok(agent) => agent,
        Err(error) => {
            audit_client_failure(&state, &ctx, "token.issue", &error).await;
            return client_failure(&state, &ctx, error);
        }
    };
    match issue(&state, &form, &agent) {
        Ok((response, claims_jti)) => {
            let fact = Fact::success(
                Some(agent.tenant_id),
                format!("agent:{}", agent.id),
                "token.issue",
                claims_jti,
            );
            state.audit(&ctx, fact).await;
            let mut response = Json(response).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(error) => {
            let fact = Fact::failure(
                Some(agent.tenant_id),
                format!("agent:{}", agent.id),
                "token.issue",
                "",
                error.code().code(),
            );
            state.audit(&ctx, fact).await;
            error.into_response()
        }
    }
}

async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &OAuthForm,
) -> Result<Agent, OAuthError> {
    let presented = Presented::read(headers, form)?.ok_or_else(|| {
        OAuthError::new(
            OAuthErrorCode::InvalidClient,
            "client authentication is required",
        )
    })?;
    presented.authenticate(state).await
}

fn issue(
    state: &AppState,
    form: &OAuthForm,
    agent: &Agent,
) -> Result<(TokenResponse, String), OAuthError> {
    match form.require("grant_type")? {
        "client_credentials" => {}
        other => {
            return Err(OAuthError::new(
                OAuthErrorCode::UnsupportedGrantType,
                format!("grant type `{other}` is not supported"),
            ));
        }
    }
    let scopes = match form.get("scope") {
        None => agent.scopes.clone(),
        Some(requested) => {
            let requested = Scopes::parse(requested)
                .map_err(|e| OAuthError::new(OAuthErrorCode::InvalidScope, e.to_string()))?;
            if !requested.is_subset(&agent.scopes) {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidScope,
                    "the requested scope exceeds the agent's scopes",
                ));
            }
            requested
        }
    };
    let (token, claims) = state.issue_access_token(agent, &scopes).map_err(|e| {
        tracing::error!(error = %e, "signing an access token failed");
        OAuthError::new(
            OAuthErrorCode::ServerError,
            OAuthErrorCode::ServerError.description(),
        )
    })?;
    let response = TokenResponse {
        access_token: token,
        token_type: "Bearer".to_owned(),
        expires_in: claims.exp - claims.iat,
        scope: claims.scope,
    };
    Ok((response, claims.jti))
}
