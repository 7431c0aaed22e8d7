//! Outside workloads become agents through the tenants' trust policies ([`AppState::federate`]).
//!
//! An outside token names only its issuer, so the candidates are every tenant's policies for
//! that issuer. The token is verified once with the issuer's keys (`tessera-federation`), then
//! each candidate is checked: the agent `client_id` names (when given), the audience it
//! expects, then its conditions. The agent is the one policy (or several of one agent) that
//! match; `client_id` picks among agents when policies of several match.

use tessera_core::agent::{Agent, AgentStatus};
use tessera_core::tenant::TenantStatus;
use tessera_core::trust::TrustPolicy;
use tessera_core::{AgentId, Scopes, TenantId};
use tessera_federation::workload::claimed_issuer;
use tessera_federation::{FederationError, WorkloadToken};

use crate::state::AppState;

/// The most an assertion may weigh: outside tokens are a few kilobytes.
pub const MAX_ASSERTION: usize = 16 * 1024;

/// An exchange that succeeded: the policies that matched, the agent and what it gets.
#[derive(Debug)]
pub struct Federated {
    pub token: WorkloadToken,
    pub policies: Vec<TrustPolicy>,
    pub agent: Agent,
    /// The union of the matching policies' scopes, within the agent's.
    pub scopes: Scopes,
}

/// Why an outside token was refused: a stable reason for the audit log, a description for the
/// client, and what is known of who presented it.
#[derive(Debug)]
pub struct Refusal {
    pub reason: &'static str,
    pub description: String,
    pub issuer: Option<String>,
    /// Set once the token's signature verified.
    pub subject: Option<String>,
    /// The tenant whose policies were the only candidates, if one was.
    pub tenant: Option<TenantId>,
    /// The issuer or Tessera failed, not the token: retry later.
    pub unavailable: bool,
}

impl Refusal {
    fn new(reason: &'static str, description: impl Into<String>) -> Self {
        Self {
            reason,
            description: description.into(),
            issuer: None,
            subject: None,
            tenant: None,
            unavailable: false,
        }
    }

    /// The audit actor: the outside subject at its issuer, as far as known.
    pub fn actor(&self) -> String {
        actor(self.issuer.as_deref(), self.subject.as_deref())
    }
}

/// `workload:<sub>@<iss>` (shortened: these are the outside party's strings).
pub fn actor(issuer: Option<&str>, subject: Option<&str>) -> String {
    let short = |s: &str| s.chars().take(200).collect::<String>();
    match (issuer, subject) {
        (Some(iss), Some(sub)) => format!("workload:{}@{}", short(sub), short(iss)),
        (Some(iss), None) => format!("workload:?@{}", short(iss)),
        _ => "anonymous".to_owned(),
    }
}

