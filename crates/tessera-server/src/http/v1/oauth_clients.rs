//! `/v1/tenants/{tenant_id}/oauth-clients`: the applications a tenant registers so that people
//! sign in to them through Tessera (register, list, read, delete): public, with a secret, or
//! with keys (`private_key_jwt`). Deleting a client ends every
//! grant people gave it, and with them every token it holds.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use tessera_core::authz::{AppGrant, ClientAuthMethod, ClientKeys, OAuthClient, OIDC_SCOPES};
use tessera_core::{OAuthClientId, Scopes, validate};
use tessera_crypto::{ClientKey, GeneratedSecret, SecretKind};
use tessera_proto::oauth_clients as wire;
use url::Url;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::extract::{ClientsWrite, Read, TenantAccess};
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::{ApiJson, path_id};
use crate::http::openapi::{BodyErrors, KeyErrors};
use crate::state::AppState;

pub(crate) const MAX_REDIRECT_URIS: usize = 10;
const MAX_REDIRECT_URI_LEN: usize = 2000;
const MAX_SCOPES: usize = 64;
/// The most keys a client may register inline.
const MAX_CLIENT_KEYS: usize = 10;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_client, list_clients))
        .routes(routes!(get_client, delete_client))
}

pub(crate) fn view(client: &OAuthClient) -> wire::OAuthClient {
    let (jwks, jwks_uri) = keys_view(client);
    wire::OAuthClient {
        client_id: client.id.to_string(),
        tenant_id: client.tenant_id.to_string(),
        name: client.name.clone(),
        redirect_uris: client.redirect_uris.clone(),
        public: client.is_public(),
        token_endpoint_auth_method: client.auth_method.as_str().to_owned(),
        jwks,
        jwks_uri,
        scopes: client.scopes.iter().map(str::to_owned).collect(),
        grant_types: grant_names(&client.grant_types),
        created_at: client.created_at,
    }
}

/// A client's keys as the `jwks` and `jwks_uri` members of its metadata.
pub(crate) fn keys_view(client: &OAuthClient) -> (Option<Value>, Option<String>) {
    match &client.keys {
        None => (None, None),
        Some(ClientKeys::Jwks(set)) => (serde_json::from_str(set).ok(), None),
        Some(ClientKeys::JwksUri(uri)) => (None, Some(uri.clone())),
    }
}

pub(crate) fn grant_names(grants: &[AppGrant]) -> Vec<String> {
    grants.iter().map(|g| g.as_str().to_owned()).collect()
}

/// The keys of a `private_key_jwt` client, checked: an inline JWK Set of 1 to
/// [`MAX_CLIENT_KEYS`] public signing keys with distinct ids (kept normalised, so no private
/// member is ever stored), or a `jwks_uri` Tessera may fetch from; not both (RFC 7591 §2).
pub(crate) fn client_keys(
    state: &AppState,
    jwks: Option<&Value>,
    jwks_uri: Option<&str>,
) -> Result<ClientKeys, String> {
    match (jwks, jwks_uri) {
        (Some(_), Some(_)) => Err("send `jwks` or `jwks_uri`, not both".to_owned()),
        (None, None) => {
            Err("private_key_jwt needs the client's keys: `jwks` or `jwks_uri`".to_owned())
        }
        (None, Some(uri)) => {
            if uri.len() > MAX_REDIRECT_URI_LEN {
                return Err(format!(
                    "jwks_uri: at most {MAX_REDIRECT_URI_LEN} characters"
                ));
            }
            state.client_keys.check(uri)?;
            Ok(ClientKeys::JwksUri(uri.to_owned()))
        }
        (Some(set), None) => {
            let keys = set
                .get("keys")
                .and_then(Value::as_array)
                .filter(|keys| !keys.is_empty() && keys.len() <= MAX_CLIENT_KEYS)
                .ok_or_else(|| {
                    format!(
                        "jwks: a JWK Set, `{{\"keys\": [...]}}`, of 1 to {MAX_CLIENT_KEYS} keys"
                    )
                })?;
            let mut normalised: Vec<ClientKey> = Vec::with_capacity(keys.len());
            for jwk in keys {
                let key = ClientKey::from_jwk(jwk, None).map_err(|e| format!("jwks: {e}"))?;
                if normalised.iter().any(|k| k.kid == key.kid) {
                    return Err(format!("jwks: the key id `{}` is used twice", key.kid));
                }
                normalised.push(key);
            }
            let set = json!({"keys": normalised.into_iter().map(|k| k.jwk).collect::<Vec<_>>()});
            Ok(ClientKeys::Jwks(set.to_string()))
        }
    }
}

