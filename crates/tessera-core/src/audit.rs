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

/// The chain of installation-wide events (those without a tenant).
pub const INSTALLATION_CHAIN: &str = "installation";

/// Which hash chain an event belongs to: one per tenant, and one for the installation.
pub fn chain_of(tenant: Option<TenantId>) -> String {
    tenant.map_or_else(|| INSTALLATION_CHAIN.to_owned(), |t| t.to_string())
}

/// The hash function chain links use (SHA-256, supplied by the caller: this crate does no
/// cryptography).
pub type LinkHash = fn(&[u8]) -> [u8; 32];

/// The hash before the first event of every chain.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// An event as stored in its chain: `hash = SHA-256(link_input(prev_hash, chain_seq, event))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedEvent {
    /// Position in the whole log (all chains), the order consumers read events in.
    pub seq: i64,
    /// Position in its chain, from 1.
    pub chain_seq: i64,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
    pub event: AuditEvent,
}

/// The bytes a chain link hashes: the previous hash, then the event in a canonical JSON form
/// (fixed field order, times as unix seconds), so any change to any field changes the hash.
pub fn link_input(prev_hash: &[u8; 32], chain_seq: i64, event: &AuditEvent) -> Vec<u8> {
    let canonical = serde_json::json!([
        chain_seq,
        event.id.to_string(),
        event.tenant_id.map(|t| t.to_string()),
        event.actor,
        event.action,
        event.target,
        event.outcome.as_str(),
        event.reason,
        event.client_ip,
        event.request_id,
        event.occurred_at.unix_timestamp(),
    ]);
    let mut input = prev_hash.to_vec();
    input.extend_from_slice(canonical.to_string().as_bytes());
    input
}

/// A signed statement "chain X had head H at position N", made with the signing key ring, so
/// that rewriting history before it is detectable without trusting the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub chain: String,
    pub chain_seq: i64,
    pub hash: [u8; 32],
    /// A compact JWS over the chain, position and hash.
    pub signature: String,
    pub created_at: OffsetDateTime,
}

/// Which events a listing returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub outcome: Option<Outcome>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}
