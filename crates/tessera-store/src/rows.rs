//! Conversions between stored rows and domain objects, and the column lists they read.

use sqlx::Row;
use sqlx::any::AnyRow;
use tessera_core::agent::{Agent, AgentStatus, ClientSecret};
use tessera_core::api_key::{ApiKey, KeyOwner};
use tessera_core::audit::{AuditEvent, ChainedEvent, Checkpoint, Outcome};
use tessera_core::signing_key::SigningKeyRecord;
use tessera_core::tenant::{Plan, Tenant, TenantKind, TenantStatus};
use tessera_core::{Scopes, StoreError};
use time::OffsetDateTime;

use crate::error::{corrupt, db_error};

// Column lists as macros so that `concat!` can splice them into `'static` query text.
macro_rules! tenant_columns {
    () => {
        "id, name, email, kind, plan, status, created_at"
    };
}
macro_rules! api_key_columns {
    () => {
        "id, tenant_id, operator_id, user_id, name, scopes, secret_hash, expires_at, revoked_at, last_used_at, created_at"
    };
}
macro_rules! agent_columns {
    () => {
        "id, tenant_id, name, description, capabilities, scopes, status, created_at, updated_at"
    };
}
macro_rules! client_secret_columns {
    () => {
        "id, agent_id, secret_hash, expires_at, created_at"
    };
}
macro_rules! signing_key_columns {
    () => {
        "kid, alg, sealed_private_key, public_jwk, created_at, activates_at, retired_at, unpublish_at"
    };
}
macro_rules! audit_columns {
    () => {
        "seq, chain_seq, prev_hash, hash, id, tenant_id, actor, action, target, outcome, reason, client_ip, request_id, occurred_at"
    };
}
pub(crate) use {
    agent_columns, api_key_columns, audit_columns, client_secret_columns, signing_key_columns,
    tenant_columns,
};

/// The stored form of a time: whole unix seconds.
pub(crate) fn secs(at: OffsetDateTime) -> i64 {
    at.unix_timestamp()
}

pub(crate) fn opt_secs(at: Option<OffsetDateTime>) -> Option<i64> {
    at.map(secs)
}

/// A JSON array of strings.
pub(crate) fn capabilities_json(capabilities: &[String]) -> String {
    serde_json::Value::from(capabilities).to_string()
}

pub(crate) fn get<'r, T>(row: &'r AnyRow, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(column).map_err(db_error)
}

pub(crate) fn parsed<T, E: std::fmt::Display>(
    row: &AnyRow,
    column: &'static str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, StoreError> {
    let text: String = get(row, column)?;
    parse(&text).map_err(|e| corrupt(column, e))
}

pub(crate) fn parsed_opt<T, E: std::fmt::Display>(
    row: &AnyRow,
    column: &'static str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<Option<T>, StoreError> {
    let text: Option<String> = get(row, column)?;
    text.as_deref()
        .map(parse)
        .transpose()
        .map_err(|e| corrupt(column, e))
}

pub(crate) fn word<T>(
    row: &AnyRow,
    column: &'static str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    parsed(row, column, |text| {
        parse(text).ok_or_else(|| format!("unknown value `{text}`"))
    })
}

pub(crate) fn time(row: &AnyRow, column: &'static str) -> Result<OffsetDateTime, StoreError> {
    let secs: i64 = get(row, column)?;
    OffsetDateTime::from_unix_timestamp(secs).map_err(|e| corrupt(column, e))
}

pub(crate) fn opt_time(
    row: &AnyRow,
    column: &'static str,
) -> Result<Option<OffsetDateTime>, StoreError> {
    let secs: Option<i64> = get(row, column)?;
    secs.map(OffsetDateTime::from_unix_timestamp)
        .transpose()
        .map_err(|e| corrupt(column, e))
}

pub(crate) fn hash(row: &AnyRow, column: &'static str) -> Result<[u8; 32], StoreError> {
    let bytes: Vec<u8> = get(row, column)?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| corrupt(column, format_args!("{} bytes, not 32", bytes.len())))
}

pub(crate) fn tenant(row: &AnyRow) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: parsed(row, "id", str::parse)?,
        name: get(row, "name")?,
        email: get(row, "email")?,
        kind: word(row, "kind", TenantKind::parse)?,
        plan: word(row, "plan", Plan::parse)?,
        status: word(row, "status", TenantStatus::parse)?,
        created_at: time(row, "created_at")?,
    })
}

