//! The email door. One email carries a link and a 6-digit code for the same sign-in: they are
//! one challenge (keyed by the SHA-256 of the link's `tml_` token; the code kept as a SHA-256
//! salted with that key), so using either consumes both. It lives 15 minutes, a new email
//! replaces it, and five wrong codes burn it.
//!
//! Linking: an email asked for with a session records that user, and only that user's session
//! can complete it. Otherwise someone could mail their own address's link to a signed-in victim
//! and, once the victim clicked, sign in to the victim's account through their own mailbox.

use std::net::IpAddr;

use governor::{DefaultKeyedRateLimiter, RateLimiter};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tessera_core::UserId;
use tessera_core::people::{Challenge, ChallengeKind};
use tessera_crypto::{GeneratedSecret, SecretKind, sha256};
use tessera_proto::ErrorCode;
use time::Duration;
use url::Url;

use crate::context::RequestContext;
use crate::error::ApiError;
use crate::limits::{self, per_hour};
use crate::mail::OutgoingEmail;
use crate::state::AppState;

/// How long a link and its code work.
pub const TTL: Duration = Duration::minutes(15);
/// Wrong codes after which the email's challenge is burnt.
pub const MAX_CODE_FAILURES: u32 = 5;
/// Emails one address may be sent per hour (a mailbox is not a spam target).
const SENDS_PER_EMAIL_PER_HOUR: u32 = 5;
/// Emails one client address may ask for per hour (many people can share one address).
const SENDS_PER_CLIENT_PER_HOUR: u32 = 30;

/// Limits on sending sign-in emails, per recipient and per client address.
#[derive(Debug)]
pub struct SendLimits {
    by_email: DefaultKeyedRateLimiter<String>,
    by_client: DefaultKeyedRateLimiter<IpAddr>,
}

impl Default for SendLimits {
    fn default() -> Self {
        Self {
            by_email: RateLimiter::keyed(per_hour(SENDS_PER_EMAIL_PER_HOUR)),
            by_client: RateLimiter::keyed(per_hour(SENDS_PER_CLIENT_PER_HOUR)),
        }
    }
}

impl SendLimits {
    /// Counts one send; Err holds how long to wait.
    fn check(&self, email: &str, client: IpAddr) -> Result<(), std::time::Duration> {
        limits::count(&self.by_client, &client)?;
        limits::count(&self.by_email, &email.to_owned())
    }
}

/// What the challenge keeps until the link or the code comes back.
#[derive(Serialize, Deserialize)]
struct Pending {
    /// Hex SHA-256 of the challenge key followed by the code.
    code: String,
    redirect_to: Option<String>,
    /// The user who asked, with a session, to add this address.
    link_to: Option<String>,
}

/// An email address proven by its link or code.
#[derive(Debug)]
pub struct Proven {
    pub email: String,
    /// Where the browser goes after signing in (checked when the email was asked for).
    pub redirect_to: Option<Url>,
    /// Set when the email was asked for to add the address to this user.
    pub link_to: Option<UserId>,
}