impl AppState {
    /// Verifies `assertion` and finds the trust policy (and agent) it satisfies.
    pub async fn federate(
        &self,
        assertion: &str,
        client_id: Option<AgentId>,
    ) -> Result<Federated, Refusal> {
        if assertion.len() > MAX_ASSERTION {
            return Err(Refusal::new("malformed", "the assertion is too large"));
        }
        let issuer = claimed_issuer(assertion).map_err(|e| {
            Refusal::new(
                "malformed",
                format!("the assertion is not a signed JWT with an `iss`: {e}"),
            )
        })?;
        let known = |mut refusal: Refusal| {
            refusal.issuer = Some(issuer.clone());
            refusal
        };
        let policies = self
            .store
            .trust_policies_for_issuer(&issuer)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "reading trust policies failed");
                known(Refusal {
                    unavailable: true,
                    ..Refusal::new("store_unavailable", "Tessera could not read its policies")
                })
            })?;
        let only_tenant = single_tenant(&policies);
        if policies.is_empty() {
            return Err(known(Refusal::new(
                "unknown_issuer",
                format!("no trust policy names the issuer `{issuer}`"),
            )));
        }
        let token = self
            .workload
            .issuers
            .verify(assertion, &issuer, self.clock.now())
            .await
            .map_err(|e| {
                known(Refusal {
                    tenant: only_tenant,
                    ..verification_refusal(&e)
                })
            })?;
        let with_subject = |refusal: Refusal| Refusal {
            subject: Some(token.sub.clone()),
            tenant: only_tenant,
            ..known(refusal)
        };
        let for_agent: Vec<&TrustPolicy> = policies
            .iter()
            .filter(|p| client_id.is_none_or(|id| p.agent_id == id))
            .collect();
        if for_agent.is_empty() {
            return Err(with_subject(Refusal::new(
                "unknown_agent",
                "no trust policy of this issuer names the agent `client_id`",
            )));
        }
        let for_audience: Vec<&TrustPolicy> = for_agent
            .into_iter()
            .filter(|p| token.aud.contains(&p.audience))
            .collect();
        if for_audience.is_empty() {
            return Err(with_subject(Refusal::new(
                "wrong_audience",
                "no trust policy of this issuer expects the assertion's audience (`aud`)",
            )));
        }
        let mut unmet = None;
        let matching: Vec<&TrustPolicy> = for_audience
            .into_iter()
            .filter(|p| match p.unmet_condition(&token.claims) {
                None => true,
                Some(claim) => {
                    unmet.get_or_insert_with(|| claim.to_owned());
                    false
                }
            })
            .collect();
        let Some(first) = matching.first() else {
            let claim = unmet.unwrap_or_default();
            return Err(with_subject(Refusal::new(
                "condition_unmet",
                format!("the assertion's claim `{claim}` does not meet the trust policy"),
            )));
        };
        if matching.iter().any(|p| p.agent_id != first.agent_id) {
            return Err(with_subject(Refusal::new(
                "ambiguous",
                "trust policies for several agents match; name one with `client_id`",
            )));
        }
        let agent = self
            .store
            .agent(first.tenant_id, first.agent_id)
            .await
            .ok()
            .flatten();
        let tenant_active = matches!(
            self.tenant_status(first.tenant_id).await,
            Ok(Some(TenantStatus::Active))
        );
        let agent = match agent {
            Some(agent) if agent.status == AgentStatus::Active && tenant_active => agent,
            _ => {
                return Err(with_subject(Refusal {
                    tenant: Some(first.tenant_id),
                    ..Refusal::new("agent_inactive", "the trust policy's agent is not active")
                }));
            }
        };
        let mut granted = Vec::new();
        for policy in &matching {
            granted.extend(policy.scopes.iter().map(str::to_owned));
        }
        let granted = Scopes::new(granted).unwrap_or_default();
        let scopes = Scopes::new(
            granted
                .iter()
                .filter(|s| agent.scopes.contains(s))
                .map(str::to_owned),
        )
        .unwrap_or_default();
        Ok(Federated {
            policies: matching.into_iter().cloned().collect(),
            token,
            agent,
            scopes,
        })
    }
}

fn single_tenant(policies: &[TrustPolicy]) -> Option<TenantId> {
    let first = policies.first()?.tenant_id;
    policies
        .iter()
        .all(|p| p.tenant_id == first)
        .then_some(first)
}

/// What a failed verification tells the client.
fn verification_refusal(error: &FederationError) -> Refusal {
    match error {
        FederationError::DiscoveryFailed { .. } | FederationError::JwksFailed(_) => Refusal {
            unavailable: true,
            ..Refusal::new(
                "issuer_unreachable",
                format!("the issuer's signing keys could not be fetched: {error}"),
            )
        },
        FederationError::UnknownSigningKey { .. } => Refusal::new(
            "unknown_signing_key",
            "the assertion names a signing key (`kid`) its issuer does not publish",
        ),
        FederationError::BadSignature => {
            Refusal::new("bad_signature", "the assertion's signature does not verify")
        }
        FederationError::IdTokenExpired => Refusal::new("expired", "the assertion has expired"),
        FederationError::IdTokenNotYetValid => Refusal::new(
            "not_yet_valid",
            "the assertion is not valid yet (`nbf` or `iat` in the future)",
        ),
        FederationError::DisallowedAlgorithm(alg) => Refusal::new(
            "disallowed_algorithm",
            format!("assertions signed with `{alg}` are not accepted"),
        ),
        FederationError::WrongIssuer { .. } => Refusal::new(
            "wrong_issuer",
            format!("the assertion's issuer does not verify: {error}"),
        ),
        other => Refusal::new("malformed", format!("the assertion is malformed: {other}")),
    }
}
