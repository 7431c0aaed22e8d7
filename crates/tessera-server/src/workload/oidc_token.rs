//! Short-lived OIDC JWTs for an agent's workloads, with Tessera as issuer: what a cloud's
//! web-identity federation (AWS `AssumeRoleWithWebIdentity`, GCP workload identity pools,
//! Azure federated credentials) verifies from Tessera's discovery document and JWKS.
//!
//! `sub` is the agent, `aud` the audience asked for. The header's `typ` is `JWT`, never
//! `at+jwt`, so Tessera never takes one for its own access token; and an audience that names
//! Tessera itself or one of its clients or agents is refused, so the token cannot pass for an
//! access or ID token of Tessera's at a relying party either.

use serde::Serialize;
use tessera_core::agent::Agent;
use tessera_core::{AgentId, OAuthClientId};
use tessera_crypto::KeyRingError;

use crate::error::ApiError;
use crate::state::AppState;

/// How long a workload's OIDC token lives: long enough to hand to a cloud's token service,
/// short enough that a leaked one is soon worthless.
pub const TTL_SECS: i64 = 300;
/// The `typ` of these tokens (RFC 7519's default).
const TYP: &str = "JWT";

/// The claims of a workload's OIDC token.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub tenant_id: String,
}

/// The audience, checked: 1 to 512 characters without controls, not Tessera's own.
pub fn audience(state: &AppState, raw: &str) -> Result<String, ApiError> {
    let value = tessera_core::validate::name("audience", raw, 512)?;
    let ours = [state.issuer.as_str(), state.audience.as_str()]
        .iter()
        .any(|own| own.trim_end_matches('/') == value.trim_end_matches('/'));
    if ours || value.parse::<OAuthClientId>().is_ok() || value.parse::<AgentId>().is_ok() {
        return Err(ApiError::invalid(
            "audience: must not be Tessera itself, one of its clients or one of its agents",
        ));
    }
    Ok(value)
}

impl AppState {
    /// Signs a workload OIDC token for `agent` and `audience` (already checked).
    pub fn mint_workload_token(
        &self,
        agent: &Agent,
        audience: &str,
    ) -> Result<(String, WorkloadClaims), KeyRingError> {
        let now = self.clock.now().unix_timestamp();
        let claims = WorkloadClaims {
            iss: self.issuer.clone(),
            sub: agent.id.to_string(),
            aud: audience.to_owned(),
            exp: now + TTL_SECS,
            iat: now,
            nbf: now,
            jti: uuid::Uuid::now_v7().simple().to_string(),
            tenant_id: agent.tenant_id.to_string(),
        };
        let token = self.keys.ring().sign(TYP, &claims)?;
        Ok((token, claims))
    }
}
