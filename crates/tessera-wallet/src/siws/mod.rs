//! Sign-In With Solana (SIWS): verifying a signed message against what the server expects.
//!
//! The wallet signs the UTF-8 bytes of the message text with its ed25519 key, whose public key
//! *is* the address. [`verify`] parses the text, requires the fields SIWS leaves optional but a
//! server sign-in needs (URI, chain id, nonce, issued-at), checks domain, URI, chain and time
//! window, and verifies the signature against the address. The **nonce is not checked here**:
//! [`VerifiedSiws::nonce`] is handed back and the caller must look it up in its own store,
//! confirm it was issued by the server, and consume it (single use).

mod message;

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ed25519_dalek::{Signature, VerifyingKey};
use time::{Duration, OffsetDateTime};
use url::Url;

pub use self::message::SiwsMessage;
use crate::SignInError;
use crate::checks::{self, Times};

/// What the server requires of a message. Build with [`Expectations::new`] for the default
/// maximum age.
#[derive(Debug, Clone, Copy)]
pub struct Expectations<'a> {
    /// The server's authority as the browser sees it (`app.example.com`, or `host:port`).
    pub domain: &'a str,
    /// The origin the message's `URI` must be on (any path under it is accepted).
    pub uri_origin: &'a Url,
    /// The network sessions are bound to: `mainnet`, `devnet`, `testnet`, … A `solana:` prefix
    /// (the Wallet Standard's chain names) on either side is ignored.
    pub chain_id: &'a str,
    /// The current time, from the caller's clock.
    pub now: OffsetDateTime,
    /// How old `issued-at` may be; see [`crate::DEFAULT_MAX_AGE`].
    pub max_age: Duration,
}

