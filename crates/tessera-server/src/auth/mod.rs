//! Who is calling: API-key authentication with its caches, the resulting [`Principal`], and
//! the extractors that put authorization in each handler's signature ([`extract`]).

mod api_keys;
pub mod extract;
mod status_cache;

pub use api_keys::{ApiKeyAuthenticator, AuthFailure};
pub use status_cache::StatusCache;

use tessera_core::{ApiKeyId, OperatorId, Scopes, TenantId, scope};

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
}

impl Principal {
    /// The actor recorded in audit events.
    pub fn actor(&self) -> String {
        match self {
            Self::Operator { key_id, .. } | Self::TenantKey { key_id, .. } => {
                format!("api_key:{key_id}")
            }
        }
    }

    /// Whether this caller may do `required` in `tenant`.
    pub fn may(&self, tenant: TenantId, required: &str) -> bool {
        match self {
            Self::Operator { .. } => true,
            Self::TenantKey {
                tenant_id, scopes, ..
            } => *tenant_id == tenant && scopes.grants(required),
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
        }
    }
}
