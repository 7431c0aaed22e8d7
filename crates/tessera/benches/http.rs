//! The server's hot paths, measured in-process against a real store:
//!
//! - `api_key`: [`ApiKeyAuthenticator::authenticate`] with 10 and with 1,000,000 keys in the
//!   SQLite store, each for a cache hit and a cache miss; the figures must not grow with the
//!   number of keys (the lookup is a unique index on `secret_hash` behind a cache);
//! - `access_token`: `AppState::validate_access_token` of a valid token (signature, revocation,
//!   tenant and agent status), and the signature and claims check alone for comparison;
//! - `client_credentials`: `POST /oauth2/token` with HTTP Basic over a keep-alive reqwest client
//!   against a running server, one request at a time and eight in flight.
//!
//! Each store is built the way an installation is: a real server (`tessera-testkit`) registers
//! the tenant (and the agent) over HTTP and is stopped; the remaining keys are then written
//! straight into its SQLite file in one transaction; then the store is opened again with
//! [`App::open`], not served, and its [`AppState`] is called directly. The data directories are
//! temporary and removed at the end of the run.
//!
//! `cargo bench -p tessera --bench http`. The servers log one JSON line per request on stderr
//! (as in production, `info`), so `2>/dev/null` or `RUST_LOG=warn` keeps the terminal readable.
//!
//! [`ApiKeyAuthenticator::authenticate`]: tessera_server::auth::ApiKeyAuthenticator::authenticate

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};
use tessera_core::{ApiKeyId, TenantId};
use tessera_crypto::{GeneratedSecret, SecretKind};
use tessera_server::App;
use tessera_server::state::AppState;
use tessera_testkit::{ManualClock, TestServer};
use tokio::runtime::Runtime;

/// API keys in the small and the large store (the operator's and the tenant's first key count).
const SMALL_STORE_KEYS: usize = 10;
const LARGE_STORE_KEYS: usize = 1_000_000;

/// Rows per `INSERT` while populating: 4 bound parameters each, well under SQLite's 32,766.
const ROWS_PER_INSERT: usize = 1_000;

/// Requests in flight in the concurrent issuance benchmark.
const CONCURRENT_REQUESTS: usize = 8;

/// A store with a registered tenant and many of its keys, opened in-process.
struct KeyStore {
    /// Stopped; kept because it owns the temporary data directory.
    _server: TestServer,
    _app: App,
    state: AppState,
    /// The keys written directly, with the SHA-256 the store holds of each.
    keys: Vec<(String, [u8; 32])>,
    /// A valid access token for an agent of the tenant (minted by the server before it stopped).
    token: String,
}

/// Registers a tenant (and an agent, and gets it a token) on a real server, stops it, adds
/// keys of that tenant until the store holds `total_keys`, and opens the store again.
async fn key_store(total_keys: usize) -> KeyStore {
    let mut server = TestServer::start().await;
    let tenant = server.register_tenant("bench tenant").await;
    let agent = server.create_agent(&tenant, &["mail:read"]).await;
    let token = server.token(&agent, None).await;
    server.stop().await.expect("stopping the server");

    let tenant_id: TenantId = tenant.id.parse().expect("a tenant id");
    let clock = Arc::new(ManualClock::starting_now());
    let now = tessera_server::Clock::now(clock.as_ref()).unix_timestamp();
    let started = Instant::now();
    let keys = populate(&server.config().sqlite_path(), tenant_id, total_keys, now).await;
    eprintln!(
        "populated {} keys ({} written directly) in {:.1?}",
        total_keys,
        keys.len(),
        started.elapsed()
    );

    // The same configuration and data directory: the same issuer, master key and signing keys.
    let started = App::open(server.config().clone(), clock)
        .await
        .expect("reopening the store");
    let state = started.app.state().clone();
    KeyStore {
        _server: server,
        _app: started.app,
        state,
        keys,
        token,
    }
}

/// Writes real tenant keys (`GeneratedSecret`s, scope `*`) into the SQLite file until the
/// `api_keys` table holds `total_keys` rows; returns the keys written.
async fn populate(
    path: &std::path::Path,
    tenant: TenantId,
    total_keys: usize,
    now: i64,
) -> Vec<(String, [u8; 32])> {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .connect()
        .await
        .expect("opening the SQLite file");
    // A large page cache for the bulk insert only (this connection's own setting).
    sqlx::raw_sql("PRAGMA cache_size = -262144")
        .execute(&mut conn)
        .await
        .expect("PRAGMA cache_size");
    let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys")
        .fetch_one(&mut conn)
        .await
        .expect("counting keys");
    let wanted = total_keys.saturating_sub(usize::try_from(existing).unwrap_or(0));
    let mut keys = generate_keys(wanted);
    // Inserting in hash order, with ids made in that same order, turns the random inserts into
    // both unique indexes (secret_hash, id) into appends: minutes become seconds.
    keys.sort_unstable_by_key(|key| key.1);
    let tenant = tenant.to_string();

    let mut tx = conn.begin().await.expect("a transaction");
    for chunk in keys.chunks(ROWS_PER_INSERT) {
        // The last_used_at of now keeps `touch` (at most one background UPDATE per key per
        // minute) from firing on every cache miss below: these benchmarks measure the lookup.
        let mut sql = String::from(
            "INSERT INTO api_keys (id, tenant_id, operator_id, name, scopes, secret_hash, \
             expires_at, revoked_at, last_used_at, created_at) VALUES ",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str("(?, ?, NULL, 'bench', '*', ?, NULL, NULL, ?, ?)");
        }
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (_, hash) in chunk {
            query = query
                .bind(ApiKeyId::generate().to_string())
                .bind(tenant.as_str())
                .bind(hash.as_slice())
                .bind(now)
                .bind(now);
        }
        query.execute(&mut *tx).await.expect("inserting keys");
    }
    tx.commit().await.expect("committing the keys");
    conn.close().await.expect("closing the SQLite file");
    keys
}