impl<'a> Expectations<'a> {
    pub fn new(
        domain: &'a str,
        uri_origin: &'a Url,
        chain_id: &'a str,
        now: OffsetDateTime,
    ) -> Self {
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
pub struct VerifiedSiws {
    /// The signer's base58 address (its ed25519 public key), as in the message.
    pub address: String,
    /// The nonce to check against the server's store and consume: **not verified here**.
    pub nonce: String,
    /// The chain id as the message wrote it.
    pub chain_id: String,
    pub issued_at: OffsetDateTime,
    pub expiration_time: Option<OffsetDateTime>,
    pub not_before: Option<OffsetDateTime>,
    pub request_id: Option<String>,
    pub statement: Option<String>,
    pub resources: Vec<String>,
}

/// Verifies a SIWS sign-in: `message` is the exact text the wallet signed, `signature` the
/// 64-byte ed25519 signature in base58 (canonical: what Solana tooling prints) or base64
/// (standard alphabet, padded or not; what `btoa` gives a web page).
///
/// Checks, cheapest first: grammar, signature encoding, domain, URI origin, chain id, nonce and
/// issued-at present, time window (see [`crate::CLOCK_SKEW`]), then the signature with
/// `verify_strict` (no small-order keys, no non-canonical `S`).
pub fn verify(
    message: &str,
    signature: &str,
    expect: &Expectations<'_>,
) -> Result<VerifiedSiws, SignInError> {
    let parsed = SiwsMessage::parse(message)?;
    let signature = decode_signature(signature)?;

    checks::domain(expect.domain, &parsed.domain)?;
    let uri = parsed
        .uri
        .as_deref()
        .ok_or(SignInError::MissingField("URI"))?;
    checks::uri(expect.uri_origin, uri)?;
    let chain_id = parsed
        .chain_id
        .clone()
        .ok_or(SignInError::MissingField("Chain ID"))?;
    if network(&chain_id) != network(expect.chain_id) {
        return Err(SignInError::WrongChain {
            expected: expect.chain_id.to_owned(),
            found: chain_id,
        });
    }
    let nonce = parsed
        .nonce
        .clone()
        .ok_or(SignInError::MissingField("Nonce"))?;
    let issued_at = parsed
        .issued_at
        .ok_or(SignInError::MissingField("Issued At"))?;
    let times = Times {
        issued_at,
        expiration_time: parsed.expiration_time,
        not_before: parsed.not_before,
    };
    checks::window(times, expect.now, expect.max_age)?;

    let public_key = message::decode_address(&parsed.address).ok_or(
        SignInError::MalformedMessage("the address is not base58 of 32 bytes"),
    )?;
    // An address off the curve (a program-derived address) has no private key to sign with.
    let key = VerifyingKey::from_bytes(&public_key)
        .map_err(|_| SignInError::MalformedMessage("the address is not an ed25519 public key"))?;
    key.verify_strict(message.as_bytes(), &signature)
        .map_err(|_| SignInError::BadSignature)?;

    Ok(VerifiedSiws {
        address: parsed.address,
        nonce,
        chain_id,
        issued_at,
        expiration_time: parsed.expiration_time,
        not_before: parsed.not_before,
        request_id: parsed.request_id,
        statement: parsed.statement,
        resources: parsed.resources,
    })
}

/// `solana:mainnet` and `mainnet` name the same network.
fn network(chain_id: &str) -> &str {
    chain_id.strip_prefix("solana:").unwrap_or(chain_id)
}

/// Base58 first: it is the canonical form. The two cannot be confused: 64 bytes take 87–88
/// base58 characters but 86 unpadded base64 ones, and padded base64 ends in `=`, which base58
/// lacks; a string is read as base64 only when it is not 64 bytes of base58.
fn decode_signature(text: &str) -> Result<Signature, SignInError> {
    const BASE64: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let mut bytes = [0u8; 64];
    let from_base58 = matches!(bs58::decode(text).onto(&mut bytes[..]), Ok(64));
    if !from_base58 {
        match BASE64.decode_slice(text, &mut bytes) {
            Ok(64) => {}
            _ => {
                return Err(SignInError::MalformedSignature(
                    "expected 64 bytes in base58 (or base64)",
                ));
            }
        }
    }
    Ok(Signature::from_bytes(&bytes))
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
    use ed25519_dalek::{Signer, SigningKey};
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:00:00 UTC);

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[9u8; 32])
    }

    fn message(chain: &str) -> String {
        let address = bs58::encode(key().verifying_key().as_bytes()).into_string();
        format!(
            "app.example.com wants you to sign in with your Solana account:
{address}

URI: https://app.example.com
Version: 1
Chain ID: {chain}
Nonce: n0nce1234567
Issued At: 2026-03-01T11:59:30Z"
        )
    }

    #[test]
    fn base58_and_base64_signatures_are_both_accepted() {
        let origin = Url::parse("https://app.example.com").unwrap();
        let expect = Expectations::new("app.example.com", &origin, "mainnet", NOW);
        let text = message("mainnet");
        let signature = key().sign(text.as_bytes()).to_bytes();
        for encoded in [
            bs58::encode(signature).into_string(),
            STANDARD.encode(signature),
            STANDARD_NO_PAD.encode(signature),
        ] {
            let verified = verify(&text, &encoded, &expect).unwrap();
            assert_eq!(verified.nonce, "n0nce1234567", "{encoded}");
        }
        assert_eq!(
            verify(&text, &hex::encode(signature), &expect).map_err(|e| e.reason()),
            Err("malformed_signature"),
            "hex is not an accepted encoding"
        );
    }

    #[test]
    fn the_solana_prefix_on_chain_ids_is_ignored() {
        let origin = Url::parse("https://app.example.com").unwrap();
        let text = message("solana:devnet");
        let signature = bs58::encode(key().sign(text.as_bytes()).to_bytes()).into_string();
        let devnet = Expectations::new("app.example.com", &origin, "devnet", NOW);
        assert_eq!(
            verify(&text, &signature, &devnet).unwrap().chain_id,
            "solana:devnet"
        );
        let mainnet = Expectations::new("app.example.com", &origin, "mainnet", NOW);
        assert_eq!(
            verify(&text, &signature, &mainnet).map_err(|e| e.reason()),
            Err("wrong_chain")
        );
    }

    #[test]
    fn fields_a_sign_in_needs_are_required() {
        let origin = Url::parse("https://app.example.com").unwrap();
        let expect = Expectations::new("app.example.com", &origin, "mainnet", NOW);
        for (line, field) in [
            ("URI: https://app.example.com\n", "URI"),
            ("Chain ID: mainnet\n", "Chain ID"),
            ("Nonce: n0nce1234567\n", "Nonce"),
            ("\nIssued At: 2026-03-01T11:59:30Z", "Issued At"),
        ] {
            let text = message("mainnet").replace(line, "");
            let signature = bs58::encode(key().sign(text.as_bytes()).to_bytes()).into_string();
            assert_eq!(
                verify(&text, &signature, &expect),
                Err(SignInError::MissingField(field))
            );
        }
    }

    #[test]
    fn an_off_curve_address_is_refused() {
        let origin = Url::parse("https://app.example.com").unwrap();
        let expect = Expectations::new("app.example.com", &origin, "mainnet", NOW);
        // y = 2 is not the y-coordinate of any point on edwards25519.
        let mut off_curve = [0u8; 32];
        off_curve[0] = 2;
        assert!(VerifyingKey::from_bytes(&off_curve).is_err());
        let address = bs58::encode(key().verifying_key().as_bytes()).into_string();
        let text = message("mainnet").replace(&address, &bs58::encode(off_curve).into_string());
        let signature = bs58::encode(key().sign(text.as_bytes()).to_bytes()).into_string();
        assert_eq!(
            verify(&text, &signature, &expect).map_err(|e| e.reason()),
            Err("malformed_message")
        );
    }
}
