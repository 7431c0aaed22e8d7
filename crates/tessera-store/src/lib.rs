//! Tessera's storage: [`SqlStore`], the one implementation of [`tessera_core::Store`], over SQLite
//! (a file, for single-node installations and tests) and PostgreSQL (for everything else).
//!
//! Both backends run the same query text through sqlx's `Any` driver, so a query cannot behave
//! differently on one of them: the schema stores only text, 64-bit integers and byte strings
//! (typed ids as text, times as unix seconds, hashes as 32 bytes), which `Any` carries alike.
//! The backends differ only in how a connection is set up and in their migration files
//! (`migrations/sqlite`, `migrations/postgres`), which describe the same logical schema.

mod agent_keys;
mod agents;
mod api_keys;
mod audit;
mod authz;
mod challenges;
mod connections;
mod delegations;
mod devices;
mod error;
mod outbox;
mod people;
mod placements;
mod rewrap;
mod rows;
mod sessions;
mod signing_keys;
mod store_impl;
mod tenants;
mod tokens;
mod trust;
mod usage;
mod wallet_bindings;
mod webhooks;

use std::fmt;
use std::path::Path;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use tessera_core::StoreError;

pub use rewrap::Rewrapped;

/// SQLite serializes writers anyway; a few readers alongside are all it can use.
const SQLITE_MAX_CONNECTIONS: u32 = 8;
const POSTGRES_MAX_CONNECTIONS: u32 = 16;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database a [`SqlStore`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The store over a pool of SQLite or PostgreSQL connections.
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
}

// By hand, because the pool's options hold the URL and a URL can hold a password.
impl fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.backend)
            .field("connections", &self.pool.size())
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// Opens the SQLite file at `path` (created if missing; WAL journal, foreign keys on, busy
    /// timeout 5s, synchronous=NORMAL).
    pub async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let url = sqlite_url(path)?;
        let pool = AnyPoolOptions::new()
            .max_connections(SQLITE_MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // These settings belong to the connection, so every connection needs them; the
            // journal mode is kept by the file, and asking for WAL again once it is WAL is a no-op.
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::raw_sql(
                        "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                         PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                    )
                    .execute(conn)
                    .await
                    .map(drop)
                })
            })
            // `connect` opens the first connection now, so the file switches to WAL before
            // several connections could race to do it under load.
            .connect(&url)
            .await
            .map_err(|e| connect_error(&e))?;
        Ok(Self {
            pool,
            backend: Backend::Sqlite,
        })
    }

    /// Connects to a `postgres://` URL.
    pub async fn open_postgres(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StoreError::Unavailable(
                "a PostgreSQL URL starts with postgres:// or postgresql://".to_owned(),
            ));
        }
        let pool = AnyPoolOptions::new()
            .max_connections(POSTGRES_MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .map_err(|e| connect_error(&e))?;
        Ok(Self {
            pool,
            backend: Backend::Postgres,
        })
    }

    /// Runs the embedded migrations for this backend (idempotent).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migration failed: {e}")))
    }

    /// Closes every connection, waiting for the ones in use to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A connection error without the URL, which sqlx may quote and which can hold a password.
fn connect_error(error: &sqlx::Error) -> StoreError {
    let text = match error {
        sqlx::Error::Configuration(_) => "invalid connection URL".to_owned(),
        other => other.to_string(),
    };
    StoreError::Unavailable(format!("cannot connect: {text}"))
}

/// The `sqlite://` URL for a path, percent-encoding everything that URL parsing could reinterpret
/// (`?`, `#`, `%`, spaces…); the path is made absolute so no part of it is read as a host.
fn sqlite_url(path: &Path) -> Result<String, StoreError> {
    let absolute = std::path::absolute(path)
        .map_err(|e| StoreError::Unavailable(format!("database path: {e}")))?;
    let text = absolute.to_str().ok_or_else(|| {
        StoreError::Unavailable("the database path is not valid UTF-8".to_owned())
    })?;
    let mut url = String::from("sqlite://");
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-_.~".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url.push_str("?mode=rwc");
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_escape_what_urls_would_reinterpret() {
        let url = sqlite_url(Path::new("/tmp/a b?c#d%e.db")).ok();
        assert_eq!(
            url.as_deref(),
            Some("sqlite:///tmp/a%20b%3Fc%23d%25e.db?mode=rwc")
        );
    }
}
