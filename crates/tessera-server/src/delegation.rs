//! Tokens from token exchange (RFC 8693): an agent acting for a subject — another agent, or a
//! person who delegated to it with a delegation grant. The token's `act` names the chain of
//! actors (newest outermost), `dgid` the person's grant, and `gid` the application's grant when
//! the subject was a token an application held for the person. Such a token stands only while
//! every agent of the chain is active in the token's tenant, and, for a person, while the grants
//! are live and the person still a member: all read at validation, so revoking the grant or
//! disabling an agent ends every token derived from it at once, on every instance.

use tessera_core::agent::AgentStatus;
use tessera_core::tenant::TenantStatus;
use tessera_core::{AgentId, DelegationId, TenantId, UserId};
use tessera_crypto::AccessTokenClaims;

use crate::state::AppState;
use crate::tokens::Inactive;

/// `urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The token type of Tessera's access tokens, agents' and people's (RFC 8693 §3).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

impl AppState {
    /// Whether an exchanged token still stands (its signature, expiry and `jti` are checked).
    pub(crate) async fn check_delegated_token(
        &self,
        claims: &AccessTokenClaims,
    ) -> Result<(), Inactive> {
        let (Ok(tenant), Some(act)) = (claims.tenant_id.parse::<TenantId>(), &claims.act) else {
            return Err(Inactive::PrincipalInactive);
        };
        if self.tenant_status(tenant).await? != Some(TenantStatus::Active) {
            return Err(Inactive::PrincipalInactive);
        }
        let chain = act.chain();
        // The newest actor is the client the token was issued to.
        if chain.first() != Some(&claims.client_id.as_str()) {
            return Err(Inactive::PrincipalInactive);
        }
        for actor in &chain {
            self.require_active_agent(actor, tenant).await?;
        }
        match &claims.dgid {
            None => self.require_active_agent(&claims.sub, tenant).await,
            Some(dgid) => {
                let (Ok(id), Ok(user)) = (dgid.parse::<DelegationId>(), claims.sub.parse()) else {
                    return Err(Inactive::PrincipalInactive);
                };
                // The grant authorizes the first agent that acted for the person.
                let first = chain.last().and_then(|a| a.parse::<AgentId>().ok());
                let grant = self.store.delegation(tenant, id).await?;
                let stands = grant.is_some_and(|g| {
                    g.is_live(self.clock.now()) && g.user_id == user && Some(g.agent_id) == first
                });
                if !stands {
                    return Err(Inactive::Revoked);
                }
                // Exchanged from a token an application held for the person: that grant too.
                if let Some(gid) = &claims.gid {
                    self.live_grant(gid, &claims.sub, tenant).await?;
                }
                self.require_member(tenant, user).await
            }
        }
    }

    async fn require_active_agent(&self, agent: &str, tenant: TenantId) -> Result<(), Inactive> {
        let Ok(agent) = agent.parse::<AgentId>() else {
            return Err(Inactive::PrincipalInactive);
        };
        if self.agent_status(agent).await? != Some((tenant, AgentStatus::Active)) {
            return Err(Inactive::PrincipalInactive);
        }
        Ok(())
    }

    /// A person acted for must still belong to the tenant: leaving it ends the delegation.
    pub(crate) async fn require_member(
        &self,
        tenant: TenantId,
        user: UserId,
    ) -> Result<(), Inactive> {
        match self.store.membership(tenant, user).await? {
            Some(_) => Ok(()),
            None => Err(Inactive::PrincipalInactive),
        }
    }
}
