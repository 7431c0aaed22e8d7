//! Wallet bindings: a person signed in with an Ethereum wallet (SIWE, signed by PyPI
//! `eth-account`) binds an agent's wallet to it with the same wallet's EIP-191 signature over
//! the binding statement; `/v1/wallet-bindings/check` answers; bad signatures, other people's
//! addresses, stale or replayed statements are refused; one person cannot touch another's.

use reqwest::Method;
use serde_json::{Value, json};
use tessera_testkit::TestServer;
use tessera_testkit::peer;
use time::Duration;
use time::format_description::well_known::Rfc3339;

use crate::people::as_user;
use crate::support::{expect_error, expect_json};

/// A person signed in through SIWE with a fresh eth-account key: (session token, address,
/// private key).
async fn wallet_person(server: &TestServer) -> (String, String, String) {
    let body = Some(json!({"chain": "eip155"}));
    let nonce = as_user(server, Method::POST, "/v1/auth/wallet/nonce", None, body).await;
    let issued = expect_json(nonce, 201).await;
    let request = json!({
        "domain": issued["domain"],
        "uri": format!("{}/login", issued["uri"].as_str().unwrap()),
        "chain_id": issued["chain_id"].as_str().unwrap().parse::<u64>().unwrap(),
        "nonce": issued["nonce"],
        "issued_at": at(server, -Duration::MINUTE),
    });
    let signed = peer::run("python3", "siwe_sign.py", "sign", &request);
    let body =
        json!({"message": signed["message"], "signature": signed["signature"], "chain": "eip155"});
    let verified = as_user(
        server,
        Method::POST,
        "/v1/auth/wallet/verify",
        None,
        Some(body),
    )
    .await;
    let grant = expect_json(verified, 201).await;
    (
        grant["access_token"].as_str().unwrap().to_owned(),
        signed["address"].as_str().unwrap().to_lowercase(),
        signed["private_key"].as_str().unwrap().to_owned(),
    )
}

fn at(server: &TestServer, offset: Duration) -> String {
    (server.clock_now() + offset).format(&Rfc3339).unwrap()
}

/// `personal_sign` of `text` by eth-account with `key` (a fresh key when None): (address, signature).
fn sign(key: Option<&str>, text: &str) -> (String, String) {
    let mut request = json!({"message": text});
    if let Some(key) = key {
        request["private_key"] = json!(key);
    }
    let signed = peer::run("python3", "siwe_sign.py", "sign-text", &request);
    (
        signed["address"].as_str().unwrap().to_lowercase(),
        signed["signature"].as_str().unwrap().to_owned(),
    )
}

/// The statement the README documents.
fn statement(main: &str, agent: &str, grants: &[&str], issued_at: &str) -> String {
    format!(
        "Tessera wallet binding\nMain wallet: {main}\nAgent wallet: {agent}\nGrants: {}\nIssued at: {issued_at}",
        grants.join(", ")
    )
}

async fn bind(server: &TestServer, token: &str, body: Value) -> reqwest::Response {
    as_user(
        server,
        Method::POST,
        "/v1/me/wallet-bindings",
        Some(token),
        Some(body),
    )
    .await
}

async fn check(
    server: &TestServer,
    token: Option<&str>,
    main: &str,
    agent: &str,
) -> reqwest::Response {
    let body = json!({"main": main, "agent": agent});
    as_user(
        server,
        Method::POST,
        "/v1/wallet-bindings/check",
        token,
        Some(body),
    )
    .await
}

