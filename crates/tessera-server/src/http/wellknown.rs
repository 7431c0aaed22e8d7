//! `/.well-known/*`: authorization server metadata (RFC 8414), OpenID Connect discovery, JWKS.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tessera_core::authz::OIDC_SCOPES;
use tessera_crypto::Algorithm;
use tessera_proto::oauth2::ServerMetadata;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::oauth2::DEVICE_CODE_GRANT;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(oauth_authorization_server))
        .routes(routes!(openid_configuration))
        .routes(routes!(jwks))
}

fn metadata(state: &AppState) -> ServerMetadata {
    let issuer = &state.issuer;
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let algs: Vec<String> = Algorithm::ALL
        .iter()
        .map(|a| a.as_str().to_owned())
        .collect();
    let client_auth = strings(&[
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ]);
    ServerMetadata {
        issuer: issuer.clone(),
        authorization_endpoint: format!("{issuer}/oauth2/authorize"),
        token_endpoint: format!("{issuer}/oauth2/token"),
        userinfo_endpoint: format!("{issuer}/oauth2/userinfo"),
        registration_endpoint: state
            .config
            .dynamic_registration_tenant
            .map(|_| format!("{issuer}/oauth2/register")),
        jwks_uri: format!("{issuer}/.well-known/jwks.json"),
        introspection_endpoint: format!("{issuer}/oauth2/introspect"),
        revocation_endpoint: format!("{issuer}/oauth2/revoke"),
        grant_types_supported: strings(&[
            "client_credentials",
            "authorization_code",
            "refresh_token",
            crate::delegation::TOKEN_EXCHANGE,
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
            DEVICE_CODE_GRANT,
        ]),
        response_types_supported: strings(&["code"]),
        response_modes_supported: strings(&["query"]),
        code_challenge_methods_supported: strings(&["S256"]),
        authorization_response_iss_parameter_supported: true,
        claims_supported: strings(&[
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "at_hash",
            "azp",
            "act",
            "name",
            "email",
            "email_verified",
        ]),
        prompt_values_supported: strings(&["none", "login", "consent"]),
        // Public applications authenticate with nothing but their client_id (and PKCE); agents
        // and applications registered with keys sign assertions.
        token_endpoint_auth_methods_supported: strings(&[
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none",
        ]),
        // A public application revokes its own tokens by its client_id (RFC 7009 §2.1); it
        // cannot introspect.
        revocation_endpoint_auth_methods_supported: client_auth
            .iter()
            .cloned()
            .chain(strings(&["none"]))
            .collect(),
        introspection_endpoint_auth_methods_supported: client_auth,
        scopes_supported: strings(&OIDC_SCOPES),
        subject_types_supported: strings(&["public"]),
        id_token_signing_alg_values_supported: algs.clone(),
        // Client assertions (agents' and applications') and DPoP proofs use the same
        // algorithms.
        token_endpoint_auth_signing_alg_values_supported: algs.clone(),
        dpop_signing_alg_values_supported: algs,
        service_documentation: format!("{issuer}/openapi.json"),
        device_authorization_endpoint: format!("{issuer}/oauth2/device_authorization"),
        protected_resources: std::iter::once(state.audience.clone())
            .chain(
                state
                    .gateway
                    .routes
                    .resources()
                    .map(|(_, resource)| resource.as_str().to_owned()),
            )
            .collect(),
    }
}

/// Authorization server metadata (RFC 8414).
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "discovery",
    responses((status = 200, body = ServerMetadata)))]
async fn oauth_authorization_server(State(state): State<AppState>) -> Json<ServerMetadata> {
    Json(metadata(&state))
}

/// OpenID Connect discovery.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "discovery",
    responses((status = 200, body = ServerMetadata)))]
async fn openid_configuration(State(state): State<AppState>) -> Json<ServerMetadata> {
    Json(metadata(&state))
}

/// The public signing keys (RFC 7517): the signing key, the next key, and retired keys whose
/// tokens may still be unexpired.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "discovery",
    responses((status = 200, description = "a JWK Set", content_type = "application/jwk-set+json")))]
async fn jwks(State(state): State<AppState>) -> Response {
    let ring = state.keys.ring();
    let mut response = ring.jwks_json().to_owned().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    // Short enough that a key published ahead of rotation reaches relying parties in time.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    response
}
