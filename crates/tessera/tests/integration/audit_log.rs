//! `/v1/tenants/{tenant_id}/audit`: listing with filters and pages, verification that names the
//! first broken link (altered, deleted, rewritten, unsigned), checkpoints that an independent
//! JOSE library verifies, the JSON Lines export, and isolation between tenants.

use std::path::PathBuf;

use reqwest::Method;
use serde_json::Value;
use tessera_core::audit::{AuditEvent, Outcome, link_input};
use tessera_testkit::{TamperValue, TestServer, TestTenant};

use crate::support::{call, expect_error, expect_json};

/// A tenant with six events: tenant.create, three agent.create, two token.issue.
async fn tenant_with_events(server: &TestServer) -> TestTenant {
    let tenant = server.register_tenant("A").await;
    let agent = server.create_agent(&tenant, &[]).await;
    server.create_agent(&tenant, &[]).await;
    server.create_agent(&tenant, &[]).await;
    server.token(&agent, None).await;
    server.token(&agent, None).await;
    tenant
}

async fn verify(server: &TestServer, tenant: &TestTenant) -> Value {
    expect_json(
        call(
            server,
            Method::GET,
            &format!("/v1/tenants/{}/audit/verify", tenant.id),
            Some(&tenant.api_key),
            None,
        )
        .await,
        200,
    )
    .await
}

async fn events(server: &TestServer, tenant: &TestTenant, query: &str) -> Value {
    expect_json(
        call(
            server,
            Method::GET,
            &format!("/v1/tenants/{}/audit{query}", tenant.id),
            Some(&tenant.api_key),
            None,
        )
        .await,
        200,
    )
    .await
}

#[tokio::test]
async fn listing_filters_pages_and_stays_within_the_tenant() {
    let server = TestServer::start().await;
    let a = tenant_with_events(&server).await;
    let b = server.register_tenant("B").await;

    let all = events(&server, &a, "").await;
    let actions: Vec<&str> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "tenant.create",
            "agent.create",
            "agent.create",
            "agent.create",
            "token.issue",
            "token.issue"
        ]
    );
    let first = &all["events"][0];
    assert_eq!(first["seq"], 1);
    assert_eq!(first["prev_hash"], "0".repeat(64));
    assert_eq!(
        all["events"][1]["prev_hash"], first["hash"],
        "each event links to the one before"
    );

    let agents = events(&server, &a, "?action=agent.create").await;
    assert_eq!(agents["events"].as_array().unwrap().len(), 3);
    let failures = events(&server, &a, "?outcome=failure").await;
    assert_eq!(failures["events"], serde_json::json!([]));

    let mut seen = 0;
    let mut cursor = String::new();
    loop {
        let page = events(&server, &a, &format!("?limit=4{cursor}")).await;
        seen += page["events"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen, 6);

    let base = format!("/v1/tenants/{}/audit", a.id);
    for query in [
        "?limit=0",
        "?limit=501",
        "?cursor=x",
        "?outcome=maybe",
        "?since=yesterday",
        "?since=2030-01-01T00:00:00Z&until=2020-01-01T00:00:00Z",
    ] {
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

    // B sees only its own chain, and nothing of A's.
    let of_b = events(&server, &b, "").await;
    assert_eq!(of_b["events"].as_array().unwrap().len(), 1);
    for path in ["", "/verify", "/export"] {
        expect_error(
            call(
                &server,
                Method::GET,
                &format!("{base}{path}"),
                Some(&b.api_key),
                None,
            )
            .await,
            404,
            "not_found",
        )
        .await;
    }
}

#[tokio::test]
async fn verification_names_an_altered_event() {
    let server = TestServer::start().await;
    let a = tenant_with_events(&server).await;
    server.checkpoint_audit().await;
    let report = verify(&server, &a).await;
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["events_checked"], 6);
    assert!(report["checkpoints_checked"].as_u64().unwrap() >= 1);

    let changed = server
        .tamper(
            "UPDATE audit_events SET action = $1 WHERE chain = $2 AND chain_seq = 3",
            &[
                TamperValue::Text("agent.delete".into()),
                TamperValue::Text(a.id.clone()),
            ],
        )
        .await;
    assert_eq!(changed, 1);
    let report = verify(&server, &a).await;
    assert_eq!(report["ok"], false);
    assert_eq!(report["first_broken"]["seq"], 3, "{report}");
    assert!(
        report["first_broken"]["reason"]
            .as_str()
            .unwrap()
            .contains("altered")
    );
}

#[tokio::test]
async fn verification_detects_deleted_events_and_a_deleted_tail() {
    let server = TestServer::start().await;
    let a = tenant_with_events(&server).await;
    server.checkpoint_audit().await;
    server
        .tamper(
            "DELETE FROM audit_events WHERE chain = $1 AND chain_seq = 2",
            &[TamperValue::Text(a.id.clone())],
        )
        .await;
    let report = verify(&server, &a).await;
    assert_eq!(report["first_broken"]["seq"], 2, "{report}");

    let server = TestServer::start().await;
    let a = tenant_with_events(&server).await;
    server.checkpoint_audit().await;
    server
        .tamper(
            "DELETE FROM audit_events WHERE chain = $1 AND chain_seq >= 5",
            &[TamperValue::Text(a.id.clone())],
        )
        .await;
    let report = verify(&server, &a).await;
    assert_eq!(report["ok"], false);
    assert_eq!(
        report["first_broken"]["seq"], 5,
        "the signed head says 6 events existed: {report}"
    );
}

