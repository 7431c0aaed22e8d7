//! Plans: the operator changes a tenant's plan (`PUT /v1/tenants/{t}/plan`), and agent
//! creation stops at the plan's maximum.

use reqwest::Method;
use serde_json::{Value, json};
use tessera_core::PlanTable;
use tessera_testkit::TestServer;

use crate::support::{call, expect_error, expect_json};

/// A server with the published plan limits (the testkit lifts Explorer's agent cap).
async fn server() -> TestServer {
    TestServer::start_with(|config| config.plans = PlanTable::default()).await
}

async fn set_plan(server: &TestServer, tenant: &str, key: &str, body: Value) -> reqwest::Response {
    let path = format!("/v1/tenants/{tenant}/plan");
    call(server, Method::PUT, &path, Some(key), Some(body)).await
}

async fn plan_of(server: &TestServer, tenant: &str) -> Value {
    let path = format!("/v1/tenants/{tenant}");
    let read = call(server, Method::GET, &path, Some(&server.operator_key), None).await;
    expect_json(read, 200).await["plan"].clone()
}

async fn create_agent(server: &TestServer, tenant: &str, key: &str) -> reqwest::Response {
    let path = format!("/v1/tenants/{tenant}/agents");
    let body = json!({"name": "worker", "scopes": ["mail:read"]});
    call(server, Method::POST, &path, Some(key), Some(body)).await
}

#[tokio::test]
async fn the_operator_changes_a_plan_and_it_is_audited() {
    let server = server().await;
    let tenant = server.register_tenant("Acme").await;
    assert_eq!(plan_of(&server, &tenant.id).await, "explorer");
    let changed = expect_json(
        set_plan(
            &server,
            &tenant.id,
            &server.operator_key,
            json!({"plan": "business"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(changed["id"], tenant.id.as_str());
    assert_eq!(changed["plan"], "business");
    assert_eq!(plan_of(&server, &tenant.id).await, "business");
    let id = tenant.id.parse().unwrap();
    assert_eq!(
        server.state().tenant_plan(id).await.unwrap(),
        Some(tessera_core::tenant::Plan::Business),
        "the cached plan follows at once"
    );

    let events = server.audit_log().await;
    let change = events
        .iter()
        .find(|e| e.action == "tenant.plan_change")
        .expect("a plan_change event");
    assert_eq!(change.tenant_id.as_deref(), Some(tenant.id.as_str()));
    assert!(change.actor.starts_with("api_key:"), "{change:?}");
    assert_eq!(change.target, format!("{}:explorer->business", tenant.id));
    assert_eq!(change.outcome, "success");

    let unknown = "ten_0193a3b0c1d27e8f9a0b1c2d3e4f5a6b";
    expect_error(
        set_plan(
            &server,
            unknown,
            &server.operator_key,
            json!({"plan": "business"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn tenant_keys_cannot_change_plans_and_bad_plans_change_nothing() {
    let server = server().await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    for (tenant, key) in [(&a, &a.api_key), (&b, &a.api_key)] {
        expect_error(
            set_plan(&server, &tenant.id, key, json!({"plan": "enterprise"})).await,
            403,
            "insufficient_scope",
        )
        .await;
    }
    // A's key learns nothing about B.
    let read_b = call(
        &server,
        Method::GET,
        &format!("/v1/tenants/{}", b.id),
        Some(&a.api_key),
        None,
    )
    .await;
    expect_error(read_b, 404, "not_found").await;

    let operator = &server.operator_key;
    for (body, status, code) in [
        (json!({"plan": "platinum"}), 400, "invalid_parameter"),
        (json!({"plan": "Business"}), 400, "invalid_parameter"),
        (json!({"plan": 3}), 422, "invalid_body"),
        (json!({}), 422, "invalid_body"),
        (json!({"plan": "business", "seats": 3}), 422, "invalid_body"),
    ] {
        let response = set_plan(&server, &a.id, operator, body.clone()).await;
        let error = expect_error(response, status, code).await;
        if status == 400 {
            let message = error["message"].as_str().unwrap();
            assert!(message.contains("enterprise"), "names the plans: {message}");
        }
    }
    expect_error(
        set_plan(&server, "not-an-id", operator, json!({"plan": "business"})).await,
        400,
        "invalid_id",
    )
    .await;
    assert_eq!(plan_of(&server, &a.id).await, "explorer");
    assert_eq!(plan_of(&server, &b.id).await, "explorer");
    let events = server.audit_log().await;
    assert!(!events.iter().any(|e| e.action == "tenant.plan_change"));
}

#[tokio::test]
async fn agents_stop_at_the_plans_maximum_until_the_plan_grows() {
    let server = server().await;
    let tenant = server.register_tenant("Small").await;
    let other = server.register_tenant("Other").await;
    server.create_agent(&tenant, &["mail:read"]).await;
    server.create_agent(&other, &["mail:read"]).await;

    let refused = create_agent(&server, &tenant.id, &tenant.api_key).await;
    let error = expect_error(refused, 403, "plan_limit_reached").await;
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("explorer") && message.contains("at most 1 agent"),
        "{message}"
    );
    assert_eq!(server.count_rows("agents").await, 2, "nothing written");
    assert_eq!(server.count_rows("client_secrets").await, 2);

    expect_json(
        set_plan(
            &server,
            &tenant.id,
            &server.operator_key,
            json!({"plan": "professional"}),
        )
        .await,
        200,
    )
    .await;
    for _ in 2..=5 {
        expect_json(
            create_agent(&server, &tenant.id, &tenant.api_key).await,
            201,
        )
        .await;
    }
    let sixth = create_agent(&server, &tenant.id, &tenant.api_key).await;
    let error = expect_error(sixth, 403, "plan_limit_reached").await;
    assert!(error["message"].as_str().unwrap().contains("professional"));

    // Deleting one frees its place.
    let list = call(
        &server,
        Method::GET,
        &format!("/v1/tenants/{}/agents", tenant.id),
        Some(&tenant.api_key),
        None,
    )
    .await;
    let first = expect_json(list, 200).await["agents"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deleted = call(
        &server,
        Method::DELETE,
        &format!("/v1/tenants/{}/agents/{first}", tenant.id),
        Some(&tenant.api_key),
        None,
    )
    .await;
    assert_eq!(deleted.status(), 204);
    expect_json(
        create_agent(&server, &tenant.id, &tenant.api_key).await,
        201,
    )
    .await;

    // The other tenant's agent never counted here, and its own limit still holds.
    expect_error(
        create_agent(&server, &other.id, &other.api_key).await,
        403,
        "plan_limit_reached",
    )
    .await;
}
