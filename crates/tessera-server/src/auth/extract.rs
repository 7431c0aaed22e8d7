//! Extractors that authenticate and authorize before a handler runs, so that what a handler
//! requires is visible in its signature: `TenantAccess<AgentsWrite>` can only be built for a
//! caller allowed to write agents in the tenant named by the path.

use std::marker::PhantomData;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use tessera_core::tenant::TenantStatus;
use tessera_core::{Scopes, TenantId, scope};
use tessera_proto::ErrorCode;

use super::{AuthFailure, Principal};
use crate::audit::Fact;
use crate::context::RequestContext;
use crate::dpop::resource::{BindingError, DpopChallenge, DpopError, Scheme, dpop_token};
use crate::error::ApiError;
use crate::people::signed_in::session_token;
use crate::state::AppState;

/// A scope an endpoint requires.
pub trait Requirement: Send + Sync + 'static {
    const SCOPE: &'static str;
}

macro_rules! requirement {
    ($name:ident, $scope:expr) => {
        #[derive(Debug)]
        pub struct $name;
        impl Requirement for $name {
            const SCOPE: &'static str = $scope;
        }
    };
}
requirement!(Read, scope::READ);
requirement!(AgentsWrite, scope::AGENTS_WRITE);
requirement!(ApiKeysWrite, scope::API_KEYS_WRITE);
requirement!(WebhooksWrite, scope::WEBHOOKS_WRITE);
requirement!(MembersWrite, scope::MEMBERS_WRITE);
requirement!(ClientsWrite, scope::CLIENTS_WRITE);

/// The credential presented: `X-API-Key`, else `Authorization: Bearer`.
pub fn presented_credential(headers: &HeaderMap) -> Option<&str> {
    if let Some(key) = headers.get(&tessera_gateway::headers::X_API_KEY) {
        return key.to_str().ok().map(str::trim);
    }
    let authorization = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, value) = authorization.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| value.trim())
}

impl AppState {
    /// Authenticates the API key or the person's session in `headers`, counting failures per
    /// client address.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        ctx: &RequestContext,
    ) -> Result<Principal, Response> {
        if let Err(wait) = self.limits.auth_allowed(ctx.client_ip) {
            return Err(rate_limited(wait));
        }
        if let Some(token) = session_token(headers) {
            let signed_in = self.signed_in(token, ctx).await?;
            return Ok(Principal::User {
                user_id: signed_in.user_id,
                key_id: None,
                scopes: Scopes::one(scope::ALL),
                membership: None,
            });
        }
        let result = match presented_credential(headers) {
            None => Err(AuthFailure::Missing),
            Some(credential) => self.api_keys.authenticate(credential).await,
        };
        let failure = match result {
            Ok(principal) => return Ok(principal),
            Err(failure) => failure,
        };
        metrics::counter!("tessera_auth_failures_total", "reason" => failure.reason()).increment(1);
        let code = match failure {
            AuthFailure::Store(error) => return Err(ApiError::from(error).into_response()),
            // No credential is a question, not an attack: it is neither audited nor counted.
            AuthFailure::Missing => {
                let message = "send an API key as `X-API-Key` or `Authorization: Bearer`, or a \
                               session token";
                return Err(ApiError::new(ErrorCode::Unauthenticated, message).into_response());
            }
            AuthFailure::TenantSuspended => ErrorCode::TenantSuspended,
            AuthFailure::Malformed
            | AuthFailure::Unknown
            | AuthFailure::Expired
            | AuthFailure::Revoked => ErrorCode::Unauthenticated,
        };
        self.limits.auth_failed(ctx.client_ip);
        let fact = Fact::failure(
            None,
            "anonymous".to_owned(),
            "api_key.authenticate",
            "",
            failure.reason(),
        );
        self.audit(ctx, fact).await;
        Err(ApiError::new(code, failure.to_string()).into_response())
    }
}

pub fn rate_limited(wait: std::time::Duration) -> Response {
    ApiError::rate_limited(wait).into_response()
}

/// Any authenticated caller.
#[derive(Debug)]
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let ctx = RequestContext::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|never| match never {});
        state.authenticate(&parts.headers, &ctx).await.map(Caller)
    }
}

/// The operator (scope `admin`).
#[derive(Debug)]
pub struct Operator(pub Principal);

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Caller(principal) = Caller::from_request_parts(parts, state).await?;
        if principal.is_operator() {
            Ok(Operator(principal))
        } else {
            Err(ApiError::new(
                ErrorCode::InsufficientScope,
                "this call needs the operator's key (scope `admin`)",
            )
            .into_response())
        }
    }
}

