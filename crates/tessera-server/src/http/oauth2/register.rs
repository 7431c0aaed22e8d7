//! Dynamic client registration: `POST /oauth2/register` (RFC 7591) and the registration's
//! management at `/oauth2/register/{client_id}` with its registration access token (RFC 7592:
//! read, replace and delete). Off unless the operator names the tenant such clients belong to
//! (`dynamic_registration_tenant`); open to anyone then (as MCP clients expect), limited per
//! address like tenant registration. The registered client is an ordinary OAuth client of that
//! tenant, listed and deletable through the tenant's API.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tessera_core::authz::OAuthClient;
use tessera_core::{OAuthClientId, Scopes, TenantId, validate};
use tessera_crypto::{GeneratedSecret, SecretKind, sha256};
use tessera_proto::oauth_clients::{
    ClientRegistration, ClientRegistrationRequest, ClientUpdateRequest,
};
use tessera_proto::{OAuthErrorBody, OAuthErrorCode};

use crate::audit::Fact;
use crate::auth::extract::presented_credential;
use crate::context::RequestContext;
use crate::error::{ApiError, OAuthError};
use crate::http::json::ApiJson;
use crate::http::v1::oauth_clients::{MAX_REDIRECT_URIS, client_scopes, redirect_uri};
use crate::state::AppState;

/// The tenant of dynamically registered clients, or the answer that registration is off.
fn registration_tenant(state: &AppState) -> Result<TenantId, Response> {
    state.config.dynamic_registration_tenant.ok_or_else(|| {
        ApiError::not_found("registration endpoint (dynamic client registration is off)")
            .into_response()
    })
}

fn metadata_error(description: impl Into<String>) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidClientMetadata, description)
}

fn view(
    state: &AppState,
    client: &OAuthClient,
    method: &str,
    secrets: Option<(Option<String>, String)>,
) -> ClientRegistration {
    let (client_secret, registration_access_token) = match secrets {
        Some((secret, token)) => (secret, Some(token)),
        None => (None, None),
    };
    ClientRegistration {
        client_id: client.id.to_string(),
        client_secret_expires_at: client_secret.as_ref().map(|_| 0),
        client_secret,
        client_id_issued_at: client.created_at.unix_timestamp(),
        registration_access_token,
        registration_client_uri: format!("{}/oauth2/register/{}", state.issuer, client.id),
        client_name: client.name.clone(),
        redirect_uris: client.redirect_uris.clone(),
        token_endpoint_auth_method: method.to_owned(),
        grant_types: vec!["authorization_code".to_owned(), "refresh_token".to_owned()],
        response_types: vec!["code".to_owned()],
        scope: client.scopes.to_string(),
    }
}

/// A client built from registration metadata, and the secrets to hand out once.
struct Drafted {
    client: OAuthClient,
    method: String,
    secret: Option<GeneratedSecret>,
    registration_token: GeneratedSecret,
}

/// Checks the metadata and builds the client; what it holds is what the response says.
fn draft(
    tenant: TenantId,
    body: ClientRegistrationRequest,
    now: time::OffsetDateTime,
) -> Result<Drafted, OAuthError> {
    if body.redirect_uris.is_empty() || body.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidRedirectUri,
            format!("redirect_uris: between 1 and {MAX_REDIRECT_URIS}"),
        ));
    }
    let mut redirect_uris = Vec::with_capacity(body.redirect_uris.len());
    for raw in &body.redirect_uris {
        let uri = redirect_uri(raw)
            .map_err(|e| OAuthError::new(OAuthErrorCode::InvalidRedirectUri, e.message()))?;
        if !redirect_uris.contains(&uri) {
            redirect_uris.push(uri);
        }
    }
    let method = body
        .token_endpoint_auth_method
        .unwrap_or_else(|| "client_secret_basic".to_owned());
    let secret = match method.as_str() {
        "none" => None,
        "client_secret_basic" | "client_secret_post" => {
            Some(GeneratedSecret::new(SecretKind::ClientSecret))
        }
        other => {
            return Err(metadata_error(format!(
                "token_endpoint_auth_method `{other}` is not supported (none, \
                 client_secret_basic, client_secret_post)"
            )));
        }
    };
    if let Some(grants) = &body.grant_types
        && let Some(other) = grants
            .iter()
            .find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
    {
        return Err(metadata_error(format!(
            "grant type `{other}` is not available to registered clients"
        )));
    }
    if let Some(types) = &body.response_types
        && types.iter().any(|t| t != "code")
    {
        return Err(metadata_error("response_types: `code` only"));
    }
    let scopes = match body.scope {
        None => None,
        Some(text) => Some(
            Scopes::parse(&text)
                .map_err(|e| metadata_error(format!("scope: {e}")))?
                .iter()
                .map(str::to_owned)
                .collect(),
        ),
    };
    let scopes = client_scopes(scopes).map_err(|e| metadata_error(e.message()))?;
    let name = validate::name(
        "client_name",
        body.client_name.as_deref().unwrap_or("Unnamed application"),
        100,
    )
    .map_err(|e| metadata_error(e.to_string()))?;
    let token = GeneratedSecret::new(SecretKind::RegistrationAccessToken);
    let client = OAuthClient {
        id: OAuthClientId::generate(),
        tenant_id: tenant,
        name,
        secret_hash: secret.as_ref().map(|s| s.hash),
        redirect_uris,
        scopes,
        registration_token_hash: Some(token.hash),
        created_at: now,
    };
    Ok(Drafted {
        client,
        method,
        secret,
        registration_token: token,
    })
}

