//! Token exchange (RFC 8693): an agent, authenticated by its client credentials, trades a
//! subject token — another agent's access token (perhaps itself exchanged), or a person's
//! session token under the person's delegation grant to this agent — for an access token that
//! acts for the subject. The new token's `act` nests the chain (the newest actor outermost);
//! its scope is the request's within the subject's, the actor's and the grant's; it never
//! outlives the subject token (nor the grant); chains hold at most `delegation_max_depth`
//! agents. Every exchange, granted or refused, is audited.
//!
//! Error codes: a missing or malformed parameter, an unsupported token type, a bad
//! `actor_token` or a chain too long is `invalid_request` (RFC 8693 §2.2.2); a subject token
//! that is not active, of another tenant, or a person's without a live grant is `invalid_grant`
//! (the credential presented as the grant is no good: RFC 6749 §5.2); widening is
//! `invalid_scope`.

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use tessera_core::agent::Agent;
use tessera_core::{Scopes, UserId};
use tessera_crypto::{ACCESS_TOKEN_TYP, AccessTokenClaims, Actor, TokenError};
use tessera_proto::OAuthErrorCode;
use tessera_proto::oauth2::{TokenExchangeResponse, TokenResponse};

use super::super::form::OAuthForm;
use super::super::token::signing_failed;
use super::super::{audit_client_failure, client_failure};
use super::client_credentials::authenticate;
use crate::audit::Fact;
use crate::context::RequestContext;
use crate::delegation::ACCESS_TOKEN_TYPE;
use crate::error::OAuthError;
use crate::people::sessions::SessionInvalid;
use crate::state::AppState;
use crate::tokens::Inactive;

pub(in super::super) async fn exchange(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    form: &OAuthForm,
) -> Result<TokenExchangeResponse, Response> {
    let agent = match authenticate(state, headers, form).await {
        Ok(agent) => agent,
        Err(error) => {
            audit_client_failure(state, ctx, "token.exchange", &error).await;
            return Err(client_failure(state, ctx, error));
        }
    };
    let actor = format!("agent:{}", agent.id);
    match issue(state, form, &agent).await {
        Ok((response, target)) => {
            let fact = Fact::success(Some(agent.tenant_id), actor, "token.exchange", target);
            state.audit(ctx, fact).await;
            Ok(response)
        }
        Err(error) => {
            let fact = Fact::failure(
                Some(agent.tenant_id),
                actor,
                "token.exchange",
                "",
                error.code().code(),
            );
            state.audit(ctx, fact).await;
            Err(error.into_response())
        }
    }
}

/// What the subject token stands for, and how it bounds the new token.
struct Subject {
    sub: String,
    /// The subject token's scopes; None for a person's session (the grant bounds it instead).
    scopes: Option<Scopes>,
    /// The delegation grant's scopes and id, when a person is (or was, earlier in the chain)
    /// the subject: the id is carried into every token derived from the grant.
    grant_scopes: Option<Scopes>,
    dgid: Option<String>,
    /// The chain so far (newest actor outermost).
    act: Option<Actor>,
    /// How many agents the chain holds so far (the subject agent counting).
    agents: usize,
    /// The new token may not outlive this (unix seconds).
    exp: i64,
}

fn invalid(code: OAuthErrorCode, why: impl Into<String>) -> OAuthError {
    OAuthError::new(code, why)
}

