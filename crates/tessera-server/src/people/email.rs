//! Emailed challenges: one email carries a link and a 6-digit code for the same purpose (signing
//! in through the email door, confirming a password sign-up, resetting a password). They are one
//! challenge (keyed by the SHA-256 of the link's `tml_` token; the code kept as a SHA-256 salted
//! with that key), so using either consumes both. It lives 15 minutes, a new email for the same
//! purpose replaces it, and five wrong codes burn it. Every email Tessera sends a person because
//! someone typed their address counts against the same limits, per address and per client.
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
use crate::people::signed_in::SignedIn;
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

/// What an emailed challenge is for: each has its own challenge kind (a code for one is never
/// taken for another), its own letter, and a link only where a link can finish the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    SignUp,
    /// Code only: the new password has to be typed somewhere, so there is nothing to click.
    Reset,
}

impl Purpose {
    pub fn kind(self) -> ChallengeKind {
        match self {
            Self::SignIn => ChallengeKind::Email,
            Self::SignUp => ChallengeKind::PasswordSignUp,
            Self::Reset => ChallengeKind::PasswordReset,
        }
    }

    fn link_path(self) -> Option<&'static str> {
        match self {
            Self::SignIn => Some("/v1/auth/email/callback"),
            Self::SignUp => Some("/v1/auth/password/callback"),
            Self::Reset => None,
        }
    }

    fn letter(self, link: Option<&Url>, code: &str) -> (String, String) {
        let minutes = TTL.whole_minutes();
        let link = link.map_or_else(String::new, |url| format!("\n\n{url}\n\nor"));
        match self {
            Self::SignIn => (
                format!("Your Tessera sign-in code: {code}"),
                format!(
                    "Sign in to Tessera with this link:{link} enter this code: {code}\n\n\
                     Both work once, for {minutes} minutes. If you did not ask to sign in, \
                     ignore this email.\n"
                ),
            ),
            Self::SignUp => (
                format!("Confirm your Tessera account: {code}"),
                format!(
                    "Someone, hopefully you, signed up for Tessera with this address and a \
                     password. To confirm, open this link:{link} enter this code: {code}\n\n\
                     Both work once, for {minutes} minutes. If it was not you, ignore this \
                     email: no account is made without it.\n"
                ),
            ),
            Self::Reset => (
                format!("Your Tessera password reset code: {code}"),
                format!(
                    "To choose a new password for your Tessera account, enter this code: \
                     {code}\n\nIt works once, for {minutes} minutes, and signs out every \
                     session. If you did not ask for it, ignore this email: your password \
                     stays as it is.\n"
                ),
            ),
        }
    }
}

/// An emailed challenge to send.
pub struct Ask {
    pub purpose: Purpose,
    pub email: String,
    /// Where the link sends the browser afterwards (already checked against the allowed ones).
    pub redirect_to: Option<Url>,
    /// The signed-in user who asked (to add the address, or the password, to their account).
    pub link_to: Option<UserId>,
    /// A sign-up's argon2id password hash and name, kept until the address is confirmed.
    pub password: Option<String>,
    pub name: Option<String>,
}

// By hand: the password hash stays out of logs.
impl std::fmt::Debug for Ask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ask")
            .field("purpose", &self.purpose)
            .field("email", &self.email)
            .field("redirect_to", &self.redirect_to)
            .field("link_to", &self.link_to)
            .finish_non_exhaustive()
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

/// An email address proven by its link or code, with what was kept for the flow.
pub struct Proven {
    pub email: String,
    /// Where the browser goes afterwards (checked when the email was asked for).
    pub redirect_to: Option<Url>,
    /// Set when the email was asked for by this signed-in user.
    pub link_to: Option<UserId>,
    /// A sign-up's password hash (PHC string) and name.
    pub password: Option<String>,
    pub name: Option<String>,
}

impl Proven {
    /// Who completes this email: nobody in particular, or, when a signed-in user asked for it,
    /// only that user's session.
    pub fn completed_by(&self, me: Option<SignedIn>) -> Result<Option<SignedIn>, ApiError> {
        match (self.link_to, me) {
            (None, _) => Ok(None),
            (Some(asker), Some(me)) if me.user_id == asker => Ok(Some(me)),
            (Some(_), _) => Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "this email adds to an account: open it signed in as that account",
            )),
        }
    }
}

