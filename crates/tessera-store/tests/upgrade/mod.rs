//! Upgrades: rows written by an older release survive the later migrations. Migration 0005
//! rebuilds `api_keys` on SQLite (a CHECK constraint cannot be altered there) and alters it on
//! PostgreSQL; existing keys must come through with their owners, times and hashes. Migration
//! 0014 gives OAuth clients an authentication method and grant types: existing clients keep
//! what they could do. Migration 0015 rebuilds `oauth_consents` on SQLite (a primary key cannot
//! be altered there) to key it by resource: consent given before counts for Tessera's API, and
//! a grant's resource becomes the first of its resources.

use std::path::{Path, PathBuf};

use sqlx::AnyPool;
use sqlx::migrate::Migrator;
use tessera_core::api_key::KeyOwner;
use tessera_core::authz::{AppGrant, AuthorizationStore, ClientAuthMethod};
use tessera_core::{ApiKeyId, GrantId, OAuthClientId, OperatorId, Scopes, Store, TenantId, UserId};
use tessera_store::SqlStore;
use time::OffsetDateTime;

use crate::support::{scratch_dir, with_postgres_database};

/// The last migration before people (0005) existed.
const BEFORE_PEOPLE: i64 = 4;

const TENANT_HASH: [u8; 32] = [0x11; 32];
const OPERATOR_HASH: [u8; 32] = [0x22; 32];

/// The last migration before clients' authentication methods (0014).
const BEFORE_CLIENT_AUTH: i64 = 13;

/// The last migration before consent was kept per resource (0015).
const BEFORE_RESOURCE_CONSENTS: i64 = 14;

#[tokio::test]
async fn api_keys_survive_the_people_migration() {
    on_each_backend(|old| async move { upgrade_and_check(old).await }).await;
}

#[tokio::test]
async fn consents_and_grants_survive_the_resource_consent_migration() {
    on_each_backend(|old| async move { consents_upgrade_and_check(old).await }).await;
}