/// Checks the request and signs the token; returns the response and the audit target.
async fn issue(
    state: &AppState,
    form: &OAuthForm,
    agent: &Agent,
) -> Result<(TokenExchangeResponse, String), OAuthError> {
    let subject_token = form.require("subject_token")?;
    match form.require("subject_token_type")? {
        ACCESS_TOKEN_TYPE => {}
        other => {
            return Err(OAuthError::invalid_request(format!(
                "subject_token_type `{other}` is not supported; use `{ACCESS_TOKEN_TYPE}`"
            )));
        }
    }
    if let Some(other) = form
        .get("requested_token_type")
        .filter(|t| *t != ACCESS_TOKEN_TYPE)
    {
        return Err(OAuthError::invalid_request(format!(
            "requested_token_type `{other}` is not supported; Tessera issues `{ACCESS_TOKEN_TYPE}`"
        )));
    }
    check_actor_token(state, form, agent).await?;
    let requested = form
        .get("scope")
        .map(Scopes::parse)
        .transpose()
        .map_err(|e| invalid(OAuthErrorCode::InvalidScope, e.to_string()))?;
    let subject = subject(state, agent, subject_token, requested.as_ref()).await?;

    let max = usize::try_from(state.config.delegation_max_depth).unwrap_or(usize::MAX);
    let agents = subject.agents + 1;
    if agents > max {
        return Err(OAuthError::invalid_request(format!(
            "the delegation chain would hold {agents} agents; at most {max} may be chained \
             (delegation_max_depth)"
        )));
    }
    let mut allowed = agent.scopes.clone();
    for bound in [&subject.scopes, &subject.grant_scopes]
        .into_iter()
        .flatten()
    {
        allowed = allowed.intersection(bound);
    }
    let scopes = match requested {
        Some(requested) if requested.is_subset(&allowed) => requested,
        Some(_) => {
            return Err(invalid(
                OAuthErrorCode::InvalidScope,
                "the requested scope exceeds what the subject token, the acting agent and the \
                 delegation allow",
            ));
        }
        None if allowed.is_empty() => {
            return Err(invalid(
                OAuthErrorCode::InvalidScope,
                "the subject token, the acting agent and the delegation have no scope in common",
            ));
        }
        None => allowed,
    };

    let now = state.clock.now().unix_timestamp();
    let act = Actor {
        sub: agent.id.to_string(),
        act: subject.act.map(Box::new),
    };
    let claims = AccessTokenClaims {
        iss: state.issuer.clone(),
        sub: subject.sub,
        aud: state.audience.clone(),
        exp: (now + state.config.access_token_ttl_secs).min(subject.exp),
        iat: now,
        jti: uuid::Uuid::now_v7().simple().to_string(),
        client_id: agent.id.to_string(),
        scope: scopes.to_string(),
        tenant_id: agent.tenant_id.to_string(),
        gid: None,
        act: Some(act),
        dgid: subject.dgid,
        // Exchanged tokens are bearer tokens (DPoP at the exchange is not supported yet).
        cnf: None,
    };
    let token = state
        .keys
        .ring()
        .sign(ACCESS_TOKEN_TYP, &claims)
        .map_err(signing_failed)?;
    metrics::counter!("tessera_tokens_issued_total", "grant_type" => "token_exchange").increment(1);
    let chain = claims.act.as_ref().map(Actor::chain).unwrap_or_default();
    let target = format!(
        "sub:{} act:{} jti:{}",
        claims.sub,
        chain.join(","),
        claims.jti
    );
    let response = TokenExchangeResponse {
        token: TokenResponse {
            access_token: token,
            token_type: "Bearer".to_owned(),
            expires_in: claims.exp - claims.iat,
            scope: claims.scope,
            refresh_token: None,
            id_token: None,
        },
        issued_token_type: ACCESS_TOKEN_TYPE.to_owned(),
    };
    Ok((response, target))
}

/// An `actor_token`, when sent, must be the authenticated agent's own active token: the actor
/// is the client, and a token proves nothing more about it.
async fn check_actor_token(
    state: &AppState,
    form: &OAuthForm,
    agent: &Agent,
) -> Result<(), OAuthError> {
    let Some(token) = form.get("actor_token") else {
        if form.get("actor_token_type").is_some() {
            return Err(OAuthError::invalid_request(
                "actor_token_type is sent without actor_token",
            ));
        }
        return Ok(());
    };
    match form.get("actor_token_type") {
        Some(ACCESS_TOKEN_TYPE) => {}
        None => {
            return Err(OAuthError::invalid_request(
                "actor_token_type is required with actor_token",
            ));
        }
        Some(other) => {
            return Err(OAuthError::invalid_request(format!(
                "actor_token_type `{other}` is not supported; use `{ACCESS_TOKEN_TYPE}`"
            )));
        }
    }
    match state.validate_access_token(token).await {
        Ok(claims) if claims.act.is_none() && claims.sub == agent.id.to_string() => Ok(()),
        Err(Inactive::Store(error)) => Err(error.into()),
        Ok(_) | Err(_) => Err(OAuthError::invalid_request(
            "actor_token must be an active access token of the authenticated agent itself",
        )),
    }
}

