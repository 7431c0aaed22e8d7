//! `/v1/tenants/{tenant_id}/api-keys`: creation, scopes, listing, revocation, expiry, isolation.

use reqwest::Method;
use serde_json::json;
use tessera_testkit::TestServer;

use crate::support::{call, expect_error, expect_json};

#[tokio::test]
async fn create_use_list_and_revoke() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let path = format!("/v1/tenants/{}/api-keys", a.id);
    let created = expect_json(
        call(
            &server,
            Method::POST,
            &path,
            Some(&a.api_key),
            Some(json!({"name": "reader", "scopes": ["read"]})),
        )
        .await,
        201,
    )
    .await;
    let key = created["key"].as_str().unwrap();
    let key_id = created["id"].as_str().unwrap();
    assert!(key.starts_with("tsk_") && key_id.starts_with("key_"));
    assert_eq!(created["scopes"], json!(["read"]));
    assert!(created["expires_at"].is_null());

    // A read key reads, and cannot write.
    assert_eq!(
        call(
            &server,
            Method::GET,
            &format!("/v1/tenants/{}", a.id),
            Some(key),
            None
        )
        .await
        .status(),
        200
    );
    let agents = format!("/v1/tenants/{}/agents", a.id);
    expect_error(
        call(
            &server,
            Method::POST,
            &agents,
            Some(key),
            Some(json!({"name": "x"})),
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
            &path,
            Some(key),
            Some(json!({"name": "x", "scopes": ["read"]})),
        )
        .await,
        403,
        "insufficient_scope",
    )
    .await;

    let listed = expect_json(
        call(&server, Method::GET, &path, Some(&a.api_key), None).await,
        200,
    )
    .await;
    let keys = listed["api_keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["id"], key_id, "newest first");
    assert_eq!(keys[0]["status"], "active");
    assert!(keys.iter().all(|k| k.get("key").is_none()));

    let revoke = format!("{path}/{key_id}");
    assert_eq!(
        call(&server, Method::DELETE, &revoke, Some(&a.api_key), None)
            .await
            .status(),
        204
    );
    expect_error(
        call(
            &server,
            Method::GET,
            &format!("/v1/tenants/{}", a.id),
            Some(key),
            None,
        )
        .await,
        401,
        "unauthenticated",
    )
    .await;
    expect_error(
        call(&server, Method::DELETE, &revoke, Some(&a.api_key), None).await,
        404,
        "not_found",
    )
    .await;
    let listed = expect_json(
        call(&server, Method::GET, &path, Some(&a.api_key), None).await,
        200,
    )
    .await;
    assert_eq!(listed["api_keys"][0]["status"], "revoked");
    assert!(listed["api_keys"][0]["revoked_at"].is_string());
}

#[tokio::test]
async fn a_key_cannot_grant_more_than_it_holds() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let path = format!("/v1/tenants/{}/api-keys", a.id);
    let minter = expect_json(
        call(
            &server,
            Method::POST,
            &path,
            Some(&a.api_key),
            Some(json!({"name": "minter", "scopes": ["api-keys:write", "read"]})),
        )
        .await,
        201,
    )
    .await;
    let minter = minter["key"].as_str().unwrap();
    expect_error(
        call(
            &server,
            Method::POST,
            &path,
            Some(minter),
            Some(json!({"name": "x", "scopes": ["*"]})),
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
            &path,
            Some(minter),
            Some(json!({"name": "x", "scopes": ["agents:write"]})),
        )
        .await,
        403,
        "insufficient_scope",
    )
    .await;
    let ok = call(
        &server,
        Method::POST,
        &path,
        Some(minter),
        Some(json!({"name": "x", "scopes": ["read"]})),
    )
    .await;
    assert_eq!(ok.status(), 201);
}