/// `count` tenant API keys and their digests, generated on every core.
fn generate_keys(count: usize) -> Vec<(String, [u8; 32])> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = count.div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..count)
            .step_by(per_thread)
            .map(|start| {
                let n = per_thread.min(count - start);
                scope.spawn(move || {
                    (0..n)
                        .map(|_| {
                            let secret = GeneratedSecret::new(SecretKind::TenantApiKey);
                            (secret.secret.expose().to_owned(), secret.hash)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("a key generator thread"))
            .collect()
    })
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn api_keys(c: &mut Criterion) {
    let runtime = runtime();
    let stores = [
        ("10 keys", runtime.block_on(key_store(SMALL_STORE_KEYS))),
        ("1M keys", runtime.block_on(key_store(LARGE_STORE_KEYS))),
    ];

    let mut group = c.benchmark_group("api_key");
    for (label, store) in &stores {
        let state = &store.state;
        // Hit: the same key again and again; after the first call it comes from the cache (the
        // entry is re-read from the store once per `auth_cache_ttl_secs`, 10 s by default).
        let (key, _) = &store.keys[store.keys.len() / 2];
        group.bench_function(BenchmarkId::new("hit", label), |b| {
            b.to_async(&runtime).iter(move || async move {
                state.api_keys.authenticate(key).await.expect("a valid key")
            });
        });
    }
    for (label, store) in &stores {
        let state = &store.state;
        let keys = &store.keys;
        // Miss: a different key on every iteration, cycling through every key written (8 or
        // 999,998), and each dropped from the cache with `forget` just before it is presented.
        // Neither a small `auth_cache_capacity` nor a set larger than the cache would make
        // every iteration a miss: quick_cache's admission policy keeps some entries of a
        // small cache, and the small store has only 8 keys to cycle through. `forget` makes the
        // miss certain whatever the cache does, at the cost of one cache removal (tens of ns,
        // against a store read of tens of µs). The tenant's status stays cached, as it would.
        let mut next = 0;
        group.bench_function(BenchmarkId::new("miss", label), |b| {
            b.to_async(&runtime).iter(move || {
                let (key, hash) = &keys[next % keys.len()];
                next += 1;
                state.api_keys.forget(hash);
                async move { state.api_keys.authenticate(key).await.expect("a valid key") }
            });
        });
    }
    group.finish();

    // Access tokens, on the small store (their validation does not read the keys).
    let state = &stores[0].1.state;
    let token = &stores[0].1.token;
    let mut group = c.benchmark_group("access_token");
    group.bench_function("validate", |b| {
        b.to_async(&runtime).iter(move || async move {
            state
                .validate_access_token(token)
                .await
                .expect("an active token")
        });
    });
    group.bench_function("signature and claims only", |b| {
        b.to_async(&runtime).iter(move || async move {
            state
                .verify_signed_token(token)
                .await
                .expect("a valid token")
        });
    });
    group.finish();

    // The stores (and their temporary directories) go inside the runtime their pools use.
    runtime.block_on(async move { drop(stores) });
}

fn client_credentials(c: &mut Criterion) {
    let runtime = runtime();
    let (mut server, agent) = runtime.block_on(async {
        let server = TestServer::start().await;
        let tenant = server.register_tenant("bench tenant").await;
        let agent = server.create_agent(&tenant, &["mail:read"]).await;
        (server, agent)
    });
    // One pooled keep-alive client: after the first request every request reuses a connection.
    let http = &server.http.clone();
    let url = &server.url("/oauth2/token");
    let agent = &agent;
    let issue = move || {
        let request = http
            .post(url)
            .basic_auth(&agent.id, Some(&agent.client_secret))
            .form(&[("grant_type", "client_credentials")]);
        async move {
            let response = request.send().await.expect("POST /oauth2/token");
            assert_eq!(response.status(), 200, "issuing a token");
            response.bytes().await.expect("the token response")
        }
    };

    let mut group = c.benchmark_group("client_credentials");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one at a time", |b| {
        b.to_async(&runtime).iter(issue);
    });
    group.throughput(Throughput::Elements(CONCURRENT_REQUESTS as u64));
    group.bench_function(format!("{CONCURRENT_REQUESTS} in flight"), |b| {
        b.to_async(&runtime).iter(move || async move {
            let mut requests = tokio::task::JoinSet::new();
            for _ in 0..CONCURRENT_REQUESTS {
                requests.spawn(issue());
            }
            requests.join_all().await
        });
    });
    group.finish();

    runtime.block_on(async {
        server.stop().await.expect("stopping the server");
        drop(server);
    });
}

fn config() -> Criterion {
    // Two cores, several benchmarks each on a live server: fewer samples, shorter windows.
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! {
    name = benches;
    config = config();
    targets = api_keys, client_credentials
}
criterion_main!(benches);
