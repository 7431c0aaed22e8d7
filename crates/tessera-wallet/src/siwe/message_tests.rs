use time::macros::datetime;

use super::*;

/// The example message of EIP-4361.
const EIP_EXAMPLE: &str = "service.org wants you to sign in with your Ethereum account:
0xe5A12547fe4E872D192E3eCecb76F2Ce1aeA4946

I accept the ServiceOrg Terms of Service: https://service.org/tos

URI: https://service.org/login
Version: 1
Chain ID: 1
Nonce: 32891756
Issued At: 2021-09-30T16:25:24Z
Resources:
- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/
- https://example.com/my-web2-claim.json";

const MINIMAL: &str = "example.com wants you to sign in with your Ethereum account:
0xe5a12547fe4e872d192e3ececb76f2ce1aea4946


URI: https://example.com
Version: 1
Chain ID: 11155111
Nonce: abcdefgh12
Issued At: 2026-03-01T12:00:00.123Z";

fn reason(text: &str) -> Result<SiweMessage, &'static str> {
    SiweMessage::parse(text).map_err(|e| match e {
        SignInError::MalformedMessage(_) => "malformed_message",
        other => other.reason(),
    })
}

#[test]
fn the_eip_example_parses_field_by_field() {
    let m = SiweMessage::parse(EIP_EXAMPLE).unwrap();
    assert_eq!(m.scheme, None);
    assert_eq!(m.domain, "service.org");
    assert_eq!(m.address, "0xe5A12547fe4E872D192E3eCecb76F2Ce1aeA4946");
    assert_eq!(
        m.statement.as_deref(),
        Some("I accept the ServiceOrg Terms of Service: https://service.org/tos")
    );
    assert_eq!(m.uri, "https://service.org/login");
    assert_eq!(m.chain_id, 1);
    assert_eq!(m.nonce, "32891756");
    assert_eq!(m.issued_at, datetime!(2021-09-30 16:25:24 UTC));
    assert_eq!(m.expiration_time, None);
    assert_eq!(m.not_before, None);
    assert_eq!(m.request_id, None);
    assert_eq!(
        m.resources,
        [
            "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
            "https://example.com/my-web2-claim.json"
        ]
    );
}

#[test]
fn a_message_without_statement_has_two_empty_lines() {
    let m = SiweMessage::parse(MINIMAL).unwrap();
    assert_eq!(m.statement, None);
    assert_eq!(m.chain_id, 11_155_111);
    assert_eq!(
        m.issued_at,
        datetime!(2026-03-01 12:00:00.123 UTC),
        "fractional seconds are kept"
    );
    assert!(m.resources.is_empty());
}

#[test]
fn optional_fields_scheme_and_offsets_parse() {
    let text = "https://example.com:8443 wants you to sign in with your Ethereum account:
0xe5a12547fe4e872d192e3ececb76f2ce1aea4946

Sign in.

URI: https://example.com:8443/login
Version: 1
Chain ID: 1
Nonce: 0123456789abcdef
Issued At: 2026-03-01T14:00:00+02:00
Expiration Time: 2026-03-01T12:10:00Z
Not Before: 2026-03-01T11:59:00Z
Request ID: req-42
Resources:";
    let m = SiweMessage::parse(text).unwrap();
    assert_eq!(m.scheme.as_deref(), Some("https"));
    assert_eq!(m.domain, "example.com:8443");
    assert_eq!(m.issued_at, datetime!(2026-03-01 12:00:00 UTC));
    assert_eq!(m.expiration_time, Some(datetime!(2026-03-01 12:10:00 UTC)));
    assert_eq!(m.not_before, Some(datetime!(2026-03-01 11:59:00 UTC)));
    assert_eq!(m.request_id.as_deref(), Some("req-42"));
    assert!(m.resources.is_empty(), "an empty resource list is allowed");
}

#[test]
fn deviations_from_the_grammar_are_malformed() {
    let cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("crlf line ends", MINIMAL.replace('\n', "\r\n")),
        ("trailing newline", format!("{MINIMAL}\n")),
        (
            "solana header",
            MINIMAL.replace("Ethereum account", "Solana account"),
        ),
        (
            "short address",
            MINIMAL.replace("0xe5a12547fe4e872d192e3ececb76f2ce1aea4946", "0xe5a125"),
        ),
        (
            "address without 0x",
            MINIMAL.replace(
                "0xe5a12547fe4e872d192e3ececb76f2ce1aea4946",
                "e5a12547fe4e872d192e3ececb76f2ce1aea494600",
            ),
        ),
        ("one empty line only", MINIMAL.replacen("\n\n\n", "\n\n", 1)),
        (
            "two-line statement",
            MINIMAL.replacen("\n\n\n", "\n\nline one\nline two\n\n", 1),
        ),
        ("version 2", MINIMAL.replace("Version: 1", "Version: 2")),
        (
            "chain id in hex",
            MINIMAL.replace("Chain ID: 11155111", "Chain ID: 0xaa36a7"),
        ),
        (
            "negative chain id",
            MINIMAL.replace("Chain ID: 11155111", "Chain ID: -1"),
        ),
        (
            "chain id overflow",
            MINIMAL.replace("Chain ID: 11155111", "Chain ID: 99999999999999999999"),
        ),
        ("short nonce", MINIMAL.replace("abcdefgh12", "abc123")),
        (
            "nonce with dash",
            MINIMAL.replace("abcdefgh12", "abcd-efgh-12"),
        ),
        (
            "not rfc 3339",
            MINIMAL.replace("2026-03-01T12:00:00.123Z", "March 1st 2026"),
        ),
        (
            "missing offset",
            MINIMAL.replace("2026-03-01T12:00:00.123Z", "2026-03-01T12:00:00"),
        ),
        (
            "fields out of order",
            swap_lines(MINIMAL, "Version: 1", "Chain ID: 11155111"),
        ),
        ("missing nonce", MINIMAL.replace("Nonce: abcdefgh12\n", "")),
        (
            "unknown trailing field",
            format!("{MINIMAL}\nFavourite Colour: blue"),
        ),
        (
            "expiration before issued-at line",
            MINIMAL.replace(
                "Issued At:",
                "Expiration Time: 2026-03-01T12:10:00Z\nIssued At:",
            ),
        ),
        (
            "resource with a space",
            format!("{MINIMAL}\nResources:\n- https://example.com/a b"),
        ),
        (
            "tab in the statement",
            EIP_EXAMPLE.replace("I accept", "I\taccept"),
        ),
        (
            "domain with a path",
            MINIMAL.replacen("example.com", "example.com/login", 1),
        ),
        ("bad scheme", format!("1http://{MINIMAL}")),
        (
            "uri with a space",
            MINIMAL.replace("URI: https://example.com", "URI: https://example.com/a b"),
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

fn swap_lines(text: &str, a: &str, b: &str) -> String {
    text.replace(a, "\u{1}").replace(b, a).replace('\u{1}', b)
}
