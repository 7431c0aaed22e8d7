//! The checks SIWE and SIWS share: the domain, the URI's origin and the time window.

use time::{Duration, OffsetDateTime};
use url::Url;

use crate::SignInError;

/// How far a wallet's clock may run ahead of the server's: `issued-at` and `not-before` up to
/// this far in the future are accepted. Wallets stamp messages with the user's device clock,
/// which is often a few seconds off; a minute covers that without stretching the window much.
/// `expiration-time` gets no such allowance: an expiry is the signer's limit, never extended.
pub const CLOCK_SKEW: Duration = Duration::seconds(60);

/// How old a message's `issued-at` may be by default. The server's nonce is single-use and
/// should expire sooner; this bounds a message that was signed but submitted late.
pub const DEFAULT_MAX_AGE: Duration = Duration::minutes(45);

/// The domain (RFC 3986 authority) must be the server's own. Hosts are case-insensitive.
pub(crate) fn domain(expected: &str, found: &str) -> Result<(), SignInError> {
    if expected.eq_ignore_ascii_case(found) {
        Ok(())
    } else {
        Err(SignInError::WrongDomain {
            expected: expected.to_owned(),
            found: found.to_owned(),
        })
    }
}

/// The message's URI must be on the expected origin (scheme, host and port; default ports are
/// implied). The path is the wallet's business, so any path under the origin is accepted; a URI
/// that is not a URL (`did:…`, `urn:…`) has no origin and never matches.
pub(crate) fn uri(expected_origin: &Url, found: &str) -> Result<(), SignInError> {
    let expected = expected_origin.origin();
    let matches = expected.is_tuple() && Url::parse(found).is_ok_and(|u| u.origin() == expected);
    if matches {
        Ok(())
    } else {
        Err(SignInError::WrongUri {
            expected: expected.ascii_serialization(),
            found: found.to_owned(),
        })
    }
}

/// The times a sign-in message carries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Times {
    pub issued_at: OffsetDateTime,
    pub expiration_time: Option<OffsetDateTime>,
    pub not_before: Option<OffsetDateTime>,
}

/// `now` must be before the expiry, past `not-before` (less [`CLOCK_SKEW`]), and at most
/// `max_age` after `issued-at`, which itself may be at most [`CLOCK_SKEW`] ahead.
///
/// The expiry is checked first: for an old message that also expired, "expired" is the more
/// useful answer.
pub(crate) fn window(
    times: Times,
    now: OffsetDateTime,
    max_age: Duration,
) -> Result<(), SignInError> {
    if let Some(expiration_time) = times.expiration_time
        && now >= expiration_time
    {
        return Err(SignInError::Expired { expiration_time });
    }
    if let Some(not_before) = times.not_before
        && not_before > now + CLOCK_SKEW
    {
        return Err(SignInError::NotYetValid { not_before });
    }
    let issued_at = times.issued_at;
    if issued_at > now + CLOCK_SKEW || now - issued_at > max_age {
        return Err(SignInError::IssuedAtOutOfWindow { issued_at });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:00:00 UTC);

    fn issued(at: OffsetDateTime) -> Times {
        Times {
            issued_at: at,
            expiration_time: None,
            not_before: None,
        }
    }

    #[test]
    fn the_issued_at_window_has_inclusive_edges() {
        let age = DEFAULT_MAX_AGE;
        assert!(window(issued(NOW - age), NOW, age).is_ok());
        assert!(window(issued(NOW + CLOCK_SKEW), NOW, age).is_ok());
        let too_old = NOW - age - Duration::SECOND;
        assert_eq!(
            window(issued(too_old), NOW, age),
            Err(SignInError::IssuedAtOutOfWindow { issued_at: too_old })
        );
        let too_new = NOW + CLOCK_SKEW + Duration::SECOND;
        assert_eq!(
            window(issued(too_new), NOW, age),
            Err(SignInError::IssuedAtOutOfWindow { issued_at: too_new })
        );
    }

    #[test]
    fn a_message_expires_at_its_expiration_time_without_skew() {
        let times = |exp| Times {
            expiration_time: Some(exp),
            ..issued(NOW - Duration::minutes(1))
        };
        assert!(window(times(NOW + Duration::SECOND), NOW, DEFAULT_MAX_AGE).is_ok());
        assert_eq!(
            window(times(NOW), NOW, DEFAULT_MAX_AGE),
            Err(SignInError::Expired {
                expiration_time: NOW
            })
        );
    }

    #[test]
    fn not_before_allows_the_clock_skew() {
        let times = |nb| Times {
            not_before: Some(nb),
            ..issued(NOW)
        };
        assert!(window(times(NOW + CLOCK_SKEW), NOW, DEFAULT_MAX_AGE).is_ok());
        let late = NOW + CLOCK_SKEW + Duration::SECOND;
        assert_eq!(
            window(times(late), NOW, DEFAULT_MAX_AGE),
            Err(SignInError::NotYetValid { not_before: late })
        );
    }

    #[test]
    fn domains_compare_case_insensitively() {
        assert!(domain("app.example.com", "App.Example.COM").is_ok());
        assert!(domain("app.example.com:8443", "app.example.com:8443").is_ok());
        assert_eq!(
            domain("app.example.com", "app.example.com.evil.io").map_err(|e| e.reason()),
            Err("wrong_domain")
        );
        assert!(domain("app.example.com:8443", "app.example.com").is_err());
    }

    #[test]
    fn uris_must_share_the_expected_origin() {
        let origin = Url::parse("https://app.example.com").unwrap();
        for ok in [
            "https://app.example.com",
            "https://app.example.com/",
            "https://app.example.com:443/login?x=1",
            "https://APP.example.com/login",
        ] {
            assert!(uri(&origin, ok).is_ok(), "{ok}");
        }
        for wrong in [
            "http://app.example.com/",
            "https://app.example.com:8443/",
            "https://app.example.com.evil.io/",
            "https://evil.io/https://app.example.com",
            "did:key:z6Mk",
            "not a uri",
        ] {
            let err = uri(&origin, wrong).unwrap_err();
            assert_eq!(err.reason(), "wrong_uri", "{wrong}");
        }
    }

    #[test]
    fn an_opaque_expected_origin_matches_nothing() {
        let opaque = Url::parse("urn:example:x").unwrap();
        assert!(uri(&opaque, "urn:example:x").is_err());
    }
}
