//! Who is calling: API-key authentication with its caches, the resulting [`Principal`], and
//! the extractors that put authorization in each handler's signature ([`extract`]).

mod api_keys;
pub mod extract;
mod status_cache;

pub use api_keys::{ApiKeyAuthenticator, AuthFailure};
pub use status_cache::StatusCache;

use tessera_core::people::Role;
use tessera_core::{ApiKeyId, OperatorId, Scopes, TenantId, UserId, scope};

/// An authenticated caller of Tessera's own API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The operator's key: every tenant, and administration.
    Operator {
        key_id: ApiKeyId,
        operator_id: OperatorId,
    },
    /// A tenant's key: that tenant only, within its scopes.
    TenantKey {
        key_id: ApiKeyId,
        tenant_id: TenantId,
        scopes: Scopes,
    },
    /// A person, by session (`key_id` None) or by one of their API keys: the tenants they are
    /// members of, within their role there (and the key's scopes).
    User {
        user_id: UserId,
        key_id: Option<ApiKeyId>,
        scopes: Scopes,
        /// The tenant the request is for and the user's role in it, once looked up
        /// ([`extract::TenantAccess`] does); None: no tenant is reachable yet.
        membership: Option<(TenantId, Role)>,
    },
}

/// What a role allows in the tenant API: owners and admins manage, members and viewers read.
pub fn role_scopes(role: Role) -> Scopes {
    if role.manages() {
        Scopes::one(scope::ALL)
    } else {
        Scopes::one(scope::READ)
    }
}

/// The scopes a user holds in a tenant: their role's, narrowed by the key they used.
fn effective(role: Role, key_scopes: &Scopes) -> Scopes {
    let allowed = role_scopes(role);
    if allowed.grants(scope::ALL) {
        key_scopes.clone()
    } else if key_scopes.grants(scope::READ) {
        allowed
    } else {
        Scopes::default()
    }
}

impl Principal {
    /// The actor recorded in audit events.
    pub fn actor(&self) -> String {
        match self {
            Self::Operator { key_id, .. } | Self::TenantKey { key_id, .. } => {
                format!("api_key:{key_id}")
            }
            Self::User { user_id, .. } => crate::people::sessions::actor(*user_id),
        }
    }

    /// Whether this caller may do `required` in `tenant`.
    pub fn may(&self, tenant: TenantId, required: &str) -> bool {
        match self {
            Self::Operator { .. } => true,
            Self::TenantKey {
                tenant_id, scopes, ..
            } => *tenant_id == tenant && scopes.grants(required),
            Self::User {
                scopes,
                membership: Some((member_of, role)),
                ..
            } => *member_of == tenant && effective(*role, scopes).grants(required),
            Self::User { .. } => false,
        }
    }

    pub fn is_operator(&self) -> bool {
        matches!(self, Self::Operator { .. })
    }

    /// The scopes this caller could hand on to a key it creates.
    pub fn grantable(&self) -> Scopes {
        match self {
            Self::Operator { .. } => Scopes::one(scope::ALL),
            Self::TenantKey { scopes, .. } => scopes.clone(),
            Self::User {
                scopes,
                membership: Some((_, role)),
                ..
            } => effective(*role, scopes),
            Self::User { .. } => Scopes::default(),
        }
    }
}
