//! SIWE: messages written by npm `siwe` (the EIP-4361 reference implementation) and signed by
//! `ethers` or `eth-account`, verified by `tessera_wallet::siwe::verify`.

use serde_json::{Value, json};
use tessera_wallet::SignInError;
use tessera_wallet::siwe::{Expectations, verify};
use time::Duration;

use crate::support::{DOMAIN, NOW, ORIGIN, Peer, at, field, merged};

fn expect() -> Expectations<'static> {
    Expectations::new(DOMAIN, &ORIGIN, 1, NOW)
}

/// A sign-in to the test site on mainnet, issued a minute ago.
fn request() -> Value {
    json!({
        "domain": DOMAIN,
        "uri": "https://app.example.com/login",
        "chain_id": 1,
        "nonce": "Xk9rT2pQ7sVb",
        "issued_at": at(-Duration::MINUTE),
        "statement": "Sign in to Tessera.",
    })
}

/// Signs `request()` with `overrides` through the reference peer and verifies it.
fn sign_and_verify(
    overrides: Value,
) -> (
    Value,
    Result<tessera_wallet::siwe::VerifiedSiwe, SignInError>,
) {
    let signed = Peer::SiweJs.run("sign", &merged(&request(), overrides));
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
fn a_message_signed_by_a_real_wallet_verifies() {
    let (signed, result) = sign_and_verify(json!({
        "expiration_time": at(Duration::minutes(10)),
        "not_before": at(-Duration::minutes(2)),
        "request_id": "req-7",
        "resources": ["https://app.example.com/terms", "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/"],
    }));
    let verified = result.unwrap();
    assert_eq!(verified.address, field(&signed, "address"));
    assert_eq!(verified.nonce, "Xk9rT2pQ7sVb");
    assert_eq!(verified.chain_id, 1);
    assert_eq!(verified.issued_at, NOW - Duration::MINUTE);
    assert_eq!(verified.expiration_time, Some(NOW + Duration::minutes(10)));
    assert_eq!(verified.not_before, Some(NOW - Duration::minutes(2)));
    assert_eq!(verified.request_id.as_deref(), Some("req-7"));
    assert_eq!(verified.statement.as_deref(), Some("Sign in to Tessera."));
    assert_eq!(verified.resources.len(), 2);
}

#[test]
fn a_message_without_statement_and_with_milliseconds_verifies() {
    let (_, result) = sign_and_verify(json!({
        "statement": null,
        "issued_at": "2026-03-01T11:59:00.250Z",
    }));
    let verified = result.unwrap();
    assert_eq!(verified.statement, None);
    assert_eq!(verified.issued_at, NOW - Duration::milliseconds(59_750));
}

#[test]
fn eth_account_writes_the_same_message_and_its_signature_verifies() {
    // Same key and fields: the hand-built EIP-4361 text of siwe_sign.py must equal npm siwe's.
    let key = json!({ "private_key": format!("0x{}", "42".repeat(32)) });
    for overrides in [
        json!({}),
        json!({ "statement": null }),
        json!({ "expiration_time": at(Duration::HOUR), "request_id": "r", "resources": ["https://a.example/x"] }),
    ] {
        let req = merged(&merged(&request(), overrides), key.clone());
        let js = Peer::SiweJs.run("sign", &req);
        let py = Peer::SiwePy.run("sign", &req);
        assert_eq!(field(&py, "message"), field(&js, "message"));
        assert_eq!(field(&py, "signature"), field(&js, "signature"));
        let verified = verify(field(&py, "message"), field(&py, "signature"), &expect()).unwrap();
        assert_eq!(verified.address, field(&py, "address"));
    }
}

#[test]
fn a_signature_with_v_as_0_or_1_verifies() {
    let signed = Peer::SiweJs.run("sign", &request());
    let signature = field(&signed, "signature");
    let v = match &signature[130..] {
        "1b" => "00",
        "1c" => "01",
        other => panic!("ethers returned v = 0x{other}"),
    };
    let low_v = format!("{}{v}", &signature[..130]);
    let verified = verify(field(&signed, "message"), &low_v, &expect()).unwrap();
    assert_eq!(verified.address, field(&signed, "address"));
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
    assert_eq!(
        reason(json!({ "uri": "http://app.example.com/login" })),
        "wrong_uri"
    );
}

#[test]
fn a_message_for_another_chain_is_refused() {
    let (_, result) = sign_and_verify(json!({ "chain_id": 137 }));
    assert_eq!(
        result.unwrap_err(),
        SignInError::WrongChain {
            expected: "1".into(),
            found: "137".into()
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
    for offset in [-Duration::minutes(44), Duration::seconds(30)] {
        let (_, result) = sign_and_verify(json!({ "issued_at": at(offset) }));
        assert!(result.is_ok(), "issued at now {offset:+}: {result:?}");
    }
}

#[test]
fn a_tampered_message_recovers_to_another_address() {
    let signed = Peer::SiweJs.run("sign", &request());
    let tampered = field(&signed, "message").replace("Xk9rT2pQ7sVb", "Xk9rT2pQ7sVc");
    let err = verify(&tampered, field(&signed, "signature"), &expect()).unwrap_err();
    let SignInError::AddressMismatch {
        expected,
        recovered,
    } = err
    else {
        panic!("expected an address mismatch, got {err:?}");
    };
    assert_eq!(expected, field(&signed, "address"));
    assert_ne!(recovered, expected);
}

#[test]
fn a_signature_by_another_key_is_refused() {
    let signed = Peer::SiweJs.run("sign", &request());
    let message = field(&signed, "message");
    let other = Peer::SiwePy.run("sign-text", &json!({ "message": message }));
    let err = verify(message, field(&other, "signature"), &expect()).unwrap_err();
    assert_eq!(
        err,
        SignInError::AddressMismatch {
            expected: field(&signed, "address").into(),
            recovered: field(&other, "address").into(),
        }
    );
}

#[test]
fn malformed_signatures_are_refused() {
    let signed = Peer::SiweJs.run("sign", &request());
    let message = field(&signed, "message");
    let signature = field(&signed, "signature");
    for bad in [
        String::new(),
        signature[..130].to_owned(),
        format!("{signature}00"),
        format!("{}zz", &signature[..130]),
        format!("{}25", &signature[..130]),
    ] {
        let err = verify(message, &bad, &expect()).unwrap_err();
        assert_eq!(err.reason(), "malformed_signature", "{bad}: {err}");
    }
}

#[test]
fn a_message_that_is_not_eip_4361_is_malformed() {
    let signed = Peer::SiweJs.run("sign", &request());
    let message = field(&signed, "message");
    let signature = field(&signed, "signature");
    for bad in [
        "hello".to_owned(),
        message.replace('\n', "\r\n"),
        message.replace("Version: 1", "Version: 2"),
        format!("{message}\n"),
    ] {
        let err = verify(&bad, signature, &expect()).unwrap_err();
        assert_eq!(err.reason(), "malformed_message", "{bad:?}: {err}");
    }
}