/// Runs `check` on a fresh PostgreSQL database when one is configured, else on SQLite.
async fn on_each_backend<F, Fut>(check: F)
where
    F: FnOnce(Old) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    match std::env::var("TESSERA_TEST_DATABASE_URL") {
        Ok(admin_url) => {
            with_postgres_database(&admin_url, |url| async move {
                check(Old::Postgres(url)).await;
            })
            .await;
        }
        Err(_) => {
            let dir = scratch_dir();
            check(Old::Sqlite(dir.join("tessera.db"))).await;
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}

#[tokio::test]
async fn oauth_clients_keep_their_grants_through_the_client_auth_migration() {
    match std::env::var("TESSERA_TEST_DATABASE_URL") {
        Ok(admin_url) => {
            with_postgres_database(&admin_url, |url| async move {
                upgrade_clients_and_check(Old::Postgres(url)).await;
            })
            .await;
        }
        Err(_) => {
            let dir = scratch_dir();
            upgrade_clients_and_check(Old::Sqlite(dir.join("tessera.db"))).await;
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}

/// Writes, as the schema before 0014 held them, a confidential and a public client of the
/// tenant's API and a dynamically registered one; after every migration, each authenticates as
/// before and may use the grants it could.
async fn upgrade_clients_and_check(old: Old) {
    sqlx::any::install_default_drivers();
    let tenant = TenantId::generate();
    let (confidential, public, registered) = (
        OAuthClientId::generate(),
        OAuthClientId::generate(),
        OAuthClientId::generate(),
    );
    let migrator = Migrator::new(old.migrations()).await.unwrap();
    let pool = AnyPool::connect(&old.url()).await.unwrap();
    migrator.run_to(BEFORE_CLIENT_AUTH, &pool).await.unwrap();
    let client = |id: OAuthClientId, secret: &str, token: &str| {
        format!(
            "INSERT INTO oauth_clients (id, tenant_id, name, secret_hash, redirect_uris, scopes,
                                        registration_token_hash, created_at)
                 VALUES ('{id}', '{tenant}', 'App', {secret}, '[\"https://app.test/cb\"]',
                         'openid', {token}, 100);"
        )
    };
    let rows = format!(
        "INSERT INTO tenants (id, name, email, kind, plan, status, created_at)
             VALUES ('{tenant}', 'Acme', 'ops@acme.test', 'consumer', 'business', 'active', 100);
         {}{}{}",
        client(confidential, &old.blob(&TENANT_HASH), "NULL"),
        client(public, "NULL", "NULL"),
        client(
            registered,
            &old.blob(&TENANT_HASH),
            &old.blob(&OPERATOR_HASH)
        ),
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(rows))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let store = old.open().await;
    store.migrate().await.unwrap();
    let read = async |id| store.oauth_client_by_id(id).await.unwrap().unwrap();
    let kept = read(confidential).await;
    assert_eq!(kept.auth_method, ClientAuthMethod::ClientSecretBasic);
    assert_eq!(kept.secret_hash, Some(TENANT_HASH));
    assert_eq!(kept.keys, None);
    assert_eq!(kept.grant_types, AppGrant::ALL.to_vec());
    let kept = read(public).await;
    assert_eq!(kept.auth_method, ClientAuthMethod::None);
    assert!(kept.is_public());
    assert_eq!(kept.grant_types, AppGrant::ALL.to_vec());
    let kept = read(registered).await;
    assert_eq!(kept.auth_method, ClientAuthMethod::ClientSecretBasic);
    assert_eq!(
        kept.grant_types,
        vec![AppGrant::AuthorizationCode, AppGrant::RefreshToken]
    );
    store.close().await;
}

/// A fresh database, to be made by an older release.
enum Old {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Old {
    fn url(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}?mode=rwc", path.display()),
            Self::Postgres(url) => url.clone(),
        }
    }

    fn migrations(&self) -> PathBuf {
        let backend = match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        };
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend)
    }

    /// A 32-byte value as an SQL literal of this backend.
    fn blob(&self, bytes: &[u8; 32]) -> String {
        match self {
            Self::Sqlite(_) => format!("X'{}'", hex::encode(bytes)),
            Self::Postgres(_) => format!("'\\x{}'::bytea", hex::encode(bytes)),
        }
    }

    async fn open(&self) -> SqlStore {
        match self {
            Self::Sqlite(path) => SqlStore::open_sqlite(path).await.unwrap(),
            Self::Postgres(url) => SqlStore::open_postgres(url).await.unwrap(),
        }
    }
}

fn unix(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap()
}

/// Migrates `old` up to [`BEFORE_PEOPLE`] and writes a tenant key (used, expiring) and an
/// operator key (revoked) as that schema held them; then opens it as today's store, runs every
/// migration and reads both keys back.
async fn upgrade_and_check(old: Old) {
    sqlx::any::install_default_drivers();
    let (tenant, tenant_key) = (TenantId::generate(), ApiKeyId::generate());
    let (operator, operator_key) = (OperatorId::generate(), ApiKeyId::generate());

    let migrator = Migrator::new(old.migrations()).await.unwrap();
    // A pool, not a connection: `&mut AnyConnection` trips the compiler's `Send` inference
    // for `Migrator::run_to` inside a spawned task.
    let pool = AnyPool::connect(&old.url()).await.unwrap();
    migrator.run_to(BEFORE_PEOPLE, &pool).await.unwrap();
    let rows = format!(
        "INSERT INTO operators (id, created_at) VALUES ('{operator}', 100);
         INSERT INTO tenants (id, name, email, kind, plan, status, created_at)
             VALUES ('{tenant}', 'Acme', 'ops@acme.test', 'consumer', 'business', 'active', 100);
         INSERT INTO api_keys (id, tenant_id, operator_id, name, scopes, secret_hash,
                               expires_at, revoked_at, last_used_at, created_at)
             VALUES ('{tenant_key}', '{tenant}', NULL, 'deploy', 'agents:read agents:write',
                     {tenant_hash}, 5000, NULL, 300, 200);
         INSERT INTO api_keys (id, tenant_id, operator_id, name, scopes, secret_hash,
                               expires_at, revoked_at, last_used_at, created_at)
             VALUES ('{operator_key}', NULL, '{operator}', 'root', '*', {operator_hash},
                     NULL, 400, NULL, 150);",
        tenant_hash = old.blob(&TENANT_HASH),
        operator_hash = old.blob(&OPERATOR_HASH),
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(rows))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let store = old.open().await;
    store.migrate().await.unwrap();

    let kept = store.api_key_by_hash(&TENANT_HASH).await.unwrap().unwrap();
    assert_eq!(kept.id, tenant_key);
    assert_eq!(kept.owner, KeyOwner::Tenant(tenant));
    assert_eq!(kept.name, "deploy");
    assert_eq!(kept.scopes.to_string(), "agents:read agents:write");
    assert_eq!(kept.created_at, unix(200));
    assert_eq!(kept.last_used_at, Some(unix(300)));
    assert_eq!(kept.expires_at, Some(unix(5000)));
    assert_eq!(kept.revoked_at, None);
    assert_eq!(
        store.api_keys(KeyOwner::Tenant(tenant)).await.unwrap(),
        vec![kept]
    );

    let root = store
        .api_key_by_hash(&OPERATOR_HASH)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(root.id, operator_key);
    assert_eq!(root.owner, KeyOwner::Operator(operator));
    assert_eq!(root.revoked_at, Some(unix(400)));
    store.close().await;
}

