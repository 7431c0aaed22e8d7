//! Events to a real NATS JetStream server (`nats-server`): each event arrives on
//! `tessera.<tenant id or "installation">.<event type>`, is kept by the `TESSERA_EVENTS` stream,
//! carries its event id as `Nats-Msg-Id`, and nothing is lost or blocked while NATS is down.
//! The server is `TESSERA_TEST_NATS_URL` (set by `scripts/test`), else `scripts/ensure-nats`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures_util::StreamExt;
use serde_json::Value;
use tessera_server::Secret;
use tessera_testkit::TestServer;

const STREAM: &str = "TESSERA_EVENTS";

async fn nats_url() -> String {
    if let Ok(url) = std::env::var("TESSERA_TEST_NATS_URL") {
        return url;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/ensure-nats");
    let output = tokio::process::Command::new("bash")
        .arg(script)
        .stderr(Stdio::inherit())
        .output()
        .await
        .expect("running scripts/ensure-nats");
    assert!(output.status.success(), "scripts/ensure-nats failed");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn with_nats(url: String) -> impl FnOnce(&mut tessera_server::Config) {
    move |config| {
        config.nats_url = Some(Secret::new(url));
        config.events_poll_interval_ms = 50;
    }
}

/// The last message JetStream kept on `subject`, waiting up to 15 s for it.
async fn last_on(js: &jetstream::Context, subject: &str) -> jetstream::message::StreamMessage {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(stream) = js.get_stream(STREAM).await
            && let Ok(message) = stream.get_last_raw_message_by_subject(subject).await
        {
            return message;
        }
        assert!(Instant::now() < deadline, "nothing arrived on {subject}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn body(payload: &[u8]) -> Value {
    serde_json::from_slice(payload).expect("a JSON event")
}

#[tokio::test]
async fn events_arrive_on_their_subjects() {
    let url = nats_url().await;
    let server = TestServer::start_with(with_nats(url.clone())).await;
    let client = async_nats::connect(&url).await.expect("connecting to NATS");
    let js = jetstream::new(client.clone());

    let tenant = server.register_tenant("A").await;
    // A live subscriber sees events as they are published…
    let mut live = client
        .subscribe(format!("tessera.{}.>", tenant.id))
        .await
        .unwrap();
    client.flush().await.unwrap();
    let agent = server.create_agent(&tenant, &[]).await;
    let message = loop {
        let message = tokio::time::timeout(Duration::from_secs(15), live.next())
            .await
            .expect("an event within 15 s")
            .expect("the subscription is open");
        if message.subject.as_str().ends_with(".agent.create") {
            break message;
        }
    };
    assert_eq!(
        message.subject.as_str(),
        format!("tessera.{}.agent.create", tenant.id)
    );
    let event = body(&message.payload);
    assert_eq!(event["type"], "agent.create");
    assert_eq!(event["data"]["target"], agent.id);
    assert_eq!(event["data"]["tenant_id"], tenant.id);
    let msg_id = message
        .headers
        .as_ref()
        .and_then(|h| h.get("Nats-Msg-Id"))
        .map(|v| v.as_str().to_owned());
    assert_eq!(msg_id.as_deref(), event["data"]["id"].as_str());

    // …and the stream keeps them, including those from before anyone subscribed.
    let created = last_on(&js, &format!("tessera.{}.tenant.create", tenant.id)).await;
    let event = body(&created.payload);
    assert_eq!(event["type"], "tenant.create");
    assert_eq!(event["data"]["tenant_id"], tenant.id);

    // Events without a tenant go to `installation`.
    let request_id = format!("nats-{}", agent.id);
    let refused = server
        .http
        .get(server.url(&format!("/v1/tenants/{}", tenant.id)))
        .header("x-api-key", "tsk_not_a_key")
        .header("x-request-id", &request_id)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let failed = last_on(&js, "tessera.installation.api_key.authenticate").await;
        let event = body(&failed.payload);
        if event["data"]["request_id"] == request_id.as_str() {
            assert_eq!(event["data"]["outcome"], "failure");
            assert!(event["data"]["tenant_id"].is_null());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the failed sign-in never arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn while_nats_is_down_events_wait_and_requests_do_not() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("nats://127.0.0.1:{port}");
    let server = TestServer::start_with(with_nats(url.clone())).await;
    let started = Instant::now();
    let tenant = server.register_tenant("A").await;
    server.create_agent(&tenant, &[]).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "requests do not wait for NATS"
    );

    // NATS comes up: what happened meanwhile is published, in order.
    let store = tempfile::tempdir().unwrap();
    let _nats = tokio::process::Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(store.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("starting nats-server (scripts/ensure-nats installs it)");
    let deadline = Instant::now() + Duration::from_secs(10);
    let client = loop {
        if let Ok(client) = async_nats::connect(&url).await {
            break client;
        }
        assert!(Instant::now() < deadline, "nats-server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let js = jetstream::new(client);
    let created = last_on(&js, &format!("tessera.{}.agent.create", tenant.id)).await;
    let tenant_created = last_on(&js, &format!("tessera.{}.tenant.create", tenant.id)).await;
    assert!(
        tenant_created.sequence < created.sequence,
        "published in log order"
    );
    assert_eq!(body(&created.payload)["type"], "agent.create");
}