#[tokio::test]
async fn bad_key_requests_are_refused_and_write_nothing() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let path = format!("/v1/tenants/{}/api-keys", a.id);
    let cases = [
        (json!({"name": "x", "scopes": []}), 400, "invalid_parameter"),
        (
            json!({"name": "x", "scopes": ["admin"]}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"name": "x", "scopes": ["read", "bad scope"]}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"name": "", "scopes": ["read"]}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"name": "x", "scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"name": "x", "scopes": ["read"], "expires_at": "tomorrow"}),
            422,
            "invalid_body",
        ),
        (json!({"name": "x", "scopes": "read"}), 422, "invalid_body"),
        (json!({"scopes": ["read"]}), 422, "invalid_body"),
    ];
    for (body, status, code) in cases {
        expect_error(
            call(&server, Method::POST, &path, Some(&a.api_key), Some(body)).await,
            status,
            code,
        )
        .await;
    }
    expect_error(
        call(
            &server,
            Method::DELETE,
            &format!("{path}/not-a-key"),
            Some(&a.api_key),
            None,
        )
        .await,
        400,
        "invalid_id",
    )
    .await;
    assert_eq!(
        server.count_rows("api_keys").await,
        2,
        "operator key and the tenant's first key"
    );
}

#[tokio::test]
async fn expired_keys_are_refused() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let expires_at = (server.clock_now() + time::Duration::seconds(60))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let created = expect_json(
        call(
            &server,
            Method::POST,
            &format!("/v1/tenants/{}/api-keys", a.id),
            Some(&a.api_key),
            Some(json!({"name": "short", "scopes": ["read"], "expires_at": expires_at})),
        )
        .await,
        201,
    )
    .await;
    let key = created["key"].as_str().unwrap();
    let tenant = format!("/v1/tenants/{}", a.id);
    assert_eq!(
        call(&server, Method::GET, &tenant, Some(key), None)
            .await
            .status(),
        200
    );
    server.clock.advance(time::Duration::seconds(61));
    let refused = expect_error(
        call(&server, Method::GET, &tenant, Some(key), None).await,
        401,
        "unauthenticated",
    )
    .await;
    assert!(refused["message"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn unknown_and_malformed_credentials_are_refused() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let tenant = format!("/v1/tenants/{}", a.id);
    let missing = call(&server, Method::GET, &tenant, None, None).await;
    // RFC 9728 §5.1: the challenge names the API's protected resource metadata.
    assert_eq!(
        missing.headers()["www-authenticate"],
        format!(
            "Bearer realm=\"tessera\", resource_metadata=\"{}/.well-known/oauth-protected-resource\"",
            server.base
        )
        .as_str()
    );
    expect_error(missing, 401, "unauthenticated").await;
    for key in [
        "garbage",
        "tsk_",
        "tcs_2nCCFZPCJeXuN5HSSvXVYepyWRvSzsWG5XTUayiKwsjDyMdfNh",
    ] {
        expect_error(
            call(&server, Method::GET, &tenant, Some(key), None).await,
            401,
            "unauthenticated",
        )
        .await;
    }
    // Well-formed (valid checksum) but never issued.
    let forged = tessera_crypto::GeneratedSecret::new(tessera_crypto::SecretKind::TenantApiKey);
    expect_error(
        call(
            &server,
            Method::GET,
            &tenant,
            Some(forged.secret.expose()),
            None,
        )
        .await,
        401,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn a_tenant_cannot_list_or_revoke_another_tenants_keys() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    let b_keys = expect_json(
        call(
            &server,
            Method::GET,
            &format!("/v1/tenants/{}/api-keys", b.id),
            Some(&b.api_key),
            None,
        )
        .await,
        200,
    )
    .await;
    let b_key_id = b_keys["api_keys"][0]["id"].as_str().unwrap();

    expect_error(
        call(
            &server,
            Method::GET,
            &format!("/v1/tenants/{}/api-keys", b.id),
            Some(&a.api_key),
            None,
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let body = json!({"name": "x", "scopes": ["read"]});
    expect_error(
        call(
            &server,
            Method::POST,
            &format!("/v1/tenants/{}/api-keys", b.id),
            Some(&a.api_key),
            Some(body),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        call(
            &server,
            Method::DELETE,
            &format!("/v1/tenants/{}/api-keys/{b_key_id}", b.id),
            Some(&a.api_key),
            None,
        )
        .await,
        404,
        "not_found",
    )
    .await;
    // B's key id under A's own path is just as unknown.
    expect_error(
        call(
            &server,
            Method::DELETE,
            &format!("/v1/tenants/{}/api-keys/{b_key_id}", a.id),
            Some(&a.api_key),
            None,
        )
        .await,
        404,
        "not_found",
    )
    .await;
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
        200,
        "B's key still works"
    );
}
