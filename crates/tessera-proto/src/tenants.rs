//! Tenants: registration, reading, suspension.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantKind {
    Consumer,
    Provider,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    Suspended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    Explorer,
    Professional,
    Business,
    Enterprise,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantRequest {
    /// 1 to 100 characters.
    #[schema(example = "Acme Robotics")]
    pub name: String,
    /// The contact address of the tenant's owner.
    #[schema(example = "ops@acme.example")]
    pub email: String,
    pub kind: TenantKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Tenant {
    #[schema(example = "ten_0193a3b0c1d27e8f9a0b1c2d3e4f5a6b")]
    pub id: String,
    pub name: String,
    pub kind: TenantKind,
    pub plan: Plan,
    pub status: TenantStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreatedTenant {
    pub tenant: Tenant,
    /// The tenant's first API key, with scope `*`. Shown only in this response.
    #[schema(example = "tsk_2NEpo7TZRRrLZSi2U…")]
    pub api_key: String,
}

/// The body of `PUT /v1/tenants/{tenant_id}/plan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPlanRequest {
    /// The new plan. Read as text so that an unknown plan is a 400 naming the plans.
    #[schema(value_type = Plan, example = "business")]
    pub plan: String,
}
