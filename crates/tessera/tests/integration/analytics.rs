//! Analytics over HTTP: token trends, agent activity and usage summaries count each tenant's
//! own tokens from the usage counters, refuse bad parameters with a 400, keep tenants apart, and
//! stay exact when several instances consume the log at once.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tessera_core::Store;
use tessera_store::SqlStore;
use tessera_testkit::{TestAgent, TestServer, TestTenant};

use crate::support::{call, expect_error, expect_json};

fn analytics(tenant: &TestTenant, what: &str) -> String {
    format!("/v1/tenants/{}/analytics/{what}", tenant.id)
}

async fn get(server: &TestServer, key: &str, path: &str) -> Value {
    expect_json(call(server, Method::GET, path, Some(key), None).await, 200).await
}

/// Asks until `done` holds: counters follow the log asynchronously.
pub async fn eventually(
    server: &TestServer,
    key: &str,
    path: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let body = get(server, key, path).await;
        if done(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} never got there: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn usage_of<'a>(summary: &'a Value, agent: &TestAgent) -> &'a Value {
    summary["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent_id"] == agent.id.as_str())
        .unwrap_or_else(|| panic!("{} is not in {summary}", agent.id))
}

async fn issue(server: &TestServer, agent: &TestAgent, times: usize) {
    for _ in 0..times {
        server.token(agent, None).await;
    }
}

#[tokio::test]
async fn counts_each_agents_tokens_per_bucket() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    let first = server.create_agent(&a, &["invoices:read"]).await;
    let second = server.create_agent(&a, &[]).await;
    let other = server.create_agent(&b, &[]).await;
    issue(&server, &first, 3).await;
    issue(&server, &second, 2).await;
    issue(&server, &other, 4).await;
    // Refused (a scope the agent lacks): the agent's activity, not a token.
    assert_eq!(
        server
            .token_response(&first, Some("invoices:write"))
            .await
            .status(),
        400
    );

    let summary = eventually(&server, &a.api_key, &analytics(&a, "usage-summary"), |s| {
        s["agents"].as_array().is_some_and(|agents| {
            agents
                .iter()
                .map(|a| a["events"].as_u64().unwrap_or(0))
                .sum::<u64>()
                == 6
        })
    })
    .await;
    assert_eq!(summary["agents"].as_array().unwrap().len(), 2);
    let used = usage_of(&summary, &first);
    assert_eq!(used["tokens_issued"], 3);
    assert_eq!(used["events"], 4);
    assert_eq!(used["gateway_calls"], 0);
    assert_eq!(used["status"], "active");
    assert!(used["last_seen_at"].is_string());
    assert_eq!(usage_of(&summary, &second)["tokens_issued"], 2);

    let hourly = get(&server, &a.api_key, &analytics(&a, "token-trend")).await;
    assert_eq!(hourly["bucket"], "hour");
    assert_eq!(hourly["total"], 5);
    let points = hourly["points"].as_array().unwrap();
    assert!((24..=25).contains(&points.len()), "{hourly}");
    assert_eq!(points.last().unwrap()["tokens_issued"], 5);
    assert!(
        points[..points.len() - 1]
            .iter()
            .all(|p| p["tokens_issued"] == 0)
    );
    let daily = get(
        &server,
        &a.api_key,
        &format!("{}?bucket=day", analytics(&a, "token-trend")),
    )
    .await;
    assert_eq!(daily["bucket"], "day");
    assert_eq!(daily["total"], 5);
    assert!((30..=31).contains(&daily["points"].as_array().unwrap().len()));

    let activity = get(&server, &a.api_key, &analytics(&a, "agent-activity")).await;
    assert_eq!(activity["truncated"], false);
    let cells = activity["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2, "{activity}");
    let cell = cells
        .iter()
        .find(|c| c["agent_id"] == first.id.as_str())
        .unwrap();
    assert_eq!(
        (cell["tokens_issued"].as_u64(), cell["events"].as_u64()),
        (Some(3), Some(4))
    );
    let one = get(
        &server,
        &a.api_key,
        &format!("{}?agent_id={}", analytics(&a, "agent-activity"), second.id),
    )
    .await;
    assert_eq!(one["cells"].as_array().unwrap().len(), 1);
    assert_eq!(one["cells"][0]["tokens_issued"], 2);

    // B's tokens are B's alone.
    let theirs = eventually(&server, &b.api_key, &analytics(&b, "token-trend"), |t| {
        t["total"] == 4
    })
    .await;
    assert_eq!(
        theirs["points"].as_array().unwrap().last().unwrap()["tokens_issued"],
        4
    );
    let mine = get(&server, &a.api_key, &analytics(&a, "token-trend")).await;
    assert_eq!(mine["total"], 5);
}

