//! Pieces of the line-oriented grammar SIWE and SIWS share: a cursor over `LF`-separated lines,
//! RFC 3339 timestamps, and the character rules of their fields.

use std::iter::Peekable;
use std::str::Split;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::SignInError;

type Result<T> = std::result::Result<T, SignInError>;

fn malformed(why: &'static str) -> SignInError {
    SignInError::MalformedMessage(why)
}

/// The lines of a message, split on `LF` only (both grammars use bare `LF`).
#[derive(Debug)]
pub(crate) struct Lines<'a>(Peekable<Split<'a, char>>);

impl<'a> Lines<'a> {
    /// Refuses control characters up front: a `CR` (a CRLF message), a tab or an escape would
    /// otherwise hide inside a field, and a wallet shows the user what it renders, not the bytes.
    pub(crate) fn new(text: &'a str) -> Result<Self> {
        if text.chars().any(|c| c.is_control() && c != '\n') {
            return Err(malformed(
                "control characters other than LF (CR, tab, …) are not allowed",
            ));
        }
        Ok(Self(text.split('\n').peekable()))
    }

    pub(crate) fn next(&mut self, missing: &'static str) -> Result<&'a str> {
        self.0.next().ok_or(malformed(missing))
    }

    pub(crate) fn peek(&mut self) -> Option<&'a str> {
        self.0.peek().copied()
    }

    /// The next line, which must be empty.
    pub(crate) fn blank(&mut self, why: &'static str) -> Result<()> {
        match self.0.next() {
            Some("") => Ok(()),
            _ => Err(malformed(why)),
        }
    }

    /// The value of the next line if it starts with `prefix` (e.g. `"Nonce: "`), consuming it.
    pub(crate) fn optional(&mut self, prefix: &str) -> Option<&'a str> {
        let value = self.peek()?.strip_prefix(prefix)?;
        self.0.next();
        Some(value)
    }

    /// The value of the next line, which must start with `prefix`.
    pub(crate) fn required(&mut self, prefix: &str, why: &'static str) -> Result<&'a str> {
        self.optional(prefix).ok_or(malformed(why))
    }

    /// `Resources:` followed by `- <uri>` lines, if present.
    pub(crate) fn resources(&mut self) -> Result<Vec<String>> {
        let mut resources = Vec::new();
        if self.peek() == Some("Resources:") {
            self.0.next();
            while let Some(resource) = self.optional("- ") {
                resources.push(uri(resource, "a resource must be a URI")?.to_owned());
            }
        }
        Ok(resources)
    }

    /// Whether every line was consumed.
    pub(crate) fn end(&mut self) -> Result<()> {
        match self.0.next() {
            None => Ok(()),
            Some(_) => Err(malformed(
                "unexpected line after the last field (unknown field, or fields out of order)",
            )),
        }
    }
}

pub(crate) fn timestamp(value: &str, why: &'static str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(value, &Rfc3339).map_err(|_| malformed(why))
}

/// An RFC 3986 authority as the grammars use it: non-empty, no whitespace, no path, query or
/// fragment. The host itself is compared, not validated, by the caller.
pub(crate) fn authority(value: &str) -> Result<&str> {
    let ok = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '/' | '?' | '#'));
    ok.then_some(value).ok_or(malformed(
        "the domain must be an authority (host and optional port)",
    ))
}

/// A URI's syntax is left to the origin check; here it only has to be one whitespace-free token.
pub(crate) fn uri<'a>(value: &'a str, why: &'static str) -> Result<&'a str> {
    let ok = !value.is_empty() && !value.chars().any(char::is_whitespace);
    ok.then_some(value).ok_or(malformed(why))
}
