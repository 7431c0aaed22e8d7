//! Tenants: organizations, the unit of isolation and billing.

use time::OffsetDateTime;

use crate::TenantId;

text_enum!(
    /// Whether a tenant consumes agents or provides them.
    TenantKind { Consumer = "consumer", Provider = "provider" }
);
text_enum!(
    /// A suspended tenant's credentials are refused everywhere.
    TenantStatus { Active = "active", Suspended = "suspended" }
);
text_enum!(
    /// The limits a tenant buys (enforced by the gateway).
    Plan { Explorer = "explorer", Professional = "professional", Business = "business", Enterprise = "enterprise" }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub email: String,
    pub kind: TenantKind,
    pub plan: Plan,
    pub status: TenantStatus,
    pub created_at: OffsetDateTime,
}
