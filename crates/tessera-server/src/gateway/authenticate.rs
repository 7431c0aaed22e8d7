//! Who is calling through the gateway: an API key (`X-API-Key`, or `Authorization: Bearer`
//! with a key), a person's session, or an access token (`Authorization: Bearer <JWT>`, or
//! `DPoP <JWT>` with a proof when the token is DPoP-bound): an agent's, an exchanged one, or an
//! application's for a person, which passes only while the person is a member. Resolved once per request and kept in its extensions,
//! for the limiter and for the authorization step.

use std::sync::Arc;
use std::time::Duration;

use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use tessera_core::{AgentId, Scopes, TenantId, UserId, scope};
use tessera_crypto::{AccessTokenClaims, SecretKind, TokenError};
use tessera_proto::ErrorCode;

use super::Exchange;
use crate::audit::Fact;
use crate::auth::extract::presented_credential;
use crate::auth::{AuthFailure, Principal};
use crate::context::RequestContext;
use crate::dpop::resource::{DpopChallenge, DpopError, Scheme, dpop_token};
use crate::people::cookies;
use crate::people::sessions::SessionInvalid;
use crate::state::AppState;

/// A verified caller of the gateway.
#[derive(Debug, Clone)]
pub struct GatewayCaller {
    /// The caller's tenant; `None` for the operator, who may reach any entity.
    pub tenant_id: Option<TenantId>,
    pub agent_id: Option<AgentId>,
    /// The person calling (by session or by their API key).
    pub user_id: Option<UserId>,
    pub scopes: Scopes,
    /// The `aud` of the caller's access token (RFC 8707): a token passes only where it is the
    /// destination's resource. None for API keys and sessions.
    pub token_audience: Option<String>,
}

/// The outcome of looking at the request's credential.
#[derive(Debug, Clone)]
pub enum Authentication {
    Caller(Arc<GatewayCaller>),
    /// No credential at all.
    Missing,
    /// A credential that is not good (unknown, expired, revoked, suspended tenant …); under the
    /// DPoP scheme, or a DPoP-bound token's, answered with a `DPoP` challenge.
    Refused {
        code: ErrorCode,
        message: String,
        dpop: Option<DpopChallenge>,
    },
    /// The client address failed too often; refused before any lookup.
    Blocked(Duration),
    /// The store could not be asked.
    Unavailable,
}

/// The request's [`Authentication`], computed on first use (by the limiter or the authorization
/// step, whichever asks first) and kept in the exchange for the other.
///
/// The phases run one after the other, so it is never computed by both at once, and a plain
/// `OnceLock` holds it: tokio's `OnceCell` takes a semaphore on every use, about 1 % of the
/// gateway's instructions per request.
pub async fn authentication<'e>(
    state: &'e AppState,
    exchange: &'e Exchange<'_>,
    head: &Parts,
) -> &'e Authentication {
    if let Some(known) = exchange.authentication.get() {
        return known;
    }
    let outcome = authenticate(
        state,
        &head.headers,
        (&head.method, head.uri.path()),
        exchange.entity.as_deref(),
        exchange.ctx,
    )
    .await;
    exchange.authentication.get_or_init(|| outcome)
}

