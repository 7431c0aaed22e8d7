//! The OpenAPI document, assembled from the `#[utoipa::path]` of every handler.

use tessera_proto::ErrorBody;
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
        (name = "oauth-clients", description = "Applications people sign in to through Tessera (OAuth 2 / OpenID Connect clients)"),
        (name = "delegations", description = "People's delegation grants to agents (RFC 8693 token exchange for a person)"),
        (name = "audit", description = "The tamper-evident audit log"),
        (name = "analytics", description = "Token trends, agent activity and usage, from usage counters"),
        (name = "compliance", description = "Controls, a tenant's compliance report, agent cards"),
        (name = "webhooks", description = "Webhook subscriptions, deliveries, dead letters and redelivery"),
        (name = "provisioning", description = "Starting entities' runtimes, stacks of them, and their placements"),
        (name = "auth", description = "Signing people in: the doors, session refresh and sign-out"),
        (name = "connections", description = "Agents' third-party accounts: connecting (OAuth), ingesting, fresh tokens, the provider-call proxy"),
        (name = "workload-identity", description = "Trust policies for outside workload tokens; OIDC tokens and cloud credentials for agents' workloads"),
        (name = "me", description = "The signed-in person: identities, tenants, wallets, sessions"),
        (name = "oauth2", description = "OAuth 2 / OpenID Connect: authorization, token, userinfo, introspection and revocation"),
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
            "session",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A session access token (or the `tessera_session` cookie).",
                    ))
                    .build(),
            ),
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

/// The errors of every call authenticated by an API key (listed once, used by each path).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // only its derived documentation is used
pub enum KeyErrors {
    /// A malformed identifier or parameter.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No valid API key, or the tenant is suspended.
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
    /// The key lacks the scope, or the call needs the operator.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// No such object, or it belongs to another tenant.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// Too many failed authentications from this address.
    #[response(status = 429)]
    RateLimited(ErrorBody),
}

/// The errors of a JSON request body (listed once, used by each path that takes one).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // only its derived documentation is used
pub enum BodyErrors {
    /// The body is larger than `max_body_bytes`.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// The body is not `application/json`.
    #[response(status = 415)]
    UnsupportedMediaType(ErrorBody),
    /// A field is missing, of the wrong type, or unknown.
    #[response(status = 422)]
    InvalidBody(ErrorBody),
}

/// The errors of the sign-in doors and of a person's own endpoints (listed once, used by each).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // only its derived documentation is used
pub enum SessionErrors {
    /// A malformed identifier, field or parameter.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No valid session, or the credentials do not sign anyone in.
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
    /// No such object among the person's own.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// The door belongs to someone else, or the change would lock someone out.
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// Too many attempts; retry after `Retry-After`.
    #[response(status = 429)]
    RateLimited(ErrorBody),
}

/// The errors of the passkey ceremonies (listed once, used by each).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // only its derived documentation is used
pub enum PasskeyErrors {
    /// Passkeys are off: the public URL's host is an IP address and no `passkey_rp_id` is set.
    #[response(status = 503)]
    NotConfigured(ErrorBody),
}
