//! `POST /oauth2/token`: one file per grant under `grants/` — `client_credentials` (an agent
//! acting as itself), `authorization_code` and `refresh_token` (an application acting for a
//! person), token exchange (RFC 8693: an agent acting for another agent or a person),
//! `jwt-bearer` (an outside workload's token, through a trust policy), and the device code
//! (RFC 8628: a device acting for a person). With a DPoP proof (RFC 9449) the tokens of any
//! grant are bound to the proof's key ([`crate::dpop::token_request`]).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tessera_proto::oauth2::{TokenRequest, TokenResponse};
use tessera_proto::{OAuthErrorBody, OAuthErrorCode};

use super::form::OAuthForm;
use super::grants;
use super::{audit_client_failure, guard_failures};
use crate::context::RequestContext;
use crate::delegation::TOKEN_EXCHANGE;
use crate::error::OAuthError;
use crate::state::AppState;

/// Issue tokens (RFC 6749 §4.1.3, §4.4, §6; RFC 8693 token exchange; RFC 9068 access tokens;
/// OpenID Connect ID tokens).
#[utoipa::path(post, path = "/oauth2/token", tag = "oauth2",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    params(("DPoP" = Option<String>, Header, description = "RFC 9449 proof of `POST /oauth2/token` with the server's nonce: the tokens of any grant are bound to its key (`token_type: DPoP`, `cnf.jkt`)")),
    responses(
        (status = 200, body = TokenResponse, description = "The tokens; a token exchange adds `issued_token_type` (TokenExchangeResponse)"),
        (status = 400, body = OAuthErrorBody, description = "RFC 6749 errors; `invalid_dpop_proof`; `use_dpop_nonce` with a `DPoP-Nonce` header to retry with"), (status = 401, body = OAuthErrorBody), (status = 429, body = OAuthErrorBody),
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
    let grant_type = match form.require("grant_type") {
        Ok(grant_type) => grant_type,
        Err(error) => return error.into_response(),
    };
    // Every grant binds through the same check, made before the grant spends anything.
    let cnf = match state.token_request_binding(&headers).await {
        Ok(cnf) => cnf,
        Err(refused) => {
            // Being sent a nonce is the usual first answer to a DPoP client, not a failure.
            if refused.error.code() != OAuthErrorCode::UseDpopNonce {
                audit_client_failure(&state, &ctx, "token.issue", &refused.error).await;
            }
            return refused.into_response(&state);
        }
    };
    let issued = match grant_type {
        TOKEN_EXCHANGE => {
            let exchanged = grants::token_exchange::exchange(&state, &ctx, &headers, &form, cnf);
            return answer(exchanged.await);
        }
        "client_credentials" => {
            grants::client_credentials::exchange(&state, &ctx, &headers, &form, cnf).await
        }
        "authorization_code" => {
            grants::authorization_code::exchange(&state, &ctx, &headers, &form, cnf).await
        }
        "refresh_token" => {
            grants::refresh_token::exchange(&state, &ctx, &headers, &form, cnf).await
        }
        grants::jwt_bearer::GRANT_TYPE => {
            grants::jwt_bearer::exchange(&state, &ctx, &form, cnf).await
        }
        super::DEVICE_CODE_GRANT => {
            grants::device_code::exchange(&state, &ctx, &headers, &form, cnf).await
        }
        other => Err(OAuthError::new(
            OAuthErrorCode::UnsupportedGrantType,
            format!("grant type `{other}` is not supported"),
        )
        .into_response()),
    };
    answer(issued)
}

/// The token response, never cached (RFC 6749 §5.1), or the refusal.
fn answer<T: serde::Serialize>(issued: Result<T, Response>) -> Response {
    match issued {
        Ok(tokens) => {
            let mut response = Json(tokens).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(response) => response,
    }
}

/// A signing failure: logged, and the client told only that Tessera failed.
pub(super) fn signing_failed(error: impl std::fmt::Display) -> OAuthError {
    tracing::error!(error = %error, "signing a token failed");
    OAuthError::new(
        OAuthErrorCode::ServerError,
        OAuthErrorCode::ServerError.description(),
    )
}