async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    (method, path): (&Method, &str),
    entity: Option<&str>,
    ctx: &RequestContext,
) -> Authentication {
    if let Err(wait) = state.limits.auth_allowed(ctx.client_ip) {
        return Authentication::Blocked(wait);
    }
    let dpop = dpop_token(headers);
    let scheme = if dpop.is_some() {
        Scheme::Dpop
    } else {
        Scheme::Bearer
    };
    let Some(credential) = presented_credential(headers)
        .or(dpop)
        .or_else(|| cookies::get(headers, cookies::ACCESS_COOKIE))
    else {
        return Authentication::Missing;
    };
    // Set when the binding of a token does not hold: the challenge says how.
    let mut dpop_refusal = None;
    // By its prefix only: the key check decodes and verifies the checksum itself.
    let is_key = credential
        .split_once('_')
        .is_some_and(|(prefix, _)| SecretKind::ALL.iter().any(|kind| kind.prefix() == prefix));
    let refused = if is_key && scheme == Scheme::Dpop {
        (
            ErrorCode::Unauthenticated,
            "invalid_dpop_proof",
            "the DPoP scheme carries an access token, not an API key".to_owned(),
        )
    } else if is_key {
        match state.api_keys.authenticate(credential).await {
            Ok(Principal::User {
                user_id, scopes, ..
            }) => return person(state, user_id, &scopes, entity).await,
            Ok(principal) => return Authentication::Caller(Arc::new(from_key(principal))),
            Err(AuthFailure::Store(_)) => return Authentication::Unavailable,
            Err(failure) => {
                let code = match failure {
                    AuthFailure::TenantSuspended => ErrorCode::TenantSuspended,
                    _ => ErrorCode::Unauthenticated,
                };
                (code, failure.reason(), failure.to_string())
            }
        }
    } else {
        // Boxed, as the failure's audit below: their futures are over a kilobyte each, and
        // inline they would weigh on every request's future, API keys' included.
        match Box::pin(state.validate_any_access_token(credential)).await {
            // An application's token for a person is for the application's own resources; it
            // reaches a tenant's runtime only through a route whose resource it was issued for.
            Ok(claims) if claims.is_application_token() && claims.aud == state.audience => (
                ErrorCode::Unauthenticated,
                "application_token",
                "a token an application holds for a person passes the gateway only on the route \
                 whose resource it was issued for"
                    .to_owned(),
            ),
            Ok(claims) => 'caller: {
                if let Err(refusal) = state
                    .check_token_binding(headers, method, path, scheme, credential, &claims)
                    .await
                {
                    if refusal.is_store() {
                        return Authentication::Unavailable;
                    }
                    let dpop = refusal.challenge();
                    // The usual first answer to a client without a nonce: not a failure.
                    if dpop.error == DpopError::UseDpopNonce {
                        return Authentication::Refused {
                            code: ErrorCode::Unauthenticated,
                            message: refusal.to_string(),
                            dpop: Some(dpop),
                        };
                    }
                    dpop_refusal = Some(dpop);
                    break 'caller (
                        ErrorCode::Unauthenticated,
                        "invalid_dpop_proof",
                        refusal.to_string(),
                    );
                }
                match token_caller(&claims) {
                    Some(caller) if claims.is_application_token() => {
                        return application(state, caller).await;
                    }
                    Some(caller) => return Authentication::Caller(Arc::new(caller)),
                    None => (
                        ErrorCode::Unauthenticated,
                        "malformed",
                        "the token's claims are not Tessera's".to_owned(),
                    ),
                }
            }
            Err(crate::tokens::Inactive::Store(_)) => return Authentication::Unavailable,
            // Not an agent's token (its claims or its `typ` are not): a person's session
            // token, perhaps (never DPoP-bound, so only as a bearer token).
            Err(
                inactive @ crate::tokens::Inactive::Token(
                    TokenError::Malformed | TokenError::WrongType,
                ),
            ) if scheme == Scheme::Bearer => {
                match state.validate_session_token(credential).await {
                    Ok(claims) => match claims.sub.parse() {
                        Ok(user) => {
                            return person(state, user, &Scopes::one(scope::ALL), entity).await;
                        }
                        Err(_) => (
                            ErrorCode::Unauthenticated,
                            "malformed",
                            "the token's claims are not Tessera's".to_owned(),
                        ),
                    },
                    Err(SessionInvalid::Store(_)) => return Authentication::Unavailable,
                    Err(SessionInvalid::Ended) => (
                        ErrorCode::Unauthenticated,
                        "session_ended",
                        SessionInvalid::Ended.to_string(),
                    ),
                    // Neither kind of token: say what was wrong with it as an access token.
                    Err(SessionInvalid::Token(_)) => (
                        ErrorCode::Unauthenticated,
                        inactive.reason(),
                        format!("the access token is not active: {inactive}"),
                    ),
                }
            }
            Err(inactive) => (
                ErrorCode::Unauthenticated,
                inactive.reason(),
                format!("the access token is not active: {inactive}"),
            ),
        }
    };
    let (code, reason, message) = refused;
    metrics::counter!("tessera_auth_failures_total", "reason" => reason).increment(1);
    state.limits.auth_failed(ctx.client_ip);
    let fact = Fact::failure(
        None,
        "anonymous".to_owned(),
        "gateway.authenticate",
        "",
        reason,
    );
    Box::pin(state.audit(ctx, fact)).await;
    // A 401 under the DPoP scheme challenges with it; a 403 (a suspended tenant) is no
    // challenge.
    let dpop = dpop_refusal.or_else(|| {
        (scheme == Scheme::Dpop && code.status() == 401)
            .then(|| DpopChallenge::new(DpopError::InvalidToken, &message))
    });
    Authentication::Refused {
        code,
        message,
        dpop,
    }
}

