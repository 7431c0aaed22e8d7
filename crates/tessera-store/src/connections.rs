//! Connections (the token vault's rows). The refresh lease is a conditional `UPDATE`: it
//! succeeds for one caller only while no live lease is held, on either backend; so is every
//! later write, on the row's revision.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_core::connection::{
    Connection, ConnectionKey, ConnectionStatus, ConnectionStore, ScopeKind,
};
use tessera_core::store::StoreResult;
use tessera_core::{StoreError, TenantId};
use time::OffsetDateTime;

use crate::SqlStore;
use crate::error::{corrupt, db_error, write_error};
use crate::rows::{get, opt_secs, opt_time, parsed, secs, time, word};

macro_rules! connection_columns {
    () => {
        "tenant_id, scope_kind, scope_id, provider, name, status, scopes, account, sealed_tokens, \
         expires_at, connected_at, refreshed_at, updated_at, revision"
    };
}

/// The condition naming one row by its key, binding `$1`…`$5`.
macro_rules! by_key {
    () => {
        "tenant_id = $1 AND scope_kind = $2 AND scope_id = $3 AND provider = $4 AND name = $5"
    };
}

fn key(row: &AnyRow) -> Result<ConnectionKey, StoreError> {
    Ok(ConnectionKey {
        tenant_id: parsed(row, "tenant_id", str::parse::<TenantId>)?,
        scope_kind: word(row, "scope_kind", ScopeKind::parse)?,
        scope_id: get(row, "scope_id")?,
        provider: get(row, "provider")?,
        name: get(row, "name")?,
    })
}

fn connection(row: &AnyRow) -> Result<Connection, StoreError> {
    let scopes: String = get(row, "scopes")?;
    Ok(Connection {
        key: key(row)?,
        status: word(row, "status", ConnectionStatus::parse)?,
        scopes: serde_json::from_str(&scopes).map_err(|e| corrupt("connections.scopes", e))?,
        account: get(row, "account")?,
        sealed_tokens: get(row, "sealed_tokens")?,
        expires_at: opt_time(row, "expires_at")?,
        connected_at: time(row, "connected_at")?,
        refreshed_at: opt_time(row, "refreshed_at")?,
        updated_at: time(row, "updated_at")?,
        revision: get(row, "revision")?,
    })
}

/// Binds the five key columns, in `BY_KEY`'s order.
macro_rules! bind_key {
    ($query:expr, $key:expr) => {
        $query
            .bind($key.tenant_id.to_string())
            .bind($key.scope_kind.as_str())
            .bind($key.scope_id.clone())
            .bind($key.provider.clone())
            .bind($key.name.clone())
    };
}

#[async_trait]
impl ConnectionStore for SqlStore {
    async fn put_connection(&self, c: &Connection) -> StoreResult<()> {
        // Update, else insert: the same statements on both backends (no dialect-specific
        // upsert). Replacing bumps the revision, so a refresh of the replaced tokens that is
        // still running cannot write over the new consent.
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let replaced = bind_key!(
            sqlx::query(concat!(
                "UPDATE connections SET status = $6, scopes = $7, account = $8, \
                 sealed_tokens = $9, expires_at = $10, connected_at = $11, refreshed_at = $12, \
                 updated_at = $13, revision = revision + 1, lease_owner = NULL, \
                 lease_until = NULL WHERE ",
                by_key!()
            )),
            c.key
        )
        .bind(c.status.as_str())
        .bind(serde_json::Value::from(c.scopes.clone()).to_string())
        .bind(c.account.clone())
        .bind(c.sealed_tokens.clone())
        .bind(opt_secs(c.expires_at))
        .bind(secs(c.connected_at))
        .bind(opt_secs(c.refreshed_at))
        .bind(secs(c.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        if replaced.rows_affected() == 0 {
            bind_key!(
                sqlx::query(concat!(
                    "INSERT INTO connections (",
                    connection_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0)"
                )),
                c.key
            )
            .bind(c.status.as_str())
            .bind(serde_json::Value::from(c.scopes.clone()).to_string())
            .bind(c.account.clone())
            .bind(c.sealed_tokens.clone())
            .bind(opt_secs(c.expires_at))
            .bind(secs(c.connected_at))
            .bind(opt_secs(c.refreshed_at))
            .bind(secs(c.updated_at))
            .execute(&mut *tx)
            .await
            .map_err(|e| write_error(e, "connections_pkey"))?;
        }
        tx.commit().await.map_err(db_error)
    }

    async fn connection(&self, k: &ConnectionKey) -> StoreResult<Option<Connection>> {
        bind_key!(
            sqlx::query(concat!(
                "SELECT ",
                connection_columns!(),
                " FROM connections WHERE ",
                by_key!()
            )),
            k
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(connection)
        .transpose()
    }

    async fn scope_connections(
        &self,
        tenant: TenantId,
        kind: ScopeKind,
        scope_id: &str,
    ) -> StoreResult<Vec<Connection>> {
        sqlx::query(concat!(
            "SELECT ",
            connection_columns!(),
            " FROM connections WHERE tenant_id = $1 AND scope_kind = $2 AND scope_id = $3 \
             ORDER BY provider, name"
        ))
        .bind(tenant.to_string())
        .bind(kind.as_str())
        .bind(scope_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(connection)
        .collect()
    }

    async fn lease_connection(
        &self,
        k: &ConnectionKey,
        owner: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let done = bind_key!(
            sqlx::query(concat!(
                "UPDATE connections SET lease_owner = $6, lease_until = $7 WHERE ",
                by_key!(),
                " AND (lease_owner IS NULL OR lease_until <= $8)"
            )),
            k
        )
        .bind(owner)
        .bind(secs(until))
        .bind(secs(now))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn update_connection(
        &self,
        c: &Connection,
        lease_owner: Option<&str>,
    ) -> StoreResult<bool> {
        // Another holder's lease stays: its own write will fail on the revision, and it lets
        // go then.
        let done = bind_key!(
            sqlx::query(concat!(
                "UPDATE connections SET status = $6, scopes = $7, account = $8, \
                 sealed_tokens = $9, expires_at = $10, refreshed_at = $11, updated_at = $12, \
                 revision = revision + 1, \
                 lease_until = CASE WHEN lease_owner = $13 THEN NULL ELSE lease_until END, \
                 lease_owner = CASE WHEN lease_owner = $13 THEN NULL ELSE lease_owner END \
                 WHERE ",
                by_key!(),
                " AND revision = $14"
            )),
            c.key
        )
        .bind(c.status.as_str())
        .bind(serde_json::Value::from(c.scopes.clone()).to_string())
        .bind(c.account.clone())
        .bind(c.sealed_tokens.clone())
        .bind(opt_secs(c.expires_at))
        .bind(opt_secs(c.refreshed_at))
        .bind(secs(c.updated_at))
        .bind(lease_owner)
        .bind(c.revision)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_lease(&self, k: &ConnectionKey, owner: &str) -> StoreResult<()> {
        bind_key!(
            sqlx::query(concat!(
                "UPDATE connections SET lease_owner = NULL, lease_until = NULL WHERE ",
                by_key!(),
                " AND lease_owner = $6"
            )),
            k
        )
        .bind(owner)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }
}
