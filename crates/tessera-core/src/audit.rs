//! Audit events: one security-relevant fact each (who did what to what, and how it ended).

use time::OffsetDateTime;

use crate::{AuditEventId, TenantId};

text_enum!(
    Outcome { Success = "success", Failure = "failure" }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: AuditEventId,
    /// None for installation-wide events (operator keys, signing keys, unattributable failures).
    pub tenant_id: Option<TenantId>,
    /// `operator:<id>`, `api_key:<id>`, `agent:<id>`, `anonymous`.
    pub actor: String,
    /// Dotted verb: `tenant.create`, `api_key.revoke`, `token.issue`, …
    pub action: String,
    /// The object acted on, by id; empty when there is none.
    pub target: String,
    pub outcome: Outcome,
    /// Why it failed, as an error code; empty on success.
    pub reason: String,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    pub occurred_at: OffsetDateTime,
}
