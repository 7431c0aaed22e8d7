//! Webhooks against a real loopback receiver that verifies every delivery with PyPI
//! `standardwebhooks`: retries with one stable `webhook-id`, dead letters and redelivery,
//! restarts mid-retry, secret rotation with overlap, disabling a failing subscription, the
//! private-address guard, bad input, and tenant isolation. Retries come due by moving the
//! server's clock, so no test sleeps through a backoff.

use std::time::Duration;

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use tessera_server::Config;
use tessera_testkit::{Receiver, TestServer, TestTenant};

use crate::support::{call, expect_error, expect_json};

/// How far the clock moves per poll while waiting: retries (2 s apart here) come due fast,
/// and the whole test stays well inside the receivers' 5-minute timestamp tolerance.
const STEP: time::Duration = time::Duration::seconds(1);
const LIMIT: Duration = Duration::from_secs(20);

fn fast(config: &mut Config) {
    config.webhooks_allow_private_targets = true;
    config.webhooks_retry_schedule_secs = vec![2, 2, 2, 2];
    config.webhooks_timeout_secs = 5;
    config.events_poll_interval_ms = 50;
}

async fn subscribe(
    server: &TestServer,
    tenant: &TestTenant,
    url: &str,
    types: &[&str],
) -> (String, String) {
    let created = expect_json(
        call(
            server,
            Method::POST,
            &format!("/v1/tenants/{}/webhooks", tenant.id),
            Some(&tenant.api_key),
            Some(json!({"url": url, "event_types": types, "description": "test"})),
        )
        .await,
        201,
    )
    .await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    (
        created["webhook"]["id"].as_str().unwrap().to_owned(),
        secret,
    )
}

async fn get(server: &TestServer, tenant: &TestTenant, path: &str) -> Value {
    expect_json(
        call(
            server,
            Method::GET,
            &format!("/v1/tenants/{}{path}", tenant.id),
            Some(&tenant.api_key),
            None,
        )
        .await,
        200,
    )
    .await
}

/// Waits until `path` of the receiver has `n` requests; returns them.
async fn received(
    server: &TestServer,
    receiver: &Receiver,
    path: &str,
    n: usize,
) -> Vec<tessera_testkit::Received> {
    server
        .eventually(
            &format!("{n} requests on {path}"),
            STEP,
            LIMIT,
            move || async move {
                let got = receiver.received(path).await;
                (got.len() >= n).then_some(got)
            },
        )
        .await
}

/// Waits until the subscription's only delivery has `status`; returns it.
async fn delivery_in(server: &TestServer, tenant: &TestTenant, hook: &str, status: &str) -> Value {
    server
        .eventually(&format!("a {status} delivery"), STEP, LIMIT, || async {
            let list = get(server, tenant, &format!("/webhooks/{hook}/deliveries")).await;
            let first = list["deliveries"][0].clone();
            (first["status"] == status).then_some(first)
        })
        .await
}

#[tokio::test]
async fn refused_three_times_then_delivered_with_one_id_and_valid_signatures() {
    let receiver = Receiver::start().await;
    let server = TestServer::start_with(fast).await;
    let tenant = server.register_tenant("A").await;
    let (hook, secret) = subscribe(&server, &tenant, &receiver.url("/a"), &["agent.create"]).await;
    receiver
        .configure("/a", json!({"secrets": [secret], "fail_first": 3}))
        .await;
    let agent = server.create_agent(&tenant, &[]).await;

    let got = received(&server, &receiver, "/a", 4).await;
    let answers: Vec<u16> = got.iter().map(|r| r.status).collect();
    assert_eq!(answers, [500, 500, 500, 204]);
    let id = got[0].webhook_id.clone().unwrap();
    assert!(id.starts_with("evt_"), "webhook-id is the event id: {id}");
    for request in &got {
        assert_eq!(request.webhook_id.as_deref(), Some(id.as_str()));
        assert_eq!(request.verified, [true], "{:?}", request.error);
        assert_eq!(request.content_type.as_deref(), Some("application/json"));
        let body = request.json();
        assert_eq!(body["type"], "agent.create");
        assert_eq!(body["data"]["target"], agent.id);
        assert_eq!(body["data"]["tenant_id"], tenant.id);
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    }
    let stamps: Vec<i64> = got
        .iter()
        .map(|r| r.timestamp.as_deref().unwrap().parse().unwrap())
        .collect();
    assert!(
        stamps.windows(2).all(|w| w[1] > w[0]),
        "backoff: {stamps:?}"
    );

    let delivery = delivery_in(&server, &tenant, &hook, "delivered").await;
    assert_eq!(delivery["attempts"], 4);
    assert_eq!(delivery["event_id"], id.as_str());
    assert_eq!(delivery["last_status_code"], 204);
    assert!(delivery["next_attempt_at"].is_null());
    let detail = get(
        &server,
        &tenant,
        &format!(
            "/webhooks/{hook}/deliveries/{}",
            delivery["id"].as_str().unwrap()
        ),
    )
    .await;
    let codes: Vec<&Value> = detail["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status_code"])
        .collect();
    assert_eq!(codes, [&json!(500), &json!(500), &json!(500), &json!(204)]);
    assert_eq!(detail["attempts"][0]["error"], "HTTP 500");
    assert!(detail["attempts"][3]["error"].is_null());
    assert_eq!(detail["payload"]["data"]["id"], id.as_str());
    // Delivered means done: nothing more arrives.
    server.clock.advance(time::Duration::seconds(30));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received("/a").await.len(), 4);
}