impl AppState {
    /// Sends `email` a sign-in link and code (replacing any sent before). Answers the same
    /// whether or not the address has an account.
    pub async fn send_sign_in_email(
        &self,
        ctx: &RequestContext,
        email: &str,
        redirect_to: Option<Url>,
        link_to: Option<UserId>,
    ) -> Result<(), ApiError> {
        self.people
            .email_sends
            .check(email, ctx.client_ip)
            .map_err(ApiError::rate_limited)?;
        let link = GeneratedSecret::new(SecretKind::EmailLink);
        let code = six_digits();
        let now = self.clock.now();
        let pending = Pending {
            code: code_digest(&link.hash, &code),
            redirect_to: redirect_to.as_ref().map(Url::to_string),
            link_to: link_to.map(|user| user.to_string()),
        };
        let challenge = Challenge {
            key: link.hash,
            kind: ChallengeKind::Email,
            subject: email.to_owned(),
            payload: serde_json::to_string(&pending).map_err(ApiError::internal)?,
            failures: 0,
            expires_at: now + TTL,
            created_at: now,
        };
        self.store
            .delete_challenges(ChallengeKind::Email, email)
            .await?;
        self.store.insert_challenge(&challenge).await?;

        let mut url = Url::parse(&format!("{}/v1/auth/email/callback", self.issuer))
            .map_err(ApiError::internal)?;
        url.query_pairs_mut()
            .append_pair("token", link.secret.expose());
        // Also in the link (checked again there) so that a failed link can send the browser
        // back to the application with the reason.
        if let Some(redirect_to) = &redirect_to {
            url.query_pairs_mut()
                .append_pair("redirect_to", redirect_to.as_str());
        }
        let text = format!(
            "Sign in to Tessera with this link:\n\n{url}\n\nor enter this code: {code}\n\n\
             Both work once, for {} minutes. If you did not ask to sign in, ignore this email.\n",
            TTL.whole_minutes()
        );
        let message = OutgoingEmail {
            to: email.to_owned(),
            subject: format!("Your Tessera sign-in code: {code}"),
            text,
        };
        if let Err(error) = self.send_email(message).await {
            tracing::error!(request_id = ?ctx.request_id, %error, "sending a sign-in email failed");
            // Nothing was delivered: nothing may be answered either.
            self.store
                .delete_challenges(ChallengeKind::Email, email)
                .await?;
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                "the email could not be sent; try again later",
            ));
        }
        Ok(())
    }

    /// Checks a code against the latest email sent to `email`; a right one consumes it, a
    /// wrong one counts towards burning it.
    pub async fn prove_email_by_code(
        &self,
        ctx: &RequestContext,
        email: &str,
        code: &str,
    ) -> Result<Proven, ApiError> {
        self.limits
            .auth_allowed(ctx.client_ip)
            .map_err(ApiError::rate_limited)?;
        let now = self.clock.now();
        let Some(challenge) = self
            .store
            .latest_challenge(ChallengeKind::Email, email, now)
            .await?
        else {
            self.limits.auth_failed(ctx.client_ip);
            return Err(refused(
                "the code is wrong or has expired; ask for a new email",
            ));
        };
        let pending = pending(&challenge)?;
        let digest = code_digest(&challenge.key, code);
        if !bool::from(digest.as_bytes().ct_eq(pending.code.as_bytes())) {
            self.limits.auth_failed(ctx.client_ip);
            let failures = self
                .store
                .fail_challenge(&challenge.key, MAX_CODE_FAILURES)
                .await?;
            return Err(refused(if failures >= MAX_CODE_FAILURES {
                "the code is wrong, and too many were tried: ask for a new email"
            } else {
                "the code is wrong or has expired; ask for a new email"
            }));
        }
        // Of two requests with the right code, one signs in.
        let taken = self
            .store
            .take_challenge(ChallengeKind::Email, &challenge.key, now)
            .await?
            .ok_or_else(|| refused("the code has been used; ask for a new email"))?;
        proven(taken)
    }

    /// Takes the challenge behind a link's token.
    pub async fn prove_email_by_link(
        &self,
        ctx: &RequestContext,
        token: &str,
    ) -> Result<Proven, ApiError> {
        let stale = || refused("the link is unknown, used or expired; ask for a new email");
        if SecretKind::of(token) != Some(SecretKind::EmailLink) {
            return Err(stale());
        }
        self.limits
            .auth_allowed(ctx.client_ip)
            .map_err(ApiError::rate_limited)?;
        let Some(taken) = self
            .store
            .take_challenge(
                ChallengeKind::Email,
                &sha256(token.as_bytes()),
                self.clock.now(),
            )
            .await?
        else {
            self.limits.auth_failed(ctx.client_ip);
            return Err(stale());
        };
        proven(taken)
    }
}

fn refused(message: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidCredentials, message)
}

fn pending(challenge: &Challenge) -> Result<Pending, ApiError> {
    serde_json::from_str(&challenge.payload).map_err(ApiError::internal)
}

fn proven(challenge: Challenge) -> Result<Proven, ApiError> {
    let pending = pending(&challenge)?;
    Ok(Proven {
        email: challenge.subject,
        redirect_to: pending
            .redirect_to
            .map(|url| Url::parse(&url))
            .transpose()
            .map_err(ApiError::internal)?,
        link_to: pending
            .link_to
            .map(|user| user.parse())
            .transpose()
            .map_err(|_| ApiError::internal("a stored email challenge names a malformed user"))?,
    })
}

fn code_digest(key: &[u8; 32], code: &str) -> String {
    let mut salted = key.to_vec();
    salted.extend_from_slice(code.as_bytes());
    sha256(&salted)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A uniformly random 6-digit code (rejection sampling keeps the digits unbiased).
fn six_digits() -> String {
    const RANGE: u32 = 1_000_000;
    // The largest multiple of RANGE that fits, so that `value % RANGE` is uniform below it.
    const LIMIT: u32 = u32::MAX - u32::MAX % RANGE;
    loop {
        let mut bytes = [0u8; 4];
        // The system RNG failing is unrecoverable; there is nothing safe to hand out instead.
        #[allow(clippy::expect_used)]
        aws_lc_rs::rand::fill(&mut bytes).expect("system random number generator failed");
        let value = u32::from_le_bytes(bytes);
        if value < LIMIT {
            return format!("{:06}", value % RANGE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: std::collections::HashSet<String> = (0..50).map(|_| six_digits()).collect();
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        );
        assert!(codes.len() > 40, "50 random codes should rarely repeat");
    }

    #[test]
    fn a_code_digest_depends_on_the_challenge() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert_eq!(code_digest(&a, "123456"), code_digest(&a, "123456"));
        assert_ne!(code_digest(&a, "123456"), code_digest(&b, "123456"));
        assert_ne!(code_digest(&a, "123456"), code_digest(&a, "123457"));
    }
}
