//! Direct access to a test server's store, bypassing the API on purpose: reads for asserting
//! what was (not) written, and writes for playing an attacker who can change the database.

use std::path::PathBuf;

use sqlx::{AnyConnection, AssertSqlSafe, Connection, Row};

use crate::TestServer;

/// A value bound into a [`TestServer::tamper`] statement.
#[derive(Debug, Clone)]
pub enum TamperValue {
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

/// One audit event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub tenant_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub reason: String,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
}

impl TestServer {
    pub(crate) async fn store_connection(&self) -> AnyConnection {
        self.connect(false).await
    }

    async fn connect(&self, write: bool) -> AnyConnection {
        sqlx::any::install_default_drivers();
        let mode = if write { "rw" } else { "ro" };
        let url = match self.database() {
            Some(db) => db.url(),
            None => format!(
                "sqlite://{}?mode={mode}",
                self.config().sqlite_path().display()
            ),
        };
        AnyConnection::connect(&url)
            .await
            .expect("connecting to the test store")
    }

    /// Runs a statement directly against the store, as someone with database access but no
    /// keys would; returns the rows affected. `sql` is fixed test text, never input.
    pub async fn tamper(&self, sql: &str, binds: &[TamperValue]) -> u64 {
        let mut connection = self.connect(true).await;
        let mut query = sqlx::query(AssertSqlSafe(sql.to_owned()));
        for bind in binds {
            query = match bind {
                TamperValue::Int(n) => query.bind(*n),
                TamperValue::Text(t) => query.bind(t.clone()),
                TamperValue::Bytes(b) => query.bind(b.clone()),
            };
        }
        let affected = query
            .execute(&mut connection)
            .await
            .expect("tampering with the store")
            .rows_affected();
        let _ = connection.close().await;
        affected
    }

    /// The signed checkpoints of a chain: (position, compact JWS), oldest first.
    pub async fn checkpoint_rows(&self, chain: &str) -> Vec<(i64, String)> {
        let mut connection = self.store_connection().await;
        let rows = sqlx::query("SELECT chain_seq, signature FROM audit_checkpoints WHERE chain = $1 ORDER BY chain_seq")
            .bind(chain.to_owned())
            .fetch_all(&mut connection)
            .await
            .expect("reading checkpoints");
        let _ = connection.close().await;
        rows.iter()
            .map(|row| {
                (
                    row.try_get("chain_seq").expect("chain_seq"),
                    row.try_get("signature").expect("signature"),
                )
            })
            .collect()
    }

    /// The number of rows in `table` (a fixed name from the test, never input).
    pub async fn count_rows(&self, table: &str) -> i64 {
        let mut connection = self.store_connection().await;
        let row = sqlx::query(AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM {table}")))
            .fetch_one(&mut connection)
            .await
            .expect("counting rows");
        let _ = connection.close().await;
        row.try_get::<i64, _>("n").expect("count column")
    }

    /// The audit events, oldest first (after flushing the writer).
    pub async fn audit_log(&self) -> Vec<AuditRow> {
        self.flush_audit().await;
        let mut connection = self.store_connection().await;
        let rows = sqlx::query(
            "SELECT tenant_id, actor, action, target, outcome, reason, client_ip, request_id FROM audit_events ORDER BY seq",
        )
        .fetch_all(&mut connection)
        .await
        .expect("reading the audit log");
        let _ = connection.close().await;
        rows.iter()
            .map(|row| AuditRow {
                tenant_id: row.try_get("tenant_id").expect("tenant_id"),
                actor: row.try_get("actor").expect("actor"),
                action: row.try_get("action").expect("action"),
                target: row.try_get("target").expect("target"),
                outcome: row.try_get("outcome").expect("outcome"),
                reason: row.try_get("reason").expect("reason"),
                client_ip: row.try_get("client_ip").expect("client_ip"),
                request_id: row.try_get("request_id").expect("request_id"),
            })
            .collect()
    }

    /// Every file of the SQLite store (database, WAL, shared memory), for searching at rest.
    pub fn sqlite_files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.data_dir())
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.to_string_lossy().contains("tessera.db"))
                    .collect()
            })
            .unwrap_or_default()
    }
}
