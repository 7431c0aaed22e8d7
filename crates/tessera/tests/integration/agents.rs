//! `/v1/tenants/{tenant_id}/agents`: agents, pagination, changes, deletion, client secrets,
//! isolation.

use reqwest::Method;
use serde_json::json;
use tessera_testkit::{TestAgent, TestServer};

use crate::support::{call, expect_error, expect_json};

#[tokio::test]
async fn create_read_update_and_delete_an_agent() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let agents = format!("/v1/tenants/{}/agents", a.id);
    let body = json!({"name": "invoice-bot", "description": "pays bills", "capabilities": ["pay", "read-mail", "pay"], "scopes": ["invoices:read", "invoices:write"]});
    let created = expect_json(
        call(&server, Method::POST, &agents, Some(&a.api_key), Some(body)).await,
        201,
    )
    .await;
    let agent = &created["agent"];
    let id = agent["id"].as_str().unwrap();
    assert!(id.starts_with("agt_"));
    assert_eq!(created["client_id"], id);
    assert!(
        created["client_secret"]
            .as_str()
            .unwrap()
            .starts_with("tcs_")
    );
    assert_eq!(agent["tenant_id"], a.id);
    assert_eq!(agent["capabilities"], json!(["pay", "read-mail"]));
    assert_eq!(agent["scopes"], json!(["invoices:read", "invoices:write"]));
    assert_eq!(agent["status"], "active");

    let path = format!("{agents}/{id}");
    assert_eq!(
        &expect_json(
            call(&server, Method::GET, &path, Some(&a.api_key), None).await,
            200
        )
        .await,
        agent
    );

    let patched = expect_json(
        call(
            &server,
            Method::PATCH,
            &path,
            Some(&a.api_key),
            Some(json!({"name": "payer", "description": null, "scopes": ["invoices:read"]})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(patched["name"], "payer");
    assert!(patched["description"].is_null());
    assert_eq!(patched["scopes"], json!(["invoices:read"]));
    assert_eq!(
        patched["capabilities"],
        json!(["pay", "read-mail"]),
        "absent fields stay"
    );

    assert_eq!(
        call(&server, Method::DELETE, &path, Some(&a.api_key), None)
            .await
            .status(),
        204
    );
    expect_error(
        call(&server, Method::GET, &path, Some(&a.api_key), None).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        call(&server, Method::DELETE, &path, Some(&a.api_key), None).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        server.count_rows("client_secrets").await,
        0,
        "secrets go with the agent"
    );
}

#[tokio::test]
async fn listing_pages_with_a_cursor() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    server.create_agent(&b, &[]).await;
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(server.create_agent(&a, &[]).await.id);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = cursor
            .as_ref()
            .map_or(String::new(), |c| format!("&cursor={c}"));
        let page = expect_json(
            call(
                &server,
                Method::GET,
                &format!("/v1/tenants/{}/agents?limit=2{query}", a.id),
                Some(&a.api_key),
                None,
            )
            .await,
            200,
        )
        .await;
        pages += 1;
        seen.extend(
            page["agents"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen, created,
        "every agent once, oldest first, none of tenant B's"
    );

    let base = format!("/v1/tenants/{}/agents", a.id);
    for query in ["?limit=0", "?limit=201", "?limit=x", "?cursor=bogus"] {
        expect_error(
            call(
                &server,
                Method::GET,
                &format!("{base}{query}"),
                Some(&a.api_key),
                None,
            )
            .await,
            400,
            "invalid_parameter",
        )
        .await;
    }
}

#[tokio::test]
async fn bad_agent_requests_are_refused_and_write_nothing() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let agents = format!("/v1/tenants/{}/agents", a.id);
    let cases = [
        (json!({"name": ""}), 400, "invalid_parameter"),
        (
            json!({"name": "x", "scopes": ["has space"]}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"name": "x", "scopes": ["quote\""]}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"name": "x", "capabilities": [""]}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"name": "x", "description": "d".repeat(1001)}),
            400,
            "invalid_parameter",
        ),
        (json!({"name": "x", "owner": "me"}), 422, "invalid_body"),
        (json!({"name": ["x"]}), 422, "invalid_body"),
        (json!({}), 422, "invalid_body"),
    ];
    for (body, status, code) in cases {
        expect_error(
            call(&server, Method::POST, &agents, Some(&a.api_key), Some(body)).await,
            status,
            code,
        )
        .await;
    }
    assert_eq!(server.count_rows("agents").await, 0);

    let agent = server.create_agent(&a, &["x"]).await;
    let path = format!("{agents}/{}", agent.id);
    expect_error(
        call(
            &server,
            Method::PATCH,
            &path,
            Some(&a.api_key),
            Some(json!({"status": "gone"})),
        )
        .await,
        422,
        "invalid_body",
    )
    .await;
    expect_error(
        call(
            &server,
            Method::PATCH,
            &path,
            Some(&a.api_key),
            Some(json!({"name": " "})),
        )
        .await,
        400,
        "invalid_parameter",
    )
    .await;
    expect_error(
        call(
            &server,
            Method::GET,
            &format!("{agents}/agt_nope"),
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
            &format!("{agents}/{}", a.id),
            Some(&a.api_key),
            None,
        )
        .await,
        400,
        "invalid_id",
    )
    .await;
    let unchanged = expect_json(
        call(&server, Method::GET, &path, Some(&a.api_key), None).await,
        200,
    )
    .await;
    assert_eq!(unchanged["name"], "test agent");
}

