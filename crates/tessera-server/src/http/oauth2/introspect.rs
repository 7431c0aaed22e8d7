//! `POST /oauth2/introspect` (RFC 7662). A caller learns about its own tenant's tokens only (an
//! application, about the tokens issued to it): any other token is simply `{"active": false}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tessera_proto::oauth2::{IntrospectionResponse, TokenConfirmation, TokenForm};
use tessera_proto::{OAuthErrorBody, OAuthErrorCode};

use super::TokenCaller;
use super::form::OAuthForm;
use crate::context::RequestContext;
use crate::error::OAuthError;
use crate::state::AppState;

/// Introspect an access token.
#[utoipa::path(post, path = "/oauth2/introspect", tag = "oauth2",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = IntrospectionResponse), (status = 400, body = OAuthErrorBody), (status = 401, body = OAuthErrorBody), (status = 429, body = OAuthErrorBody)),
    security(("client_secret_basic" = []), ("api_key" = [])))]
pub(super) async fn introspect(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match OAuthForm::parse(&headers, &body) {
        Ok(form) => form,
        Err(error) => return error.into_response(),
    };
    let caller = match TokenCaller::authenticate(&state, &headers, &form, &ctx).await {
        // RFC 7662 §2.1: the caller must be authorized; a `client_id` alone proves nothing.
        Ok(TokenCaller::Application { public: true, .. }) => {
            return OAuthError::new(
                OAuthErrorCode::InvalidClient,
                "a public client cannot introspect tokens",
            )
            .into_response();
        }
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let token = match form.require("token") {
        Ok(token) => token,
        Err(error) => return error.into_response(),
    };
    let answer = match state.validate_any_access_token(token).await {
        Ok(claims) if caller.may_see(&claims) => IntrospectionResponse {
            active: true,
            scope: Some(claims.scope),
            client_id: Some(claims.client_id),
            token_type: Some(crate::dpop::token_type(claims.cnf.as_ref()).to_owned()),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            sub: Some(claims.sub),
            aud: Some(claims.aud),
            iss: Some(claims.iss),
            jti: Some(claims.jti),
            tenant_id: Some(claims.tenant_id),
            cnf: claims.cnf.map(|c| TokenConfirmation { jkt: c.jkt }),
            act: claims
                .act
                .as_ref()
                .and_then(|act| serde_json::to_value(act).ok()),
        },
        Ok(_) => IntrospectionResponse::default(),
        Err(inactive) => {
            tracing::debug!(
                reason = inactive.reason(),
                caller = caller.actor(),
                "introspected token is not active"
            );
            IntrospectionResponse::default()
        }
    };
    let mut response = Json(answer).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