/// A caller allowed `R` in the tenant named by the `{tenant_id}` path segment. A key of another
/// tenant gets the same 404 as a tenant that does not exist: it learns nothing.
#[derive(Debug)]
pub struct TenantAccess<R> {
    pub tenant_id: TenantId,
    pub principal: Principal,
    _requirement: PhantomData<R>,
}

impl<R> TenantAccess<R> {
    /// The audit fact "this caller did `action` to `target` in this tenant".
    pub fn fact(&self, action: &'static str, target: impl ToString) -> Fact<'static> {
        Fact::success(Some(self.tenant_id), self.principal.actor(), action, target)
    }
}

impl<R: Requirement> FromRequestParts<AppState> for TenantAccess<R> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Caller(principal) = Caller::from_request_parts(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let raw = params
            .iter()
            .find(|(name, _)| *name == "tenant_id")
            .map(|(_, value)| value.to_owned())
            .ok_or_else(|| {
                ApiError::internal("TenantAccess used on a route without {tenant_id}")
                    .into_response()
            })?;
        let tenant_id: TenantId = raw.parse().map_err(|e: tessera_core::IdError| {
            ApiError::new(ErrorCode::InvalidId, e.to_string()).into_response()
        })?;
        let principal = admit::<R>(state, principal, tenant_id, "tenant").await?;
        Ok(Self {
            tenant_id,
            principal,
            _requirement: PhantomData,
        })
    }
}

/// Whether `principal` may do `R` in `tenant_id`; a caller of another tenant gets the 404 of
/// `not_found` (it learns nothing). A person's membership is looked up on every request.
async fn admit<R: Requirement>(
    state: &AppState,
    mut principal: Principal,
    tenant_id: TenantId,
    not_found: &str,
) -> Result<Principal, Response> {
    match &mut principal {
        Principal::TenantKey { tenant_id: own, .. } if *own != tenant_id => {
            return Err(ApiError::not_found(not_found).into_response());
        }
        // A person reaches the tenants they belong to, as their role there allows; the
        // membership is read on every request, so a removed member loses access at once.
        Principal::User {
            user_id,
            membership,
            ..
        } => {
            let member = state
                .store
                .membership(tenant_id, *user_id)
                .await
                .map_err(|e| ApiError::from(e).into_response())?
                .ok_or_else(|| ApiError::not_found(not_found).into_response())?;
            let status = state
                .tenant_status(tenant_id)
                .await
                .map_err(|e| ApiError::from(e).into_response())?;
            if status != Some(TenantStatus::Active) {
                let message = "the tenant is suspended";
                return Err(ApiError::new(ErrorCode::TenantSuspended, message).into_response());
            }
            *membership = Some((tenant_id, member.role));
        }
        _ => {}
    }
    if !principal.may(tenant_id, R::SCOPE) {
        let message = match &principal {
            Principal::User {
                membership: Some((_, role)),
                ..
            } => format!(
                "this call needs scope `{}`, which the {} role does not have",
                R::SCOPE,
                role.as_str()
            ),
            _ => format!("this call needs scope `{}`", R::SCOPE),
        };
        return Err(ApiError::new(ErrorCode::InsufficientScope, message).into_response());
    }
    if principal.is_operator()
        && state
            .tenant_status(tenant_id)
            .await
            .map_err(|e| ApiError::from(e).into_response())?
            .is_none()
    {
        return Err(ApiError::not_found(not_found).into_response());
    }
    Ok(principal)
}

/// A caller allowed `R` in the tenant of the agent named by the `{agent_id}` path segment
/// (routes under `/v1/agents/{agent_id}`). A caller of another tenant gets the same 404 as an
/// agent that does not exist.
#[derive(Debug)]
pub struct AgentAccess<R> {
    pub agent: tessera_core::agent::Agent,
    pub principal: Principal,
    _requirement: PhantomData<R>,
}

impl<R> AgentAccess<R> {
    /// The audit fact "this caller did `action` to `target` in the agent's tenant".
    pub fn fact(&self, action: &'static str, target: impl ToString) -> Fact<'static> {
        Fact::success(
            Some(self.agent.tenant_id),
            self.principal.actor(),
            action,
            target,
        )
    }
}

/// The agent named by the `{agent_id}` path segment, any tenant's.
pub async fn path_agent(
    parts: &mut Parts,
    state: &AppState,
) -> Result<tessera_core::agent::Agent, Response> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(IntoResponse::into_response)?;
    let raw = params
        .iter()
        .find(|(name, _)| *name == "agent_id")
        .map(|(_, value)| value.to_owned())
        .ok_or_else(|| {
            ApiError::internal("an agent extractor used on a route without {agent_id}")
                .into_response()
        })?;
    let agent_id: tessera_core::AgentId = raw.parse().map_err(|e: tessera_core::IdError| {
        ApiError::new(ErrorCode::InvalidId, e.to_string()).into_response()
    })?;
    state
        .store
        .agent_by_client_id(agent_id)
        .await
        .map_err(|e| ApiError::from(e).into_response())?
        .ok_or_else(|| ApiError::not_found("agent").into_response())
}