/// Migrates `old` up to [`BEFORE_RESOURCE_CONSENTS`] and writes a consent and a grant for a
/// resource as that schema held them; then runs every migration and reads both back.
async fn consents_upgrade_and_check(old: Old) {
    sqlx::any::install_default_drivers();
    let (tenant, client, user, grant) = (
        TenantId::generate(),
        OAuthClientId::generate(),
        UserId::generate(),
        GrantId::generate(),
    );
    let migrator = Migrator::new(old.migrations()).await.unwrap();
    let pool = AnyPool::connect(&old.url()).await.unwrap();
    migrator
        .run_to(BEFORE_RESOURCE_CONSENTS, &pool)
        .await
        .unwrap();
    let rows = format!(
        "INSERT INTO tenants (id, name, email, kind, plan, status, created_at)
             VALUES ('{tenant}', 'Acme', 'ops@acme.test', 'consumer', 'business', 'active', 100);
         INSERT INTO users (id, email, name, created_at) VALUES ('{user}', NULL, NULL, 100);
         INSERT INTO oauth_clients (id, tenant_id, name, secret_hash, redirect_uris, scopes,
                                    registration_token_hash, created_at)
             VALUES ('{client}', '{tenant}', 'Dashboard', NULL, '[]', 'openid email', NULL, 100);
         INSERT INTO oauth_consents (client_id, user_id, scope, granted_at)
             VALUES ('{client}', '{user}', 'openid email', 200);
         INSERT INTO oauth_grants (id, tenant_id, client_id, user_id, scope, auth_time, code_hash,
                                   redirect_uri, code_challenge, nonce, code_expires_at,
                                   code_used_at, created_at, revoked_at, resource)
             VALUES ('{grant}', '{tenant}', '{client}', '{user}', 'openid', 100, {code_hash},
                     'http://127.0.0.1:9/cb', NULL, NULL, 160, 120, 100, NULL,
                     'https://mcp.example.com/');",
        code_hash = old.blob(&TENANT_HASH),
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(rows))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let store = old.open().await;
    store.migrate().await.unwrap();

    let openid_email = Scopes::parse("openid email").unwrap();
    assert_eq!(
        store.consent(client, user, None).await.unwrap(),
        Some(openid_email.clone())
    );
    let mcp = Some("https://mcp.example.com/");
    assert_eq!(store.consent(client, user, mcp).await.unwrap(), None);
    // Consent to a resource is its own row; Tessera's API keeps its own.
    let openid = Scopes::parse("openid").unwrap();
    store
        .save_consent(client, user, mcp, &openid, unix(300))
        .await
        .unwrap();
    assert_eq!(
        store.consent(client, user, mcp).await.unwrap(),
        Some(openid)
    );
    assert_eq!(
        store.consent(client, user, None).await.unwrap(),
        Some(openid_email)
    );
    let kept = store.grant(grant).await.unwrap().unwrap();
    assert_eq!(kept.resources, ["https://mcp.example.com/"]);
    store.close().await;
}
