//! SIWS: messages written by `@solana/wallet-standard-util` (the Wallet Standard's reference)
//! and signed by `tweetnacl`, verified by `tessera_wallet::siws::verify`.

use serde_json::{Value, json};
use tessera_wallet::SignInError;
use tessera_wallet::siws::{Expectations, VerifiedSiws, verify};
use time::Duration;

use crate::support::{DOMAIN, NOW, ORIGIN, Peer, at, field, merged};

fn expect() -> Expectations<'static> {
    Expectations::new(DOMAIN, &ORIGIN, "mainnet", NOW)
}

/// A sign-in to the test site on mainnet, issued a minute ago.
fn request() -> Value {
    json!({
        "domain": DOMAIN,
        "statement": "Sign in to Tessera.",
        "uri": "https://app.example.com/login",
        "version": "1",
        "chain_id": "mainnet",
        "nonce": "Xk9rT2pQ7sVb",
        "issued_at": at(-Duration::MINUTE),
    })
}

fn sign_and_verify(overrides: Value) -> (Value, Result<VerifiedSiws, SignInError>) {
    let signed = Peer::SiwsJs.run("sign", &merged(&request(), overrides));
    let result = verify(
        field(&signed, "message"),
        field(&signed, "signature"),
        &expect(),
    );
    (signed, result)
}

fn reason(overrides: Value) -> &'static str {
    let (signed, result) = sign_and_verify(overrides);
    match result {
        Ok(v) => panic!(
            "verified, expected a refusal: {v:?}\n{}",
            field(&signed, "message")
        ),
        Err(e) => e.reason(),
    }
}

#[test]
fn a_message_signed_by_a_real_wallet_verifies_in_base58_and_base64() {
    let (signed, result) = sign_and_verify(json!({
        "expiration_time": at(Duration::minutes(10)),
        "not_before": at(-Duration::minutes(2)),
        "request_id": "req-7",
        "resources": ["https://app.example.com/terms"],
    }));
    let verified = result.unwrap();
    assert_eq!(verified.address, field(&signed, "address"));
    assert_eq!(verified.nonce, "Xk9rT2pQ7sVb");
    assert_eq!(verified.chain_id, "mainnet");
    assert_eq!(verified.issued_at, NOW - Duration::MINUTE);
    assert_eq!(verified.expiration_time, Some(NOW + Duration::minutes(10)));
    assert_eq!(verified.not_before, Some(NOW - Duration::minutes(2)));
    assert_eq!(verified.request_id.as_deref(), Some("req-7"));
    assert_eq!(verified.statement.as_deref(), Some("Sign in to Tessera."));
    assert_eq!(verified.resources, ["https://app.example.com/terms"]);

    let base64 = field(&signed, "signature_base64");
    let again = verify(field(&signed, "message"), base64, &expect()).unwrap();
    assert_eq!(again, verified);
}

#[test]
fn a_minimal_message_without_statement_or_version_verifies() {
    let (_, result) = sign_and_verify(json!({ "statement": null, "version": null }));
    assert_eq!(result.unwrap().statement, None);
}

#[test]
fn a_message_for_another_domain_is_refused() {
    let (_, result) = sign_and_verify(json!({ "domain": "evil.example.com" }));
    assert_eq!(
        result.unwrap_err(),
        SignInError::WrongDomain {
            expected: DOMAIN.into(),
            found: "evil.example.com".into()
        }
    );
}

#[test]
fn a_message_with_a_uri_on_another_origin_is_refused() {
    assert_eq!(
        reason(json!({ "uri": "https://evil.example.com/login" })),
        "wrong_uri"
    );
}

#[test]
fn a_message_for_another_network_is_refused() {
    let (_, result) = sign_and_verify(json!({ "chain_id": "devnet" }));
    assert_eq!(
        result.unwrap_err(),
        SignInError::WrongChain {
            expected: "mainnet".into(),
            found: "devnet".into()
        }
    );
}

#[test]
fn an_expired_message_is_refused() {
    let overrides = json!({
        "issued_at": at(-Duration::minutes(10)),
        "expiration_time": at(-Duration::MINUTE),
    });
    assert_eq!(reason(overrides), "expired");
}

#[test]
fn a_message_not_yet_valid_is_refused() {
    assert_eq!(
        reason(json!({ "not_before": at(Duration::minutes(10)) })),
        "not_yet_valid"
    );
}

#[test]
fn issued_at_must_be_recent_and_not_in_the_future() {
    for offset in [-Duration::minutes(46), Duration::minutes(2)] {
        assert_eq!(
            reason(json!({ "issued_at": at(offset) })),
            "issued_at_out_of_window",
            "issued at now {offset:+}"
        );
    }
}

#[test]
fn fields_the_server_needs_are_required() {
    for (key, name) in [
        ("uri", "URI"),
        ("chain_id", "Chain ID"),
        ("nonce", "Nonce"),
        ("issued_at", "Issued At"),
    ] {
        let (_, result) = sign_and_verify(json!({ key: null }));
        assert_eq!(
            result.unwrap_err(),
            SignInError::MissingField(name),
            "{key}"
        );
    }
}

#[test]
fn a_tampered_message_is_refused() {
    let signed = Peer::SiwsJs.run("sign", &request());
    let tampered = field(&signed, "message").replace("Xk9rT2pQ7sVb", "Xk9rT2pQ7sVc");
    let err = verify(&tampered, field(&signed, "signature"), &expect()).unwrap_err();
    assert_eq!(err, SignInError::BadSignature);
}

#[test]
fn a_signature_by_another_key_is_refused() {
    let signed = Peer::SiwsJs.run("sign", &request());
    let message = field(&signed, "message");
    let other = Peer::SiwsJs.run("sign-text", &json!({ "message": message }));
    assert_ne!(field(&other, "address"), field(&signed, "address"));
    let err = verify(message, field(&other, "signature"), &expect()).unwrap_err();
    assert_eq!(err, SignInError::BadSignature);
}

#[test]
fn malformed_signatures_are_refused() {
    let signed = Peer::SiwsJs.run("sign", &request());
    let message = field(&signed, "message");
    let signature = field(&signed, "signature");
    let bytes = bs58::decode(signature).into_vec().unwrap();
    assert_eq!(bytes.len(), 64);
    // Too short and too long, encoded as such: appending a character to the text did not
    // always change the decoded length (a signature whose first byte is small still decoded
    // to 64 bytes). Nor is either 86 characters long, which base64 would read as 64 bytes
    // (63 bytes in base58 may be).
    let short = bs58::encode(&bytes[..32]).into_string();
    let long = bs58::encode([bytes.as_slice(), &[7]].concat()).into_string();
    assert!(short.len() < 50 && long.len() >= 87, "{short} {long}");
    for bad in [
        String::new(),
        short,
        long,
        hex::encode(&bytes),
        format!("0{}", &signature[1..]),
    ] {
        let err = verify(message, &bad, &expect()).unwrap_err();
        assert_eq!(err.reason(), "malformed_signature", "{bad}: {err}");
    }
}

#[test]
fn an_ethereum_message_is_not_a_solana_one() {
    let signed = Peer::SiweJs.run(
        "sign",
        &json!({
            "domain": DOMAIN,
            "uri": "https://app.example.com",
            "chain_id": 1,
            "nonce": "Xk9rT2pQ7sVb",
            "issued_at": at(-Duration::MINUTE),
        }),
    );
    let siws = Peer::SiwsJs.run("sign", &request());
    let err = verify(
        field(&signed, "message"),
        field(&siws, "signature"),
        &expect(),
    )
    .unwrap_err();
    assert_eq!(err.reason(), "malformed_message");
}
