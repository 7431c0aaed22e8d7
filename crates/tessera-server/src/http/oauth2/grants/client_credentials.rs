//! `client_credentials` (RFC 6749 §4.4): an agent authenticates with its client secret or a
//! signed assertion (`private_key_jwt`) and gets an access token for itself, with its scopes or a
//! subset, for Tessera's API or the resource it names (RFC 8707). With a DPoP proof (RFC 9449)
//! the token is bound to the proof's key (`cnf.jkt`).

use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use tessera_core::Scopes;
use tessera_core::agent::Agent;
use tessera_crypto::Confirmation;
use tessera_proto::OAuthErrorCode;
use tessera_proto::oauth2::TokenResponse;

use super::super::client_assertion;
use super::super::client_auth::Presented;
use super::super::form::OAuthForm;
use super::super::token::signing_failed;
use super::super::{audit_client_failure, client_failure};
use crate::audit::Fact;
use crate::context::RequestContext;
use crate::dpop::{ProofError, ProofTarget, proof_header};
use crate::error::OAuthError;
use crate::state::AppState;

pub(in super::super) async fn exchange(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    form: &OAuthForm,
) -> Result<TokenResponse, Response> {
    // The proof first: a client told to fetch a nonce retries with the same client
    // authentication, which must not have been spent yet.
    let cnf = match dpop_binding(state, headers).await {
        Ok(cnf) => cnf,
        Err(refused) => {
            audit_client_failure(state, ctx, "token.issue", &refused.0).await;
            return Err(refused.into_response(state));
        }
    };
    let agent = match authenticate(state, headers, form).await {
        Ok(agent) => agent,
        Err(error) => {
            audit_client_failure(state, ctx, "token.issue", &error).await;
            return Err(client_failure(state, ctx, error));
        }
    };
    let actor = format!("agent:{}", agent.id);
    match issue(state, form, &agent, cnf) {
        Ok((response, jti)) => {
            metrics::counter!("tessera_tokens_issued_total", "grant_type" => "client_credentials")
                .increment(1);
            let fact = Fact::success(Some(agent.tenant_id), actor, "token.issue", jti);
            state.audit(ctx, fact).await;
            Ok(response)
        }
        Err(error) => {
            let fact = Fact::failure(
                Some(agent.tenant_id),
                actor,
                "token.issue",
                "",
                error.code().code(),
            );
            state.audit(ctx, fact).await;
            Err(error.into_response())
        }
    }
}

/// A refused DPoP proof, and whether the answer must carry a fresh nonce.
struct Refused(OAuthError, bool);

impl Refused {
    fn into_response(self, state: &AppState) -> Response {
        let mut response = self.0.into_response();
        if self.1 {
            response
                .headers_mut()
                .insert(crate::dpop::NONCE_HEADER, state.dpop_nonce());
        }
        response
    }
}

/// The key the token is to be bound to: the request's DPoP proof's, when it has one.
async fn dpop_binding(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Confirmation>, Refused> {
    let invalid = |why: String| {
        Refused(
            OAuthError::new(OAuthErrorCode::InvalidDpopProof, why),
            false,
        )
    };
    let Some(proof) = proof_header(headers).map_err(|e| invalid(e.to_string()))? else {
        return Ok(None);
    };
    let target = ProofTarget {
        method: &Method::POST,
        path: "/oauth2/token",
        access_token: None,
        require_nonce: true,
    };
    match state.check_dpop_proof(proof, target).await {
        Ok(proof) => Ok(Some(Confirmation { jkt: proof.jkt })),
        Err(ProofError::NonceRequired) => Err(Refused(
            OAuthError::new(
                OAuthErrorCode::UseDpopNonce,
                ProofError::NonceRequired.to_string(),
            ),
            true,
        )),
        Err(ProofError::Store(error)) => Err(Refused(error.into(), false)),
        Err(error @ ProofError::Invalid(_)) => Err(invalid(error.to_string())),
    }
}

/// The agent whose client credentials the request carries (token exchange's actor too).
pub(super) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &OAuthForm,
) -> Result<Agent, OAuthError> {
    if client_assertion::presented(form) {
        return client_assertion::authenticate(state, headers, form).await;
    }
    let presented = Presented::read(headers, form)?.ok_or_else(|| {
        OAuthError::new(
            OAuthErrorCode::InvalidClient,
            "client authentication is required",
        )
    })?;
    presented.authenticate(state).await
}

pub(super) fn issue(
    state: &AppState,
    form: &OAuthForm,
    agent: &Agent,
    cnf: Option<Confirmation>,
) -> Result<(TokenResponse, String), OAuthError> {
    let scopes = match form.get("scope") {
        None => agent.scopes.clone(),
        Some(requested) => {
            let requested = Scopes::parse(requested)
                .map_err(|e| OAuthError::new(OAuthErrorCode::InvalidScope, e.to_string()))?;
            if !requested.is_subset(&agent.scopes) {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidScope,
                    "the requested scope exceeds the agent's scopes",
                ));
            }
            requested
        }
    };
    let audience = state.requested_audience(form.get("resource"))?;
    let (token, claims) = state
        .issue_access_token(agent, &scopes, audience.as_deref(), cnf)
        .map_err(signing_failed)?;
    let response = TokenResponse {
        access_token: token,
        token_type: if claims.cnf.is_some() {
            "DPoP"
        } else {
            "Bearer"
        }
        .to_owned(),
        expires_in: claims.exp - claims.iat,
        scope: claims.scope,
        refresh_token: None,
        id_token: None,
    };
    Ok((response, claims.jti))
}
