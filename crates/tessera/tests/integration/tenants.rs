//! `/v1/tenants`: registration, reading, suspension, isolation.

use reqwest::Method;
use serde_json::json;
use tessera_server::config::Registration;
use tessera_testkit::TestServer;

use crate::support::{call, expect_error, expect_json};

#[tokio::test]
async fn registration_returns_the_tenant_and_a_key_shown_once() {
    let server = TestServer::start().await;
    let body = json!({"name": "  Acme Robotics ", "email": "Ops@Acme.example", "kind": "provider"});
    let created = expect_json(
        call(&server, Method::POST, "/v1/tenants", None, Some(body)).await,
        201,
    )
    .await;
    let tenant = &created["tenant"];
    let id = tenant["id"].as_str().unwrap();
    assert!(id.starts_with("ten_"));
    assert_eq!(tenant["name"], "Acme Robotics");
    assert_eq!(tenant["kind"], "provider");
    assert_eq!(tenant["plan"], "explorer");
    assert_eq!(tenant["status"], "active");
    assert!(tenant["created_at"].as_str().unwrap().ends_with('Z'));
    let key = created["api_key"].as_str().unwrap();
    assert!(key.starts_with("tsk_"));

    let read = expect_json(
        call(
            &server,
            Method::GET,
            &format!("/v1/tenants/{id}"),
            Some(key),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(&read, tenant);
    let bearer = server
        .http
        .get(server.url(&format!("/v1/tenants/{id}")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200, "keys are accepted as Bearer too");

    let keys = call(
        &server,
        Method::GET,
        &format!("/v1/tenants/{id}/api-keys"),
        Some(key),
        None,
    )
    .await;
    let text = keys.text().await.unwrap();
    assert!(!text.contains(key), "the key is never shown again");
    let keys: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(keys["api_keys"][0]["scopes"], json!(["*"]));
}

#[tokio::test]
async fn bad_registrations_are_refused_and_write_nothing() {
    let server = TestServer::start().await;
    let cases = [
        (json!({"name": "A", "email": "a@b.io"}), 422, "invalid_body"),
        (
            json!({"name": 5, "email": "a@b.io", "kind": "consumer"}),
            422,
            "invalid_body",
        ),
        (
            json!({"name": "A", "email": "a@b.io", "kind": "alien"}),
            422,
            "invalid_body",
        ),
        (
            json!({"name": "A", "email": "a@b.io", "kind": "consumer", "plan": "enterprise"}),
            422,
            "invalid_body",
        ),
        (
            json!({"name": "   ", "email": "a@b.io", "kind": "consumer"}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"name": "x".repeat(101), "email": "a@b.io", "kind": "consumer"}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"name": "A", "email": "not-an-email", "kind": "consumer"}),
            400,
            "invalid_parameter",
        ),
    ];
    for (body, status, code) in cases {
        expect_error(
            call(&server, Method::POST, "/v1/tenants", None, Some(body)).await,
            status,
            code,
        )
        .await;
    }
    let url = server.url("/v1/tenants");
    let syntax = server
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"name\":")
        .send()
        .await
        .unwrap();
    expect_error(syntax, 400, "invalid_json").await;
    let no_type = server
        .http
        .post(&url)
        .body(r#"{"name":"A","email":"a@b.io","kind":"consumer"}"#)
        .send()
        .await
        .unwrap();
    expect_error(no_type, 415, "unsupported_media_type").await;
    let huge = format!(
        r#"{{"name":"{}","email":"a@b.io","kind":"consumer"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let too_large = server
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    expect_error(too_large, 413, "payload_too_large").await;

    assert_eq!(server.count_rows("tenants").await, 0);
    assert_eq!(
        server.count_rows("api_keys").await,
        1,
        "only the operator's key"
    );
}

#[tokio::test]
async fn operator_only_registration() {
    let server = TestServer::start_with(|c| c.registration = Registration::Operator).await;
    let body = json!({"name": "A", "email": "a@b.io", "kind": "consumer"});
    expect_error(
        call(
            &server,
            Method::POST,
            "/v1/tenants",
            None,
            Some(body.clone()),
        )
        .await,
        403,
        "registration_closed",
    )
    .await;
    let created = expect_json(
        call(
            &server,
            Method::POST,
            "/v1/tenants",
            Some(&server.operator_key),
            Some(body.clone()),
        )
        .await,
        201,
    )
    .await;
    let tenant_key = created["api_key"].as_str().unwrap();
    expect_error(
        call(
            &server,
            Method::POST,
            "/v1/tenants",
            Some(tenant_key),
            Some(body.clone()),
        )
        .await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        call(
            &server,
            Method::POST,
            "/v1/tenants",
            Some("tsk_bogus"),
            Some(body),
        )
        .await,
        401,
        "unauthenticated",
    )
    .await;
    assert_eq!(server.count_rows("tenants").await, 1);
}

#[tokio::test]
async fn open_registration_is_rate_limited_per_client() {
    let server = TestServer::start_with(|c| c.registrations_per_hour = 2).await;
    let body = json!({"name": "A", "email": "a@b.io", "kind": "consumer"});
    for _ in 0..2 {
        assert_eq!(
            call(
                &server,
                Method::POST,
                "/v1/tenants",
                None,
                Some(body.clone())
            )
            .await
            .status(),
            201
        );
    }
    let limited = call(
        &server,
        Method::POST,
        "/v1/tenants",
        None,
        Some(body.clone()),
    )
    .await;
    assert!(limited.headers().get("retry-after").is_some());
    expect_error(limited, 429, "rate_limited").await;
    // The operator is not limited.
    assert_eq!(
        call(
            &server,
            Method::POST,
            "/v1/tenants",
            Some(&server.operator_key),
            Some(body)
        )
        .await
        .status(),
        201
    );
    assert_eq!(server.count_rows("tenants").await, 3);
}

#[tokio::test]
async fn a_tenant_cannot_see_another() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    let other = call(
        &server,
        Method::GET,
        &format!("/v1/tenants/{}", b.id),
        Some(&a.api_key),
        None,
    )
    .await;
    let missing = call(
        &server,
        Method::GET,
        "/v1/tenants/ten_0190f0f0f0f07000800000000000000a",
        Some(&a.api_key),
        None,
    )
    .await;
    let other = expect_error(other, 404, "not_found").await;
    let missing = expect_error(missing, 404, "not_found").await;
    assert_eq!(
        other, missing,
        "another tenant looks exactly like no tenant"
    );
    expect_error(
        call(
            &server,
            Method::GET,
            "/v1/tenants/not-an-id",
            Some(&a.api_key),
            None,
        )
        .await,
        400,
        "invalid_id",
    )
    .await;
    expect_error(
        call(
            &server,
            Method::GET,
            &format!("/v1/tenants/{}", a.id),
            None,
            None,
        )
        .await,
        401,
        "unauthenticated",
    )
    .await;
    // The operator sees every tenant.
    assert_eq!(
        call(
            &server,
            Method::GET,
            &format!("/v1/tenants/{}", b.id),
            Some(&server.operator_key),
            None
        )
        .await
        .status(),
        200
    );
}

#[tokio::test]
async fn suspension_refuses_keys_and_tokens_at_once() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    let agent = server.create_agent(&a, &["read"]).await;
    let token = server.token(&agent, None).await;
    let suspend = format!("/v1/tenants/{}/suspend", a.id);

    expect_error(
        call(&server, Method::POST, &suspend, Some(&a.api_key), None).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        call(&server, Method::POST, &suspend, Some(&b.api_key), None).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        call(
            &server,
            Method::POST,
            "/v1/tenants/ten_0190f0f0f0f07000800000000000000a/suspend",
            Some(&server.operator_key),
            None,
        )
        .await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        call(
            &server,
            Method::POST,
            "/v1/tenants/nope/suspend",
            Some(&server.operator_key),
            None,
        )
        .await,
        400,
        "invalid_id",
    )
    .await;

    let suspended = expect_json(
        call(
            &server,
            Method::POST,
            &suspend,
            Some(&server.operator_key),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(suspended["status"], "suspended");
    expect_error(
        call(
            &server,
            Method::GET,
            &format!("/v1/tenants/{}", a.id),
            Some(&a.api_key),
            None,
        )
        .await,
        401,
        "tenant_suspended",
    )
    .await;
    assert_eq!(server.token_response(&agent, None).await.status(), 401);
    assert!(
        !server.is_active(&token).await,
        "tokens of a suspended tenant are inactive"
    );
    // Tenant B is unaffected.
    assert_eq!(
        call(
            &server,
            Method::GET,
            &format!("/v1/tenants/{}", b.id),
            Some(&b.api_key),
            None
        )
        .await
        .status(),
        200
    );

    let reactivate = format!("/v1/tenants/{}/reactivate", a.id);
    let active = expect_json(
        call(
            &server,
            Method::POST,
            &reactivate,
            Some(&server.operator_key),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(active["status"], "active");
    assert_eq!(
        call(
            &server,
            Method::GET,
            &format!("/v1/tenants/{}", a.id),
            Some(&a.api_key),
            None
        )
        .await
        .status(),
        200
    );
    assert!(server.is_active(&token).await);
}
