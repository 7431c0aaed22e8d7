//! Compliance over HTTP: the public list of controls, a tenant's report (keys without expiry,
//! stale keys and agents, people's figures left null, the audit chain verified; cached), and
//! agent cards in the OASF record shape; none of it readable by another tenant.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{Value, json};
use tessera_testkit::{TestServer, TestTenant};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::analytics::eventually;
use crate::support::{call, expect_error, expect_json};

fn path(tenant: &TestTenant, what: &str) -> String {
    format!("/v1/tenants/{}/compliance/{what}", tenant.id)
}

async fn get(server: &TestServer, key: &str, path: &str) -> Value {
    expect_json(call(server, Method::GET, path, Some(key), None).await, 200).await
}

fn ids(findings: &Value) -> HashSet<String> {
    findings["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn create_key(server: &TestServer, tenant: &TestTenant, body: Value) -> String {
    let created = expect_json(
        call(
            server,
            Method::POST,
            &format!("/v1/tenants/{}/api-keys", tenant.id),
            Some(&tenant.api_key),
            Some(body),
        )
        .await,
        201,
    )
    .await;
    created["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn controls_are_public_and_mapped_to_both_frameworks() {
    let server = TestServer::start().await;
    let list = expect_json(
        call(&server, Method::GET, "/v1/compliance/controls", None, None).await,
        200,
    )
    .await;
    let frameworks: Vec<_> = list["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(frameworks, ["soc2", "iso27001"]);
    let controls = list["controls"].as_array().unwrap();
    let unique: HashSet<_> = controls.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(unique.len(), controls.len());
    for expected in [
        "tenant-isolation",
        "hashed-credentials",
        "sealed-signing-keys",
        "signing-key-rotation",
        "token-revocation",
        "audit-log",
        "brute-force-limits",
        "transport-encryption",
    ] {
        assert!(unique.contains(expected), "{expected} is listed");
    }
    for control in controls {
        let soc2 = control["soc2"].as_array().unwrap();
        let iso = control["iso27001"].as_array().unwrap();
        assert!(!soc2.is_empty() && !iso.is_empty(), "{control}");
        assert!(soc2.iter().all(|id| {
            let id = id.as_str().unwrap();
            ["CC", "PI", "A1"].iter().any(|p| id.starts_with(p))
        }));
        assert!(iso.iter().all(|id| {
            let id = id.as_str().unwrap();
            id.starts_with("A.5.") || id.starts_with("A.8.")
        }));
    }
    let tls = controls
        .iter()
        .find(|c| c["id"] == "transport-encryption")
        .unwrap();
    assert_eq!(tls["responsibility"], "operator");
}

#[tokio::test]
async fn the_report_flags_keys_without_expiry_and_unused_agents() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    let forever = create_key(&server, &a, json!({"name": "forever", "scopes": ["read"]})).await;
    let expires_at = (server.clock_now() + Duration::days(365))
        .format(&Rfc3339)
        .unwrap();
    let expiring = create_key(
        &server,
        &a,
        json!({"name": "expiring", "scopes": ["read"], "expires_at": expires_at}),
    )
    .await;
    let used = server.create_agent(&a, &[]).await;
    let unused = server.create_agent(&a, &[]).await;
    let theirs = server.create_agent(&b, &[]).await;

    // A quarter later, only the first key and one agent are used again.
    // The server signs chain heads every minute; do it now, before jumping 91 days ahead.
    server.checkpoint_audit().await;
    server.clock.advance(Duration::days(91));
    let later = server.clock_now();
    server.token(&used, None).await;
    let keys_path = format!("/v1/tenants/{}/api-keys", a.id);
    eventually(&server, &a.api_key, &keys_path, |list| {
        list["api_keys"].as_array().unwrap().iter().any(|k| {
            k["last_used_at"]
                .as_str()
                .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
                .is_some_and(|t| t >= later)
        })
    })
    .await;
    let summary = format!("/v1/tenants/{}/analytics/usage-summary", a.id);
    eventually(&server, &a.api_key, &summary, |s| {
        s["agents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|agent| agent["tokens_issued"] == 1)
    })
    .await;

    let report = get(&server, &a.api_key, &path(&a, "report")).await;
    assert_eq!(report["tenant_id"], a.id.as_str());
    assert_eq!(report["stale_after_days"], 90);
    let keys = &report["api_keys"];
    assert_eq!(keys["active"], 3);
    let without_expiry = ids(&keys["without_expiry"]);
    assert!(without_expiry.contains(&forever));
    assert!(!without_expiry.contains(&expiring));
    assert_eq!(
        keys["without_expiry"]["count"], 2,
        "the first key never expires either"
    );
    assert_eq!(ids(&keys["stale"]), HashSet::from([forever, expiring]));
    let agents = &report["agents"];
    assert_eq!(agents["active"], 2);
    assert_eq!(ids(&agents["stale"]), HashSet::from([unused.id.clone()]));
    assert!(agents["stale"]["items"][0]["last_seen_at"].is_null());
    let people = &report["people"];
    for figure in ["accounts", "passkey_adoption", "mfa_adoption"] {
        assert!(people[figure].is_null(), "{figure} is not invented");
    }
    assert!(!people["note"].as_str().unwrap().is_empty());
    let chain = &report["audit_chain"];
    assert_eq!(chain["ok"], true, "{chain}");
    assert!(chain["events_checked"].as_u64().unwrap() >= 5);
    assert!(!report.to_string().contains(&theirs.id));

    // Served from the cache for 5 minutes, then computed again.
    let again = get(&server, &a.api_key, &path(&a, "report")).await;
    assert_eq!(again["generated_at"], report["generated_at"]);
    server.clock.advance(Duration::minutes(6));
    let fresh = get(&server, &a.api_key, &path(&a, "report")).await;
    assert_ne!(fresh["generated_at"], report["generated_at"]);
}

#[tokio::test]
async fn agent_cards_describe_each_agent_as_an_oasf_record() {
    let server = TestServer::start().await;
    let a = server.register_tenant("Acme").await;
    let b = server.register_tenant("B").await;
    let created = expect_json(
        call(
            &server,
            Method::POST,
            &format!("/v1/tenants/{}/agents", a.id),
            Some(&a.api_key),
            Some(json!({
                "name": "invoice-bot",
                "description": "Reads and files invoices.",
                "capabilities": ["invoice_processing", "summarization"],
                "scopes": ["invoices:read"],
            })),
        )
        .await,
        201,
    )
    .await;
    let agent_id = created["agent"]["id"].as_str().unwrap();
    let plain = server.create_agent(&a, &[]).await;
    server.create_agent(&b, &[]).await;

    let cards = get(&server, &a.api_key, &path(&a, "agent-cards")).await;
    let list = cards["agent_cards"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(cards["next_cursor"].is_null());
    let card = &list[0];
    assert_eq!(card["schema_version"], "0.7.0");
    assert_eq!(card["name"], "invoice-bot");
    assert_eq!(card["description"], "Reads and files invoices.");
    assert_eq!(card["authors"], json!(["Acme"]));
    assert_eq!(
        card["skills"],
        json!([{"name": "invoice_processing"}, {"name": "summarization"}])
    );
    assert!(card["created_at"].is_string() && card["version"].is_string());
    assert_eq!(card["annotations"]["tessera.agent_id"], agent_id);
    let module = &card["modules"][0];
    assert_eq!(module["name"], "tessera/identity");
    let identity = &module["data"];
    assert_eq!(identity["issuer"], server.base.as_str());
    assert_eq!(identity["token_endpoint"], server.url("/oauth2/token"));
    assert_eq!(identity["jwks_uri"], server.url("/.well-known/jwks.json"));
    assert_eq!(identity["client_id"], agent_id);
    assert_eq!(identity["grant_types"], json!(["client_credentials"]));
    assert_eq!(identity["scopes"], json!(["invoices:read"]));
    assert_eq!(
        list[1]["annotations"]["tessera.agent_id"],
        plain.id.as_str()
    );
    assert!(!list[1]["description"].as_str().unwrap().is_empty());

    // A page at a time.
    let first = get(
        &server,
        &a.api_key,
        &format!("{}?limit=1", path(&a, "agent-cards")),
    )
    .await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = get(
        &server,
        &a.api_key,
        &format!("{}?limit=1&cursor={cursor}", path(&a, "agent-cards")),
    )
    .await;
    assert_eq!(
        rest["agent_cards"][0]["annotations"]["tessera.agent_id"],
        plain.id.as_str()
    );
    expect_error(
        call(
            &server,
            Method::GET,
            &format!("{}?limit=0", path(&a, "agent-cards")),
            Some(&a.api_key),
            None,
        )
        .await,
        400,
        "invalid_parameter",
    )
    .await;
}

#[tokio::test]
async fn a_tenant_cannot_read_another_tenants_report_or_cards() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    server.create_agent(&a, &[]).await;
    for what in ["report", "agent-cards"] {
        let response = call(
            &server,
            Method::GET,
            &path(&a, what),
            Some(&b.api_key),
            None,
        )
        .await;
        expect_error(response, 404, "not_found").await;
        let response = call(&server, Method::GET, &path(&a, what), None, None).await;
        expect_error(response, 401, "unauthenticated").await;
    }
    let cards = get(&server, &b.api_key, &path(&b, "agent-cards")).await;
    assert_eq!(cards["agent_cards"], json!([]));
    // The operator may read any tenant's.
    get(&server, &server.operator_key, &path(&a, "report")).await;
}