#[tokio::test]
async fn secrets_rotate_with_overlap() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let agent = server.create_agent(&a, &["x"]).await;
    let secrets = format!("/v1/tenants/{}/agents/{}/secrets", a.id, agent.id);
    let first_id = expect_json(
        call(&server, Method::GET, &secrets, Some(&a.api_key), None).await,
        200,
    )
    .await["secrets"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let second = expect_json(
        call(
            &server,
            Method::POST,
            &secrets,
            Some(&a.api_key),
            Some(json!({})),
        )
        .await,
        201,
    )
    .await;
    let rotated = TestAgent {
        client_secret: second["client_secret"].as_str().unwrap().to_owned(),
        ..agent.clone()
    };
    assert_eq!(
        server.token_response(&agent, None).await.status(),
        200,
        "old secret works during the overlap"
    );
    assert_eq!(
        server.token_response(&rotated, None).await.status(),
        200,
        "new secret works"
    );

    let listed = expect_json(
        call(&server, Method::GET, &secrets, Some(&a.api_key), None).await,
        200,
    )
    .await;
    assert_eq!(listed["secrets"].as_array().unwrap().len(), 2);
    assert!(
        !listed.to_string().contains("tcs_"),
        "secrets are never listed"
    );

    assert_eq!(
        call(
            &server,
            Method::DELETE,
            &format!("{secrets}/{first_id}"),
            Some(&a.api_key),
            None
        )
        .await
        .status(),
        204
    );
    assert_eq!(
        server.token_response(&agent, None).await.status(),
        401,
        "the deleted secret is refused at once"
    );
    assert_eq!(server.token_response(&rotated, None).await.status(), 200);
    expect_error(
        call(
            &server,
            Method::DELETE,
            &format!("{secrets}/{first_id}"),
            Some(&a.api_key),
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
            Method::DELETE,
            &format!("{secrets}/nope"),
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
            Method::POST,
            &secrets,
            Some(&a.api_key),
            Some(json!({"expires_at": "2000-01-01T00:00:00Z"})),
        )
        .await,
        400,
        "invalid_parameter",
    )
    .await;
}

#[tokio::test]
async fn expiring_secrets_stop_working() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let agent = server.create_agent(&a, &[]).await;
    let expires_at = (server.clock_now() + time::Duration::seconds(30))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let secrets = format!("/v1/tenants/{}/agents/{}/secrets", a.id, agent.id);
    let created = expect_json(
        call(
            &server,
            Method::POST,
            &secrets,
            Some(&a.api_key),
            Some(json!({"expires_at": expires_at})),
        )
        .await,
        201,
    )
    .await;
    let short = TestAgent {
        client_secret: created["client_secret"].as_str().unwrap().to_owned(),
        ..agent.clone()
    };
    assert_eq!(server.token_response(&short, None).await.status(), 200);
    server.clock.advance(time::Duration::seconds(31));
    assert_eq!(server.token_response(&short, None).await.status(), 401);
    assert_eq!(server.token_response(&agent, None).await.status(), 200);
}

#[tokio::test]
async fn a_tenant_cannot_touch_another_tenants_agents() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    let b_agent = server.create_agent(&b, &["x"]).await;
    let through_b = format!("/v1/tenants/{}/agents/{}", b.id, b_agent.id);
    let through_a = format!("/v1/tenants/{}/agents/{}", a.id, b_agent.id);
    for path in [&through_b, &through_a] {
        expect_error(
            call(&server, Method::GET, path, Some(&a.api_key), None).await,
            404,
            "not_found",
        )
        .await;
        expect_error(
            call(
                &server,
                Method::PATCH,
                path,
                Some(&a.api_key),
                Some(json!({"name": "pwned"})),
            )
            .await,
            404,
            "not_found",
        )
        .await;
        expect_error(
            call(&server, Method::DELETE, path, Some(&a.api_key), None).await,
            404,
            "not_found",
        )
        .await;
        expect_error(
            call(
                &server,
                Method::POST,
                &format!("{path}/secrets"),
                Some(&a.api_key),
                Some(json!({})),
            )
            .await,
            404,
            "not_found",
        )
        .await;
        expect_error(
            call(
                &server,
                Method::GET,
                &format!("{path}/secrets"),
                Some(&a.api_key),
                None,
            )
            .await,
            404,
            "not_found",
        )
        .await;
    }
    expect_error(
        call(
            &server,
            Method::GET,
            &format!("/v1/tenants/{}/agents", b.id),
            Some(&a.api_key),
            None,
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let listed = expect_json(
        call(
            &server,
            Method::GET,
            &format!("/v1/tenants/{}/agents", a.id),
            Some(&a.api_key),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(listed["agents"], json!([]));
    let unchanged = expect_json(
        call(&server, Method::GET, &through_b, Some(&b.api_key), None).await,
        200,
    )
    .await;
    assert_eq!(unchanged["name"], "test agent");
    assert_eq!(server.token_response(&b_agent, None).await.status(), 200);
}
