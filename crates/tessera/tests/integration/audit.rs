//! The audit write path: every state change and authentication leaves an event with actor,
//! tenant, target, outcome, client address and request id, and never a secret.

use reqwest::Method;
use serde_json::json;
use tessera_testkit::{TestAgent, TestServer};

use crate::support::{call, expect_json};

#[tokio::test]
async fn state_changes_and_authentications_are_audited() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    let key = expect_json(
        call(
            &server,
            Method::POST,
            &format!("/v1/tenants/{}/api-keys", a.id),
            Some(&a.api_key),
            Some(json!({"name": "k", "scopes": ["read"]})),
        )
        .await,
        201,
    )
    .await;
    let key_id = key["id"].as_str().unwrap();
    assert_eq!(
        call(
            &server,
            Method::DELETE,
            &format!("/v1/tenants/{}/api-keys/{key_id}", a.id),
            Some(&a.api_key),
            None
        )
        .await
        .status(),
        204
    );
    let agent = server.create_agent(&a, &[]).await;
    let token = server.token(&agent, None).await;
    let wrong = TestAgent {
        client_secret: "tcs_wrong".to_owned(),
        ..agent.clone()
    };
    assert_eq!(server.token_response(&wrong, None).await.status(), 401);
    let revoked = server
        .http
        .post(server.url("/oauth2/revoke"))
        .header("x-api-key", &a.api_key)
        .form(&[("token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let given_id = "audit-me-42";
    let bad_key = server
        .http
        .get(server.url(&format!("/v1/tenants/{}", a.id)))
        .header("x-api-key", "tsk_nope")
        .header("x-request-id", given_id)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_key.status(), 401);
    assert_eq!(
        call(
            &server,
            Method::POST,
            &format!("/v1/tenants/{}/suspend", b.id),
            Some(&server.operator_key),
            None
        )
        .await
        .status(),
        200
    );

    let log = server.audit_log().await;
    let of_a: Vec<_> = log
        .iter()
        .filter(|e| e.tenant_id.as_deref() == Some(a.id.as_str()))
        .map(|e| (e.action.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        of_a,
        [
            ("tenant.create", "success"),
            ("api_key.create", "success"),
            ("api_key.revoke", "success"),
            ("agent.create", "success"),
            ("token.issue", "success"),
            ("token.revoke", "success"),
        ]
    );
    let failed_client = log
        .iter()
        .find(|e| e.action == "token.issue" && e.outcome == "failure")
        .expect("failed client authentication is audited");
    assert_eq!(failed_client.reason, "invalid_client");
    let failed_key = log
        .iter()
        .find(|e| e.action == "api_key.authenticate")
        .expect("failed key authentication is audited");
    assert_eq!(failed_key.outcome, "failure");
    assert_eq!(failed_key.reason, "malformed");
    assert_eq!(failed_key.request_id.as_deref(), Some(given_id));
    let suspension = log
        .iter()
        .find(|e| e.action == "tenant.suspend")
        .expect("suspension is audited");
    assert_eq!(suspension.tenant_id.as_deref(), Some(b.id.as_str()));
    assert!(suspension.actor.starts_with("api_key:key_"));
    assert!(
        log.iter()
            .all(|e| e.client_ip.as_deref() == Some("127.0.0.1") && e.request_id.is_some())
    );

    let everything = format!("{log:?}");
    for secret in [
        &a.api_key,
        &agent.client_secret,
        &token,
        &server.operator_key,
    ] {
        assert!(
            !everything.contains(secret.as_str()),
            "the audit log holds a secret"
        );
    }
}
