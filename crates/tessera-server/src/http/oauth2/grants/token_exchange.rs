//! Token exchange (RFC 8693): an agent, authenticated by its client credentials, trades a
//! subject token — another agent's access token (perhaps itself exchanged), or a person's
//! session token or a token an application holds for the person, under the person's
//! delegation grant to this agent — for an access token that acts for the subject. The new
//! token's `act` nests the chain (the newest actor outermost); its scope is the request's
//! within the subject's, the actor's and the grant's; it never outlives the subject token (nor
//! the grant); chains hold at most `delegation_max_depth` agents. Its `aud` is the `resource`
//! (or `audience`) asked for, within what the subject token allows (see [`audience`]). With a
//! DPoP proof it is bound to the proof's key, like every token of `/oauth2/token`. Every
//! exchange, granted or refused, is audited.
//!
//! Error codes: a missing or malformed parameter, an unsupported token type, a bad
//! `actor_token` or a chain too long is `invalid_request` (RFC 8693 §2.2.2); a subject token
//! that is not active, of another tenant, or a person's without a live grant is `invalid_grant`
//! (the credential presented as the grant is no good: RFC 6749 §5.2); widening is
//! `invalid_scope`; a resource Tessera does not know, or one the subject token does not allow,
//! is `invalid_target` (RFC 8707 §2).

use axum::http::HeaderMap;
use axum::response::Response;
use tessera_core::agent::Agent;
use tessera_core::delegation::DelegationGrant;
use tessera_core::{Scopes, UserId};
use tessera_crypto::{ACCESS_TOKEN_TYP, AccessTokenClaims, Actor, Confirmation, TokenError};
use tessera_proto::OAuthErrorCode;
use tessera_proto::oauth2::{TokenExchangeResponse, TokenResponse};

use super::super::form::OAuthForm;
use super::super::token::signing_failed;
use super::{agent_client, audited};
use crate::context::RequestContext;
use crate::delegation::ACCESS_TOKEN_TYPE;
use crate::dpop::token_type;
use crate::error::OAuthError;
use crate::people::sessions::SessionInvalid;
use crate::state::AppState;
use crate::tokens::Inactive;

pub(in super::super) async fn exchange(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    form: &OAuthForm,
    cnf: Option<Confirmation>,
) -> Result<TokenExchangeResponse, Response> {
    let agent = agent_client(state, ctx, headers, form, "token.exchange").await?;
    let outcome = issue(state, form, &agent, cnf).await;
    audited(state, ctx, &agent, "token.exchange", outcome).await
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
    /// The application's grant, when the subject token is (or derives from) a token an
    /// application holds for the person: carried on, so revoking it ends the derived tokens.
    gid: Option<String>,
    /// The chain so far (newest actor outermost).
    act: Option<Actor>,
    /// How many agents the chain holds so far (the subject agent counting).
    agents: usize,
    /// The new token may not outlive this (unix seconds).
    exp: i64,
    /// The resource (RFC 8707) the subject token is bound to, when it is not Tessera's API:
    /// the only one it may be exchanged for.
    bound_to: Option<String>,
}

fn invalid(code: OAuthErrorCode, why: impl Into<String>) -> OAuthError {
    OAuthError::new(code, why)
}

/// Checks the request and signs the token; returns the response and the audit target.
async fn issue(
    state: &AppState,
    form: &OAuthForm,
    agent: &Agent,
    cnf: Option<Confirmation>,
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
    let target = requested_target(state, form)?;
    let subject = subject(state, agent, subject_token, requested.as_ref()).await?;
    let aud = audience(state, &subject, target)?;

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
        aud,
        exp: (now + state.config.access_token_ttl_secs).min(subject.exp),
        iat: now,
        jti: uuid::Uuid::now_v7().simple().to_string(),
        client_id: agent.id.to_string(),
        scope: scopes.to_string(),
        tenant_id: agent.tenant_id.to_string(),
        gid: subject.gid,
        act: Some(act),
        dgid: subject.dgid,
        // Bound to the actor's proof key when the exchange carried a proof (RFC 9449), whatever
        // the subject token was: a bound subject is refused above.
        cnf,
    };
    let token = state
        .keys
        .ring()
        .sign(ACCESS_TOKEN_TYP, &claims)
        .map_err(signing_failed)?;
    metrics::counter!("tessera_tokens_issued_total", "grant_type" => "token_exchange").increment(1);
    let chain = claims.act.as_ref().map(Actor::chain).unwrap_or_default();
    let target = format!(
        "sub:{} act:{} aud:{} jti:{}",
        claims.sub,
        chain.join(","),
        claims.aud,
        claims.jti
    );
    let response = TokenExchangeResponse {
        token: TokenResponse {
            access_token: token,
            token_type: token_type(claims.cnf.as_ref()).to_owned(),
            expires_in: claims.exp - claims.iat,
            scope: claims.scope,
            refresh_token: None,
            id_token: None,
        },
        issued_token_type: ACCESS_TOKEN_TYPE.to_owned(),
    };
    Ok((response, target))
}