pub(crate) fn api_key(row: &AnyRow) -> Result<ApiKey, StoreError> {
    let tenant = parsed_opt(row, "tenant_id", str::parse)?;
    let operator = parsed_opt(row, "operator_id", str::parse)?;
    let user = parsed_opt(row, "user_id", str::parse)?;
    let owner = match (tenant, operator, user) {
        (Some(tenant), None, None) => KeyOwner::Tenant(tenant),
        (None, Some(operator), None) => KeyOwner::Operator(operator),
        (None, None, Some(user)) => KeyOwner::User(user),
        _ => return Err(corrupt("api_keys", "not exactly one owner")),
    };
    Ok(ApiKey {
        id: parsed(row, "id", str::parse)?,
        owner,
        name: get(row, "name")?,
        scopes: parsed(row, "scopes", Scopes::parse)?,
        secret_hash: hash(row, "secret_hash")?,
        expires_at: opt_time(row, "expires_at")?,
        revoked_at: opt_time(row, "revoked_at")?,
        last_used_at: opt_time(row, "last_used_at")?,
        created_at: time(row, "created_at")?,
    })
}

pub(crate) fn agent(row: &AnyRow) -> Result<Agent, StoreError> {
    Ok(Agent {
        id: parsed(row, "id", str::parse)?,
        tenant_id: parsed(row, "tenant_id", str::parse)?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        capabilities: parsed(row, "capabilities", |text| serde_json::from_str(text))?,
        scopes: parsed(row, "scopes", Scopes::parse)?,
        status: word(row, "status", AgentStatus::parse)?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(crate) fn client_secret(row: &AnyRow) -> Result<ClientSecret, StoreError> {
    Ok(ClientSecret {
        id: parsed(row, "id", str::parse)?,
        agent_id: parsed(row, "agent_id", str::parse)?,
        secret_hash: hash(row, "secret_hash")?,
        expires_at: opt_time(row, "expires_at")?,
        created_at: time(row, "created_at")?,
    })
}

pub(crate) fn signing_key(row: &AnyRow) -> Result<SigningKeyRecord, StoreError> {
    Ok(SigningKeyRecord {
        kid: get(row, "kid")?,
        alg: get(row, "alg")?,
        sealed_private_key: get(row, "sealed_private_key")?,
        public_jwk: get(row, "public_jwk")?,
        created_at: time(row, "created_at")?,
        activates_at: time(row, "activates_at")?,
        retired_at: opt_time(row, "retired_at")?,
        unpublish_at: opt_time(row, "unpublish_at")?,
    })
}

pub(crate) fn chained_event(row: &AnyRow) -> Result<ChainedEvent, StoreError> {
    Ok(ChainedEvent {
        seq: get(row, "seq")?,
        chain_seq: get(row, "chain_seq")?,
        prev_hash: hash(row, "prev_hash")?,
        hash: hash(row, "hash")?,
        event: audit_event(row)?,
    })
}

pub(crate) fn checkpoint(row: &AnyRow) -> Result<Checkpoint, StoreError> {
    Ok(Checkpoint {
        chain: get(row, "chain")?,
        chain_seq: get(row, "chain_seq")?,
        hash: hash(row, "hash")?,
        signature: get(row, "signature")?,
        created_at: time(row, "created_at")?,
    })
}

fn audit_event(row: &AnyRow) -> Result<AuditEvent, StoreError> {
    Ok(AuditEvent {
        id: parsed(row, "id", str::parse)?,
        tenant_id: parsed_opt(row, "tenant_id", str::parse)?,
        actor: get(row, "actor")?,
        action: get(row, "action")?,
        target: get(row, "target")?,
        outcome: word(row, "outcome", Outcome::parse)?,
        reason: get(row, "reason")?,
        client_ip: get(row, "client_ip")?,
        request_id: get(row, "request_id")?,
        occurred_at: time(row, "occurred_at")?,
    })
}

/// Converts every row, failing on the first that does not fit.
pub(crate) fn all<T>(
    rows: Vec<AnyRow>,
    convert: fn(&AnyRow) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    rows.iter().map(convert).collect()
}
