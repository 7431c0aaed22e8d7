//! The Sign-In With Solana message grammar (Phantom's SIWS spec, as the Solana Wallet Standard's
//! `createSignInMessageText` writes it), parsed by hand.
//!
//! Unlike EIP-4361, every field after the address is optional, and the empty line before the
//! statement and before the fields appears only when they do:
//!
//! ```text
//! domain " wants you to sign in with your Solana account:" LF
//! address
//! [ LF LF statement ]
//! [ LF LF field *( LF field ) ]      ; in this order, each optional:
//!     "URI: " uri / "Version: 1" / "Chain ID: " chain-id / "Nonce: " nonce /
//!     "Issued At: " time / "Expiration Time: " time / "Not Before: " time /
//!     "Request ID: " request-id / "Resources:" *( LF "- " uri )
//! *LF                                ; trailing newlines, as the reference parser allows
//! ```
//!
//! The statement is one line, as in the spec's ABNF (the reference parser's regular expression
//! is looser).

use time::OffsetDateTime;

use crate::SignInError;
use crate::grammar::{self, Lines};

const HEADER_SUFFIX: &str = " wants you to sign in with your Solana account:";

/// The prefixes of the field lines, in the order they must appear.
const FIELDS: [&str; 9] = [
    "URI: ",
    "Version: ",
    "Chain ID: ",
    "Nonce: ",
    "Issued At: ",
    "Expiration Time: ",
    "Not Before: ",
    "Request ID: ",
    "Resources:",
];

/// A parsed SIWS message. Nothing in it is verified yet: see [`super::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiwsMessage {
    pub domain: String,
    /// The base58 address as written; it decodes to 32 bytes.
    pub address: String,
    pub statement: Option<String>,
    pub uri: Option<String>,
    pub chain_id: Option<String>,
    pub nonce: Option<String>,
    pub issued_at: Option<OffsetDateTime>,
    pub expiration_time: Option<OffsetDateTime>,
    pub not_before: Option<OffsetDateTime>,
    pub request_id: Option<String>,
    pub resources: Vec<String>,
}

impl SiwsMessage {
    /// Parses the text exactly as signed. Any deviation from the grammar is
    /// [`SignInError::MalformedMessage`]; absent optional fields are `None` here, and
    /// [`super::verify`] decides which it needs.
    pub fn parse(text: &str) -> Result<Self, SignInError> {
        let malformed = SignInError::MalformedMessage;
        let mut lines = Lines::new(text)?;

        let header = lines.next("the message is empty")?;
        let domain = header.strip_suffix(HEADER_SUFFIX).ok_or(malformed(
            "the first line must be `<domain> wants you to sign in with your Solana account:`",
        ))?;
        let domain = grammar::authority(domain)?;

        let address = lines.next("the second line must be the address")?;
        if decode_address(address).is_none() {
            return Err(malformed(
                "the second line must be the address: base58 of 32 bytes",
            ));
        }

        let mut statement = None;
        if lines.peek().is_some() {
            lines.blank("the address must be followed by an empty line")?;
            if let Some(line) = lines.peek()
                && !line.is_empty()
                && !is_field(line)
            {
                statement = Some(line.to_owned());
                lines.next("")?;
                if lines.peek().is_some() {
                    lines.blank("the statement must be one line followed by an empty line")?;
                }
            }
        }

        let uri = lines
            .optional(FIELDS[0])
            .map(|u| grammar::uri(u, "the URI must be one token without spaces"))
            .transpose()?;
        if let Some(version) = lines.optional(FIELDS[1])
            && version != "1"
        {
            return Err(malformed("the version must be 1"));
        }
        let chain_id = lines
            .optional(FIELDS[2])
            .map(|c| grammar::uri(c, "the chain ID must be one token without spaces"))
            .transpose()?;
        let nonce = lines.optional(FIELDS[3]);
        if let Some(nonce) = nonce
            && (nonce.len() < 8 || !nonce.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(malformed("the nonce must be at least 8 letters or digits"));
        }
        let mut time = |prefix, why| {
            lines
                .optional(prefix)
                .map(|t| grammar::timestamp(t, why))
                .transpose()
        };
        let issued_at = time(FIELDS[4], "`Issued At` must be an RFC 3339 time")?;
        let expiration_time = time(FIELDS[5], "`Expiration Time` must be an RFC 3339 time")?;
        let not_before = time(FIELDS[6], "`Not Before` must be an RFC 3339 time")?;
        let request_id = lines.optional(FIELDS[7]).map(str::to_owned);
        let resources = lines.resources()?;
        while lines.peek() == Some("") {
            lines.next("")?;
        }
        lines.end()?;

        Ok(Self {
            domain: domain.to_owned(),
            address: address.to_owned(),
            statement,
            uri: uri.map(str::to_owned),
            chain_id: chain_id.map(str::to_owned),
            nonce: nonce.map(str::to_owned),
            issued_at,
            expiration_time,
            not_before,
            request_id,
            resources,
        })
    }
}

fn is_field(line: &str) -> bool {
    FIELDS.iter().any(|prefix| line.starts_with(prefix))
}

/// A Solana address: base58 of exactly 32 bytes.
pub(crate) fn decode_address(address: &str) -> Option<[u8; 32]> {
    let mut bytes = [0u8; 32];
    match bs58::decode(address).onto(&mut bytes[..]) {
        Ok(32) => Some(bytes),
        _ => None,
    }
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
