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
use tessera_core::authz::{AppGrant, ClientAuthMethod, OAuthClient};
use tessera_core::{OAuthClientId, Scopes, TenantId, validate};
use tessera_crypto::{GeneratedSecret, SecretKind, sha256};
use tessera_proto::oauth_clients::{
    ClientRegistration, ClientRegistrationRequest, ClientUpdateRequest,
};
use tessera_proto::{ErrorCode, OAuthErrorBody, OAuthErrorCode};

use crate::audit::Fact;
use crate::auth::extract::presented_credential;
use crate::context::RequestContext;
use crate::error::{ApiError, OAuthError};
use crate::http::json::ApiJson;
use crate::http::v1::oauth_clients::{
    MAX_REDIRECT_URIS, client_keys, client_scopes, grant_names, keys_view, redirect_uri,
};
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
    secrets: Option<(Option<String>, String)>,
) -> ClientRegistration {
    let (client_secret, registration_access_token) = match secrets {
        Some((secret, token)) => (secret, Some(token)),
        None => (None, None),
    };
    let (jwks, jwks_uri) = keys_view(client);
    ClientRegistration {
        client_id: client.id.to_string(),
        client_secret_expires_at: client_secret.as_ref().map(|_| 0),
        client_secret,
        client_id_issued_at: client.created_at.unix_timestamp(),
        registration_access_token,
        registration_client_uri: format!("{}/oauth2/register/{}", state.issuer, client.id),
        client_name: client.name.clone(),
        redirect_uris: client.redirect_uris.clone(),
        token_endpoint_auth_method: client.auth_method.as_str().to_owned(),
        jwks,
        jwks_uri,
        grant_types: grant_names(&client.grant_types),
        // RFC 7591 §2.1: the `code` response type goes with the authorization code grant.
        response_types: if client.allows(AppGrant::AuthorizationCode) {
            vec!["code".to_owned()]
        } else {
            Vec::new()
        },
        scope: client.scopes.to_string(),
    }
}

/// A client built from registration metadata, and the secrets to hand out once.
struct Drafted {
    client: OAuthClient,
    secret: Option<GeneratedSecret>,
    registration_token: GeneratedSecret,
}

/// The grants a registration asks for: `authorization_code` and `refresh_token` unless it
/// names others. An application acts for people; `client_credentials` is refused, because a
/// machine acting as itself is an agent in Tessera (its own identity, keys, scopes and audit
/// trail), registered by the tenant rather than by itself.
fn grant_types(requested: Option<&[String]>) -> Result<Vec<AppGrant>, OAuthError> {
    let Some(requested) = requested else {
        return Ok(vec![AppGrant::AuthorizationCode, AppGrant::RefreshToken]);
    };
    let mut grants = Vec::with_capacity(requested.len());
    for name in requested {
        let grant = match (AppGrant::parse(name), name.as_str()) {
            (Some(grant), _) => grant,
            (None, "client_credentials") => {
                return Err(metadata_error(
                    "grant type `client_credentials` is for agents (a machine acting as itself \
                     is an agent of the tenant); an application acts for people",
                ));
            }
            (None, other) => {
                return Err(metadata_error(format!(
                    "grant type `{other}` is not available to registered clients \
                     (authorization_code, refresh_token, {})",
                    AppGrant::DeviceCode.as_str()
                )));
            }
        };
        if !grants.contains(&grant) {
            grants.push(grant);
        }
    }
    if !grants.contains(&AppGrant::AuthorizationCode) && !grants.contains(&AppGrant::DeviceCode) {
        return Err(metadata_error(format!(
            "grant_types must include authorization_code or {}",
            AppGrant::DeviceCode.as_str()
        )));
    }
    Ok(grants)
}

/// Checks the metadata and builds the client; what it holds is what the response says.
fn draft(
    state: &AppState,
    tenant: TenantId,
    body: ClientRegistrationRequest,
    now: time::OffsetDateTime,
) -> Result<Drafted, OAuthError> {
    let grant_types = grant_types(body.grant_types.as_deref())?;
    // A device-only client never redirects; any other needs somewhere to receive its codes.
    let fewest = usize::from(grant_types.contains(&AppGrant::AuthorizationCode));
    if body.redirect_uris.len() < fewest || body.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidRedirectUri,
            format!("redirect_uris: between {fewest} and {MAX_REDIRECT_URIS}"),
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
        .as_deref()
        .unwrap_or("client_secret_basic");
    let auth_method = match (ClientAuthMethod::parse(method), method) {
        (Some(method), _) => method,
        // Tessera keeps only a digest of a client secret, so it cannot check an HMAC with it.
        (None, "client_secret_jwt") => {
            return Err(metadata_error(
                "token_endpoint_auth_method `client_secret_jwt` is not supported; sign with \
                 your own key: private_key_jwt",
            ));
        }
        (None, other) => {
            return Err(metadata_error(format!(
                "token_endpoint_auth_method `{other}` is not supported (none, \
                 client_secret_basic, client_secret_post, private_key_jwt)"
            )));
        }
    };
    let keys = match auth_method {
        ClientAuthMethod::PrivateKeyJwt => Some(
            client_keys(state, body.jwks.as_ref(), body.jwks_uri.as_deref())
                .map_err(metadata_error)?,
        ),
        _ if body.jwks.is_some() || body.jwks_uri.is_some() => {
            return Err(metadata_error(
                "jwks and jwks_uri go with token_endpoint_auth_method `private_key_jwt`",
            ));
        }
        _ => None,
    };
    let secret = auth_method
        .uses_secret()
        .then(|| GeneratedSecret::new(SecretKind::ClientSecret));
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
        auth_method,
        secret_hash: secret.as_ref().map(|s| s.hash),
        keys,
        redirect_uris,
        scopes,
        grant_types,
        registration_token_hash: Some(token.hash),
        created_at: now,
    };
    Ok(Drafted {
        client,
        secret,
        registration_token: token,
    })
}

