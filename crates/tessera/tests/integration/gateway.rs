//! The gateway (`/api/*`): authentication on every request, header hygiene, streaming both
//! ways, WebSocket pass-through, upstream failures, public routes, CORS, route scopes.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::Value;
use tessera_gateway::routes::Route;
use tessera_testkit::TestServer;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::{TestRuntime, call, expect_error, free_port};

pub fn route(prefix: &str, upstream: &str) -> Route {
    Route {
        prefix: prefix.to_owned(),
        upstream: upstream.parse().unwrap(),
        public: false,
        scopes: Vec::new(),
        timeout_secs: None,
        resource: None,
    }
}

/// A server whose `/api` goes to `runtime`, plus `extra` routes.
pub async fn gateway_to(runtime: &TestRuntime, extra: Vec<Route>) -> TestServer {
    let upstream = runtime.url();
    TestServer::start_with(move |config| {
        config.gateway_routes = extra;
        config.gateway_routes.push(route("/api", &upstream));
    })
    .await
}

async fn echo(
    server: &TestServer,
    credential: Option<(&str, &str)>,
    extra: &[(&str, &str)],
) -> Value {
    let mut request = server.http.get(server.url("/api/echo/x?q=1"));
    if let Some((name, value)) = credential {
        request = request.header(name, value);
    }
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn header<'a>(echoed: &'a Value, name: &str) -> Vec<&'a str> {
    echoed["headers"][name]
        .as_array()
        .map(|values| values.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_public_listener_runs_the_configured_number_of_workers() {
    let runtime = TestRuntime::start().await;
    let upstream = runtime.url();
    let server = TestServer::start_with(move |config| {
        config.public_workers = Some(3);
        config.gateway_routes.push(route("/api", &upstream));
    })
    .await;
    let a = server.register_tenant("A").await;
    // Connections are dealt to the workers in turn: three new ones reach every worker.
    for _ in 0..3 {
        let client = reqwest::Client::new();
        let response = client
            .get(server.url("/api/hello"))
            .header("x-api-key", &a.api_key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    // The server runs in this test's process: its threads are ours to count (a thread's name
    // is cut to 15 bytes, `tessera-public-`).
    let workers = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("tessera-public"))
        .count();
    assert_eq!(workers, 3);
}

#[tokio::test]
async fn verified_identity_replaces_what_the_client_claims() {
    let runtime = TestRuntime::start().await;
    let server = gateway_to(&runtime, Vec::new()).await;
    let a = server.register_tenant("A").await;
    let forged = [
        ("x-tenant-id", "ten_forged"),
        ("x-user-id", "usr_forged"),
        ("x-agent-id", "agt_forged"),
        ("x-scopes", "admin"),
        ("x-forwarded-for", "6.6.6.6"),
        ("cookie", "tessera_session=s; theme=dark"),
        ("x-request-id", "trace-42"),
    ];
    let echoed = echo(&server, Some(("x-api-key", &a.api_key)), &forged).await;
    assert_eq!(echoed["path"], "/api/echo/x");
    assert_eq!(echoed["query"], "q=1");
    assert_eq!(header(&echoed, "x-tenant-id"), [a.id.as_str()]);
    assert_eq!(header(&echoed, "x-scopes"), ["*"]);
    assert_eq!(header(&echoed, "x-request-id"), ["trace-42"]);
    assert_eq!(header(&echoed, "x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(header(&echoed, "cookie"), ["theme=dark"]);
    for absent in ["x-user-id", "x-agent-id", "x-api-key", "authorization"] {
        assert!(
            header(&echoed, absent).is_empty(),
            "{absent} reached the upstream: {echoed}"
        );
    }

    // An agent's access token: the agent is named too, with the token's scopes.
    let agent = server.create_agent(&a, &["read"]).await;
    let token = server.token(&agent, None).await;
    let bearer = format!("Bearer {token}");
    let echoed = echo(&server, Some(("authorization", &bearer)), &forged).await;
    assert_eq!(header(&echoed, "x-tenant-id"), [a.id.as_str()]);
    assert_eq!(header(&echoed, "x-agent-id"), [agent.id.as_str()]);
    assert_eq!(header(&echoed, "x-scopes"), ["read"]);
    assert!(header(&echoed, "authorization").is_empty());
    assert!(header(&echoed, "x-user-id").is_empty());

    // No origin is configured for CORS: the answer does not depend on `Origin`, and its `Vary`
    // does not say it does.
    let plain = server
        .http
        .get(server.url("/api/echo/x"))
        .header("x-api-key", &a.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 200);
    assert!(!plain.headers().contains_key("vary"), "{plain:?}");
}

#[tokio::test]
async fn refused_credentials_never_reach_the_upstream() {
    let runtime = TestRuntime::start().await;
    let server = gateway_to(&runtime, Vec::new()).await;
    let a = server.register_tenant("A").await;
    let get = |credential: Option<String>| {
        let server = &server;
        async move {
            let mut request = server.http.get(server.url("/api/echo"));
            if let Some(key) = credential {
                request = request.header("x-api-key", key);
            }
            request.send().await.unwrap()
        }
    };
    let body = expect_error(get(None).await, 401, "unauthenticated").await;
    assert!(body["request_id"].as_str().is_some_and(|id| !id.is_empty()));
    expect_error(
        get(Some("tsk_nonsense".to_owned())).await,
        401,
        "unauthenticated",
    )
    .await;
    let bearer = server
        .http
        .get(server.url("/api/echo"))
        .bearer_auth("eyJhbGciOiJFUzI1NiJ9.e30.c2ln")
        .send()
        .await
        .unwrap();
    expect_error(bearer, 401, "unauthenticated").await;

    // Revoking a key, a token, or suspending the tenant takes effect at the gateway at once.
    let created: Value = call(
        &server,
        Method::POST,
        &format!("/v1/tenants/{}/api-keys", a.id),
        Some(&a.api_key),
        Some(serde_json::json!({"name": "gw", "scopes": ["read"]})),
    )
    .await
    .json()
    .await
    .unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    assert_eq!(get(Some(key.clone())).await.status(), 200);
    let revoked = call(
        &server,
        Method::DELETE,
        &format!(
            "/v1/tenants/{}/api-keys/{}",
            a.id,
            created["id"].as_str().unwrap()
        ),
        Some(&a.api_key),
        None,
    )
    .await;
    assert!(revoked.status().is_success());
    expect_error(get(Some(key)).await, 401, "unauthenticated").await;

    let agent = server.create_agent(&a, &[]).await;
    let token = server.token(&agent, None).await;
    let with_token = || {
        server
            .http
            .get(server.url("/api/echo"))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(with_token().await.unwrap().status(), 200);
    let revoke = server
        .http
        .post(server.url("/oauth2/revoke"))
        .header("x-api-key", &a.api_key)
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 200);
    expect_error(with_token().await.unwrap(), 401, "unauthenticated").await;

    assert_eq!(get(Some(a.api_key.clone())).await.status(), 200);
    let suspended = call(
        &server,
        Method::POST,
        &format!("/v1/tenants/{}/suspend", a.id),
        Some(&server.operator_key),
        None,
    )
    .await;
    assert!(suspended.status().is_success());
    expect_error(get(Some(a.api_key.clone())).await, 401, "tenant_suspended").await;
}

#[tokio::test]
async fn server_sent_events_arrive_as_they_are_sent() {
    let runtime = TestRuntime::start().await;
    let server = gateway_to(&runtime, Vec::new()).await;
    let a = server.register_tenant("A").await;
    let mut response = server
        .http
        .get(server.url("/api/sse?events=3&interval_ms=1500"))
        .header("x-api-key", &a.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let first = response.chunk().await.unwrap().expect("a first event");
    let first = String::from_utf8_lossy(&first).into_owned();
    assert!(
        first.contains("event 0") && !first.contains("event 1"),
        "{first}"
    );
    // Buffering would have delivered everything at once; the stream is still open instead.
    let next = tokio::time::timeout(Duration::from_millis(500), response.chunk()).await;
    assert!(
        next.is_err(),
        "the rest of the stream came at once: {next:?}"
    );
    let mut rest = String::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        rest.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        rest.contains("event 1") && rest.contains("event 2"),
        "{rest}"
    );
}

#[tokio::test]
async fn a_websocket_passes_through() {
    let runtime = TestRuntime::start().await;
    let server = gateway_to(&runtime, Vec::new()).await;
    let a = server.register_tenant("A").await;
    let url = server.url("/api/ws").replacen("http://", "ws://", 1);
    let mut request = url.as_str().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("x-api-key", a.api_key.parse().unwrap());
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.status(), 101);
    for text in ["hello", "through the gateway"] {
        socket.send(Message::text(text)).await.unwrap();
        let echoed = socket.next().await.unwrap().unwrap();
        assert_eq!(echoed, Message::text(text));
    }
    socket.close(None).await.unwrap();

    // Without a credential the upgrade is refused like any request.
    let unauthenticated = url.as_str().into_client_request().unwrap();
    assert!(
        tokio_tungstenite::connect_async(unauthenticated)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_large_upload_streams_to_the_upstream() {
    let runtime = TestRuntime::start().await;
    let server = gateway_to(&runtime, Vec::new()).await;
    let a = server.register_tenant("A").await;
    // 10 MB, ten times Tessera's own body limit: the gateway does not read bodies.
    let body: Vec<u8> = (0..10 * 1024 * 1024)
        .map(|i: u32| (i % 251) as u8)
        .collect();
    let expected = hex_sha256(&body);
    let response = server
        .http
        .post(server.url("/api/upload"))
        .header("x-api-key", &a.api_key)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let received: Value = response.json().await.unwrap();
    assert_eq!(received["bytes"], 10 * 1024 * 1024);
    assert_eq!(received["sha256"], expected);
}

fn hex_sha256(bytes: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    hex::encode(digest.as_ref())
}

#[tokio::test]
async fn upstream_failures_are_json_with_the_request_id() {
    let runtime = TestRuntime::start().await;
    let down = format!("http://127.0.0.1:{}", free_port());
    let mut slow = route("/api/slow", &runtime.url());
    slow.timeout_secs = Some(1);
    let server = gateway_to(&runtime, vec![route("/api/down", &down), slow]).await;
    let a = server.register_tenant("A").await;
    let get = |path: &'static str| {
        server
            .http
            .get(server.url(path))
            .header("x-api-key", &a.api_key)
            .header("x-request-id", "req-7")
            .send()
    };
    let body = expect_error(
        get("/api/down/x").await.unwrap(),
        502,
        "upstream_unavailable",
    )
    .await;
    assert_eq!(body["request_id"], "req-7");
    let body = expect_error(
        get("/api/slow?ms=3000").await.unwrap(),
        504,
        "upstream_timeout",
    )
    .await;
    assert_eq!(body["request_id"], "req-7");
    assert_eq!(get("/api/slow?ms=10").await.unwrap().status(), 200);
}

#[tokio::test]
async fn public_routes_cors_and_route_scopes() {
    let runtime = TestRuntime::start().await;
    let upstream = runtime.url();
    let mut health = route("/api/echo/health", &upstream);
    health.public = true;
    let mut writers = route("/api/echo/admin", &upstream);
    writers.scopes = vec!["agents:write".to_owned()];
    let server = TestServer::start_with(move |config| {
        config.gateway_routes = vec![health, writers, route("/api/echo", &upstream)];
        config.gateway_cors_origins = vec!["https://app.example".to_owned()];
    })
    .await;
    let a = server.register_tenant("A").await;

    // A public route needs no credential, and nothing identifying is injected.
    let response = server
        .http
        .get(server.url("/api/echo/health"))
        .header("x-tenant-id", "ten_forged")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let echoed: Value = response.json().await.unwrap();
    assert!(header(&echoed, "x-tenant-id").is_empty(), "{echoed}");

    // A preflight is answered without credentials; other origins get no grant.
    let preflight = |origin: &'static str| {
        server
            .http
            .request(Method::OPTIONS, server.url("/api/echo/x"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "x-api-key")
            .send()
    };
    let allowed = preflight("https://app.example").await.unwrap();
    assert!(allowed.status().is_success());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(
        !refused
            .headers()
            .contains_key("access-control-allow-origin")
    );

    // A cross-origin call from an allowed origin is granted, with credentials, and may read
    // the gateway's headers; a call without an origin gets no grant, only `Vary` (the answer
    // depends on the origin, so caches must key on it).
    let get = |origin: Option<&'static str>| {
        let request = server
            .http
            .get(server.url("/api/echo/x"))
            .header("x-api-key", &a.api_key);
        match origin {
            Some(origin) => request.header("origin", origin),
            None => request,
        }
        .send()
    };
    let cross = get(Some("https://app.example")).await.unwrap();
    assert_eq!(cross.status(), 200);
    let headers = cross.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(headers["access-control-allow-credentials"], "true");
    let exposed = headers["access-control-expose-headers"].to_str().unwrap();
    assert!(exposed.contains("x-ratelimit-remaining"), "{exposed}");
    let same = get(None).await.unwrap();
    assert_eq!(same.status(), 200);
    assert!(!same.headers().contains_key("access-control-allow-origin"));
    let vary = same.headers()["vary"].to_str().unwrap();
    assert!(vary.contains("origin"), "{vary}");

    // A route's scopes: a read-only key is refused, a key with the scope passes.
    let created: Value = call(
        &server,
        Method::POST,
        &format!("/v1/tenants/{}/api-keys", a.id),
        Some(&a.api_key),
        Some(serde_json::json!({"name": "reader", "scopes": ["read"]})),
    )
    .await
    .json()
    .await
    .unwrap();
    let reader = created["key"].as_str().unwrap();
    let admin = |key: &str| {
        server
            .http
            .get(server.url("/api/echo/admin"))
            .header("x-api-key", key)
            .send()
    };
    expect_error(admin(reader).await.unwrap(), 403, "insufficient_scope").await;
    assert_eq!(admin(&a.api_key).await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_path_without_route_or_entity_is_404() {
    let runtime = TestRuntime::start().await;
    let server = TestServer::start_with({
        let upstream = runtime.url();
        move |config| config.gateway_routes = vec![route("/api/work", &upstream)]
    })
    .await;
    let a = server.register_tenant("A").await;
    let response = call(
        &server,
        Method::GET,
        "/api/elsewhere",
        Some(&a.api_key),
        None,
    )
    .await;
    expect_error(response, 404, "no_route").await;
    let response = call(
        &server,
        Method::GET,
        "/api/work/echo",
        Some(&a.api_key),
        None,
    )
    .await;
    assert_eq!(
        response.status(),
        404,
        "the runtime's own 404: the route matched"
    );
    assert_eq!(
        call(&server, Method::GET, "/api/echo", Some(&a.api_key), None)
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn internal_endpoints_are_out_of_reach_of_the_public_listener_and_api() {
    let internal_port = free_port();
    let internal = format!("http://127.0.0.1:{internal_port}");
    let server = TestServer::start_with(move |config| {
        config.internal_listen = ([127, 0, 0, 1], internal_port).into();
        // A misconfiguration the gateway must not honour: a route onto the internal listener.
        config.gateway_routes = vec![route("/api/metrics", &internal)];
    })
    .await;
    let a = server.register_tenant("A").await;

    let on_internal = server
        .http
        .get(server.internal_url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(on_internal.status(), 200);
    assert!(
        on_internal
            .text()
            .await
            .unwrap()
            .contains("tessera_http_requests_total")
    );

    let on_public = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    expect_error(on_public, 404, "not_found").await;
    let through_api = call(&server, Method::GET, "/api/metrics", Some(&a.api_key), None).await;
    expect_error(through_api, 404, "no_route").await;
    let operator = call(
        &server,
        Method::GET,
        "/api/metrics",
        Some(&server.operator_key),
        None,
    )
    .await;
    assert_eq!(operator.status(), 404);
}
