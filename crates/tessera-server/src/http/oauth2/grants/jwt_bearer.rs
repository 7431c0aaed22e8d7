//! `urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1) for workload identity
//! federation: an outside workload presents a token its own issuer signed (`assertion`) and
//! gets an access token for the agent a tenant's trust policy names. No client
//! authentication: the policy, not a secret, says who the workload may be. `client_id` (an
//! agent id) picks the agent when policies for several match; `scope` may narrow. With a DPoP
//! proof the token is bound to the proof's key.

use axum::response::{IntoResponse, Response};
use tessera_core::AgentId;
use tessera_core::agent::Agent;
use tessera_crypto::Confirmation;
use tessera_proto::OAuthErrorCode;
use tessera_proto::oauth2::TokenResponse;

use super::super::form::OAuthForm;
use crate::audit::Fact;
use crate::context::RequestContext;
use crate::error::OAuthError;
use crate::state::AppState;
use crate::workload::{Federated, actor};

pub(in super::super) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

pub(in super::super) async fn exchange(
    state: &AppState,
    ctx: &RequestContext,
    form: &OAuthForm,
    cnf: Option<Confirmation>,
) -> Result<TokenResponse, Response> {
    let assertion = form.require("assertion").map_err(|e| e.into_response())?;
    let client_id = match form.get("client_id") {
        None => None,
        Some(raw) => Some(raw.parse::<AgentId>().map_err(|_| {
            OAuthError::invalid_request("`client_id` must be an agent id").into_response()
        })?),
    };
    let federated = match state.federate(assertion, client_id).await {
        Ok(federated) => federated,
        Err(refusal) => {
            // Failed assertions count like failed client authentication: a caller cannot
            // probe policies (or make Tessera refetch issuers' keys) without bound.
            if !refusal.unavailable {
                state.limits.auth_failed(ctx.client_ip);
            }
            let fact = Fact::failure(
                refusal.tenant,
                refusal.actor(),
                "workload.federate",
                "",
                refusal.reason,
            );
            state.audit(ctx, fact).await;
            let code = if refusal.unavailable {
                OAuthErrorCode::TemporarilyUnavailable
            } else {
                OAuthErrorCode::InvalidGrant
            };
            return Err(OAuthError::new(code, refusal.description).into_response());
        }
    };
    let outside = actor(Some(&federated.token.iss), Some(&federated.token.sub));
    let tenant = Some(federated.agent.tenant_id);
    let policies = federated
        .policies
        .iter()
        .map(|p| p.id.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    match issue(state, form, &federated, cnf) {
        Ok((response, jti)) => {
            metrics::counter!("tessera_tokens_issued_total", "grant_type" => "jwt_bearer")
                .increment(1);
            let fact = Fact::success(tenant, outside, "workload.federate", policies);
            state.audit(ctx, fact).await;
            let agent = format!("agent:{}", federated.agent.id);
            state
                .audit(ctx, Fact::success(tenant, agent, "token.issue", jti))
                .await;
            Ok(response)
        }
        Err(error) => {
            let reason = error.code().code();
            let fact = Fact::failure(tenant, outside, "workload.federate", policies, reason);
            state.audit(ctx, fact).await;
            Err(error.into_response())
        }
    }
}

/// The agent's token within what the policies grant: `client_credentials`' issuance, with
/// the matched scopes as the agent's (so `scope` narrows the same way, never widens).
fn issue(
    state: &AppState,
    form: &OAuthForm,
    federated: &Federated,
    cnf: Option<Confirmation>,
) -> Result<(TokenResponse, String), OAuthError> {
    let granted = Agent {
        scopes: federated.scopes.clone(),
        ..federated.agent.clone()
    };
    super::client_credentials::issue(state, form, &granted, cnf)
}