/// The request's JSON, or RFC 7591 §3.2.2's answer to metadata that does not even parse as
/// the fields' types (415 and 413 stay: they are about the request, not the metadata).
fn metadata<T>(body: Result<ApiJson<T>, ApiError>) -> Result<T, Response> {
    match body {
        Ok(ApiJson(body)) => Ok(body),
        Err(error)
            if matches!(
                error.code(),
                ErrorCode::UnsupportedMediaType | ErrorCode::PayloadTooLarge
            ) =>
        {
            Err(error.into_response())
        }
        Err(error) => Err(metadata_error(error.message()).into_response()),
    }
}

/// Register a client (RFC 7591), when the operator has switched registration on.
#[utoipa::path(post, path = "/oauth2/register", tag = "oauth2",
    request_body = ClientRegistrationRequest,
    responses(
        (status = 201, body = ClientRegistration),
        (status = 400, body = OAuthErrorBody, description = "`invalid_client_metadata` (wrong JSON types included) or `invalid_redirect_uri`"),
        (status = 404, body = tessera_proto::ErrorBody, description = "dynamic registration is off"),
        (status = 413, body = tessera_proto::ErrorBody), (status = 415, body = tessera_proto::ErrorBody),
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
    let body = match metadata(body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    if let Err(wait) = state.limits.register(ctx.client_ip) {
        return ApiError::rate_limited(wait).into_response();
    }
    let Drafted {
        client,
        secret,
        registration_token,
    } = match draft(&state, tenant, body, state.clock.now()) {
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
    let registration = view(&state, &client, Some((secret, token)));
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
        Ok(client) => no_store(Json(view(&state, &client, None)).into_response()),
        Err(response) => response,
    }
}

/// Replace a registration's metadata (RFC 7592 §2.2) with its registration access token: the
/// same checks as registering. A client that keeps using a secret keeps its secret; one that
/// starts gets one, in this response only; one that stops (public, or keys) loses it.
#[utoipa::path(put, path = "/oauth2/register/{client_id}", tag = "oauth2",
    params(("client_id" = String, Path)),
    request_body = ClientUpdateRequest,
    responses(
        (status = 200, body = ClientRegistration),
        (status = 400, body = OAuthErrorBody), (status = 401, body = OAuthErrorBody),
        (status = 404, body = tessera_proto::ErrorBody),
        (status = 413, body = tessera_proto::ErrorBody), (status = 415, body = tessera_proto::ErrorBody),
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
    let body = match metadata(body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let (updated, secret) = match replaced(&state, &current, body) {
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
    let mut registration = view(&state, &updated, None);
    if let Some(secret) = secret {
        registration.client_secret_expires_at = Some(0);
        registration.client_secret = Some(secret.secret.expose().to_owned());
    }
    no_store(Json(registration).into_response())
}

/// The client with `body`'s metadata in place of `current`'s, and a new secret when it needs
/// one it did not have (a client that stops using a secret loses it).
fn replaced(
    state: &AppState,
    current: &OAuthClient,
    body: ClientUpdateRequest,
) -> Result<(OAuthClient, Option<GeneratedSecret>), OAuthError> {
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
        secret,
        ..
    } = draft(state, current.tenant_id, body.metadata, current.created_at)?;
    let (secret_hash, new_secret) = match (secret, current.secret_hash) {
        (None, _) => (None, None),
        (Some(_), Some(kept)) => (Some(kept), None),
        (Some(fresh), None) => (Some(fresh.hash), Some(fresh)),
    };
    let client = OAuthClient {
        name: drafted.name,
        auth_method: drafted.auth_method,
        secret_hash,
        keys: drafted.keys,
        redirect_uris: drafted.redirect_uris,
        scopes: drafted.scopes,
        grant_types: drafted.grant_types,
        ..current.clone()
    };
    Ok((client, new_secret))
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