// By hand: the password hash stays out of logs.
impl std::fmt::Debug for Proven {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proven")
            .field("email", &self.email)
            .field("redirect_to", &self.redirect_to)
            .field("link_to", &self.link_to)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Counts one email to `email` asked for from the caller's address against the send limits
    /// (429 past them). Callers count before any costly work, whatever they will send.
    pub fn count_email_send(&self, ctx: &RequestContext, email: &str) -> Result<(), ApiError> {
        self.people
            .email_sends
            .check(email, ctx.client_ip)
            .map_err(ApiError::rate_limited)
    }

    /// Mails a link (where the purpose has one) and a code, replacing any challenge sent to the
    /// same address for the same purpose. The send must have been counted.
    pub async fn send_challenge_email(
        &self,
        ctx: &RequestContext,
        ask: Ask,
    ) -> Result<(), ApiError> {
        let link = GeneratedSecret::new(SecretKind::EmailLink);
        let code = six_digits();
        let now = self.clock.now();
        let kind = ask.purpose.kind();
        let pending = Pending {
            code: code_digest(&link.hash, &code),
            redirect_to: ask.redirect_to.as_ref().map(Url::to_string),
            link_to: ask.link_to.map(|user| user.to_string()),
            password: ask.password,
            name: ask.name,
        };
        let challenge = Challenge {
            key: link.hash,
            kind,
            subject: ask.email.clone(),
            payload: serde_json::to_string(&pending).map_err(ApiError::internal)?,
            failures: 0,
            expires_at: now + TTL,
            created_at: now,
        };
        self.store.delete_challenges(kind, &ask.email).await?;
        self.store.insert_challenge(&challenge).await?;

        let url = match ask.purpose.link_path() {
            Some(path) => {
                let mut url =
                    Url::parse(&format!("{}{path}", self.issuer)).map_err(ApiError::internal)?;
                url.query_pairs_mut()
                    .append_pair("token", link.secret.expose());
                // Also in the link (checked again there) so that a failed link can send the
                // browser back to the application with the reason.
                if let Some(redirect_to) = &ask.redirect_to {
                    url.query_pairs_mut()
                        .append_pair("redirect_to", redirect_to.as_str());
                }
                Some(url)
            }
            None => None,
        };
        let (subject, text) = ask.purpose.letter(url.as_ref(), &code);
        let message = OutgoingEmail {
            to: ask.email.clone(),
            subject,
            text,
        };
        if let Err(error) = self.mail(ctx, message).await {
            // Nothing was delivered: nothing may be answered either.
            self.store.delete_challenges(kind, &ask.email).await?;
            return Err(error);
        }
        Ok(())
    }

    /// Sends one email, or says (503) that it could not be sent.
    pub async fn mail(&self, ctx: &RequestContext, message: OutgoingEmail) -> Result<(), ApiError> {
        self.send_email(message).await.map_err(|error| {
            tracing::error!(request_id = ?ctx.request_id, %error, "sending an email failed");
            ApiError::new(
                ErrorCode::Unavailable,
                "the email could not be sent; try again later",
            )
        })
    }

    /// Checks a code against the latest email sent to `email`; a right one consumes it, a
    /// wrong one counts towards burning it.
    pub async fn prove_email_by_code(
        &self,
        ctx: &RequestContext,
        purpose: Purpose,
        email: &str,
        code: &str,
    ) -> Result<Proven, ApiError> {
        self.limits
            .auth_allowed(ctx.client_ip)
            .map_err(ApiError::rate_limited)?;
        let now = self.clock.now();
        let Some(challenge) = self
            .store
            .latest_challenge(purpose.kind(), email, now)
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
            .take_challenge(purpose.kind(), &challenge.key, now)
            .await?
            .ok_or_else(|| refused("the code has been used; ask for a new email"))?;
        proven(taken)
    }

    /// Takes the challenge behind a link's token.
    pub async fn prove_email_by_link(
        &self,
        ctx: &RequestContext,
        purpose: Purpose,
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
            .take_challenge(purpose.kind(), &sha256(token.as_bytes()), self.clock.now())
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
        password: pending.password,
        name: pending.name,
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