/// Register a client (RFC 7591), when the operator has switched registration on.
#[utoipa::path(post, path = "/oauth2/register", tag = "oauth2",
    request_body = ClientRegistrationRequest,
    responses(
        (status = 201, body = ClientRegistration),
        (status = 400, body = OAuthErrorBody),
        (status = 404, body = tessera_proto::ErrorBody, description = "dynamic registration is off"),
        (status = 415, body = tessera_proto::ErrorBody), (status = 422, body = tessera_proto::ErrorBody),
        (status = 429, body = tessera_proto::ErrorBody),
    ))]
pub(super) async fn register(
    State(state): State<AppState>,
    ctx: RequestContext,
    body: Result<ApiJson<ClientRegistrationRequest>, ApiError>,
) -> Response {
    let tenant = match registration_tenant(&state) {
        Ok(tenant) => tenant,
        Err(response) => return response,
    };
    let ApiJson(body) = match body {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    if let Err(wait) = state.limits.register(ctx.client_ip) {
        return ApiError::rate_limited(wait).into_response();
    }
    let Drafted {
        client,
        method,
        secret,
        registration_token,
    } = match draft(tenant, body, state.clock.now()) {
        Ok(drafted) => drafted,
        Err(error) => return error.into_response(),
    };
    if let Err(error) = state.store.create_oauth_client(&client).await {
        return OAuthError::from(error).into_response();
    }
    let fact = Fact::success(
        Some(tenant),
        "anonymous".to_owned(),
        "oauth_client.register",
        client.id,
    );
    state.audit(&ctx, fact).await;
    let secret = secret.map(|s| s.secret.expose().to_owned());
    let token = registration_token.secret.expose().to_owned();
    let registration = view(&state, &client, &method, Some((secret, token)));
    no_store((StatusCode::CREATED, Json(registration)).into_response())
}

/// Read a registration (RFC 7592 §2.1) with its registration access token.
#[utoipa::path(get, path = "/oauth2/register/{client_id}", tag = "oauth2",
    params(("client_id" = String, Path)),
    responses((status = 200, body = ClientRegistration), (status = 401, body = OAuthErrorBody), (status = 404, body = tessera_proto::ErrorBody)),
    security(("session" = [])))]
pub(super) async fn read_registration(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    Path(client_id): Path<String>,
) -> Response {
    match managed(&state, &ctx, &headers, &client_id).await {
        Ok(client) => {
            let method = if client.is_public() {
                "none"
            } else {
                "client_secret_basic"
            };
            no_store(Json(view(&state, &client, method, None)).into_response())
        }
        Err(response) => response,
    }
}

/// Replace a registration's metadata (RFC 7592 §2.2) with its registration access token: the
/// same checks as registering. A confidential client keeps its secret; a public client that
/// becomes confidential gets one, in this response only.
#[utoipa::path(put, path = "/oauth2/register/{client_id}", tag = "oauth2",
    params(("client_id" = String, Path)),
    request_body = ClientUpdateRequest,
    responses(
        (status = 200, body = ClientRegistration),
        (status = 400, body = OAuthErrorBody), (status = 401, body = OAuthErrorBody),
        (status = 404, body = tessera_proto::ErrorBody),
        (status = 415, body = tessera_proto::ErrorBody), (status = 422, body = tessera_proto::ErrorBody),
    ),
    security(("session" = [])))]
