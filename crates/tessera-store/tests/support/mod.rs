//! Runs one test case against a fresh, migrated store on SQLite or PostgreSQL, and fixtures.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use tessera_core::agent::{Agent, AgentStatus, ClientSecret};
use tessera_core::api_key::{ApiKey, KeyOwner};
use tessera_core::audit::{AuditEvent, Outcome};
use tessera_core::signing_key::SigningKeyRecord;
use tessera_core::tenant::{Plan, Tenant, TenantKind, TenantStatus};
use tessera_core::{
    AgentId, ApiKeyId, AuditEventId, ClientSecretId, OperatorId, Scopes, Store, TenantId,
};
use tessera_store::SqlStore;
use time::OffsetDateTime;
use time::macros::datetime;

/// Names the PostgreSQL server to test on, by a URL with rights to create databases.
const POSTGRES_ENV: &str = "TESSERA_TEST_DATABASE_URL";

/// Generates one test per case, run on the backend the suite is run against: PostgreSQL when
/// `TESSERA_TEST_DATABASE_URL` is set, SQLite otherwise (`scripts/test` runs the suite once each).
macro_rules! store_tests {
    ($($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                crate::support::on_configured_backend(|store| async move {
                    crate::cases::$case(&store).await;
                })
                .await;
            }
        )*
    };
}
pub(crate) use store_tests;

/// A directory of its own for one SQLite test, unique within and across test processes.
pub fn scratch_dir() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tessera-store-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Arc<SqlStore>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = scratch_dir();
    let store = Arc::new(
        SqlStore::open_sqlite(&dir.join("tessera.db"))
            .await
            .unwrap(),
    );
    store.migrate().await.unwrap();
    let outcome = tokio::spawn(case(store.clone())).await;
    store.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

pub async fn on_configured_backend<F, Fut>(case: F)
where
    F: FnOnce(Arc<SqlStore>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    match std::env::var(POSTGRES_ENV) {
        Ok(admin_url) => on_postgres(&admin_url, case).await,
        Err(_) => on_sqlite(case).await,
    }
}

/// Runs the case in a database of its own, created for it and dropped after, even when it fails.
async fn on_postgres<F, Fut>(admin_url: &str, case: F)
where
    F: FnOnce(Arc<SqlStore>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    with_postgres_database(admin_url, |url| async move {
        let store = Arc::new(SqlStore::open_postgres(&url).await.unwrap());
        let database = url.rsplit('/').next().unwrap();
        assert!(
            !format!("{store:?}").contains(database),
            "Debug must not show the URL"
        );
        store.migrate().await.unwrap();
        let outcome = tokio::spawn(case(store.clone())).await;
        store.close().await;
        if let Err(error) = outcome {
            std::panic::resume_unwind(error.into_panic());
        }
    })
    .await;
}

/// Creates an empty database on the server at `admin_url`, runs `case` with its URL, and drops
/// it after, even when the case fails.
pub async fn with_postgres_database<F, Fut>(admin_url: &str, case: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    // The hex digits of a fresh UUIDv7 end in 62 random bits.
    let name = format!("tessera_t_{}", &AgentId::generate().to_string()[4..]);
    let mut admin = PgConnection::connect(admin_url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(admin_url).unwrap();
    url.set_path(&format!("/{name}"));

    let outcome = tokio::spawn(case(url.to_string())).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    admin.close().await.unwrap();
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// Every fixture is created at this moment unless a case says otherwise.
pub const T0: OffsetDateTime = datetime!(2025-06-01 12:00 UTC);

pub fn at(seconds_after_t0: i64) -> OffsetDateTime {
    T0 + time::Duration::seconds(seconds_after_t0)
}

/// A distinct 32-byte "hash" per call: the hex digits of a fresh id.
pub fn fresh_hash() -> [u8; 32] {
    let id = ApiKeyId::generate().to_string();
    <[u8; 32]>::try_from(&id.as_bytes()[4..]).unwrap()
}

pub fn tenant() -> Tenant {
    Tenant {
        id: TenantId::generate(),
        name: "Acme".into(),
        email: "ops@acme.example".into(),
        kind: TenantKind::Provider,
        plan: Plan::Professional,
        status: TenantStatus::Active,
        created_at: T0,
    }
}

pub fn api_key(owner: KeyOwner) -> ApiKey {
    ApiKey {
        id: ApiKeyId::generate(),
        owner,
        name: "deploy".into(),
        scopes: Scopes::parse("read agents:write").unwrap(),
        secret_hash: fresh_hash(),
        expires_at: Some(at(86_400)),
        revoked_at: None,
        last_used_at: None,
        created_at: T0,
    }
}

pub fn tenant_key(tenant: &Tenant) -> ApiKey {
    api_key(KeyOwner::Tenant(tenant.id))
}

pub fn agent(tenant: &Tenant) -> Agent {
    Agent {
        id: AgentId::generate(),
        tenant_id: tenant.id,
        name: "summarizer".into(),
        description: Some("Summarizes documents".into()),
        capabilities: vec!["summarize".into(), "translate:fr".into()],
        scopes: Scopes::parse("docs:read docs:write").unwrap(),
        status: AgentStatus::Active,
        created_at: T0,
        updated_at: T0,
    }
}

pub fn client_secret(agent: &Agent) -> ClientSecret {
    ClientSecret {
        id: ClientSecretId::generate(),
        agent_id: agent.id,
        secret_hash: fresh_hash(),
        expires_at: None,
        created_at: T0,
    }
}

pub fn signing_key(kid: &str, activates_at: OffsetDateTime) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: kid.into(),
        alg: "ES256".into(),
        sealed_private_key: vec![0, 1, 2, 254, 255],
        public_jwk: format!(r#"{{"kty":"EC","crv":"P-256","kid":"{kid}"}}"#),
        created_at: activates_at,
        activates_at,
        retired_at: None,
        unpublish_at: None,
    }
}

pub fn audit_event(tenant: Option<TenantId>, action: &str) -> AuditEvent {
    AuditEvent {
        id: AuditEventId::generate(),
        tenant_id: tenant,
        actor: format!("operator:{}", OperatorId::generate()),
        action: action.into(),
        target: String::new(),
        outcome: Outcome::Success,
        reason: String::new(),
        client_ip: Some("192.0.2.7".into()),
        request_id: None,
        occurred_at: T0,
    }
}

/// A tenant with its first key, already stored.
pub async fn stored_tenant(store: &SqlStore) -> (Tenant, ApiKey) {
    let tenant = tenant();
    let key = tenant_key(&tenant);
    store.create_tenant(&tenant, &key).await.unwrap();
    (tenant, key)
}

/// An agent of `tenant` with its first secret, already stored.
pub async fn stored_agent(store: &SqlStore, tenant: &Tenant) -> (Agent, ClientSecret) {
    let agent = agent(tenant);
    let secret = client_secret(&agent);
    store.create_agent(&agent, &secret, None).await.unwrap();
    (agent, secret)
}
