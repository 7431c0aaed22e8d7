//! Sign-In with Ethereum (EIP-4361): verifying a signed message against what the server expects.
//!
//! The wallet signs the message text with EIP-191 `personal_sign`; [`verify`] parses the text,
//! checks domain, URI, chain and time window, recovers the signer and compares it with the
//! message's address. The **nonce is not checked here**: [`VerifiedSiwe::nonce`] is handed back
//! and the caller must look it up in its own store, confirm it was issued by the server, and
//! consume it (single use) before treating the sign-in as done.

mod message;

use time::{Duration, OffsetDateTime};
use url::Url;

pub use self::message::SiweMessage;
use crate::checks::{self, Times};
use crate::eip191::PersonalSignature;
use crate::{SignInError, eip55};

/// What the server requires of a message. Build with [`Expectations::new`] for the default
/// maximum age.
#[derive(Debug, Clone, Copy)]
pub struct Expectations<'a> {
    /// The server's authority as the browser sees it (`app.example.com`, or `host:port`).
    pub domain: &'a str,
    /// The origin the message's `URI` must be on (any path under it is accepted).
    pub uri_origin: &'a Url,
    /// The EIP-155 chain id sessions are bound to (1 for Ethereum mainnet).
    pub chain_id: u64,
    /// The current time, from the caller's clock.
    pub now: OffsetDateTime,
    /// How old `issued-at` may be; see [`crate::DEFAULT_MAX_AGE`].
    pub max_age: Duration,
}

impl<'a> Expectations<'a> {
    pub fn new(domain: &'a str, uri_origin: &'a Url, chain_id: u64, now: OffsetDateTime) -> Self {
        Self {
            domain,
            uri_origin,
            chain_id,
            now,
            max_age: crate::DEFAULT_MAX_AGE,
        }
    }
}

/// A message whose signature and fields passed every check except the nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSiwe {
    /// The signer, EIP-55 checksummed whatever case the message used.
    pub address: String,
    /// The nonce to check against the server's store and consume: **not verified here**.
    pub nonce: String,
    pub chain_id: u64,
    pub issued_at: OffsetDateTime,
    pub expiration_time: Option<OffsetDateTime>,
    pub not_before: Option<OffsetDateTime>,
    pub request_id: Option<String>,
    pub statement: Option<String>,
    pub resources: Vec<String>,
}

/// Verifies a SIWE sign-in: `message` is the exact text the wallet signed, `signature` the
/// `personal_sign` result (`0x` + 130 hex digits, `v` 27/28 or 0/1).
///
/// Checks, cheapest first so junk never reaches the curve arithmetic: grammar, signature
/// encoding, domain (and scheme, when the message names one), URI origin, chain id, time window
/// (see [`crate::CLOCK_SKEW`]), then ecrecover over the EIP-191 hash and the recovered address
/// against the message's, ignoring case. A changed message or another key's signature both show
/// up as [`SignInError::AddressMismatch`]: ecrecover always yields *some* address.
pub fn verify(
    message: &str,
    signature: &str,
    expect: &Expectations<'_>,
) -> Result<VerifiedSiwe, SignInError> {
    let parsed = SiweMessage::parse(message)?;
    let signature = PersonalSignature::parse(signature)?;

    checks::domain(expect.domain, &parsed.domain)?;
    if let Some(scheme) = &parsed.scheme
        && !scheme.eq_ignore_ascii_case(expect.uri_origin.scheme())
    {
        return Err(SignInError::WrongDomain {
            expected: format!("{}://{}", expect.uri_origin.scheme(), expect.domain),
            found: format!("{scheme}://{}", parsed.domain),
        });
    }
    checks::uri(expect.uri_origin, &parsed.uri)?;
    if parsed.chain_id != expect.chain_id {
        return Err(SignInError::WrongChain {
            expected: expect.chain_id.to_string(),
            found: parsed.chain_id.to_string(),
        });
    }
    let times = Times {
        issued_at: parsed.issued_at,
        expiration_time: parsed.expiration_time,
        not_before: parsed.not_before,
    };
    checks::window(times, expect.now, expect.max_age)?;

    // The grammar already checked the address's shape.
    let claimed = eip55::parse(&parsed.address)
        .map_err(|_| SignInError::MalformedMessage("the address is not 0x and 40 hex digits"))?;
    let recovered = signature.recover(message.as_bytes())?;
    if recovered != claimed {
        return Err(SignInError::AddressMismatch {
            expected: eip55::checksummed(&claimed),
            recovered: eip55::checksummed(&recovered),
        });
    }

    Ok(VerifiedSiwe {
        address: eip55::checksummed(&claimed),
        nonce: parsed.nonce,
        chain_id: parsed.chain_id,
        issued_at: parsed.issued_at,
        expiration_time: parsed.expiration_time,
        not_before: parsed.not_before,
        request_id: parsed.request_id,
        statement: parsed.statement,
        resources: parsed.resources,
    })
}

#[cfg(test)]
mod tests {
    use k256::ecdsa::SigningKey;
    use time::macros::datetime;

    use super::*;
    use crate::eip191;

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:00:00 UTC);

    fn key() -> SigningKey {
        SigningKey::from_slice(&[7u8; 32]).unwrap()
    }

    fn message(address: &str, extra: &str) -> String {
        format!(
            "app.example.com wants you to sign in with your Ethereum account:
{address}

Sign in to Tessera.

URI: https://app.example.com/login
Version: 1
Chain ID: 1
Nonce: n0nce1234567
Issued At: 2026-03-01T11:59:00Z{extra}"
        )
    }

    fn sign(text: &str) -> String {
        format!("0x{}", hex::encode(eip191::sign(&key(), text.as_bytes())))
    }

    fn address() -> String {
        eip55::checksummed(&eip191::address_of(key().verifying_key()))
    }

    #[test]
    fn a_lowercase_address_verifies_and_comes_back_checksummed() {
        let origin = Url::parse("https://app.example.com").unwrap();
        let expect = Expectations::new("app.example.com", &origin, 1, NOW);
        let text = message(&address().to_ascii_lowercase().replace("0X", "0x"), "");
        let verified = verify(&text, &sign(&text), &expect).unwrap();
        assert_eq!(verified.address, address());
        assert_eq!(verified.nonce, "n0nce1234567");
        assert_eq!(verified.statement.as_deref(), Some("Sign in to Tessera."));
    }

    #[test]
    fn a_scheme_in_the_message_must_match_the_expected_origin() {
        let origin = Url::parse("https://app.example.com").unwrap();
        let expect = Expectations::new("app.example.com", &origin, 1, NOW);
        let text = format!("https://{}", message(&address(), ""));
        assert!(verify(&text, &sign(&text), &expect).is_ok());
        let text = format!("http://{}", message(&address(), ""));
        assert_eq!(
            verify(&text, &sign(&text), &expect).map_err(|e| e.reason()),
            Err("wrong_domain")
        );
    }

    #[test]
    fn another_address_in_the_message_is_a_mismatch() {
        let origin = Url::parse("https://app.example.com").unwrap();
        let expect = Expectations::new("app.example.com", &origin, 1, NOW);
        let text = message("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "");
        let err = verify(&text, &sign(&text), &expect).unwrap_err();
        assert_eq!(
            err,
            SignInError::AddressMismatch {
                expected: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed".into(),
                recovered: address(),
            }
        );
    }
}
