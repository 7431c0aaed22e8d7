//! The EIP-4361 message grammar, parsed by hand.
//!
//! The `siwe` crate would do this, but its last release (2024) pins k256 0.13, rand 0.8 and
//! thiserror 1, a second copy of each beside the versions this workspace uses. The grammar is
//! small and line-based; [`SiweMessage::parse`] is the one entry point, so swapping in another
//! parser later touches this file only.
//!
//! ```text
//! [ scheme "://" ] domain " wants you to sign in with your Ethereum account:" LF
//! address LF
//! LF
//! [ statement LF ]
//! LF
//! "URI: " uri LF
//! "Version: 1" LF
//! "Chain ID: " chain-id LF
//! "Nonce: " nonce LF
//! "Issued At: " issued-at
//! [ LF "Expiration Time: " expiration-time ]
//! [ LF "Not Before: " not-before ]
//! [ LF "Request ID: " request-id ]
//! [ LF "Resources:" *( LF "- " uri ) ]
//! ```

use time::OffsetDateTime;

use crate::SignInError;
use crate::grammar::{self, Lines};

const HEADER_SUFFIX: &str = " wants you to sign in with your Ethereum account:";

/// A parsed EIP-4361 message. Nothing in it is verified yet: see [`super::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiweMessage {
    /// The scheme before the domain (`https` in `https://example.com wants you…`), if given.
    pub scheme: Option<String>,
    /// The RFC 3986 authority requesting the sign-in.
    pub domain: String,
    /// The address as written (EIP-55 or any case).
    pub address: String,
    pub statement: Option<String>,
    pub uri: String,
    pub chain_id: u64,
    pub nonce: String,
    pub issued_at: OffsetDateTime,
    pub expiration_time: Option<OffsetDateTime>,
    pub not_before: Option<OffsetDateTime>,
    pub request_id: Option<String>,
    pub resources: Vec<String>,
}

impl SiweMessage {
    /// Parses the text exactly as signed: `LF` line ends, no trailing newline, fields in the
    /// grammar's order. Any deviation is [`SignInError::MalformedMessage`].
    pub fn parse(text: &str) -> Result<Self, SignInError> {
        let malformed = SignInError::MalformedMessage;
        let mut lines = Lines::new(text)?;

        let header = lines.next("the message is empty")?;
        let origin = header.strip_suffix(HEADER_SUFFIX).ok_or(malformed(
            "the first line must be `<domain> wants you to sign in with your Ethereum account:`",
        ))?;
        let (scheme, domain) = match origin.split_once("://") {
            Some((scheme, domain)) => (Some(self::scheme(scheme)?), domain),
            None => (None, origin),
        };
        let domain = grammar::authority(domain)?;

        let address = lines.next("the second line must be the address")?;
        crate::eip55::parse(address)
            .map_err(|_| malformed("the second line must be the address: 0x and 40 hex digits"))?;
        lines.blank("the address must be followed by an empty line")?;

        // `[ statement LF ] LF`: an empty line here means there is no statement.
        let statement = match lines.next("the message ends after the address")? {
            "" => None,
            statement => {
                lines.blank("the statement must be one line followed by an empty line")?;
                Some(statement.to_owned())
            }
        };

        let uri = lines.required("URI: ", "expected the `URI: ` line")?;
        let uri = grammar::uri(uri, "the URI must be one token without spaces")?;
        let version = lines.required("Version: ", "expected the `Version: ` line")?;
        if version != "1" {
            return Err(malformed("the version must be 1"));
        }
        let chain_id = lines.required("Chain ID: ", "expected the `Chain ID: ` line")?;
        let chain_id = chain_id
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| chain_id.parse::<u64>().ok())
            .flatten()
            .ok_or(malformed("the chain ID must be a decimal number"))?;
        let nonce = lines.required("Nonce: ", "expected the `Nonce: ` line")?;
        if nonce.len() < 8 || !nonce.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(malformed("the nonce must be at least 8 letters or digits"));
        }
        let issued_at = lines.required("Issued At: ", "expected the `Issued At: ` line")?;
        let issued_at = grammar::timestamp(issued_at, "`Issued At` must be an RFC 3339 time")?;
        let expiration_time = lines
            .optional("Expiration Time: ")
            .map(|t| grammar::timestamp(t, "`Expiration Time` must be an RFC 3339 time"))
            .transpose()?;
        let not_before = lines
            .optional("Not Before: ")
            .map(|t| grammar::timestamp(t, "`Not Before` must be an RFC 3339 time"))
            .transpose()?;
        let request_id = lines.optional("Request ID: ").map(str::to_owned);
        let resources = lines.resources()?;
        lines.end()?;

        Ok(Self {
            scheme: scheme.map(str::to_owned),
            domain: domain.to_owned(),
            address: address.to_owned(),
            statement,
            uri: uri.to_owned(),
            chain_id,
            nonce: nonce.to_owned(),
            issued_at,
            expiration_time,
            not_before,
            request_id,
            resources,
        })
    }
}

/// RFC 3986 `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn scheme(value: &str) -> Result<&str, SignInError> {
    let mut chars = value.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    ok.then_some(value).ok_or(SignInError::MalformedMessage(
        "the scheme before the domain is not valid",
    ))
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
