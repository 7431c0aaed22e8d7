//! What tools call with an agent's identity: `/v1/agents/{agent_id}/connections/{provider}/token`
//! (a fresh access token, refreshed first when within 60 s of expiry) and `…/proxy` (a call to
//! the provider's API, refreshed and retried once on a 401, so tools never hold tokens).

use axum::Json;
use axum::extract::{Path, State};
use tessera_proto::ErrorBody;
use tessera_proto::connections as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::integrations::target;
use crate::audit::Fact;
use crate::auth::extract::ConnectionReader;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::ApiJson;
use crate::http::openapi::{BodyErrors, KeyErrors};
use crate::state::AppState;
use crate::vault::refresh::Fresh;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(token))
        .routes(routes!(proxy))
}

fn scope_kind(kind: tessera_core::connection::ScopeKind) -> wire::ScopeKind {
    match kind {
        tessera_core::connection::ScopeKind::Tenant => wire::ScopeKind::Tenant,
        tessera_core::connection::ScopeKind::Role => wire::ScopeKind::Role,
        tessera_core::connection::ScopeKind::Agent => wire::ScopeKind::Agent,
    }
}

/// Records the call, and a refresh when one happened (or failed) on the way.
async fn record(
    state: &AppState,
    ctx: &RequestContext,
    reader: &ConnectionReader,
    action: &'static str,
    provider: &str,
    outcome: Result<(&Fresh, bool), &ApiError>,
) {
    let subject = format!("agent:{}/{provider}", reader.agent.id);
    match outcome {
        Ok((fresh, refreshed)) => {
            if refreshed {
                state
                    .audit(ctx, reader.fact("connection.refresh", target(&fresh.key)))
                    .await;
            }
            state
                .audit(ctx, reader.fact(action, target(&fresh.key)))
                .await;
        }
        Err(error) => {
            let code = error.code();
            if matches!(
                code,
                tessera_proto::ErrorCode::ConnectionNeedsReauth
                    | tessera_proto::ErrorCode::OAuthProviderFailed
            ) {
                let fact = Fact::failure(
                    Some(reader.agent.tenant_id),
                    reader.actor.clone(),
                    "connection.refresh",
                    subject.clone(),
                    code.code(),
                );
                state.audit(ctx, fact).await;
            }
            let fact = Fact::failure(
                Some(reader.agent.tenant_id),
                reader.actor.clone(),
                action,
                subject,
                code.code(),
            );
            state.audit(ctx, fact).await;
        }
    }
}

/// A fresh access token of the agent's connection at `provider` (the agent's own, else one of
/// its roles', else the tenant's). 409 with `start_url` when someone must connect again.
#[utoipa::path(get, path = "/v1/agents/{agent_id}/connections/{provider}/token", tag = "connections",
    params(("agent_id" = String, Path), ("provider" = String, Path)),
    responses((status = 200, body = wire::ConnectionToken), KeyErrors,
        (status = 409, body = ErrorBody, description = "`connection_needs_reauth` or `connection_expired`, with `start_url`"),
        (status = 502, body = ErrorBody, description = "The provider failed the refresh"),
        (status = 503, body = ErrorBody, description = "`<provider>_oauth_not_configured` (`setup_required`)")),
    security(("api_key" = []), ("session" = [])))]
async fn token(
    State(state): State<AppState>,
    reader: ConnectionReader,
    ctx: RequestContext,
    Path(ids): Path<(String, String)>,
) -> Result<Json<wire::ConnectionToken>, ApiError> {
    let provider = ids.1;
    crate::people::oauth::check_name(&provider)
        .map_err(|why| ApiError::invalid(format!("provider: {why}")))?;
    let result = state.fresh_token(&reader.agent, &provider, None).await;
    record(
        &state,
        &ctx,
        &reader,
        "connection.read",
        &provider,
        result.as_ref().map(|f| (f, f.refreshed)),
    )
    .await;
    let fresh = result?;
    Ok(Json(wire::ConnectionToken {
        access_token: fresh.access_token.expose().to_owned(),
        token_type: "Bearer".to_owned(),
        expires_at: fresh.expires_at,
        scope_kind: scope_kind(fresh.key.scope_kind),
        scope_id: fresh.key.scope_id,
    }))
}

/// Call the provider's API with the agent's token: only under the provider's API base URLs;
/// on a 401 the token is refreshed once and the call repeated.
#[utoipa::path(post, path = "/v1/agents/{agent_id}/connections/{provider}/proxy", tag = "connections",
    params(("agent_id" = String, Path), ("provider" = String, Path)),
    request_body = wire::ProxyRequest,
    responses((status = 200, body = wire::ProxyResponse), KeyErrors, BodyErrors,
        (status = 409, body = ErrorBody, description = "`connection_needs_reauth` or `connection_expired`, with `start_url`"),
        (status = 502, body = ErrorBody, description = "The provider could not be reached"),
        (status = 503, body = ErrorBody, description = "`<provider>_oauth_not_configured` (`setup_required`)")),
    security(("api_key" = []), ("session" = [])))]
async fn proxy(
    State(state): State<AppState>,
    reader: ConnectionReader,
    ctx: RequestContext,
    Path(ids): Path<(String, String)>,
    ApiJson(body): ApiJson<wire::ProxyRequest>,
) -> Result<Json<wire::ProxyResponse>, ApiError> {
    let provider = ids.1;
    let result = state.proxy_call(&reader.agent, &provider, &body).await;
    match &result {
        Ok((_, fresh, refreshed)) => {
            record(
                &state,
                &ctx,
                &reader,
                "connection.proxy",
                &provider,
                Ok((fresh, *refreshed)),
            )
            .await;
        }
        Err(error) => {
            record(
                &state,
                &ctx,
                &reader,
                "connection.proxy",
                &provider,
                Err(error),
            )
            .await;
        }
    }
    result.map(|(response, _, _)| Json(response))
}