/// A redirect URI a client may register (RFC 9700 §4.1, RFC 8252 §7): absolute, no fragment,
/// no credentials; `https`, or `http` to a loopback address, or a private-use scheme with a dot
/// (`com.example.app`) for native apps.
pub(crate) fn redirect_uri(raw: &str) -> Result<String, ApiError> {
    let refused = |why: &str| ApiError::invalid(format!("redirect_uris: `{raw}` {why}"));
    if raw.len() > MAX_REDIRECT_URI_LEN {
        return Err(ApiError::invalid(format!(
            "redirect_uris: at most {MAX_REDIRECT_URI_LEN} characters each"
        )));
    }
    let url = Url::parse(raw).map_err(|_| refused("is not an absolute URI"))?;
    if url.fragment().is_some() {
        return Err(refused("must not have a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused("must not carry credentials"));
    }
    let allowed = match url.scheme() {
        "https" => url.host().is_some(),
        "http" => match url.host() {
            Some(url::Host::Domain(host)) => host == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        // Native apps' private-use schemes are reverse domain names (RFC 8252 §7.1); schemes
        // a browser would run (javascript:, data:) have no dot.
        scheme => scheme.contains('.'),
    };
    if !allowed {
        return Err(refused(
            "must be https, http on a loopback address, or a private-use scheme like \
             `com.example.app:/callback`",
        ));
    }
    // Kept as sent: authorization requests are matched against it character for character.
    Ok(raw.to_owned())
}

pub(crate) fn client_scopes(scopes: Option<Vec<String>>) -> Result<Scopes, ApiError> {
    let scopes = scopes.unwrap_or_else(|| OIDC_SCOPES.map(str::to_owned).to_vec());
    if scopes.is_empty() || scopes.len() > MAX_SCOPES {
        return Err(ApiError::invalid(format!(
            "scopes: between 1 and {MAX_SCOPES}"
        )));
    }
    Scopes::new(scopes).map_err(|e| ApiError::invalid(format!("scopes: {e}")))
}

/// Register an OAuth client; a confidential client's secret is shown only in this response.
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/oauth-clients", tag = "oauth-clients",
    params(("tenant_id" = String, Path)),
    request_body = wire::CreateOAuthClientRequest,
    responses((status = 201, body = wire::CreatedOAuthClient), KeyErrors, BodyErrors),
    security(("api_key" = [])))]
async fn create_client(
    State(state): State<AppState>,
    access: TenantAccess<ClientsWrite>,
    ctx: RequestContext,
    ApiJson(body): ApiJson<wire::CreateOAuthClientRequest>,
) -> Result<(StatusCode, Json<wire::CreatedOAuthClient>), ApiError> {
    if body.redirect_uris.is_empty() || body.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(ApiError::invalid(format!(
            "redirect_uris: between 1 and {MAX_REDIRECT_URIS}"
        )));
    }
    let mut redirect_uris = Vec::with_capacity(body.redirect_uris.len());
    for raw in &body.redirect_uris {
        let uri = redirect_uri(raw)?;
        if !redirect_uris.contains(&uri) {
            redirect_uris.push(uri);
        }
    }
    let with_keys = body.jwks.is_some() || body.jwks_uri.is_some();
    let (auth_method, keys) = match (body.public, with_keys) {
        (true, true) => {
            return Err(ApiError::invalid(
                "a public client has no keys: leave out `jwks` and `jwks_uri`",
            ));
        }
        (true, false) => (ClientAuthMethod::None, None),
        (false, true) => {
            let keys = client_keys(&state, body.jwks.as_ref(), body.jwks_uri.as_deref())
                .map_err(ApiError::invalid)?;
            (ClientAuthMethod::PrivateKeyJwt, Some(keys))
        }
        (false, false) => (ClientAuthMethod::ClientSecretBasic, None),
    };
    let secret = auth_method
        .uses_secret()
        .then(|| GeneratedSecret::new(SecretKind::ClientSecret));
    let client = OAuthClient {
        id: OAuthClientId::generate(),
        tenant_id: access.tenant_id,
        name: validate::name("name", &body.name, 100)?,
        auth_method,
        secret_hash: secret.as_ref().map(|s| s.hash),
        keys,
        redirect_uris,
        scopes: client_scopes(body.scopes)?,
        // A tenant's own applications may start every person's grant.
        grant_types: AppGrant::ALL.to_vec(),
        registration_token_hash: None,
        created_at: state.clock.now(),
    };
    state.store.create_oauth_client(&client).await?;
    state
        .audit(&ctx, access.fact("oauth_client.create", client.id))
        .await;
    let created = wire::CreatedOAuthClient {
        client: view(&client),
        client_secret: secret.map(|s| s.secret.expose().to_owned()),
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// List the tenant's OAuth clients, oldest first.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/oauth-clients", tag = "oauth-clients",
    params(("tenant_id" = String, Path)),
    responses((status = 200, body = wire::OAuthClientList), KeyErrors),
    security(("api_key" = [])))]