impl<R: Requirement> FromRequestParts<AppState> for AgentAccess<R> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Caller(principal) = Caller::from_request_parts(parts, state).await?;
        let agent = path_agent(parts, state).await?;
        let principal = admit::<R>(state, principal, agent.tenant_id, "agent").await?;
        Ok(Self {
            agent,
            principal,
            _requirement: PhantomData,
        })
    }
}

/// Who may read an agent's connections (a fresh token, the proxy): the agent itself, with an
/// access token carrying scope `connections:read`, or a caller allowed `read` in its tenant
/// (a tenant key, a member, the operator).
#[derive(Debug)]
pub struct ConnectionReader {
    pub agent: tessera_core::agent::Agent,
    /// The audit actor: `agent:<id>` or the key's or person's.
    pub actor: String,
}

impl ConnectionReader {
    pub fn fact(&self, action: &'static str, target: impl ToString) -> Fact<'static> {
        Fact::success(
            Some(self.agent.tenant_id),
            self.actor.clone(),
            action,
            target,
        )
    }
}

impl FromRequestParts<AppState> for ConnectionReader {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let dpop = dpop_token(&parts.headers);
        let scheme = if dpop.is_some() {
            Scheme::Dpop
        } else {
            Scheme::Bearer
        };
        let bearer = presented_credential(&parts.headers)
            .or(dpop)
            .filter(|c| c.contains('.'))
            .map(str::to_owned);
        if let Some(token) = bearer {
            match state.validate_access_token(&token).await {
                Ok(claims) => {
                    let (method, path) = (parts.method.clone(), parts.uri.path().to_owned());
                    state
                        .check_token_binding(
                            &parts.headers,
                            &method,
                            &path,
                            scheme,
                            &token,
                            &claims,
                        )
                        .await
                        .map_err(|refusal| binding_refused(state, &refusal))?;
                    let agent = path_agent(parts, state).await?;
                    // Another agent's token learns nothing about this one.
                    if claims.sub != agent.id.to_string() {
                        return Err(ApiError::not_found("agent").into_response());
                    }
                    let granted = Scopes::new(claims.scope.split(' ').filter(|s| !s.is_empty()))
                        .unwrap_or_default();
                    if !granted.grants(scope::CONNECTIONS_READ) {
                        let message =
                            format!("this call needs scope `{}`", scope::CONNECTIONS_READ);
                        return Err(
                            ApiError::new(ErrorCode::InsufficientScope, message).into_response()
                        );
                    }
                    crate::vault::ensure_enabled(&agent).map_err(IntoResponse::into_response)?;
                    return Ok(Self {
                        actor: format!("agent:{}", agent.id),
                        agent,
                    });
                }
                // Not an agent's access token: a person's session, tried below.
                Err(crate::tokens::Inactive::Token(tessera_crypto::TokenError::WrongType)) => {}
                Err(inactive) => {
                    state.limits.auth_failed(
                        RequestContext::from_request_parts(parts, state)
                            .await
                            .unwrap_or_else(|never| match never {})
                            .client_ip,
                    );
                    let message = format!("the access token is not active ({})", inactive.reason());
                    let mut response =
                        ApiError::new(ErrorCode::Unauthenticated, message.clone()).into_response();
                    if scheme == Scheme::Dpop {
                        DpopChallenge::new(DpopError::InvalidToken, message)
                            .apply(state, &mut response);
                    }
                    return Err(response);
                }
            }
        }
        let access = AgentAccess::<Read>::from_request_parts(parts, state).await?;
        crate::vault::ensure_enabled(&access.agent).map_err(IntoResponse::into_response)?;
        Ok(Self {
            actor: access.principal.actor(),
            agent: access.agent,
        })
    }
}

/// A token whose DPoP binding does not hold: 401 with its `DPoP` challenge, or 503 when the
/// replay record is unreachable.
fn binding_refused(state: &AppState, refusal: &BindingError) -> Response {
    if refusal.is_store() {
        tracing::error!(error = %refusal, "checking a DPoP proof failed");
        let code = ErrorCode::Unavailable;
        return ApiError::new(code, code.description()).into_response();
    }
    let mut response =
        ApiError::new(ErrorCode::Unauthenticated, refusal.to_string()).into_response();
    refusal.challenge().apply(state, &mut response);
    response
}