/// The resource the request names (RFC 8693 §2.1): `resource`, an absolute URI, and
/// `audience`, a logical name. Tessera's only names for the services it issues tokens for are
/// their resource identifiers, so `audience` names one of them too; sent together, they must
/// name the same one. Either naming a resource Tessera does not know is `invalid_target`.
fn requested_target(state: &AppState, form: &OAuthForm) -> Result<Option<String>, OAuthError> {
    let resource = state.requested_audience(form.get("resource"))?;
    let audience = state
        .requested_audience(form.get("audience"))
        .map_err(|_| {
            invalid(
                OAuthErrorCode::InvalidTarget,
                "audience must be the identifier of a resource Tessera issues tokens for",
            )
        })?;
    match (resource, audience) {
        (Some(resource), Some(audience)) if resource != audience => Err(invalid(
            OAuthErrorCode::InvalidTarget,
            "resource and audience name different resources; name one",
        )),
        (resource, audience) => Ok(resource.or(audience)),
    }
}

/// The new token's `aud`: the requested resource, else the subject token's. A subject token
/// bound to a resource (RFC 8707) other than Tessera's API was issued for that service alone
/// and is exchanged for it only — an exchange never carries a subject to a service the subject
/// token was not for. A token for Tessera's API (and a person's session) is Tessera's own, and
/// the grant that authorizes the exchange bounds it: it may be exchanged for any resource
/// Tessera knows.
fn audience(
    state: &AppState,
    subject: &Subject,
    target: Option<String>,
) -> Result<String, OAuthError> {
    match (&subject.bound_to, target) {
        (Some(bound), Some(target)) if *bound != target => Err(invalid(
            OAuthErrorCode::InvalidTarget,
            format!("the subject token is for `{bound}` and is exchanged for that resource only"),
        )),
        (Some(bound), _) => Ok(bound.clone()),
        (None, target) => Ok(target.unwrap_or_else(|| state.audience.clone())),
    }
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

/// The subject token: an agent's access token (or an exchanged one) of the actor's tenant, a
/// token an application of that tenant holds for a person, or a person's session token (tried
/// when the token is not an access token). Access tokens for any resource Tessera knows count.
async fn subject(
    state: &AppState,
    agent: &Agent,
    token: &str,
    requested: Option<&Scopes>,
) -> Result<Subject, OAuthError> {
    let claims = match state.validate_any_access_token(token).await {
        Ok(claims) => claims,
        // Not an access token (its `typ` or its claims are not): a person's session token?
        Err(Inactive::Token(TokenError::WrongType | TokenError::Malformed)) => {
            return session(state, agent, token, requested).await;
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
    let bound_to = (claims.aud != state.audience).then(|| claims.aud.clone());
    if claims.is_application_token() {
        return application(state, agent, claims, scopes, bound_to, requested).await;
    }
    let earlier = claims.act.as_ref().map_or(0, |act| act.chain().len());
    Ok(Subject {
        // A person's chain counts its agents only; an agent subject is one of the chain.
        agents: earlier + usize::from(claims.dgid.is_none()),
        sub: claims.sub,
        scopes: Some(scopes),
        grant_scopes: None,
        dgid: claims.dgid,
        gid: claims.gid,
        act: claims.act,
        exp: claims.exp,
        bound_to,
    })
}

/// A person's session token, under the person's delegation grant to this agent.
async fn session(
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
    let grant = delegation(state, agent, &claims.sub, requested).await?;
    Ok(Subject {
        sub: claims.sub,
        scopes: None,
        grant_scopes: Some(grant.scopes),
        dgid: Some(grant.id.to_string()),
        gid: None,
        act: None,
        agents: 0,
        exp: claims.exp.min(grant.expires_at.unix_timestamp()),
        bound_to: None,
    })
}

/// A token an application holds for a person (from the person's grant to the application):
/// exchanged under the same rule as the person's session — the person's live delegation grant
/// to the acting agent, which is any agent the person delegated to, not the application (an
/// application is not an agent and authenticates as none). The token's scopes bound the new
/// one beside the grant's, and its application grant (`gid`) stays in the derived tokens.
async fn application(
    state: &AppState,
    agent: &Agent,
    claims: AccessTokenClaims,
    scopes: Scopes,
    bound_to: Option<String>,
    requested: Option<&Scopes>,
) -> Result<Subject, OAuthError> {
    let grant = delegation(state, agent, &claims.sub, requested).await?;
    Ok(Subject {
        sub: claims.sub,
        scopes: Some(scopes),
        grant_scopes: Some(grant.scopes),
        dgid: Some(grant.id.to_string()),
        gid: claims.gid,
        act: None,
        agents: 0,
        exp: claims.exp.min(grant.expires_at.unix_timestamp()),
        bound_to,
    })
}

/// The person's live delegation grant to this agent (the newest whose scopes cover the
/// request, else the newest); the person must still belong to the tenant.
async fn delegation(
    state: &AppState,
    agent: &Agent,
    person: &str,
    requested: Option<&Scopes>,
) -> Result<DelegationGrant, OAuthError> {
    let user: UserId = person.parse().map_err(|_| {
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
        .cloned()
        .ok_or_else(no_grant)?;
    match state.require_member(agent.tenant_id, user).await {
        Ok(()) => Ok(grant),
        Err(Inactive::Store(error)) => Err(error.into()),
        Err(_) => Err(no_grant()),
    }
}