#[tokio::test]
async fn permanent_failure_is_dead_lettered_and_redelivered_on_request() {
    let receiver = Receiver::start().await;
    let server = TestServer::start_with(fast).await;
    let tenant = server.register_tenant("A").await;
    let (hook, secret) =
        subscribe(&server, &tenant, &receiver.url("/dead"), &["agent.create"]).await;
    receiver
        .configure(
            "/dead",
            json!({"secrets": [secret], "fail_all": true, "status": 503}),
        )
        .await;
    server.create_agent(&tenant, &[]).await;

    let dead = delivery_in(&server, &tenant, &hook, "dead_letter").await;
    assert_eq!(
        dead["attempts"], 5,
        "one attempt more than the schedule has delays"
    );
    assert_eq!(dead["last_status_code"], 503);
    assert!(dead["next_attempt_at"].is_null());
    let letters = get(&server, &tenant, "/webhooks/dead-letters").await;
    assert_eq!(letters["deliveries"].as_array().unwrap().len(), 1);
    assert_eq!(letters["deliveries"][0]["id"], dead["id"]);
    let metrics = crate::support::metrics(&server).await;
    assert!(metrics.contains("tessera_webhook_dead_letters_total"));
    assert!(metrics.contains("tessera_webhook_attempts_total{outcome=\"retry\"}"));

    receiver
        .configure("/dead", json!({"fail_all": false}))
        .await;
    let delivery_id = dead["id"].as_str().unwrap();
    let queued = expect_json(
        call(
            &server,
            Method::POST,
            &format!(
                "/v1/tenants/{}/webhooks/{hook}/deliveries/{delivery_id}/redeliver",
                tenant.id
            ),
            Some(&tenant.api_key),
            None,
        )
        .await,
        202,
    )
    .await;
    assert_eq!(queued["status"], "pending");
    let got = received(&server, &receiver, "/dead", 6).await;
    assert_eq!(got[5].status, 204);
    assert!(got.iter().all(|r| r.webhook_id == got[0].webhook_id));
    assert!(got.iter().all(|r| r.verified == [true]));
    let delivered = delivery_in(&server, &tenant, &hook, "delivered").await;
    assert_eq!(delivered["attempts"], 6);
    let letters = get(&server, &tenant, "/webhooks/dead-letters").await;
    assert_eq!(letters["deliveries"], json!([]));
    let log = server.audit_log().await;
    let redelivered = log
        .iter()
        .find(|e| e.action == "webhook.delivery.redeliver")
        .expect("redelivery is audited");
    assert_eq!(redelivered.target, delivery_id);
}

