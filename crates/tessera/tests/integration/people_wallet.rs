//! The wallet doors over HTTP: Sign-In with Ethereum messages written by npm `siwe` and signed
//! by an `ethers` wallet, Sign-In With Solana messages written by
//! `@solana/wallet-standard-util` and signed by `tweetnacl` (tests/peers), sent to
//! `/v1/auth/wallet/verify` with nonces from `/v1/auth/wallet/nonce`.

use reqwest::Method;
use serde_json::{Value, json};
use tessera_testkit::TestServer;
use tessera_testkit::peer::{self, merged};
use time::Duration;
use time::format_description::well_known::Rfc3339;

use crate::people::{as_user, register};
use crate::support::{expect_error, expect_json};

async fn nonce(server: &TestServer, chain: &str) -> Value {
    expect_json(
        as_user(
            server,
            Method::POST,
            "/v1/auth/wallet/nonce",
            None,
            Some(json!({ "chain": chain })),
        )
        .await,
        201,
    )
    .await
}

/// The server's time `offset` from now, as a wallet writes it.
fn at(server: &TestServer, offset: Duration) -> String {
    (server.clock_now() + offset).format(&Rfc3339).unwrap()
}

/// A SIWE message for the nonce `issued` (its domain, URI, chain), issued a minute ago, with
/// `overrides`, written and signed by npm `siwe` + `ethers`: {address, private_key, message,
/// signature}.
fn siwe(server: &TestServer, issued: &Value, overrides: Value) -> Value {
    let request = json!({
        "domain": issued["domain"],
        "uri": format!("{}/login", issued["uri"].as_str().unwrap()),
        "chain_id": issued["chain_id"].as_str().unwrap().parse::<u64>().unwrap(),
        "nonce": issued["nonce"],
        "issued_at": at(server, -Duration::MINUTE),
        "statement": "Sign in to Tessera.",
    });
    peer::run(
        "node",
        "siwe_sign.mjs",
        "sign",
        &merged(&request, overrides),
    )
}

/// The same for SIWS, written by the Wallet Standard's reference and signed by `tweetnacl`:
/// {address, secret_key, message, signature, signature_base64}.
fn siws(server: &TestServer, issued: &Value, overrides: Value) -> Value {
    let request = json!({
        "domain": issued["domain"],
        "uri": issued["uri"],
        "version": "1",
        "chain_id": issued["chain_id"],
        "nonce": issued["nonce"],
        "issued_at": at(server, -Duration::MINUTE),
        "statement": "Sign in to Tessera.",
    });
    peer::run(
        "node",
        "siws_sign.mjs",
        "sign",
        &merged(&request, overrides),
    )
}

async fn verify(
    server: &TestServer,
    chain: &str,
    signed: &Value,
    token: Option<&str>,
) -> reqwest::Response {
    as_user(
        server,
        Method::POST,
        "/v1/auth/wallet/verify",
        token,
        Some(json!({
            "message": signed["message"],
            "signature": signed["signature"],
            "chain": chain,
        })),
    )
    .await
}

async fn identities(server: &TestServer, grant: &Value) -> Vec<Value> {
    let me = expect_json(
        as_user(
            server,
            Method::GET,
            "/v1/me",
            grant["access_token"].as_str(),
            None,
        )
        .await,
        200,
    )
    .await;
    me["identities"].as_array().unwrap().clone()
}

/// Asserts a refusal `sign_in_failed` whose message starts with `reason`.
async fn refused(response: reqwest::Response, reason: &str) {
    let body = expect_error(response, 401, "sign_in_failed").await;
    let message = body["message"].as_str().unwrap();
    assert!(message.starts_with(reason), "{reason}: {message}");
}

