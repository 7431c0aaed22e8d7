//! The gateway routing by entity: `X-Entity` (or `entity=`) → the entity's placement (by entity
//! id, then by agent id) → its runtime, started through provisioning; tenant isolation; what a
//! caller sees when the entity is unknown or its runtime is not running; a killed runtime
//! taking traffic again once it is restarted.

use serde_json::{Value, json};
use tessera_testkit::TestServer;

use crate::provisioning::{eventually, placement, provisioning, start};
use crate::support::{expect_error, expect_json};

async fn via_gateway(
    server: &TestServer,
    key: &str,
    entity: Option<&str>,
    path: &str,
) -> reqwest::Response {
    let mut request = server.http.get(server.url(path)).header("x-api-key", key);
    if let Some(entity) = entity {
        request = request.header("x-entity", entity);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn traffic_reaches_the_entitys_runtime_and_only_its_own_callers_pass() {
    let server = TestServer::start_with(provisioning).await;
    let blueprint = json!({"agents": [{"name": "worker"}]});
    let started = expect_json(
        start(&server, json!({"name": "Desk", "blueprint": blueprint})).await,
        201,
    )
    .await;
    let entity = started["entity_id"].as_str().unwrap().to_owned();
    let key = started["api_key"].as_str().unwrap().to_owned();
    let agent = started["agents"][0]["agent_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // By entity id in the header, in the query, and by agent id (older clients).
    for (named, path) in [
        (Some(entity.as_str()), "/api/echo".to_owned()),
        (None, format!("/api/echo?entity={entity}")),
        (Some(agent.as_str()), "/api/echo".to_owned()),
    ] {
        let echoed: Value = expect_json(via_gateway(&server, &key, named, &path).await, 200).await;
        assert_eq!(
            echoed["entity_id"],
            entity.as_str(),
            "the entity's own runtime"
        );
        assert_eq!(echoed["headers"]["x-tenant-id"], json!([entity.as_str()]));
        assert!(echoed["headers"].get("x-entity").is_none());
    }

    // Another tenant's key is refused before anything about the runtime is said.
    let other = server.register_tenant("Other").await;
    let refused = via_gateway(&server, &other.api_key, Some(&entity), "/api/echo").await;
    expect_error(refused, 403, "tenant_mismatch").await;

    // The operator reaches any entity by naming it.
    let echoed: Value = expect_json(
        via_gateway(&server, &server.operator_key, Some(&entity), "/api/echo").await,
        200,
    )
    .await;
    assert_eq!(echoed["headers"]["x-scopes"], json!(["admin"]));

    let nobody = tessera_core::TenantId::generate().to_string();
    let unknown = via_gateway(&server, &key, Some(&nobody), "/api/echo").await;
    let body = expect_error(unknown, 404, "unknown_entity").await;
    assert!(body["request_id"].is_string());
    let malformed = via_gateway(&server, &key, Some("not-an-id"), "/api/echo").await;
    expect_error(malformed, 400, "invalid_id").await;

    // Deleted: no runtime, no route (after at most the placement cache's second).
    let deleted = server
        .http
        .delete(server.url(&format!("/v1/placements/{entity}")))
        .header("x-api-key", &server.operator_key)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    eventually("the deleted placement stops taking traffic", || async {
        via_gateway(&server, &key, Some(&entity), "/api/echo")
            .await
            .status()
            == 404
    })
    .await;
}

#[tokio::test]
async fn a_runtime_that_is_not_running_is_503_and_a_killed_one_comes_back() {
    let server = TestServer::start_with(provisioning).await;
    let started = expect_json(start(&server, json!({"name": "Desk"})).await, 201).await;
    let entity = started["entity_id"].as_str().unwrap().to_owned();
    let key = started["api_key"].as_str().unwrap().to_owned();
    assert_eq!(
        via_gateway(&server, &key, Some(&entity), "/api/echo")
            .await
            .status(),
        200
    );

    // Killed: the supervisor restarts it, and traffic flows to the new process.
    let pid = placement(&server, &entity).await["pid"].as_u64().unwrap();
    let killed = tokio::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    eventually("the restarted runtime takes traffic", || async {
        let p = placement(&server, &entity).await;
        p["pid"].as_u64().is_some_and(|new| new != pid)
            && via_gateway(&server, &key, Some(&entity), "/api/echo")
                .await
                .status()
                == 200
    })
    .await;

    // A placement that is not running (here: marked stopped in the store) is 503.
    let id: tessera_core::TenantId = entity.parse().unwrap();
    let stored = server.state().store.placement(id).await.unwrap().unwrap();
    server
        .state()
        .store
        .set_placement_state(
            id,
            tessera_core::placement::PlacementStatus::Stopped,
            &stored.state,
            server.clock_now(),
        )
        .await
        .unwrap();
    eventually("a stopped placement answers 503", || async {
        let response = via_gateway(&server, &key, Some(&entity), "/api/echo").await;
        response.status() == 503
            && response.json::<Value>().await.unwrap()["error"] == "placement_not_running"
    })
    .await;
}