pub(super) async fn update_registration(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    body: Result<ApiJson<ClientUpdateRequest>, ApiError>,
) -> Response {
    let current = match managed(&state, &ctx, &headers, &client_id).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    let ApiJson(body) = match body {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    let (updated, method, secret) = match replaced(&current, body, state.clock.now()) {
        Ok(replaced) => replaced,
        Err(error) => {
            let fact = Fact::failure(
                Some(current.tenant_id),
                format!("client:{}", current.id),
                "oauth_client.update",
                current.id,
                error.code().code(),
            );
            state.audit(&ctx, fact).await;
            return error.into_response();
        }
    };
    match state.store.update_oauth_client(&updated).await {
        Ok(true) => {}
        Ok(false) => return ApiError::not_found("registration").into_response(),
        Err(error) => return OAuthError::from(error).into_response(),
    }
    let fact = Fact::success(
        Some(updated.tenant_id),
        format!("client:{}", updated.id),
        "oauth_client.update",
        updated.id,
    );
    state.audit(&ctx, fact).await;
    let mut registration = view(&state, &updated, &method, None);
    if let Some(secret) = secret {
        registration.client_secret_expires_at = Some(0);
        registration.client_secret = Some(secret.secret.expose().to_owned());
    }
    no_store(Json(registration).into_response())
}

/// The client with `body`'s metadata in place of `current`'s, its authentication method, and a
/// new secret when it needs one it did not have.
fn replaced(
    current: &OAuthClient,
    body: ClientUpdateRequest,
    now: time::OffsetDateTime,
) -> Result<(OAuthClient, String, Option<GeneratedSecret>), OAuthError> {
    if body.client_id != current.id.to_string() {
        return Err(metadata_error("client_id must be this registration's"));
    }
    if let Some(presented) = &body.client_secret {
        let matches = current
            .secret_hash
            .is_some_and(|hash| bool::from(hash.ct_eq(&sha256(presented.as_bytes()))));
        if !matches {
            return Err(metadata_error("client_secret is not this client's secret"));
        }
    }
    let Drafted {
        client: drafted,
        method,
        secret,
        ..
    } = draft(current.tenant_id, body.metadata, now)?;
    let (secret_hash, new_secret) = match (secret, current.secret_hash) {
        (None, _) => (None, None),
        (Some(_), Some(kept)) => (Some(kept), None),
        (Some(fresh), None) => (Some(fresh.hash), Some(fresh)),
    };
    let client = OAuthClient {
        name: drafted.name,
        secret_hash,
        redirect_uris: drafted.redirect_uris,
        scopes: drafted.scopes,
        ..current.clone()
    };
    Ok((client, method, new_secret))
}

/// Delete a registration (RFC 7592 §2.3): its grants and tokens end.
#[utoipa::path(delete, path = "/oauth2/register/{client_id}", tag = "oauth2",
    params(("client_id" = String, Path)),
    responses((status = 204), (status = 401, body = OAuthErrorBody), (status = 404, body = tessera_proto::ErrorBody)),
    security(("session" = [])))]
pub(super) async fn delete_registration(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    Path(client_id): Path<String>,
) -> Response {
    let client = match managed(&state, &ctx, &headers, &client_id).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    match state
        .store
        .delete_oauth_client(client.tenant_id, client.id)
        .await
    {
        Ok(_) => {
            let fact = Fact::success(
                Some(client.tenant_id),
                format!("client:{}", client.id),
                "oauth_client.delete",
                client.id,
            );
            state.audit(&ctx, fact).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => OAuthError::from(error).into_response(),
    }
}

/// The dynamically registered client whose registration access token the request carries.
/// Every failure looks the same (RFC 7592 §3: 401 `invalid_token`), and counts as a failed
/// authentication of the address.
async fn managed(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    client_id: &str,
) -> Result<OAuthClient, Response> {
    registration_tenant(state)?;
    if let Err(wait) = state.limits.auth_allowed(ctx.client_ip) {
        return Err(ApiError::rate_limited(wait).into_response());
    }
    let refused = || {
        state.limits.auth_failed(ctx.client_ip);
        OAuthError::new(
            OAuthErrorCode::InvalidToken,
            "send this registration's access token as `Authorization: Bearer`",
        )
        .into_response()
    };
    let Some(token) = presented_credential(headers) else {
        return Err(refused());
    };
    if SecretKind::of(token) != Some(SecretKind::RegistrationAccessToken) {
        return Err(refused());
    }
    let Ok(id) = client_id.parse::<OAuthClientId>() else {
        return Err(refused());
    };
    let client = match state.store.oauth_client_by_id(id).await {
        Ok(client) => client,
        Err(error) => return Err(OAuthError::from(error).into_response()),
    };
    let digest = sha256(token.as_bytes());
    match client {
        Some(client)
            if client
                .registration_token_hash
                .is_some_and(|hash| bool::from(hash.ct_eq(&digest))) =>
        {
            Ok(client)
        }
        _ => Err(refused()),
    }
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