#[tokio::test]
async fn siwe_creates_the_user_once_and_signs_the_same_user_in_again() {
    let server = TestServer::start().await;
    let issued = nonce(&server, "eip155").await;
    assert_eq!(
        issued["domain"].as_str().unwrap(),
        server.base.trim_start_matches("http://")
    );
    assert_eq!(issued["uri"], server.base);
    assert_eq!(issued["chain"], "eip155");
    assert_eq!(issued["chain_id"], "1");
    let expires =
        time::OffsetDateTime::parse(issued["expires_at"].as_str().unwrap(), &Rfc3339).unwrap();
    // Ten minutes on the server's (manual) clock.
    assert_eq!((expires - server.clock_now()).whole_seconds(), 600);
    // An empty body asks for an Ethereum nonce too.
    let default = server
        .http
        .post(server.url("/v1/auth/wallet/nonce"))
        .send()
        .await
        .unwrap();
    let default = expect_json(default, 201).await;
    assert_eq!(default["chain"], "eip155");
    assert_ne!(default["nonce"], issued["nonce"]);

    let signed = siwe(&server, &issued, json!({}));
    let grant = expect_json(verify(&server, "eip155", &signed, None).await, 201).await;
    assert_eq!(grant["created"], true);
    let address = signed["address"].as_str().unwrap().to_lowercase();
    let found = identities(&server, &grant).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["kind"], "wallet:eip155");
    assert_eq!(found[0]["subject"], address);

    // The same key signs in the same user, the message's EIP-55 case notwithstanding.
    let again = nonce(&server, "eip155").await;
    let signed = siwe(
        &server,
        &again,
        json!({ "private_key": signed["private_key"] }),
    );
    let second = expect_json(verify(&server, "eip155", &signed, None).await, 200).await;
    assert_eq!(second["user"]["id"], grant["user"]["id"]);
    assert_eq!(second["created"], false);

    let audit = server.audit_log().await;
    let verified: Vec<_> = audit
        .iter()
        .filter(|row| row.action == "auth.wallet.verify")
        .collect();
    assert_eq!(verified.len(), 2);
    assert!(verified.iter().all(|row| row.outcome == "success"));
}

#[tokio::test]
async fn a_nonce_works_once_even_when_the_attempt_failed() {
    let server = TestServer::start().await;
    // A refused message uses its nonce up: a corrected one cannot reuse it.
    let issued = nonce(&server, "eip155").await;
    let wrong = siwe(&server, &issued, json!({ "domain": "evil.example.com" }));
    refused(
        verify(&server, "eip155", &wrong, None).await,
        "wrong_domain",
    )
    .await;
    let right = siwe(&server, &issued, json!({}));
    expect_error(
        verify(&server, "eip155", &right, None).await,
        400,
        "invalid_state",
    )
    .await;

    // A successful sign-in cannot be replayed.
    let issued = nonce(&server, "eip155").await;
    let signed = siwe(&server, &issued, json!({}));
    expect_json(verify(&server, "eip155", &signed, None).await, 201).await;
    expect_error(
        verify(&server, "eip155", &signed, None).await,
        400,
        "invalid_state",
    )
    .await;

    // A nonce the server never issued, and one issued for Solana, are refused.
    let made_up = siwe(
        &server,
        &json!({
            "domain": issued["domain"], "uri": issued["uri"], "chain_id": "1",
            "nonce": "a1b2c3d4e5f60718",
        }),
        json!({}),
    );
    expect_error(
        verify(&server, "eip155", &made_up, None).await,
        400,
        "invalid_state",
    )
    .await;
    let solana = nonce(&server, "solana").await;
    let crossed = siwe(
        &server,
        &merged(&solana, json!({ "chain_id": "1" })),
        json!({}),
    );
    expect_error(
        verify(&server, "eip155", &crossed, None).await,
        400,
        "invalid_state",
    )
    .await;

    let audit = server.audit_log().await;
    let failures: Vec<_> = audit
        .iter()
        .filter(|row| row.action == "auth.wallet.verify" && row.outcome != "success")
        .map(|row| row.reason.as_str())
        .collect();
    assert_eq!(
        failures,
        [
            "wrong_domain",
            "invalid_nonce",
            "invalid_nonce",
            "invalid_nonce",
            "invalid_nonce"
        ]
    );
}

