//! The OAuth 2 endpoints: `/oauth2/authorize` (authorization code with PKCE, and the consent
//! screen), `/oauth2/token` (one file per grant under `grants/`), `/oauth2/userinfo` (OpenID
//! Connect), `/oauth2/device_authorization` (RFC 8628), `/oauth2/register` (dynamic client
//! registration, RFC 7591/7592),
//! `/oauth2/introspect` (RFC 7662) and `/oauth2/revoke` (RFC 7009).

mod authorize;
mod client_assertion;
mod client_auth;
mod device;
mod device_page;
mod form;
mod grants;
mod introspect;
mod register;
mod revoke;
mod token;
mod userinfo;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tessera_core::agent::Agent;
use tessera_core::authz::Grant;
use tessera_core::{AgentId, OAuthClientId, TenantId};
use tessera_crypto::AccessTokenClaims;
use tessera_proto::OAuthErrorCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::client_auth::Presented;
use self::form::OAuthForm;
use crate::audit::Fact;
use crate::auth::Principal;
use crate::context::RequestContext;
use crate::error::OAuthError;
use crate::state::AppState;

/// The grant type of a device's polls (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT: &str = tessera_core::authz::AppGrant::DeviceCode.as_str();

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(authorize::authorize))
        // The consent screen's form: a browser page, not part of the API document.
        .route("/oauth2/consent", axum::routing::post(authorize::consent))
        // The device flow's console pages (RFC 8628 §3.3): browser pages too.
        .route(
            "/console/device",
            axum::routing::get(device_page::show).post(device_page::enter),
        )
        .route(
            "/console/device/decide",
            axum::routing::post(device_page::decide),
        )
        .routes(routes!(token::token))
        .routes(routes!(device::device_authorization))
        .routes(routes!(register::register))
        .routes(routes!(
            register::read_registration,
            register::update_registration,
            register::delete_registration
        ))
        .routes(routes!(userinfo::userinfo_get, userinfo::userinfo_post))
        .routes(routes!(introspect::introspect))
        .routes(routes!(revoke::revoke))
}

/// Who may introspect or revoke. A client revokes only what was issued to it (RFC 7009
/// §2.1); a tenant's API key, everything of its tenant.
#[derive(Debug)]
enum TokenCaller {
    /// A tenant's API key: every token and grant of the tenant.
    TenantKey {
        tenant: TenantId,
        actor: String,
    },
    /// An agent (client authentication): it introspects its tenant's tokens (it may be the
    /// resource they are presented to) and revokes its own.
    Agent {
        agent: AgentId,
        tenant: TenantId,
        actor: String,
    },
    /// An application: the tokens and grants issued to it.
    Application {
        client: OAuthClientId,
        tenant: TenantId,
        actor: String,
        /// Named by its `client_id` alone: it proved nothing.
        public: bool,
    },
    Operator {
        actor: String,
    },
}

impl TokenCaller {
    /// Whether the caller may learn about an access token.
    fn may_see(&self, claims: &AccessTokenClaims) -> bool {
        match self {
            Self::Operator { .. } => true,
            Self::TenantKey { tenant, .. } | Self::Agent { tenant, .. } => {
                tenant.to_string() == claims.tenant_id
            }
            Self::Application { client, tenant, .. } => {
                tenant.to_string() == claims.tenant_id
                    && claims.is_application_token()
                    && client.to_string() == claims.client_id
            }
        }
    }

    /// Whether the caller may revoke an access token.
    fn may_revoke(&self, claims: &AccessTokenClaims) -> bool {
        match self {
            Self::Agent { agent, tenant, .. } => {
                tenant.to_string() == claims.tenant_id && agent.to_string() == claims.client_id
            }
            _ => self.may_see(claims),
        }
    }

    /// Whether the caller may revoke a grant (by its refresh token).
    fn may_revoke_grant(&self, grant: &Grant) -> bool {
        match self {
            Self::Operator { .. } => true,
            Self::TenantKey { tenant, .. } => *tenant == grant.tenant_id,
            Self::Application { client, .. } => *client == grant.client_id,
            Self::Agent { .. } => false,
        }
    }

    fn actor(&self) -> &str {
        match self {
            Self::Operator { actor }
            | Self::TenantKey { actor, .. }
            | Self::Agent { actor, .. }
            | Self::Application { actor, .. } => actor,
        }
    }

    fn agent(agent: &Agent) -> Self {
        Self::Agent {
            agent: agent.id,
            tenant: agent.tenant_id,
            actor: format!("agent:{}", agent.id),
        }
    }

    async fn authenticate(
        state: &AppState,
        headers: &HeaderMap,
        form: &OAuthForm,
        ctx: &RequestContext,
    ) -> Result<Self, Response> {
        guard_failures(state, ctx)?;
        if client_auth::names_application(headers, form) {
            let client = client_auth::authenticate_app(state, headers, form)
                .await
                .map_err(|e| client_failure(state, ctx, e))?;
            return Ok(Self::Application {
                client: client.id,
                tenant: client.tenant_id,
                actor: grants::actor(&client),
                public: client.is_public(),
            });
        }
        if client_assertion::presented(form) {
            let agent = client_assertion::authenticate(state, headers, form)
                .await
                .map_err(|e| client_failure(state, ctx, e))?;
            return Ok(Self::agent(&agent));
        }
        if let Some(presented) =
            Presented::read(headers, form).map_err(IntoResponse::into_response)?
        {
            let agent = presented
                .authenticate(state)
                .await
                .map_err(|e| client_failure(state, ctx, e))?;
            return Ok(Self::agent(&agent));
        }
        match state.authenticate(headers, ctx).await? {
            principal @ Principal::Operator { .. } => Ok(Self::Operator {
                actor: principal.actor(),
            }),
            principal @ Principal::TenantKey { tenant_id, .. } => Ok(Self::TenantKey {
                tenant: tenant_id,
                actor: principal.actor(),
            }),
            // A person is not bound to one tenant; introspection and revocation of agents'
            // tokens take the tenant's key or an agent's client credentials.
            Principal::User { .. } => Err(OAuthError::new(
                OAuthErrorCode::InvalidClient,
                "use a tenant's API key or an agent's client credentials",
            )
            .into_response()),
        }
    }
}

/// Refuses a client address that has failed authentication too often.
fn guard_failures(state: &AppState, ctx: &RequestContext) -> Result<(), Response> {
    state.limits.auth_allowed(ctx.client_ip).map_err(|wait| {
        let mut response = OAuthError::new(
            OAuthErrorCode::SlowDown,
            "too many failed authentications; retry later",
        )
        .into_response();
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(wait.as_secs().max(1)),
        );
        response
    })
}

/// Counts a failed client authentication and turns it into the response.
fn client_failure(state: &AppState, ctx: &RequestContext, error: OAuthError) -> Response {
    if error.code() == OAuthErrorCode::InvalidClient {
        state.limits.auth_failed(ctx.client_ip);
        metrics::counter!("tessera_auth_failures_total", "reason" => "invalid_client").increment(1);
    }
    error.into_response()
}

/// Audit record of a failed client authentication (the client id is not trusted, so no tenant).
async fn audit_client_failure(
    state: &AppState,
    ctx: &RequestContext,
    action: &'static str,
    error: &OAuthError,
) {
    state
        .audit(
            ctx,
            Fact::failure(
                None,
                "anonymous".to_owned(),
                action,
                "",
                error.code().code(),
            ),
        )
        .await;
}
