//! Compliance: the controls Tessera implements (mapped to SOC 2 and ISO/IEC 27001:2022), a
//! tenant's posture report, and its agents as agent cards (AGNTCY OASF records).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::agents::AgentStatus;
use crate::audit::VerifyReport;

/// Who carries out a control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Responsibility {
    /// Tessera does it, with no setup.
    Tessera,
    /// Tessera provides the mechanism; the operator must configure or watch it.
    Shared,
    /// Outside Tessera: the operator's deployment must provide it.
    Operator,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Framework {
    #[schema(example = "soc2")]
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Control {
    #[schema(example = "tenant-isolation")]
    pub id: String,
    pub title: String,
    /// What Tessera does, as it is implemented today.
    pub description: String,
    pub responsibility: Responsibility,
    /// SOC 2 Trust Services Criteria this control supports.
    #[schema(example = json!(["CC6.1"]))]
    pub soc2: Vec<String>,
    /// ISO/IEC 27001:2022 Annex A controls this control supports.
    #[schema(example = json!(["A.5.15", "A.8.3"]))]
    pub iso27001: Vec<String>,
    /// Where to see it working (endpoints, commands, settings).
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ControlList {
    pub frameworks: Vec<Framework>,
    pub controls: Vec<Control>,
}

/// An API key a finding names (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeyFinding {
    pub id: String,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeyFindings {
    /// How many keys the finding covers; `items` lists at most 100 of them.
    pub count: u64,
    pub items: Vec<KeyFinding>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyPosture {
    /// Keys neither revoked nor expired.
    pub active: u64,
    /// Active keys that never expire.
    pub without_expiry: KeyFindings,
    /// Active keys not used for `stale_after_days` (or, never used, created before that).
    pub stale: KeyFindings,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentFinding {
    pub id: String,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// From the usage counters; absent when the agent never did anything.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentFindings {
    /// How many agents the finding covers; `items` lists at most 100 of them.
    pub count: u64,
    pub items: Vec<AgentFinding>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentPosture {
    /// Agents whose status is active.
    pub active: u64,
    /// Active agents with no activity for `stale_after_days` (or, never used, created before
    /// that).
    pub stale: AgentFindings,
}

/// Sign-in hygiene of people. Tessera has no people accounts yet, so every figure is null
/// rather than a number that would mean nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PeoplePosture {
    pub accounts: Option<u64>,
    /// Share (0 to 1) of people with a passkey.
    pub passkey_adoption: Option<f64>,
    /// Share (0 to 1) of people with a second factor.
    pub mfa_adoption: Option<f64>,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ComplianceReport {
    pub tenant_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
    /// The report is computed at most once per 5 minutes per tenant; this one is served until
    /// then.
    #[serde(with = "time::serde::rfc3339")]
    pub cached_until: OffsetDateTime,
    /// Keys and agents unused for this many days are stale.
    pub stale_after_days: u32,
    pub api_keys: ApiKeyPosture,
    pub agents: AgentPosture,
    pub people: PeoplePosture,
    /// The tenant's audit chain, verified when the report was generated.
    pub audit_chain: VerifyReport,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AgentCardsQuery {
    /// 1 to 200; 50 by default.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// An OASF skill. Tessera's capabilities are the tenant's free-form labels, given as names
/// only: they are not checked against the OASF taxonomy, so no taxonomy `id` is claimed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OasfSkill {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OasfDomain {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OasfLocator {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
}

/// How the agent authenticates: an OAuth 2 client of Tessera (the data of the `tessera/identity`
/// module, a Tessera extension that is not part of the OASF module taxonomy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentIdentity {
    pub issuer: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub client_id: String,
    #[schema(example = json!(["client_credentials"]))]
    pub grant_types: Vec<String>,
    pub token_endpoint_auth_methods: Vec<String>,
    /// The most the agent's tokens may carry.
    pub scopes: Vec<String>,
    /// Access tokens are RFC 9068 JWTs (`typ: at+jwt`).
    #[schema(example = "application/at+jwt")]
    pub access_token_type: String,
    pub status: AgentStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentCardModule {
    #[schema(example = "tessera/identity")]
    pub name: String,
    pub data: AgentIdentity,
}

/// An agent as an AGNTCY OASF record (schema 0.7.0 field names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentCard {
    #[schema(example = "0.7.0")]
    pub schema_version: String,
    pub name: String,
    /// The time of the agent's last change: a new version whenever it changes.
    pub version: String,
    pub description: String,
    /// The tenant that owns the agent.
    pub authors: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub skills: Vec<OasfSkill>,
    /// Tessera does not classify agents into OASF domains: always empty.
    pub domains: Vec<OasfDomain>,
    /// Where the agent's artifact lives. Tessera does not know yet: always empty.
    pub locators: Vec<OasfLocator>,
    pub modules: Vec<AgentCardModule>,
    /// `tessera.agent_id`, `tessera.tenant_id`.
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentCardList {
    pub agent_cards: Vec<AgentCard>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}
