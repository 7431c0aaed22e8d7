//! Operations endpoints, request ids, the OpenAPI document, and JSON errors for unknown routes.

use serde_json::Value;
use tessera_testkit::TestServer;

use crate::support::{expect_error, expect_json};

#[tokio::test]
async fn health_readiness_and_metrics() {
    let server = TestServer::start().await;
    assert_eq!(
        expect_json(
            server.http.get(server.url("/health")).send().await.unwrap(),
            200
        )
        .await["status"],
        "ok"
    );
    assert_eq!(
        expect_json(
            server.http.get(server.url("/ready")).send().await.unwrap(),
            200
        )
        .await["status"],
        "ready"
    );

    let a = server.register_tenant("A").await;
    let agent = server.create_agent(&a, &[]).await;
    server.token(&agent, None).await;
    let _ = server
        .http
        .get(server.url(&format!("/v1/tenants/{}", a.id)))
        .header("x-api-key", "garbage")
        .send()
        .await
        .unwrap();

    let response = server
        .http
        .get(server.internal_url("/metrics"))
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    for needle in [
        "tessera_http_requests_total{route=\"/oauth2/token\",method=\"POST\",status=\"200\"}",
        "tessera_http_request_duration_seconds_bucket{route=\"/v1/tenants\",method=\"POST\"",
        "tessera_tokens_issued_total{grant_type=\"client_credentials\"}",
        "tessera_auth_failures_total{reason=\"malformed\"}",
    ] {
        assert!(text.contains(needle), "metrics lack {needle}");
    }
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let server = TestServer::start().await;
    let given = server
        .http
        .get(server.url("/health"))
        .header("x-request-id", "trace-123")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "trace-123");
    let generated = server.http.get(server.url("/health")).send().await.unwrap();
    assert!(generated.headers()["x-request-id"].len() >= 32);
    let hostile = server
        .http
        .get(server.url("/nope"))
        .header("x-request-id", "a b\"<script>")
        .send()
        .await
        .unwrap();
    assert_ne!(hostile.headers()["x-request-id"], "a b\"<script>");
    assert_eq!(hostile.status(), 404);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let server = TestServer::start().await;
    expect_error(
        server
            .http
            .get(server.url("/v2/nothing"))
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
    expect_error(
        server
            .http
            .put(server.url("/v1/tenants"))
            .send()
            .await
            .unwrap(),
        405,
        "method_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn openapi_documents_every_endpoint() {
    let server = TestServer::start().await;
    let document: Value = expect_json(
        server
            .http
            .get(server.url("/openapi.json"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().unwrap();
    let expected = [
        ("/v1/tenants", "post"),
        ("/v1/tenants/{tenant_id}", "get"),
        ("/v1/tenants/{tenant_id}/suspend", "post"),
        ("/v1/tenants/{tenant_id}/reactivate", "post"),
        ("/v1/tenants/{tenant_id}/api-keys", "post"),
        ("/v1/tenants/{tenant_id}/api-keys", "get"),
        ("/v1/tenants/{tenant_id}/api-keys/{key_id}", "delete"),
        ("/v1/tenants/{tenant_id}/agents", "post"),
        ("/v1/tenants/{tenant_id}/agents", "get"),
        ("/v1/tenants/{tenant_id}/agents/{agent_id}", "get"),
        ("/v1/tenants/{tenant_id}/agents/{agent_id}", "patch"),
        ("/v1/tenants/{tenant_id}/agents/{agent_id}", "delete"),
        ("/v1/tenants/{tenant_id}/agents/{agent_id}/secrets", "post"),
        ("/v1/tenants/{tenant_id}/agents/{agent_id}/secrets", "get"),
        (
            "/v1/tenants/{tenant_id}/agents/{agent_id}/secrets/{secret_id}",
            "delete",
        ),
        ("/oauth2/token", "post"),
        ("/oauth2/introspect", "post"),
        ("/oauth2/revoke", "post"),
        ("/.well-known/openid-configuration", "get"),
        ("/.well-known/oauth-authorization-server", "get"),
        ("/.well-known/jwks.json", "get"),
        ("/health", "get"),
        ("/ready", "get"),
    ];
    for (path, method) in expected {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "OpenAPI lacks {method} {path}"
        );
    }
    assert!(document["components"]["schemas"]["ErrorBody"].is_object());
    assert!(document["components"]["securitySchemes"]["api_key"].is_object());
}
