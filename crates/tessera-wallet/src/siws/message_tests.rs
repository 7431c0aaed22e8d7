use time::macros::datetime;

use super::*;

// 32 bytes of 0x01, base58.
const ADDRESS: &str = "4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi";

fn full() -> String {
    format!(
        "app.example.com wants you to sign in with your Solana account:
{ADDRESS}

Sign in to Tessera.

URI: https://app.example.com/login
Version: 1
Chain ID: mainnet
Nonce: n0nce1234567
Issued At: 2026-03-01T11:59:00.000Z
Expiration Time: 2026-03-01T12:09:00.000Z
Not Before: 2026-03-01T11:59:00Z
Request ID: r-1
Resources:
- https://app.example.com/terms
- ipfs://bafy"
    )
}

fn reason(text: &str) -> Result<SiwsMessage, &'static str> {
    SiwsMessage::parse(text).map_err(|e| e.reason())
}

#[test]
fn the_test_address_is_32_bytes() {
    assert_eq!(decode_address(ADDRESS), Some([1u8; 32]));
    assert_eq!(bs58::encode([1u8; 32]).into_string(), ADDRESS);
}

#[test]
fn every_field_parses() {
    let m = SiwsMessage::parse(&full()).unwrap();
    assert_eq!(m.domain, "app.example.com");
    assert_eq!(m.address, ADDRESS);
    assert_eq!(m.statement.as_deref(), Some("Sign in to Tessera."));
    assert_eq!(m.uri.as_deref(), Some("https://app.example.com/login"));
    assert_eq!(m.chain_id.as_deref(), Some("mainnet"));
    assert_eq!(m.nonce.as_deref(), Some("n0nce1234567"));
    assert_eq!(m.issued_at, Some(datetime!(2026-03-01 11:59:00 UTC)));
    assert_eq!(m.expiration_time, Some(datetime!(2026-03-01 12:09:00 UTC)));
    assert_eq!(m.not_before, Some(datetime!(2026-03-01 11:59:00 UTC)));
    assert_eq!(m.request_id.as_deref(), Some("r-1"));
    assert_eq!(
        m.resources,
        ["https://app.example.com/terms", "ipfs://bafy"]
    );
}

#[test]
fn the_wallet_standard_minimal_forms_parse() {
    // The cases of the Wallet Standard's own tests: domain and address, then with a statement.
    let bare = format!("solana.com wants you to sign in with your Solana account:\n{ADDRESS}");
    let m = SiwsMessage::parse(&bare).unwrap();
    assert_eq!((m.statement, m.uri, m.nonce), (None, None, None));

    let with_statement = format!("{bare}\n\nS");
    assert_eq!(
        SiwsMessage::parse(&with_statement)
            .unwrap()
            .statement
            .as_deref(),
        Some("S")
    );

    let fields_only = format!("{bare}\n\nURI: https://solana.com\nNonce: abcdefgh");
    let m = SiwsMessage::parse(&fields_only).unwrap();
    assert_eq!(m.statement, None);
    assert_eq!(m.uri.as_deref(), Some("https://solana.com"));
    assert_eq!(m.nonce.as_deref(), Some("abcdefgh"));
    assert_eq!(m.chain_id, None);
}

#[test]
fn trailing_newlines_are_tolerated_like_the_reference_parser() {
    assert!(SiwsMessage::parse(&format!("{}\n\n", full())).is_ok());
}

#[test]
fn deviations_from_the_grammar_are_malformed() {
    let full = full();
    let cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        (
            "ethereum header",
            full.replace("Solana account", "Ethereum account"),
        ),
        ("crlf", full.replace('\n', "\r\n")),
        (
            "address too short",
            full.replace(ADDRESS, "4vJ9JU1bJJE96FWSJKvHsmmF"),
        ),
        (
            "address not base58",
            full.replace(ADDRESS, &format!("0{}", &ADDRESS[1..])),
        ),
        ("address hex", full.replace(ADDRESS, &"01".repeat(32))),
        (
            "no blank after address",
            full.replacen("\n\nSign in", "\nSign in", 1),
        ),
        (
            "two-line statement",
            full.replace("Sign in to Tessera.", "Sign in\nto Tessera."),
        ),
        ("version 2", full.replace("Version: 1", "Version: 2")),
        ("short nonce", full.replace("n0nce1234567", "n0nce")),
        (
            "bad time",
            full.replace("2026-03-01T11:59:00.000Z", "yesterday"),
        ),
        (
            "fields out of order",
            full.replace(
                "Version: 1\nChain ID: mainnet",
                "Chain ID: mainnet\nVersion: 1",
            ),
        ),
        (
            "unknown field",
            full.replace("Request ID: r-1", "Colour: blue"),
        ),
        (
            "chain with a space",
            full.replace("Chain ID: mainnet", "Chain ID: main net"),
        ),
        (
            "domain with a path",
            full.replacen("app.example.com", "app.example.com/x", 1),
        ),
    ];
    for (name, text) in cases {
        assert_eq!(
            reason(&text).map(|_| ()),
            Err("malformed_message"),
            "{name}: {text:?}"
        );
    }
}