#[tokio::test]
async fn siwe_messages_for_another_site_chain_or_time_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    let key = json!({ "private_key": format!("0x{}", "42".repeat(32)) });
    let cases = [
        (json!({ "domain": "evil.example.com" }), "wrong_domain"),
        (
            json!({ "uri": "https://evil.example.com/login" }),
            "wrong_uri",
        ),
        (json!({ "chain_id": 137 }), "wrong_chain"),
        (
            json!({ "issued_at": at(&server, -Duration::minutes(50)) }),
            "issued_at_out_of_window",
        ),
        (
            json!({ "issued_at": at(&server, Duration::minutes(5)) }),
            "issued_at_out_of_window",
        ),
        (
            json!({
                "issued_at": at(&server, -Duration::minutes(10)),
                "expiration_time": at(&server, -Duration::minutes(1)),
            }),
            "expired",
        ),
        (
            json!({ "not_before": at(&server, Duration::minutes(5)) }),
            "not_yet_valid",
        ),
    ];
    for (overrides, reason) in cases {
        let issued = nonce(&server, "eip155").await;
        let signed = siwe(&server, &issued, merged(&overrides, key.clone()));
        refused(verify(&server, "eip155", &signed, None).await, reason).await;
    }

    // Another key's signature over the message: ecrecover finds another address.
    let issued = nonce(&server, "eip155").await;
    let signed = siwe(&server, &issued, key.clone());
    let other = peer::run(
        "node",
        "siwe_sign.mjs",
        "sign",
        &json!({
            "domain": issued["domain"], "uri": issued["uri"], "chain_id": 1,
            "nonce": issued["nonce"], "issued_at": at(&server, -Duration::MINUTE),
        }),
    );
    let forged = json!({ "message": signed["message"], "signature": other["signature"] });
    refused(
        verify(&server, "eip155", &forged, None).await,
        "address_mismatch",
    )
    .await;

    // Malformed requests: a clear 4xx, no 500.
    let issued = nonce(&server, "eip155").await;
    let signed = siwe(&server, &issued, key.clone());
    let bad_signature = json!({ "message": signed["message"], "signature": "0x1234" });
    refused(
        verify(&server, "eip155", &bad_signature, None).await,
        "malformed_signature",
    )
    .await;
    let not_siwe = json!({ "message": "hello", "signature": signed["signature"] });
    refused(
        verify(&server, "eip155", &not_siwe, None).await,
        "malformed_message",
    )
    .await;
    for body in [
        json!({ "message": "x" }),
        json!({ "message": "x", "signature": "y", "chain": "bitcoin" }),
        json!({ "message": "x", "signature": "y", "extra": 1 }),
    ] {
        expect_error(
            as_user(
                &server,
                Method::POST,
                "/v1/auth/wallet/verify",
                None,
                Some(body),
            )
            .await,
            422,
            "invalid_body",
        )
        .await;
    }
    expect_error(
        as_user(
            &server,
            Method::POST,
            "/v1/auth/wallet/nonce",
            None,
            Some(json!({ "chain": "bitcoin" })),
        )
        .await,
        422,
        "invalid_body",
    )
    .await;

    // None of that created anyone: the key's first good sign-in creates its user.
    let issued = nonce(&server, "eip155").await;
    let signed = siwe(&server, &issued, key);
    let grant = expect_json(verify(&server, "eip155", &signed, None).await, 201).await;
    assert_eq!(grant["created"], true);
}

#[tokio::test]
async fn siws_signs_in_with_a_solana_wallet() {
    let server = TestServer::start().await;
    let issued = nonce(&server, "solana").await;
    assert_eq!(issued["chain"], "solana");
    assert_eq!(issued["chain_id"], "mainnet");
    let signed = siws(&server, &issued, json!({}));
    let grant = expect_json(verify(&server, "solana", &signed, None).await, 201).await;
    let found = identities(&server, &grant).await;
    assert_eq!(found[0]["kind"], "wallet:solana");
    assert_eq!(found[0]["subject"], signed["address"]);

    // Again with the same key, the signature in base64 this time: the same user.
    let again = nonce(&server, "solana").await;
    let signed = siws(
        &server,
        &again,
        json!({ "secret_key": signed["secret_key"] }),
    );
    let base64 = json!({ "message": signed["message"], "signature": signed["signature_base64"] });
    let second = expect_json(verify(&server, "solana", &base64, None).await, 200).await;
    assert_eq!(second["user"]["id"], grant["user"]["id"]);

    // Another network, another site, another key's signature, a missing nonce: refused.
    let key = json!({ "secret_key": signed["secret_key"] });
    for (overrides, reason) in [
        (json!({ "chain_id": "devnet" }), "wrong_chain"),
        (json!({ "domain": "evil.example.com" }), "wrong_domain"),
        (
            json!({ "issued_at": at(&server, -Duration::minutes(46)) }),
            "issued_at_out_of_window",
        ),
    ] {
        let issued = nonce(&server, "solana").await;
        let signed = siws(&server, &issued, merged(&overrides, key.clone()));
        refused(verify(&server, "solana", &signed, None).await, reason).await;
    }
    let issued = nonce(&server, "solana").await;
    let signed = siws(&server, &issued, key.clone());
    let stranger = peer::run(
        "node",
        "siws_sign.mjs",
        "sign-text",
        &json!({ "message": signed["message"] }),
    );
    let forged = json!({ "message": signed["message"], "signature": stranger["signature"] });
    refused(
        verify(&server, "solana", &forged, None).await,
        "bad_signature",
    )
    .await;
    let issued = nonce(&server, "solana").await;
    let no_nonce = siws(&server, &issued, merged(&json!({ "nonce": null }), key));
    refused(
        verify(&server, "solana", &no_nonce, None).await,
        "missing_field",
    )
    .await;
    // An Ethereum message sent as Solana is not a SIWS message.
    let issued = nonce(&server, "eip155").await;
    let ethereum = siwe(&server, &issued, json!({}));
    refused(
        verify(&server, "solana", &ethereum, None).await,
        "malformed_message",
    )
    .await;
}

