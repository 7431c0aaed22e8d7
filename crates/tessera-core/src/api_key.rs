//! API keys: long-lived credentials for programs. Only the SHA-256 of the secret is kept.

use time::OffsetDateTime;

use crate::{ApiKeyId, OperatorId, Scopes, TenantId, UserId};

/// Who an API key acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOwner {
    Tenant(TenantId),
    Operator(OperatorId),
    /// A person: the key acts as the user, in the tenants they belong to, with their roles.
    User(UserId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub owner: KeyOwner,
    pub name: String,
    pub scopes: Scopes,
    /// SHA-256 of the whole key string.
    pub secret_hash: [u8; 32],
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

impl ApiKey {
    pub fn tenant_id(&self) -> Option<TenantId> {
        match self.owner {
            KeyOwner::Tenant(id) => Some(id),
            KeyOwner::Operator(_) | KeyOwner::User(_) => None,
        }
    }

    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}
