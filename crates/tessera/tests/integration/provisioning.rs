//! Provisioning: `/v1/start` and `/v1/start/stack` with the `process` backend starting the
//! workspace's test runtime, supervision (a killed runtime comes back), restarts of Tessera,
//! rollback of a failed stack, and `/v1/placements`.

use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tessera_server::Config;
use tessera_testkit::TestServer;

use crate::support::{call, expect_error, expect_json};

/// A block of ports of its own per server (probed again by Tessera before each use).
pub(crate) fn provisioning(config: &mut Config) {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let block = (std::process::id() as u16 % 300) * 20 + NEXT.fetch_add(1, Ordering::Relaxed) * 5;
    let first = 21_000 + block % 6_000;
    config.provisioning_command = vec![env!("CARGO_BIN_EXE_tessera-test-runtime").to_owned()];
    config.provisioning_ports = [first, first + 40];
    config.provisioning_start_timeout_secs = 20;
    config.provisioning_stop_grace_secs = 5;
}

async fn runtime_get(server: &TestServer, port: u64, path: &str) -> Option<reqwest::Response> {
    server
        .http
        .get(format!("http://127.0.0.1:{port}{path}"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()
}

/// Polls `check` every 100 ms until it holds, for 30 s at most.
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) async fn placement(server: &TestServer, entity: &str) -> Value {
    let path = format!("/v1/placements/{entity}");
    expect_json(
        call(server, Method::GET, &path, Some(&server.operator_key), None).await,
        200,
    )
    .await
}

async fn placements(server: &TestServer) -> Vec<Value> {
    let list = call(
        server,
        Method::GET,
        "/v1/placements",
        Some(&server.operator_key),
        None,
    )
    .await;
    expect_json(list, 200).await["placements"]
        .as_array()
        .unwrap()
        .clone()
}

pub(crate) async fn start(server: &TestServer, body: Value) -> reqwest::Response {
    call(
        server,
        Method::POST,
        "/v1/start",
        Some(&server.operator_key),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn start_applies_the_blueprint_supervises_and_survives_restarts() {
    let mut server = TestServer::start_with(provisioning).await;
    let blueprint = json!({
        "agents": [{"name": "researcher", "scopes": ["docs:read"], "role": "analyst"}, {"name": "writer"}],
        "roles": ["analyst"],
        "prompt": "be brief",
    });
    let body = json!({"name": "Research desk", "plan": "professional", "blueprint": blueprint});
    let started = expect_json(start(&server, body).await, 201).await;
    let entity = started["entity_id"].as_str().unwrap().to_owned();
    let port = started["port"].as_u64().unwrap();
    assert!(entity.starts_with("ten_"));
    assert_eq!(started["status"], "running");
    assert_eq!(started["address"], format!("http://127.0.0.1:{port}"));
    let key = started["api_key"].as_str().unwrap().to_owned();

    // The agents exist in Tessera; the runtime got the blueprint as sent, and its identity.
    let agents = call(
        &server,
        Method::GET,
        &format!("/v1/tenants/{entity}/agents"),
        Some(&key),
        None,
    )
    .await;
    let agents = expect_json(agents, 200).await;
    let names: Vec<_> = agents["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].clone())
        .collect();
    assert_eq!(names, [json!("researcher"), json!("writer")]);
    assert_eq!(started["agents"][0]["agent_id"], agents["agents"][0]["id"]);
    let init: Value = runtime_get(&server, port, "/init")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(init, blueprint);
    let echo: Value = runtime_get(&server, port, "/api/echo")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(echo["entity_id"], entity.as_str());

    let read = placement(&server, &entity).await;
    assert_eq!(read["status"], "running");
    assert_eq!(read["backend"], "process");
    assert_eq!(
        read["agent_id"], started["agents"][0]["agent_id"],
        "older clients route by agent id"
    );
    let pid = read["pid"].as_u64().unwrap();

    // A killed runtime is restarted, on the same port.
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    eventually("the runtime restarted", || async {
        let p = placement(&server, &entity).await;
        p["status"] == "running" && p["pid"].as_u64().is_some_and(|new| new != pid)
    })
    .await;
    assert_eq!(placement(&server, &entity).await["restarts"], 1);
    assert_eq!(
        runtime_get(&server, port, "/health")
            .await
            .unwrap()
            .status(),
        200
    );

    // Tessera stops its runtimes when it stops and starts them again when it starts.
    let before = placement(&server, &entity).await["pid"].as_u64().unwrap();
    server = server.restart().await;
    eventually("the runtime is back after a restart", || async {
        let p = placement(&server, &entity).await;
        let back = runtime_get(&server, port, "/health")
            .await
            .is_some_and(|r| r.status() == 200);
        back && p["status"] == "running" && p["pid"].as_u64().is_some_and(|new| new != before)
    })
    .await;

    // The audit trail of the entity.
    server.flush_audit().await;
    let audit = call(
        &server,
        Method::GET,
        &format!("/v1/tenants/{entity}/audit"),
        Some(&key),
        None,
    )
    .await;
    let audit = expect_json(audit, 200).await;
    let actions: Vec<_> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        [
            "tenant.create",
            "agent.create",
            "agent.create",
            "placement.start"
        ]
    );

    // Deleting the placement stops the runtime; the entity remains.
    let path = format!("/v1/placements/{entity}");
    let deleted = call(
        &server,
        Method::DELETE,
        &path,
        Some(&server.operator_key),
        None,
    )
    .await;
    assert_eq!(deleted.status(), 204);
    assert!(
        runtime_get(&server, port, "/health").await.is_none(),
        "the port stops answering"
    );
    let gone = call(
        &server,
        Method::GET,
        &path,
        Some(&server.operator_key),
        None,
    )
    .await;
    expect_error(gone, 404, "not_found").await;
    let again = call(
        &server,
        Method::DELETE,
        &path,
        Some(&server.operator_key),
        None,
    )
    .await;
    expect_error(again, 404, "not_found").await;
    server.flush_audit().await;
    let audit = call(
        &server,
        Method::GET,
        &format!("/v1/tenants/{entity}/audit?action=placement.delete"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(
        expect_json(audit, 200).await["events"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn bad_input_tenant_keys_and_plan_capacity_start_nothing() {
    let server = TestServer::start_with(|config| {
        provisioning(config);
        // The published plans (the testkit lifts Explorer's agent cap).
        config.plans = tessera_core::PlanTable::default();
    })
    .await;
    let tenant = call(
        &server,
        Method::POST,
        "/v1/tenants",
        None,
        Some(json!({"name": "T", "email": "t@t.example", "kind": "consumer"})),
    )
    .await;
    let tenant_key = expect_json(tenant, 201).await["api_key"]
        .as_str()
        .unwrap()
        .to_owned();

    let body = json!({"name": "x"});
    let refused = call(
        &server,
        Method::POST,
        "/v1/start",
        Some(&tenant_key),
        Some(body),
    )
    .await;
    expect_error(refused, 403, "insufficient_scope").await;
    let stack = json!({"components": [{"name": "a"}]});
    let refused = call(
        &server,
        Method::POST,
        "/v1/start/stack",
        Some(&tenant_key),
        Some(stack),
    )
    .await;
    expect_error(refused, 403, "insufficient_scope").await;
    for (method, path) in [
        (Method::GET, "/v1/placements".to_owned()),
        (
            Method::GET,
            format!("/v1/placements/{}", "ten_0193a3b0c1d27e8f9a0b1c2d3e4f5a6b"),
        ),
        (
            Method::DELETE,
            format!("/v1/placements/{}", "ten_0193a3b0c1d27e8f9a0b1c2d3e4f5a6b"),
        ),
    ] {
        expect_error(
            call(&server, method, &path, Some(&tenant_key), None).await,
            403,
            "insufficient_scope",
        )
        .await;
    }
    let unauthenticated = call(
        &server,
        Method::POST,
        "/v1/start",
        None,
        Some(json!({"name": "x"})),
    )
    .await;
    expect_error(unauthenticated, 401, "unauthenticated").await;

    for (body, status, code) in [
        (json!({"name": " "}), 400, "invalid_parameter"),
        (
            json!({"name": "x", "blueprint": {"agents": {}}}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"name": "x", "blueprint": {"agents": [{"name": "a", "scopes": ["not a scope!"]}]}}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"name": "x", "address": "http://10.0.0.7:8080"}),
            400,
            "invalid_parameter",
        ),
        (json!({"name": "x", "surprise": true}), 422, "invalid_body"),
        // Explorer allows one agent.
        (
            json!({"name": "x", "blueprint": {"agents": [{"name": "a"}, {"name": "b"}]}}),
            403,
            "plan_limit_reached",
        ),
    ] {
        expect_error(start(&server, body).await, status, code).await;
    }
    let cursor = call(
        &server,
        Method::GET,
        "/v1/placements?cursor=nope",
        Some(&server.operator_key),
        None,
    )
    .await;
    expect_error(cursor, 400, "invalid_parameter").await;
    assert!(placements(&server).await.is_empty());
    server.flush_audit().await;
    assert_eq!(
        server
            .state()
            .store
            .audit_events_after(0, 100)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.event.action == "tenant.create")
            .count(),
        1,
        "only the tenant the test registered"
    );

    // Without a runtime command provisioning is off, and says so.
    let off = TestServer::start().await;
    let body = json!({"name": "x"});
    expect_error(
        call(
            &off,
            Method::POST,
            "/v1/start",
            Some(&off.operator_key),
            Some(body),
        )
        .await,
        503,
        "provisioning_not_configured",
    )
    .await;
}

#[tokio::test]
async fn a_stack_with_a_cycle_or_an_unknown_dependency_starts_nothing() {
    let server = TestServer::start_with(provisioning).await;
    let cycle = json!({"components": [
        {"name": "web", "depends_on": ["a"]},
        {"name": "a", "depends_on": ["b"]},
        {"name": "b", "depends_on": ["a"]},
    ]});
    let refused = call(
        &server,
        Method::POST,
        "/v1/start/stack",
        Some(&server.operator_key),
        Some(cycle),
    )
    .await;
    let body = expect_error(refused, 400, "invalid_parameter").await;
    assert!(
        body["message"].as_str().unwrap().contains("a → b → a"),
        "{body}"
    );
    let unknown = json!({"components": [{"name": "a", "depends_on": ["ghost"]}]});
    let refused = call(
        &server,
        Method::POST,
        "/v1/start/stack",
        Some(&server.operator_key),
        Some(unknown),
    )
    .await;
    let body = expect_error(refused, 400, "invalid_parameter").await;
    assert!(
        body["message"].as_str().unwrap().contains("`ghost`"),
        "{body}"
    );
    let edge = json!({"components": [{"name": "a"}], "edges": [{"from": "a", "to": "zz"}]});
    let refused = call(
        &server,
        Method::POST,
        "/v1/start/stack",
        Some(&server.operator_key),
        Some(edge),
    )
    .await;
    expect_error(refused, 400, "invalid_parameter").await;
    assert!(placements(&server).await.is_empty());
}

#[tokio::test]
async fn a_stack_starts_in_order_applies_edges_and_rolls_back_on_failure() {
    let server = TestServer::start_with(provisioning).await;
    let stack = json!({
        "components": [
            {"name": "api", "depends_on": ["db"], "blueprint": {"agents": [{"name": "api-agent"}]}},
            {"name": "db", "blueprint": {"tables": 3}},
        ],
        "edges": [{"from": "api", "to": "db", "kind": "sql"}],
    });
    let started = call(
        &server,
        Method::POST,
        "/v1/start/stack",
        Some(&server.operator_key),
        Some(stack),
    )
    .await;
    let started = expect_json(started, 201).await;
    let components = started["components"].as_array().unwrap();
    assert_eq!(
        components
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["db", "api"]
    );
    assert_eq!(started["edges"], 1);
    let api_port = components[1]["port"].as_u64().unwrap();
    let edges: Value = runtime_get(&server, api_port, "/edges")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        edges,
        json!([{
            "from": "api", "to": "db", "kind": "sql",
            "to_entity_id": components[0]["entity_id"],
            "to_address": components[0]["address"],
        }])
    );

    // The second component refuses its blueprint: the first is stopped, and both say why.
    let failing = json!({"components": [
        {"name": "store", "blueprint": {"agents": []}},
        {"name": "worker", "depends_on": ["store"], "blueprint": {"fail": true}},
    ]});
    let failed = call(
        &server,
        Method::POST,
        "/v1/start/stack",
        Some(&server.operator_key),
        Some(failing),
    )
    .await;
    let body = expect_error(failed, 502, "runtime_failed").await;
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("component `worker`") && message.contains("/init"),
        "{message}"
    );
    let all = placements(&server).await;
    assert_eq!(all.len(), 4);
    let (store, worker) = (&all[2], &all[3]);
    assert_eq!(store["status"], "stopped");
    assert!(
        store["detail"]
            .as_str()
            .unwrap()
            .contains("component `worker` failed")
    );
    assert_eq!(worker["status"], "failed");
    for stopped in [store, worker] {
        let port = stopped["port"].as_u64().unwrap();
        assert!(
            runtime_get(&server, port, "/health").await.is_none(),
            "port {port} stops answering"
        );
    }
    // The first stack still runs.
    assert_eq!(
        runtime_get(&server, api_port, "/health")
            .await
            .unwrap()
            .status(),
        200
    );
}