#[tokio::test]
async fn a_main_wallet_binds_an_agent_wallet_with_its_signature() {
    let server = TestServer::start().await;
    let (token, main, key) = wallet_person(&server).await;
    let (agent, _) = sign(None, "an agent wallet");
    let issued_at = at(&server, Duration::ZERO);
    let text = statement(&main, &agent, &["payments:send", "sign"], &issued_at);
    let (_, signature) = sign(Some(&key), &text);
    let request = json!({
        "main": main.to_uppercase().replace("0X", "0x"),
        "agent": agent,
        "grants": ["sign", "payments:send"],
        "issued_at": issued_at,
        "signature": signature,
    });
    let created = expect_json(bind(&server, &token, request.clone()).await, 201).await;
    assert_eq!(created["main"], main.as_str());
    assert_eq!(created["grants"], json!(["payments:send", "sign"]));

    let status = expect_json(check(&server, Some(&token), &main, &agent).await, 200).await;
    assert_eq!(
        status,
        json!({"bound": true, "grants": ["payments:send", "sign"]})
    );
    // Any credential may ask (a tenant's key here); none may not.
    let tenant = server.register_tenant("Platform").await;
    let status = expect_json(
        check(&server, Some(&tenant.api_key), &agent, &main).await,
        200,
    )
    .await;
    assert_eq!(status, json!({"bound": false, "grants": []}));
    expect_error(
        check(&server, None, &main, &agent).await,
        401,
        "unauthenticated",
    )
    .await;
    expect_error(
        check(&server, Some(&token), "0x12", &agent).await,
        400,
        "invalid_parameter",
    )
    .await;

    // The same pair again while live, or the same signature, is a conflict.
    expect_error(
        bind(&server, &token, request.clone()).await,
        409,
        "conflict",
    )
    .await;

    // Another person cannot see, revoke or bind with this main wallet.
    let (other, _, other_key) = wallet_person(&server).await;
    let listed = as_user(
        &server,
        Method::GET,
        "/v1/me/wallet-bindings",
        Some(&other),
        None,
    )
    .await;
    assert_eq!(expect_json(listed, 200).await["wallet_bindings"], json!([]));
    let id = created["id"].as_str().unwrap();
    let path = format!("/v1/me/wallet-bindings/{id}");
    let response = as_user(&server, Method::DELETE, &path, Some(&other), None).await;
    expect_error(response, 404, "not_found").await;
    let (_, theirs) = sign(Some(&other_key), &text);
    let mut stolen = request.clone();
    stolen["signature"] = json!(theirs);
    let response = bind(&server, &other, stolen).await;
    let body = expect_error(response, 400, "invalid_parameter").await;
    assert!(
        body["message"].as_str().unwrap().starts_with("main"),
        "{body}"
    );

    // The owner revokes: not bound any more, and the old signature cannot bind again.
    let response = as_user(&server, Method::DELETE, &path, Some(&token), None).await;
    assert_eq!(response.status(), 204);
    let status = expect_json(check(&server, Some(&token), &main, &agent).await, 200).await;
    assert_eq!(status["bound"], false);
    let response = as_user(&server, Method::DELETE, &path, Some(&token), None).await;
    expect_error(response, 404, "not_found").await;
    expect_error(bind(&server, &token, request).await, 409, "conflict").await;
    let listed = as_user(
        &server,
        Method::GET,
        "/v1/me/wallet-bindings",
        Some(&token),
        None,
    )
    .await;
    let listed = expect_json(listed, 200).await;
    assert!(listed["wallet_bindings"][0]["revoked_at"].is_string());
}

#[tokio::test]
async fn bad_statements_are_refused_and_bind_nothing() {
    let server = TestServer::start().await;
    let (token, main, key) = wallet_person(&server).await;
    let (agent, _) = sign(None, "an agent wallet");
    let now = at(&server, Duration::ZERO);
    let good = |issued_at: &str, grants: &[&str], signer: Option<&str>| {
        let text = statement(&main, &agent, grants, issued_at);
        let (_, signature) = sign(signer.or(Some(key.as_str())), &text);
        json!({"main": main, "agent": agent, "grants": grants, "issued_at": issued_at, "signature": signature})
    };
    // Signed by someone else, or over other grants than those sent.
    let response = bind(
        &server,
        &token,
        good(
            &now,
            &["pay"],
            Some("0x".to_owned() + &"11".repeat(32)).as_deref(),
        ),
    )
    .await;
    expect_error(response, 401, "sign_in_failed").await;
    let mut widened = good(&now, &["pay"], None);
    widened["grants"] = json!(["pay", "withdraw"]);
    expect_error(bind(&server, &token, widened).await, 401, "sign_in_failed").await;
    // Too old, malformed fields, unknown fields.
    let stale = at(&server, -Duration::minutes(11));
    let response = bind(&server, &token, good(&stale, &["pay"], None)).await;
    expect_error(response, 400, "invalid_parameter").await;
    for (field, value) in [
        ("agent", json!("0xnope")),
        ("agent", json!(main)),
        ("grants", json!([])),
        ("grants", json!(["Not Valid"])),
        ("signature", json!("0x12")),
    ] {
        let mut body = good(&now, &["pay"], None);
        body[field] = value;
        let response = bind(&server, &token, body).await;
        let status = response.status().as_u16();
        assert!(status == 400 || status == 401, "{field}: {status}");
    }
    let mut extra = good(&now, &["pay"], None);
    extra["extra"] = json!(1);
    expect_error(bind(&server, &token, extra).await, 422, "invalid_body").await;
    // A key, not a session, cannot bind a person's wallet.
    let tenant = server.register_tenant("T").await;
    let response = bind(&server, &tenant.api_key, good(&now, &["pay"], None)).await;
    assert_eq!(response.status(), 401);
    // Nothing was written.
    let listed = as_user(
        &server,
        Method::GET,
        "/v1/me/wallet-bindings",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(expect_json(listed, 200).await["wallet_bindings"], json!([]));
    let status = expect_json(check(&server, Some(&token), &main, &agent).await, 200).await;
    assert_eq!(status["bound"], false);
}
