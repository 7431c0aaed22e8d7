//! The OpenAPI document, assembled from the `#[utoipa::path]` of every handler.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Tessera", description = "Identity, authentication and credentials for platforms that run AI agents."),
    modifiers(&SecuritySchemes),
    tags(
        (name = "tenants", description = "Tenants: registration and status"),
        (name = "api-keys", description = "API keys of a tenant"),
        (name = "agents", description = "Agents and their client secrets"),
        (name = "oauth2", description = "OAuth 2 token, introspection and revocation"),
        (name = "discovery", description = "Metadata and keys"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "An API key; `Authorization: Bearer <key>` works too.",
            ))),
        );
        components.add_security_scheme(
            "client_secret_basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some("client_id:client_secret"))
                    .build(),
            ),
        );
    }
}