#[tokio::test]
async fn a_wallet_links_to_the_signed_in_user_and_belongs_to_one_person() {
    let server = TestServer::start().await;
    let ada = register(&server, "ada@example.com").await;
    let token = ada["access_token"].as_str().unwrap();
    let issued = nonce(&server, "eip155").await;
    let signed = siwe(&server, &issued, json!({}));
    let linked = expect_json(verify(&server, "eip155", &signed, Some(token)).await, 200).await;
    assert_eq!(linked["user"]["id"], ada["user"]["id"]);
    assert_eq!(linked["created"], false);
    let kinds: Vec<_> = identities(&server, &ada)
        .await
        .iter()
        .map(|i| i["kind"].as_str().unwrap().to_owned())
        .collect();
    // The password and its confirmed address from the sign-up, and the wallet.
    assert_eq!(kinds.len(), 3);
    assert!(kinds.contains(&"wallet:eip155".to_owned()), "{kinds:?}");

    // The wallet alone now signs Ada in.
    let key = json!({ "private_key": signed["private_key"] });
    let issued = nonce(&server, "eip155").await;
    let alone = siwe(&server, &issued, key.clone());
    let grant = expect_json(verify(&server, "eip155", &alone, None).await, 200).await;
    assert_eq!(grant["user"]["id"], ada["user"]["id"]);

    // Someone else cannot link Ada's wallet.
    let eve = register(&server, "eve@example.com").await;
    let issued = nonce(&server, "eip155").await;
    let stolen = siwe(&server, &issued, key);
    expect_error(
        verify(&server, "eip155", &stolen, eve["access_token"].as_str()).await,
        409,
        "identity_taken",
    )
    .await;
    assert_eq!(identities(&server, &eve).await.len(), 2);
}

#[tokio::test]
async fn chain_ids_come_from_the_configuration_and_nonces_are_rate_limited() {
    let server = TestServer::start_with(|config| {
        config.wallet_chain_id = 137;
        config.solana_chain_id = "devnet".to_owned();
    })
    .await;
    let issued = nonce(&server, "eip155").await;
    assert_eq!(issued["chain_id"], "137");
    let signed = siwe(&server, &issued, json!({}));
    expect_json(verify(&server, "eip155", &signed, None).await, 201).await;
    let issued = nonce(&server, "solana").await;
    assert_eq!(issued["chain_id"], "devnet");
    let signed = siws(&server, &issued, json!({ "chain_id": "mainnet" }));
    refused(
        verify(&server, "solana", &signed, None).await,
        "wrong_chain",
    )
    .await;

    // 30 sign-ins may begin per address per minute. On a server of their own, so that no slow
    // signing above lets the limiter (real time, one more every 2 s) refill in between.
    let server = TestServer::start().await;
    for _ in 0..30 {
        nonce(&server, "solana").await;
    }
    let limited = as_user(&server, Method::POST, "/v1/auth/wallet/nonce", None, None).await;
    assert!(limited.headers().contains_key("retry-after"));
    expect_error(limited, 429, "rate_limited").await;
}