#[tokio::test]
async fn a_restart_mid_retry_still_delivers_with_the_same_id() {
    let receiver = Receiver::start().await;
    let server = TestServer::start_with(fast).await;
    let tenant = server.register_tenant("A").await;
    let (hook, secret) = subscribe(&server, &tenant, &receiver.url("/r"), &["agent.create"]).await;
    receiver
        .configure("/r", json!({"secrets": [secret], "fail_first": 2}))
        .await;
    server.create_agent(&tenant, &[]).await;
    received(&server, &receiver, "/r", 1).await;
    // Stop between attempts: the delivery waits in the store for its next one.
    let pending = delivery_in(&server, &tenant, &hook, "pending").await;
    assert!(pending["next_attempt_at"].is_string());

    let server = server.restart().await;
    let got = received(&server, &receiver, "/r", 3).await;
    assert_eq!(
        got.iter().map(|r| r.status).collect::<Vec<_>>(),
        [500, 500, 204]
    );
    assert!(got.iter().all(|r| r.webhook_id == got[0].webhook_id));
    assert!(got.iter().all(|r| r.verified == [true]));
    let delivered = delivery_in(&server, &tenant, &hook, "delivered").await;
    assert_eq!(delivered["attempts"], 3);
}

#[tokio::test]
async fn a_rotated_secret_keeps_signing_for_a_day() {
    let receiver = Receiver::start().await;
    let server = TestServer::start_with(fast).await;
    let tenant = server.register_tenant("A").await;
    let (hook, old) = subscribe(&server, &tenant, &receiver.url("/rot"), &["agent.create"]).await;
    let rotated = expect_json(
        call(
            &server,
            Method::POST,
            &format!("/v1/tenants/{}/webhooks/{hook}/rotate-secret", tenant.id),
            Some(&tenant.api_key),
            None,
        )
        .await,
        200,
    )
    .await;
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(rotated["previous_secret_expires_at"].is_string());
    receiver
        .configure("/rot", json!({"secrets": [old, new]}))
        .await;
    server.create_agent(&tenant, &[]).await;
    let got = received(&server, &receiver, "/rot", 1).await;
    assert_eq!(got[0].verified, [true, true], "{:?}", got[0].error);
    assert_eq!(got[0].signature.as_deref().unwrap().split(' ').count(), 2);

    // A day later only the new secret signs. (The receiver's 5-minute window would refuse
    // the moved clock's timestamps, so the signature is checked here.)
    server.clock.advance(time::Duration::hours(24));
    server.create_agent(&tenant, &[]).await;
    let got = received(&server, &receiver, "/rot", 2).await;
    let later = &got[1];
    let signature = later.signature.as_deref().unwrap();
    assert_eq!(signature.split(' ').count(), 1);
    let key = base64::engine::general_purpose::STANDARD
        .decode(new.strip_prefix("whsec_").unwrap())
        .unwrap();
    let expected = tessera_server::webhooks::signing::signature(
        &key,
        later.webhook_id.as_deref().unwrap(),
        later.timestamp.as_deref().unwrap().parse().unwrap(),
        later.body.as_bytes(),
    );
    assert_eq!(signature, expected);
}