/// Rebuilds the domain event from its listing, with `action` replaced.
fn forged(event: &Value, tenant: &str, action: &str) -> AuditEvent {
    let text = |field: &str| event[field].as_str().unwrap_or_default().to_owned();
    AuditEvent {
        id: text("id").parse().unwrap(),
        tenant_id: Some(tenant.parse().unwrap()),
        actor: text("actor"),
        action: action.to_owned(),
        target: text("target"),
        outcome: if text("outcome") == "success" {
            Outcome::Success
        } else {
            Outcome::Failure
        },
        reason: text("reason"),
        client_ip: event["client_ip"].as_str().map(str::to_owned),
        request_id: event["request_id"].as_str().map(str::to_owned),
        occurred_at: time::OffsetDateTime::parse(
            &text("occurred_at"),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap(),
    }
}

#[tokio::test]
async fn rewriting_history_without_the_signing_key_is_caught_by_the_checkpoint() {
    let server = TestServer::start().await;
    let a = tenant_with_events(&server).await;
    server.checkpoint_audit().await;
    let listed = events(&server, &a, "").await;
    let listed = listed["events"].as_array().unwrap();

    // An attacker with database access changes event 3 and recomputes every hash after it,
    // so that the chain is internally consistent again.
    let mut prev: [u8; 32] = hex_bytes(listed[1]["hash"].as_str().unwrap());
    for (index, event) in listed.iter().enumerate().skip(2) {
        let seq = i64::try_from(index).unwrap() + 1;
        let action = if seq == 3 {
            "agent.delete"
        } else {
            event["action"].as_str().unwrap()
        };
        let hash = tessera_crypto::sha256(&link_input(&prev, seq, &forged(event, &a.id, action)));
        server
            .tamper(
                "UPDATE audit_events SET action = $1, prev_hash = $2, hash = $3 WHERE chain = $4 AND chain_seq = $5",
                &[
                    TamperValue::Text(action.to_owned()),
                    TamperValue::Bytes(prev.to_vec()),
                    TamperValue::Bytes(hash.to_vec()),
                    TamperValue::Text(a.id.clone()),
                    TamperValue::Int(seq),
                ],
            )
            .await;
        prev = hash;
    }
    let report = verify(&server, &a).await;
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(
        report["first_broken"]["seq"], 6,
        "the signed head no longer matches: {report}"
    );
    assert!(
        report["first_broken"]["reason"]
            .as_str()
            .unwrap()
            .contains("checkpoint")
    );

    // Removing the checkpoints as well leaves old events that nothing signed.
    server
        .tamper(
            "DELETE FROM audit_checkpoints WHERE chain = $1",
            &[TamperValue::Text(a.id.clone())],
        )
        .await;
    server.clock.advance(time::Duration::hours(1));
    let report = verify(&server, &a).await;
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["first_broken"]["seq"], 1, "{report}");
}

fn hex_bytes(text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

#[tokio::test]
async fn checkpoints_verify_with_pyjwt_from_the_jwks() {
    let server = TestServer::start().await;
    let a = tenant_with_events(&server).await;
    server.checkpoint_audit().await;
    let checkpoints = server.checkpoint_rows(&a.id).await;
    let (seq, jws) = checkpoints.last().unwrap();
    assert_eq!(*seq, 6);
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers/verify_checkpoint.py");
    let output = tokio::process::Command::new("python3")
        .arg(script)
        .args([&server.base, jws])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "PyJWT refused the checkpoint: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let claims: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(claims["chain"], a.id);
    assert_eq!(claims["seq"], 6);
    let head = events(&server, &a, "?limit=500").await;
    let head_hash = hex_bytes(head["events"][5]["hash"].as_str().unwrap());
    use base64::Engine;
    assert_eq!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims["hash"].as_str().unwrap())
            .unwrap(),
        head_hash
    );

    // A forged signature is refused by the same library.
    let forged = format!("{}AAAA", &jws[..jws.len() - 4]);
    let output = tokio::process::Command::new("python3")
        .arg(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/peers/verify_checkpoint.py"),
        )
        .args([&server.base, &forged])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
}

#[tokio::test]
async fn export_streams_every_event_as_json_lines() {
    let server = TestServer::start().await;
    let a = tenant_with_events(&server).await;
    let response = call(
        &server,
        Method::GET,
        &format!("/v1/tenants/{}/audit/export", a.id),
        Some(&a.api_key),
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let body = response.text().await.unwrap();
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    assert!(
        lines
            .windows(2)
            .all(|w| w[0]["seq"].as_i64() < w[1]["seq"].as_i64())
    );
    let tokens = call(
        &server,
        Method::GET,
        &format!("/v1/tenants/{}/audit/export?action=token.issue", a.id),
        Some(&a.api_key),
        None,
    )
    .await;
    assert_eq!(tokens.text().await.unwrap().lines().count(), 2);
}

#[tokio::test]
async fn retention_prunes_only_whole_checkpointed_segments() {
    let server = TestServer::start_with(|c| c.audit_retention_days = 30).await;
    let a = tenant_with_events(&server).await;
    server.checkpoint_audit().await;
    // Not yet old enough: nothing goes.
    let removed = tessera_server::audit::retention::prune(server.state(), 30)
        .await
        .unwrap();
    assert_eq!(removed, 0);

    server.clock.advance(time::Duration::days(31));
    let agent = server.create_agent(&a, &[]).await;
    server.token(&agent, None).await;
    server.flush_audit().await;
    // The six old events sit behind a checkpoint older than 30 days; the two new ones are
    // not checkpointed yet, so only the old segment goes.
    let removed = tessera_server::audit::retention::prune(server.state(), 30)
        .await
        .unwrap();
    assert_eq!(removed, 6);
    let left = events(&server, &a, "").await;
    let seqs: Vec<i64> = left["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [7, 8]);
    let report = verify(&server, &a).await;
    assert_eq!(
        report["ok"], true,
        "what remains still verifies from its signed anchor: {report}"
    );
    assert_eq!(report["events_checked"], 2);
}