#[tokio::test]
async fn bad_parameters_get_a_400_and_no_key_a_401() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let trend = analytics(&a, "token-trend");
    let activity = analytics(&a, "agent-activity");
    let summary = analytics(&a, "usage-summary");
    for query in [
        format!("{trend}?bucket=week"),
        format!("{trend}?since=yesterday"),
        format!("{trend}?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z"),
        format!("{trend}?since=2026-01-01T00:00:00Z&until=2026-01-01T00:00:00Z"),
        format!("{trend}?since=2025-01-01T00:00:00Z&until=2025-04-02T00:00:00Z"),
        format!("{trend}?bucket=day&since=2024-01-01T00:00:00Z&until=2025-06-01T00:00:00Z"),
        format!("{trend}?since=1969-12-01T00:00:00Z&until=1970-01-02T00:00:00Z"),
        format!("{trend}?until=9999-12-31T23:30:00Z"),
        format!("{trend}?colour=blue"),
        format!("{activity}?agent_id=agt_nope"),
        format!("{activity}?since=2025-01-01T00:00:00Z&until=2025-06-01T00:00:00Z"),
        format!("{summary}?limit=0"),
        format!("{summary}?limit=201"),
        format!("{summary}?cursor=abc"),
    ] {
        let response = call(&server, Method::GET, &query, Some(&a.api_key), None).await;
        let body = expect_error(response, 400, "invalid_parameter").await;
        assert!(!body["message"].as_str().unwrap().is_empty(), "{query}");
    }
    let ok = format!("{trend}?bucket=day&since=2025-01-01T00:00:00Z&until=2025-12-31T00:00:00Z");
    let year = get(&server, &a.api_key, &ok).await;
    assert_eq!(year["points"].as_array().unwrap().len(), 364);
    for path in [&trend, &activity, &summary] {
        expect_error(
            call(&server, Method::GET, path, None, None).await,
            401,
            "unauthenticated",
        )
        .await;
    }
}

#[tokio::test]
async fn a_tenant_cannot_read_another_tenants_analytics() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    let agent = server.create_agent(&a, &[]).await;
    issue(&server, &agent, 1).await;
    for what in ["token-trend", "agent-activity", "usage-summary"] {
        let response = call(
            &server,
            Method::GET,
            &analytics(&a, what),
            Some(&b.api_key),
            None,
        )
        .await;
        expect_error(response, 404, "not_found").await;
    }
    // Naming A's agent from B finds nothing of it.
    let path = format!("{}?agent_id={}", analytics(&b, "agent-activity"), agent.id);
    let seen = get(&server, &b.api_key, &path).await;
    assert_eq!(seen["cells"], json!([]));
}

/// A second handle on the server's database, as another instance would hold.
async fn another_instance(server: &TestServer) -> Arc<dyn Store> {
    let store = match server.database() {
        Some(database) => SqlStore::open_postgres(&database.url()).await.unwrap(),
        None => SqlStore::open_sqlite(&server.config().sqlite_path())
            .await
            .unwrap(),
    };
    Arc::new(store)
}

#[tokio::test]
async fn instances_consuming_the_log_together_count_each_event_once() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let first = server.create_agent(&a, &[]).await;
    let second = server.create_agent(&a, &[]).await;
    // Two more consumers on the same database race the server's own while tokens are issued.
    let racers: Vec<_> = [
        another_instance(&server).await,
        another_instance(&server).await,
    ]
    .into_iter()
    .map(|store| {
        tokio::spawn(async move {
            for _ in 0..400 {
                tessera_server::usage::consume_once(store.as_ref())
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    })
    .collect();
    for _ in 0..15 {
        issue(&server, &first, 1).await;
        issue(&server, &second, 1).await;
    }
    for racer in racers {
        racer.await.unwrap();
    }
    let summary = eventually(&server, &a.api_key, &analytics(&a, "usage-summary"), |s| {
        s["agents"]
            .as_array()
            .is_some_and(|agents| agents.iter().all(|a| a["tokens_issued"] == 15))
    })
    .await;
    // Exactly: nothing counted twice, even after every consumer has caught up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = get(&server, &a.api_key, &analytics(&a, "usage-summary")).await;
    assert_eq!(summary, again);
    assert_eq!(
        get(&server, &a.api_key, &analytics(&a, "token-trend")).await["total"],
        30
    );
}