#[tokio::test]
async fn a_failing_subscription_is_disabled_and_that_is_an_event() {
    let receiver = Receiver::start().await;
    let server = TestServer::start_with(|config| {
        fast(config);
        config.webhooks_retry_schedule_secs = vec![];
        config.webhooks_disable_after_dead_letters = 2;
    })
    .await;
    let tenant = server.register_tenant("A").await;
    // Nothing listens on this port: every attempt finds the receiver down.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (failing, _) = subscribe(
        &server,
        &tenant,
        &format!("http://127.0.0.1:{closed}/down"),
        &["agent.create"],
    )
    .await;
    let (_, watcher_secret) = subscribe(
        &server,
        &tenant,
        &receiver.url("/watch"),
        &["webhook.disabled"],
    )
    .await;
    receiver
        .configure("/watch", json!({"secrets": [watcher_secret]}))
        .await;
    server.create_agent(&tenant, &[]).await;
    server.create_agent(&tenant, &[]).await;

    let got = received(&server, &receiver, "/watch", 1).await;
    assert_eq!(got[0].verified, [true]);
    let event = got[0].json();
    assert_eq!(event["type"], "webhook.disabled");
    assert_eq!(event["data"]["target"], failing.as_str());
    assert_eq!(event["data"]["actor"], "system");
    let hook = get(&server, &tenant, &format!("/webhooks/{failing}")).await;
    assert_eq!(hook["status"], "disabled");
    assert_eq!(hook["disabled_reason"], "dead_letters");
    let letters = get(&server, &tenant, "/webhooks/dead-letters").await;
    let letters = letters["deliveries"].as_array().unwrap();
    assert_eq!(letters.len(), 2);
    assert!(
        letters[0]["last_error"]
            .as_str()
            .unwrap()
            .starts_with("connection failed"),
        "{letters:?}"
    );
    assert!(letters[0]["last_status_code"].is_null());

    // A disabled subscription gets nothing redelivered until it is enabled again.
    let path = format!(
        "/v1/tenants/{}/webhooks/{failing}/deliveries/{}/redeliver",
        tenant.id,
        letters[0]["id"].as_str().unwrap()
    );
    expect_error(
        call(&server, Method::POST, &path, Some(&tenant.api_key), None).await,
        409,
        "conflict",
    )
    .await;
    let enabled = expect_json(
        call(
            &server,
            Method::PATCH,
            &format!("/v1/tenants/{}/webhooks/{failing}", tenant.id),
            Some(&tenant.api_key),
            Some(json!({"status": "active"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(enabled["status"], "active");
    assert!(enabled["disabled_reason"].is_null());
    let log = server.audit_log().await;
    assert!(
        log.iter()
            .any(|e| e.action == "webhook.disabled" && e.target == failing)
    );
}

#[tokio::test]
async fn private_targets_are_refused_unless_the_operator_allows_them() {
    let server = TestServer::start().await;
    let tenant = server.register_tenant("A").await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:8080/hook",
        "http://[::1]/hook",
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/",
    ] {
        let response = call(
            &server,
            Method::POST,
            &format!("/v1/tenants/{}/webhooks", tenant.id),
            Some(&tenant.api_key),
            Some(json!({"url": url, "event_types": ["*"]})),
        )
        .await;
        expect_error(response, 400, "invalid_parameter").await;
    }
    assert_eq!(server.count_rows("webhooks").await, 0);
    // A public name is accepted (it is checked again, resolved, at every attempt).
    let (hook, _) = subscribe(&server, &tenant, "https://hooks.example.com/in", &["*"]).await;
    let patched = call(
        &server,
        Method::PATCH,
        &format!("/v1/tenants/{}/webhooks/{hook}", tenant.id),
        Some(&tenant.api_key),
        Some(json!({"url": "http://127.0.0.1/"})),
    )
    .await;
    expect_error(patched, 400, "invalid_parameter").await;
}

#[tokio::test]
async fn bad_input_is_refused_and_nothing_is_written() {
    let server = TestServer::start_with(fast).await;
    let tenant = server.register_tenant("A").await;
    let path = format!("/v1/tenants/{}/webhooks", tenant.id);
    let ok_url = "https://example.com/hook";
    let long = "x".repeat(1001);
    let cases = [
        (
            json!({"url": "not a url", "event_types": ["*"]}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"url": "ftp://example.com/", "event_types": ["*"]}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"url": "https://u:p@example.com/", "event_types": ["*"]}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"url": ok_url, "event_types": ["Agent Create"]}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"url": ok_url, "event_types": ["agent..create"]}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"url": ok_url, "event_types": []}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"url": ok_url, "event_types": ["*"], "description": long}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"url": ok_url, "event_types": ["*"], "secret": "whsec_mine"}),
            422,
            "invalid_body",
        ),
        (
            json!({"url": ok_url, "event_types": "agent.create"}),
            422,
            "invalid_body",
        ),
        (json!({"event_types": ["*"]}), 422, "invalid_body"),
    ];
    for (body, status, code) in cases {
        let response = call(
            &server,
            Method::POST,
            &path,
            Some(&tenant.api_key),
            Some(body),
        )
        .await;
        expect_error(response, status, code).await;
    }
    let not_json = server
        .http
        .post(server.url(&path))
        .header("x-api-key", &tenant.api_key)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    expect_error(not_json, 400, "invalid_json").await;
    let reader = expect_json(
        call(
            &server,
            Method::POST,
            &format!("/v1/tenants/{}/api-keys", tenant.id),
            Some(&tenant.api_key),
            Some(json!({"name": "reader", "scopes": ["read"]})),
        )
        .await,
        201,
    )
    .await;
    let reader_key = reader["key"].as_str().unwrap();
    let body = json!({"url": ok_url, "event_types": ["*"]});
    expect_error(
        call(&server, Method::POST, &path, Some(reader_key), Some(body)).await,
        403,
        "insufficient_scope",
    )
    .await;
    for (query, status, code) in [
        ("/webhooks/not-an-id", 400, "invalid_id"),
        (
            "/webhooks/whk_0190a0a0a0a0a0a0a0a0a0a0a0a0a0a0",
            404,
            "not_found",
        ),
        ("/webhooks?limit=0", 400, "invalid_parameter"),
        ("/webhooks?cursor=garbage", 400, "invalid_parameter"),
        (
            "/webhooks/dead-letters?cursor=garbage",
            400,
            "invalid_parameter",
        ),
    ] {
        let response = call(
            &server,
            Method::GET,
            &format!("/v1/tenants/{}{query}", tenant.id),
            Some(&tenant.api_key),
            None,
        )
        .await;
        expect_error(response, status, code).await;
    }
    assert_eq!(server.count_rows("webhooks").await, 0);
    let log = server.audit_log().await;
    assert!(!log.iter().any(|e| e.action.starts_with("webhook.")));

    // A key with `webhooks:write` (and nothing else) may manage subscriptions.
    let writer = expect_json(
        call(
            &server,
            Method::POST,
            &format!("/v1/tenants/{}/api-keys", tenant.id),
            Some(&tenant.api_key),
            Some(json!({"name": "hooks", "scopes": ["webhooks:write"]})),
        )
        .await,
        201,
    )
    .await;
    let body = json!({"url": ok_url, "event_types": ["*"]});
    let created = call(
        &server,
        Method::POST,
        &path,
        Some(writer["key"].as_str().unwrap()),
        Some(body),
    )
    .await;
    expect_json(created, 201).await;
}