/// The caller an access token speaks for: the agent it was issued to, or the person an
/// application acts for (a resource-bound grant token).
fn token_caller(claims: &AccessTokenClaims) -> Option<GatewayCaller> {
    // An application's token for a person is the person's; an exchanged token is presented by
    // its newest actor (`client_id`), acting for its subject: an agent, or a person who
    // delegated (`dgid`).
    let application = claims.is_application_token();
    let agent = if application {
        None
    } else if claims.act.is_some() {
        Some(claims.client_id.parse().ok()?)
    } else {
        Some(claims.sub.parse().ok()?)
    };
    let person = application || claims.dgid.is_some();
    Some(GatewayCaller {
        tenant_id: Some(claims.tenant_id.parse().ok()?),
        agent_id: agent,
        user_id: if person {
            Some(claims.sub.parse().ok()?)
        } else {
            None
        },
        scopes: Scopes::parse(&claims.scope).ok()?,
        token_audience: Some(claims.aud.clone()),
    })
}

/// An application's token for a person passes only while the person belongs to the token's
/// tenant (the application's), read on every request as for a session: removing the member
/// refuses the next request, even with a live token. Its scopes stay the application's, as the
/// person consented to them (the role's scopes are the tenant API's, not the application's).
async fn application(state: &AppState, caller: GatewayCaller) -> Authentication {
    let (Some(tenant), Some(user)) = (caller.tenant_id, caller.user_id) else {
        // token_caller names both for an application's token.
        return Authentication::Refused {
            code: ErrorCode::Unauthenticated,
            message: "the token's claims are not Tessera's".to_owned(),
            dpop: None,
        };
    };
    match super::people::membership(state, tenant, user).await {
        Ok(_) => Authentication::Caller(Arc::new(caller)),
        Err(refusal) => refusal,
    }
}

fn from_key(principal: Principal) -> GatewayCaller {
    match principal {
        Principal::Operator { .. } | Principal::User { .. } => GatewayCaller {
            tenant_id: None,
            agent_id: None,
            user_id: None,
            scopes: Scopes::one(tessera_core::scope::ADMIN),
            token_audience: None,
        },
        Principal::TenantKey {
            tenant_id, scopes, ..
        } => GatewayCaller {
            tenant_id: Some(tenant_id),
            agent_id: None,
            user_id: None,
            scopes,
            token_audience: None,
        },
    }
}

/// A person's caller, or why they may not pass. A valid credential for a tenant the person does
/// not belong to is not a failed authentication: it is neither audited nor counted.
async fn person(
    state: &AppState,
    user: UserId,
    scopes: &Scopes,
    entity: Option<&str>,
) -> Authentication {
    match super::people::caller(state, user, scopes, entity).await {
        Ok(caller) => Authentication::Caller(Arc::new(caller)),
        Err(refusal) => refusal,
    }
}
