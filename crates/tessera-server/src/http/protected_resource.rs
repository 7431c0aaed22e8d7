//! OAuth 2.0 Protected Resource Metadata (RFC 9728) for the resources Tessera guards: its own API
//! at `/.well-known/oauth-protected-resource`, and each gateway route that declares a resource at
//! `/.well-known/oauth-protected-resource/<prefix>`. An MCP client finds the document from the
//! `resource_metadata` of a 401's `WWW-Authenticate`, which every 401 of the API carries (the
//! gateway's name their route's document).

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tessera_core::scope::TENANT_KEY_SCOPES;
use tessera_proto::ErrorBody;
use tessera_proto::oauth2::ProtectedResourceMetadata;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::resources::METADATA_PATH;
use crate::state::AppState;

/// The route documents' path has a wildcard, which `routes!` cannot mount: it is documented
/// here and mounted by hand.
#[derive(OpenApi)]
#[openapi(paths(route_metadata))]
struct RouteMetadataDoc;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(RouteMetadataDoc::openapi())
        .routes(routes!(api_metadata))
        .route(&format!("{METADATA_PATH}/{{*route}}"), get(route_metadata))
}

fn document(state: &AppState, resource: String, scopes: Vec<String>, name: String) -> Response {
    let mut response = Json(ProtectedResourceMetadata {
        resource,
        authorization_servers: vec![state.issuer.clone()],
        scopes_supported: scopes,
        bearer_methods_supported: vec!["header".to_owned()],
        dpop_signing_alg_values_supported: crate::dpop::proof_algs().map(str::to_owned).to_vec(),
        resource_name: name,
        resource_documentation: Some(format!("{}/openapi.json", state.issuer)),
    })
    .into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// Tessera's API as a protected resource (RFC 9728).
#[utoipa::path(get, path = "/.well-known/oauth-protected-resource", tag = "discovery",
    responses((status = 200, body = ProtectedResourceMetadata)))]
async fn api_metadata(State(state): State<AppState>) -> Response {
    let scopes = TENANT_KEY_SCOPES.iter().map(|s| (*s).to_owned()).collect();
    document(
        &state,
        state.audience.clone(),
        scopes,
        "Tessera API".to_owned(),
    )
}

/// A gateway route that declares a resource (RFC 8707), as a protected resource (RFC 9728).
#[utoipa::path(get, path = "/.well-known/oauth-protected-resource/{route}", tag = "discovery",
    params(("route" = String, Path, description = "The route's prefix without its leading slash, e.g. `api/mcp`")),
    responses(
        (status = 200, body = ProtectedResourceMetadata),
        (status = 404, body = ErrorBody, description = "no route with a resource has this prefix"),
    ))]
async fn route_metadata(State(state): State<AppState>, Path(route): Path<String>) -> Response {
    let prefix = format!("/{route}");
    let found = state
        .gateway
        .routes
        .resources()
        .find(|(declared, _)| declared.prefix == prefix);
    match found {
        Some((declared, resource)) => document(
            &state,
            resource.as_str().to_owned(),
            declared.scopes.clone(),
            format!("Tessera gateway route {prefix}"),
        ),
        None => ApiError::not_found("gateway route with a resource at this prefix").into_response(),
    }
}

/// Adds the API's metadata to the bearer challenge of a 401 that names none yet. Not on `/api`:
/// the gateway's own 401s name their route's document, and an upstream's are its own.
pub async fn challenge_layer(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let gateway = request.uri().path().starts_with("/api");
    let mut response = next.run(request).await;
    if gateway || response.status() != StatusCode::UNAUTHORIZED {
        return response;
    }
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.starts_with("Bearer") && !v.contains("resource_metadata="))
        .map(|v| {
            format!(
                "{v}, resource_metadata=\"{}\"",
                state.resource_metadata_url(None)
            )
        });
    if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}