/// The subject token: an agent's access token (or an exchanged one) of the actor's tenant, or
/// a person's session token (tried when the token is not an access token).
async fn subject(
    state: &AppState,
    agent: &Agent,
    token: &str,
    requested: Option<&Scopes>,
) -> Result<Subject, OAuthError> {
    let claims = match state.validate_access_token(token).await {
        Ok(claims) => claims,
        // Not an access token (its `typ` or its claims are not): a person's session token?
        Err(Inactive::Token(TokenError::WrongType | TokenError::Malformed)) => {
            return person(state, agent, token, requested).await;
        }
        Err(Inactive::Store(error)) => return Err(error.into()),
        Err(inactive) => {
            return Err(invalid(
                OAuthErrorCode::InvalidGrant,
                format!("the subject token is not active ({})", inactive.reason()),
            ));
        }
    };
    // A sender-constrained token is only worth its key: whoever presents it here proves no
    // possession of that key, so it is not exchanged for an unconstrained one.
    if claims.cnf.is_some() {
        return Err(invalid(
            OAuthErrorCode::InvalidGrant,
            "a DPoP-bound subject token cannot be exchanged".to_owned(),
        ));
    }
    if claims.tenant_id != agent.tenant_id.to_string() {
        return Err(invalid(
            OAuthErrorCode::InvalidGrant,
            "the subject token belongs to another tenant",
        ));
    }
    if claims.gid.is_some() {
        return Err(invalid(
            OAuthErrorCode::InvalidGrant,
            "a token an application holds for a person cannot be exchanged; exchange the \
             person's session token under a delegation grant",
        ));
    }
    if claims.act.is_none() && claims.sub == agent.id.to_string() {
        return Err(OAuthError::invalid_request(
            "the subject token is the actor's own; use it as it is",
        ));
    }
    let scopes = Scopes::parse(&claims.scope).map_err(|_| {
        invalid(
            OAuthErrorCode::InvalidGrant,
            "the subject token is malformed",
        )
    })?;
    let earlier = claims.act.as_ref().map_or(0, |act| act.chain().len());
    Ok(Subject {
        // A person's chain counts its agents only; an agent subject is one of the chain.
        agents: earlier + usize::from(claims.dgid.is_none()),
        sub: claims.sub,
        scopes: Some(scopes),
        grant_scopes: None,
        dgid: claims.dgid,
        act: claims.act,
        exp: claims.exp,
    })
}

/// A person's session token: the person must have a live delegation grant to this agent (the
/// newest whose scopes cover the request, else the newest) and still belong to the tenant.
async fn person(
    state: &AppState,
    agent: &Agent,
    token: &str,
    requested: Option<&Scopes>,
) -> Result<Subject, OAuthError> {
    let claims = match state.validate_session_token(token).await {
        Ok(claims) => claims,
        Err(SessionInvalid::Store(error)) => return Err(error.into()),
        Err(error) => {
            return Err(invalid(
                OAuthErrorCode::InvalidGrant,
                format!("the subject token is not active: {error}"),
            ));
        }
    };
    let user: UserId = claims.sub.parse().map_err(|_| {
        invalid(
            OAuthErrorCode::InvalidGrant,
            "the subject token is malformed",
        )
    })?;
    let no_grant = || {
        invalid(
            OAuthErrorCode::InvalidGrant,
            "the person has no live delegation grant to this agent",
        )
    };
    let now = state.clock.now();
    let live: Vec<_> = state
        .store
        .delegations(agent.tenant_id, Some(user))
        .await?
        .into_iter()
        .filter(|g| g.agent_id == agent.id && g.is_live(now))
        .collect();
    let grant = live
        .iter()
        .find(|g| requested.is_none_or(|r| r.is_subset(&g.scopes)))
        .or(live.first())
        .ok_or_else(no_grant)?;
    match state.require_member(agent.tenant_id, user).await {
        Ok(()) => {}
        Err(Inactive::Store(error)) => return Err(error.into()),
        Err(_) => return Err(no_grant()),
    }
    Ok(Subject {
        sub: claims.sub,
        scopes: None,
        grant_scopes: Some(grant.scopes.clone()),
        dgid: Some(grant.id.to_string()),
        act: None,
        agents: 0,
        exp: claims.exp.min(grant.expires_at.unix_timestamp()),
    })
}
