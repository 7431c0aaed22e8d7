//! Translation of database errors into the port's `StoreError`, the same for both backends.

use sqlx::error::ErrorKind;
use tessera_core::StoreError;

/// The uniqueness and foreign-key rules of the schema: the PostgreSQL constraint (or index) name,
/// and the `table.column` that names the rule in `StoreError::Conflict` and in SQLite's messages.
const RULES: &[(&str, &str)] = &[
    ("operators_pkey", "operators.id"),
    ("tenants_pkey", "tenants.id"),
    ("api_keys_pkey", "api_keys.id"),
    ("api_keys_secret_hash_key", "api_keys.secret_hash"),
    ("api_keys_tenant_id_fkey", "api_keys.tenant_id"),
    ("api_keys_operator_id_fkey", "api_keys.operator_id"),
    ("agents_pkey", "agents.id"),
    ("agents_tenant_id_fkey", "agents.tenant_id"),
    ("client_secrets_pkey", "client_secrets.id"),
    ("client_secrets_agent_id_fkey", "client_secrets.agent_id"),
    ("signing_keys_pkey", "signing_keys.kid"),
    ("revoked_tokens_pkey", "revoked_tokens.jti"),
    ("audit_events_pkey", "audit_events.seq"),
    ("audit_events_id_key", "audit_events.id"),
    ("audit_events_chain_seq_key", "audit_events.chain"),
    ("audit_checkpoints_pkey", "audit_checkpoints.chain"),
    ("webhooks_pkey", "webhooks.id"),
    ("webhooks_tenant_id_fkey", "webhooks.tenant_id"),
    ("webhook_deliveries_pkey", "webhook_deliveries.id"),
    (
        "webhook_deliveries_webhook_id_fkey",
        "webhook_deliveries.webhook_id",
    ),
    (
        "webhook_deliveries_webhook_id_event_id_key",
        "webhook_deliveries.webhook_id",
    ),
    ("webhook_attempts_pkey", "webhook_attempts.delivery_id"),
    (
        "webhook_attempts_delivery_id_fkey",
        "webhook_attempts.delivery_id",
    ),
    ("usage_hourly_pkey", "usage_hourly.tenant_id"),
    ("usage_totals_pkey", "usage_totals.tenant_id"),
    ("placements_pkey", "placements.entity_id"),
    ("placements_entity_id_fkey", "placements.entity_id"),
    ("placements_agent_id_key", "placements.agent_id"),
    ("placements_agent_id_fkey", "placements.agent_id"),
    ("users_pkey", "users.id"),
    ("identities_pkey", "identities.id"),
    ("identities_kind_subject_key", "identities.kind"),
    ("identities_user_id_fkey", "identities.user_id"),
    ("wallets_pkey", "wallets.id"),
    ("wallets_chain_address_key", "wallets.chain"),
    ("memberships_pkey", "memberships.tenant_id"),
    ("memberships_tenant_id_fkey", "memberships.tenant_id"),
    ("memberships_user_id_fkey", "memberships.user_id"),
    ("sessions_pkey", "sessions.id"),
    ("refresh_tokens_pkey", "refresh_tokens.hash"),
    ("challenges_pkey", "challenges.key"),
    ("email_outbox_pkey", "email_outbox.id"),
    ("api_keys_user_id_fkey", "api_keys.user_id"),
    ("oauth_clients_pkey", "oauth_clients.id"),
    ("oauth_clients_tenant_id_fkey", "oauth_clients.tenant_id"),
    ("oauth_grants_pkey", "oauth_grants.id"),
    ("oauth_grants_code_hash_key", "oauth_grants.code_hash"),
    ("oauth_grants_tenant_id_fkey", "oauth_grants.tenant_id"),
    ("oauth_grants_client_id_fkey", "oauth_grants.client_id"),
    ("oauth_grants_user_id_fkey", "oauth_grants.user_id"),
    ("oauth_refresh_tokens_pkey", "oauth_refresh_tokens.hash"),
    (
        "oauth_refresh_tokens_grant_id_fkey",
        "oauth_refresh_tokens.grant_id",
    ),
    ("oauth_consents_pkey", "oauth_consents.client_id"),
    ("oauth_consents_client_id_fkey", "oauth_consents.client_id"),
    ("oauth_consents_user_id_fkey", "oauth_consents.user_id"),
    ("agent_keys_pkey", "agent_keys.agent_id"),
    ("agent_keys_agent_id_fkey", "agent_keys.agent_id"),
    (
        "oauth_device_authorizations_pkey",
        "oauth_device_authorizations.device_code_hash",
    ),
    (
        "oauth_device_authorizations_user_code_hash_key",
        "oauth_device_authorizations.user_code_hash",
    ),
    (
        "oauth_device_authorizations_tenant_id_fkey",
        "oauth_device_authorizations.tenant_id",
    ),
    (
        "oauth_device_authorizations_client_id_fkey",
        "oauth_device_authorizations.client_id",
    ),
    (
        "oauth_device_authorizations_user_id_fkey",
        "oauth_device_authorizations.user_id",
    ),
];

/// Maps an error of a statement that writes; `fallback` names the conflict when the database
/// does not say which rule broke (SQLite reports a foreign-key failure without naming it).
pub(crate) fn write_error(error: sqlx::Error, fallback: &'static str) -> StoreError {
    if let sqlx::Error::Database(db) = &error
        && matches!(
            db.kind(),
            ErrorKind::UniqueViolation | ErrorKind::ForeignKeyViolation
        )
    {
        return StoreError::Conflict(rule_of(db.constraint(), db.message()).unwrap_or(fallback));
    }
    db_error(error)
}

/// Maps an error of a statement that only reads (or whose conflicts cannot happen).
pub(crate) fn db_error(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. } => StoreError::Corrupt(error.to_string()),
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// PostgreSQL names the constraint; SQLite writes `UNIQUE constraint failed: table.column`.
fn rule_of(constraint: Option<&str>, message: &str) -> Option<&'static str> {
    if let Some(name) = constraint {
        return RULES
            .iter()
            .find(|(pg, _)| *pg == name)
            .map(|(_, rule)| *rule);
    }
    let columns = message.rsplit_once("constraint failed: ")?.1;
    let first = columns.split(',').next()?.trim();
    RULES
        .iter()
        .find(|(_, rule)| *rule == first)
        .map(|(_, rule)| *rule)
}

/// A value read back from the database that does not fit the domain type.
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_rules_from_either_backend() {
        assert_eq!(
            rule_of(Some("api_keys_secret_hash_key"), "duplicate key value"),
            Some("api_keys.secret_hash")
        );
        assert_eq!(
            rule_of(None, "UNIQUE constraint failed: api_keys.secret_hash"),
            Some("api_keys.secret_hash")
        );
        assert_eq!(rule_of(None, "FOREIGN KEY constraint failed"), None);
        assert_eq!(rule_of(Some("unknown"), ""), None);
    }
}