async fn list_clients(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
) -> Result<Json<wire::OAuthClientList>, ApiError> {
    let clients = state.store.oauth_clients(access.tenant_id).await?;
    Ok(Json(wire::OAuthClientList {
        clients: clients.iter().map(view).collect(),
    }))
}

/// Read an OAuth client.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/oauth-clients/{client_id}", tag = "oauth-clients",
    params(("tenant_id" = String, Path), ("client_id" = String, Path)),
    responses((status = 200, body = wire::OAuthClient), KeyErrors),
    security(("api_key" = [])))]
async fn get_client(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
    Path(ids): Path<(String, String)>,
) -> Result<Json<wire::OAuthClient>, ApiError> {
    let id: OAuthClientId = path_id(&ids.1)?;
    let client = state
        .store
        .oauth_client(access.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("OAuth client"))?;
    Ok(Json(view(&client)))
}

/// Delete an OAuth client: its grants end, and every token issued to it stops being active.
#[utoipa::path(delete, path = "/v1/tenants/{tenant_id}/oauth-clients/{client_id}", tag = "oauth-clients",
    params(("tenant_id" = String, Path), ("client_id" = String, Path)),
    responses((status = 204), KeyErrors),
    security(("api_key" = [])))]
async fn delete_client(
    State(state): State<AppState>,
    access: TenantAccess<ClientsWrite>,
    ctx: RequestContext,
    Path(ids): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id: OAuthClientId = path_id(&ids.1)?;
    if !state
        .store
        .delete_oauth_client(access.tenant_id, id)
        .await?
    {
        return Err(ApiError::not_found("OAuth client"));
    }
    state
        .audit(&ctx, access.fact("oauth_client.delete", id))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_https_loopback_or_private_use() {
        for good in [
            "https://app.example.com/callback",
            "http://127.0.0.1:8080/cb",
            "http://localhost/cb",
            "http://[::1]:9/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(redirect_uri(good).is_ok(), "{good}");
        }
        for bad in [
            "http://app.example.com/callback",
            "https://app.example.com/cb#frag",
            "https://user:pw@app.example.com/cb",
            "javascript:alert(1)",
            "data:text/html,hi",
            "/relative",
        ] {
            assert!(redirect_uri(bad).is_err(), "{bad}");
        }
    }
}
