//! Delegation grants: a person's standing authorization of one agent of a tenant they belong to
//! to act for them, within some scopes, until some time (RFC 8693 token exchange with the
//! person's token as the subject). Every token exchanged under a grant names it, through every
//! further exchange, so revoking the grant ends all of them at once.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::scope::Scopes;
use crate::store::StoreResult;
use crate::{AgentId, DelegationId, TenantId, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegationGrant {
    pub id: DelegationId,
    pub tenant_id: TenantId,
    /// The person who delegates.
    pub user_id: UserId,
    /// The agent that may act for them.
    pub agent_id: AgentId,
    /// The most an exchanged token may carry.
    pub scopes: Scopes,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

impl DelegationGrant {
    /// Not revoked and not expired at `now`.
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

#[async_trait]
pub trait DelegationStore: Send + Sync {
    async fn create_delegation(&self, grant: &DelegationGrant) -> StoreResult<()>;
    async fn delegation(
        &self,
        tenant: TenantId,
        id: DelegationId,
    ) -> StoreResult<Option<DelegationGrant>>;
    /// The tenant's grants (only `user`'s when given), newest first, revoked ones included.
    async fn delegations(
        &self,
        tenant: TenantId,
        user: Option<UserId>,
    ) -> StoreResult<Vec<DelegationGrant>>;
    /// Marks a live grant revoked; returns it, or None when the tenant has no such live grant.
    async fn revoke_delegation(
        &self,
        tenant: TenantId,
        id: DelegationId,
        at: OffsetDateTime,
    ) -> StoreResult<Option<DelegationGrant>>;
}
