//! Usage counters on the backend the suite targets (PostgreSQL when
//! `TESSERA_TEST_DATABASE_URL` is set, SQLite otherwise), through two store handles on one
//! database: two instances racing to apply the same consumer batch count it once.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tessera_core::usage::{Bucket, UsageCount, UsageKind, UsageStore};
use tessera_core::{AgentId, TenantId};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::SqlStore;

const T0: OffsetDateTime = datetime!(2026-03-02 10:00 UTC);

/// Two handles (two "instances") on one fresh, migrated database; `cleanup` drops it.
struct Pair {
    a: Arc<SqlStore>,
    b: Arc<SqlStore>,
    cleanup: Option<(String, String)>,
    dir: Option<std::path::PathBuf>,
}

impl Pair {
    async fn open() -> Self {
        match std::env::var("TESSERA_TEST_DATABASE_URL") {
            Ok(admin) => {
                let name = format!("tessera_u_{}", &AgentId::generate().to_string()[4..]);
                let mut conn = PgConnection::connect(&admin).await.unwrap();
                sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
                let mut url = url::Url::parse(&admin).unwrap();
                url.set_path(&format!("/{name}"));
                let a = SqlStore::open_postgres(url.as_str()).await.unwrap();
                a.migrate().await.unwrap();
                let b = SqlStore::open_postgres(url.as_str()).await.unwrap();
                Self {
                    a: Arc::new(a),
                    b: Arc::new(b),
                    cleanup: Some((admin, name)),
                    dir: None,
                }
            }
            Err(_) => {
                let dir = std::env::temp_dir().join(format!(
                    "tessera-usage-test-{}",
                    &AgentId::generate().to_string()[4..]
                ));
                std::fs::create_dir_all(&dir).unwrap();
                let path = dir.join("tessera.db");
                let a = SqlStore::open_sqlite(&path).await.unwrap();
                a.migrate().await.unwrap();
                let b = SqlStore::open_sqlite(&path).await.unwrap();
                Self {
                    a: Arc::new(a),
                    b: Arc::new(b),
                    cleanup: None,
                    dir: Some(dir),
                }
            }
        }
    }

    async fn close(self) {
        self.a.close().await;
        self.b.close().await;
        if let Some((admin, name)) = self.cleanup {
            let mut conn = PgConnection::connect(&admin).await.unwrap();
            sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
        }
        if let Some(dir) = self.dir {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}

fn count(
    tenant: TenantId,
    agent: AgentId,
    hour: OffsetDateTime,
    kind: UsageKind,
    n: i64,
) -> UsageCount {
    UsageCount {
        tenant_id: tenant,
        agent_id: agent,
        hour,
        kind,
        n,
        last_at: hour + Duration::minutes(n),
    }
}

#[tokio::test]
async fn racing_instances_count_a_batch_once() {
    let pair = Pair::open().await;
    let tenant = TenantId::generate();
    let agent = AgentId::generate();
    for round in 0..20_i64 {
        let batch = vec![count(tenant, agent, T0, UsageKind::TokenIssued, 1)];
        let (from, to) = (round * 10, round * 10 + 10);
        let (a, b) = (Arc::clone(&pair.a), Arc::clone(&pair.b));
        let (batch_a, batch_b) = (batch.clone(), batch);
        let (won_a, won_b) = tokio::join!(
            tokio::spawn(async move { a.apply_usage_batch("usage", from, to, &batch_a).await }),
            tokio::spawn(async move { b.apply_usage_batch("usage", from, to, &batch_b).await }),
        );
        let (won_a, won_b) = (won_a.unwrap().unwrap(), won_b.unwrap().unwrap());
        assert!(
            won_a != won_b,
            "round {round}: exactly one instance applies"
        );
    }
    // A late instance still holding an old batch adds nothing.
    let stale = [count(tenant, agent, T0, UsageKind::TokenIssued, 5)];
    assert!(
        !pair
            .a
            .apply_usage_batch("usage", 0, 10, &stale)
            .await
            .unwrap()
    );
    let totals = pair.b.usage_totals(tenant, None).await.unwrap();
    assert_eq!(totals.len(), 1);
    assert_eq!(totals[0].n, 20);
    pair.close().await;
}

#[tokio::test]
async fn reads_sum_buckets_and_keep_tenants_apart() {
    let pair = Pair::open().await;
    let store = &pair.a;
    let (tenant, other) = (TenantId::generate(), TenantId::generate());
    let (first, second) = (AgentId::generate(), AgentId::generate());
    let next_day = T0 + Duration::days(1);
    store
        .add_usage(&[
            count(tenant, first, T0, UsageKind::TokenIssued, 2),
            count(tenant, second, T0, UsageKind::TokenIssued, 3),
            count(
                tenant,
                first,
                T0 + Duration::hours(1),
                UsageKind::TokenIssued,
                4,
            ),
            count(tenant, first, T0, UsageKind::Other, 1),
            count(tenant, first, next_day, UsageKind::TokenIssued, 5),
            count(other, first, T0, UsageKind::TokenIssued, 100),
        ])
        .await
        .unwrap();
    // An older event counted later does not move "last seen" back.
    store
        .add_usage(&[UsageCount {
            last_at: T0 - Duration::hours(5),
            ..count(tenant, first, T0, UsageKind::TokenIssued, 1)
        }])
        .await
        .unwrap();

    let (since, until) = (T0 - Duration::days(1), T0 + Duration::days(2));
    let hourly = store
        .usage_series(tenant, UsageKind::TokenIssued, Bucket::Hour, since, until)
        .await
        .unwrap();
    assert_eq!(
        hourly,
        [(T0, 6), (T0 + Duration::hours(1), 4), (next_day, 5)]
    );
    let daily = store
        .usage_series(tenant, UsageKind::TokenIssued, Bucket::Day, since, until)
        .await
        .unwrap();
    assert_eq!(
        daily,
        [
            (datetime!(2026-03-02 00:00 UTC), 10),
            (datetime!(2026-03-03 00:00 UTC), 5)
        ]
    );

    let cells = store
        .usage_hourly(tenant, Some(first), T0, T0 + Duration::hours(2), 100)
        .await
        .unwrap();
    let cells: Vec<_> = cells.iter().map(|c| (c.hour, c.kind, c.n)).collect();
    assert_eq!(
        cells,
        [
            (T0, UsageKind::Other, 1),
            (T0, UsageKind::TokenIssued, 3),
            (T0 + Duration::hours(1), UsageKind::TokenIssued, 4)
        ]
    );
    let limited = store
        .usage_hourly(tenant, None, since, until, 2)
        .await
        .unwrap();
    assert_eq!(limited.len(), 2);

    let totals = store
        .usage_totals(tenant, Some((first, first)))
        .await
        .unwrap();
    let totals: Vec<_> = totals.iter().map(|t| (t.kind, t.n, t.last_at)).collect();
    assert_eq!(
        totals,
        [
            (UsageKind::Other, 1, T0 + Duration::minutes(1)),
            (UsageKind::TokenIssued, 12, next_day + Duration::minutes(5)),
        ]
    );
    let everyone = store.usage_totals(tenant, None).await.unwrap();
    assert!(
        everyone.iter().all(|t| t.n < 100),
        "another tenant's counts"
    );
    assert_eq!(everyone.len(), 3);
    pair.close().await;
}
