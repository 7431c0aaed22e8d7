//! Why a wallet sign-in was refused: one error type for SIWE and SIWS, so the server maps both
//! protocols through a single exhaustive `match`.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A refused sign-in. Each variant has a stable [`reason`](Self::reason) for the wire and logs;
/// the `Display` text is a sentence for the person integrating the wallet.
///
/// The values carried (domains, URIs, chains, times) come from the signed message or from the
/// server's own expectations, never from a secret, so they may be echoed in a 4xx response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    /// The text is not a sign-in message of the protocol (grammar, field order, field syntax).
    #[error("the sign-in message is malformed: {0}")]
    MalformedMessage(&'static str),
    /// SIWS only: a field the protocol leaves optional but Tessera needs (URI, chain, nonce,
    /// issued-at) is absent.
    #[error("the sign-in message has no `{0}` field; Tessera requires it")]
    MissingField(&'static str),
    /// The signature is not in an accepted encoding or has the wrong length.
    #[error("the signature is malformed: {0}")]
    MalformedSignature(&'static str),
    /// The message was written for another site: a phishing page relaying a user's signature.
    #[error("the message is for domain `{found}`, expected `{expected}`")]
    WrongDomain { expected: String, found: String },
    /// The message's `URI` is not on the expected origin.
    #[error("the message URI `{found}` is not on origin `{expected}`")]
    WrongUri { expected: String, found: String },
    /// The message binds the session to another chain (or network, for Solana).
    #[error("the message is for chain `{found}`, expected `{expected}`")]
    WrongChain { expected: String, found: String },
    /// `issued-at` is older than the accepted age or further in the future than the clock skew.
    #[error(
        "the message was issued at {}, outside the accepted window (too old, or ahead of the clock)",
        rfc3339(issued_at)
    )]
    IssuedAtOutOfWindow { issued_at: OffsetDateTime },
    /// `expiration-time` has passed.
    #[error("the message expired at {}", rfc3339(expiration_time))]
    Expired { expiration_time: OffsetDateTime },
    /// `not-before` has not been reached yet.
    #[error("the message is not valid before {}", rfc3339(not_before))]
    NotYetValid { not_before: OffsetDateTime },
    /// The signature does not verify: SIWS, any forgery or change to the text; SIWE, no public
    /// key can be recovered from it.
    #[error("the signature does not verify")]
    BadSignature,
    /// SIWE only: the signature recovers to an address other than the message's. This is what a
    /// changed message or another key's signature looks like under ecrecover.
    #[error("the message is signed by {recovered}, not by its address {expected}")]
    AddressMismatch { expected: String, recovered: String },
}

impl SignInError {
    /// A stable, machine-readable reason (snake case); never changes once published.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MalformedMessage(_) => "malformed_message",
            Self::MissingField(_) => "missing_field",
            Self::MalformedSignature(_) => "malformed_signature",
            Self::WrongDomain { .. } => "wrong_domain",
            Self::WrongUri { .. } => "wrong_uri",
            Self::WrongChain { .. } => "wrong_chain",
            Self::IssuedAtOutOfWindow { .. } => "issued_at_out_of_window",
            Self::Expired { .. } => "expired",
            Self::NotYetValid { .. } => "not_yet_valid",
            Self::BadSignature => "bad_signature",
            Self::AddressMismatch { .. } => "address_mismatch",
        }
    }
}

/// Times in messages are shown as the wallet wrote them: RFC 3339, not `time`'s debug-like form.
fn rfc3339(t: &OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn times_print_as_rfc_3339() {
        let err = SignInError::Expired {
            expiration_time: datetime!(2026-03-01 12:00:00 UTC),
        };
        assert_eq!(
            err.to_string(),
            "the message expired at 2026-03-01T12:00:00Z"
        );
    }
}