#[tokio::test]
async fn the_secret_is_shown_once_sealed_at_rest_and_every_change_is_audited() {
    let server = TestServer::start_with(fast).await;
    let tenant = server.register_tenant("A").await;
    let (hook, secret) =
        subscribe(&server, &tenant, "https://example.com/a", &["agent.create"]).await;
    let key = secret.strip_prefix("whsec_").expect("a whsec_ secret");
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(key)
            .unwrap()
            .len(),
        32
    );
    let read = get(&server, &tenant, &format!("/webhooks/{hook}")).await;
    assert!(!read.to_string().contains(key), "a read shows no secret");
    assert_eq!(read["event_types"], json!(["agent.create"]));
    let changed = expect_json(
        call(
            &server,
            Method::PATCH,
            &format!("/v1/tenants/{}/webhooks/{hook}", tenant.id),
            Some(&tenant.api_key),
            Some(json!({"event_types": ["token.issue", "*"], "description": null})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(changed["event_types"], json!(["*", "token.issue"]));
    assert!(changed["description"].is_null());
    let rotated = expect_json(
        call(
            &server,
            Method::POST,
            &format!("/v1/tenants/{}/webhooks/{hook}/rotate-secret", tenant.id),
            Some(&tenant.api_key),
            None,
        )
        .await,
        200,
    )
    .await;
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    let list = get(&server, &tenant, "/webhooks").await;
    assert_eq!(list["webhooks"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains("whsec_"));

    let haystack = store_bytes(&server).await;
    for secret in [&secret, &new_secret] {
        let body = secret.strip_prefix("whsec_").unwrap();
        assert!(
            !haystack.contains(body),
            "a webhook secret is stored in clear"
        );
    }

    let gone = call(
        &server,
        Method::DELETE,
        &format!("/v1/tenants/{}/webhooks/{hook}", tenant.id),
        Some(&tenant.api_key),
        None,
    )
    .await;
    assert_eq!(gone.status(), 204);
    let again = call(
        &server,
        Method::GET,
        &format!("/v1/tenants/{}/webhooks/{hook}", tenant.id),
        Some(&tenant.api_key),
        None,
    )
    .await;
    expect_error(again, 404, "not_found").await;
    let actions: Vec<String> = server
        .audit_log()
        .await
        .into_iter()
        .filter(|e| e.target == hook)
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            "webhook.create",
            "webhook.update",
            "webhook.secret.rotate",
            "webhook.delete"
        ]
    );
}

/// Everything the store holds, as text: the SQLite files or a `pg_dump`.
async fn store_bytes(server: &TestServer) -> String {
    let bytes = match server.database() {
        Some(db) => {
            let output = tokio::process::Command::new("pg_dump")
                .arg(db.url())
                .output()
                .await
                .expect("pg_dump (scripts/install-peers installs it)");
            assert!(output.status.success());
            output.stdout
        }
        None => server
            .sqlite_files()
            .iter()
            .flat_map(|f| std::fs::read(f).unwrap())
            .collect(),
    };
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test]
async fn tenants_never_see_each_others_webhooks_or_events() {
    let receiver = Receiver::start().await;
    let server = TestServer::start_with(fast).await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    let (hook_a, secret_a) = subscribe(&server, &a, &receiver.url("/a"), &["*"]).await;
    let (hook_b, secret_b) = subscribe(&server, &b, &receiver.url("/b"), &["agent.create"]).await;
    receiver
        .configure("/a", json!({"secrets": [secret_a]}))
        .await;
    receiver
        .configure("/b", json!({"secrets": [secret_b], "fail_all": true}))
        .await;
    server.create_agent(&a, &[]).await;
    server.create_agent(&b, &[]).await;
    let to_b = received(&server, &receiver, "/b", 1).await;
    assert_eq!(to_b[0].json()["data"]["tenant_id"], b.id);
    let delivery_b = delivery_in(&server, &b, &hook_b, "pending").await;
    let delivery_b = delivery_b["id"].as_str().unwrap();
    server
        .eventually("A's agent.create", STEP, LIMIT, || async {
            let got = receiver.received("/a").await;
            got.iter()
                .any(|r| r.json()["type"] == "agent.create")
                .then_some(())
        })
        .await;
    for request in receiver.received("/a").await {
        assert_eq!(
            request.json()["data"]["tenant_id"],
            a.id,
            "A gets only A's events"
        );
    }
    assert!(
        receiver
            .received("/b")
            .await
            .iter()
            .all(|r| r.json()["data"]["tenant_id"] == b.id)
    );

    let mine = format!("/v1/tenants/{}", a.id);
    let theirs = format!("/v1/tenants/{}", b.id);
    let attempts: Vec<(Method, String)> = vec![
        (Method::GET, format!("{theirs}/webhooks")),
        (Method::GET, format!("{theirs}/webhooks/dead-letters")),
        (Method::POST, format!("{theirs}/webhooks")),
        (Method::GET, format!("{mine}/webhooks/{hook_b}")),
        (Method::PATCH, format!("{mine}/webhooks/{hook_b}")),
        (Method::DELETE, format!("{mine}/webhooks/{hook_b}")),
        (
            Method::POST,
            format!("{mine}/webhooks/{hook_b}/rotate-secret"),
        ),
        (Method::GET, format!("{mine}/webhooks/{hook_b}/deliveries")),
        (
            Method::GET,
            format!("{mine}/webhooks/{hook_b}/deliveries/{delivery_b}"),
        ),
        (
            Method::GET,
            format!("{mine}/webhooks/{hook_a}/deliveries/{delivery_b}"),
        ),
        (
            Method::POST,
            format!("{mine}/webhooks/{hook_b}/deliveries/{delivery_b}/redeliver"),
        ),
        (
            Method::POST,
            format!("{mine}/webhooks/{hook_a}/deliveries/{delivery_b}/redeliver"),
        ),
    ];
    for (method, path) in attempts {
        let body = matches!(method, Method::POST | Method::PATCH)
            .then(|| json!({"url": "https://example.com/x", "event_types": ["*"]}))
            .filter(|_| !path.contains("/deliveries/") && !path.ends_with("rotate-secret"));
        let response = call(&server, method.clone(), &path, Some(&a.api_key), body).await;
        expect_error(response, 404, "not_found").await;
    }
    let list = get(&server, &a, "/webhooks").await;
    let ids: Vec<&str> = list["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [hook_a.as_str()]);
    let deliveries_of_a = get(&server, &a, &format!("/webhooks/{hook_a}/deliveries")).await;
    assert!(
        deliveries_of_a["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["webhook_id"] == hook_a.as_str())
    );
    // B's subscription is untouched.
    let still = get(&server, &b, &format!("/webhooks/{hook_b}")).await;
    assert_eq!(still["status"], "active");
}
