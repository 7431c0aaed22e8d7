//! People signing in: the doors share [`accounts::AppState::sign_in`] (find the user behind a
//! door, or create one with a custodial wallet, or link the door to the signed-in user) and end
//! in the same session issuance ([`sessions`]); [`signed_in`] authenticates a session on later
//! requests; [`password`] hashes and throttles passwords; [`email`] sends and checks sign-in
//! links and codes; [`redirect`] says where a flow may send the browser back to.

pub mod accounts;
pub mod cookies;
pub mod email;
pub mod password;
pub mod redirect;
pub mod sessions;
pub mod signed_in;
pub mod wallets;

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tessera_core::UserId;

/// Wallet signatures one user may ask for per minute.
const SIGNATURES_PER_MINUTE: u32 = 30;

/// The per-process state of the sign-in doors.
#[derive(Debug)]
pub struct People {
    pub password_backoff: password::Backoff,
    pub email_sends: email::SendLimits,
    /// Where mail goes (also used by invitations).
    pub mailer: crate::mail::Mailer,
    pub signatures: DefaultKeyedRateLimiter<UserId>,
}

impl People {
    pub fn new(config: &crate::config::Config) -> Self {
        Self {
            password_backoff: password::Backoff::default(),
            email_sends: email::SendLimits::default(),
            mailer: crate::mail::Mailer::new(config),
            signatures: RateLimiter::keyed(Quota::per_minute(
                NonZeroU32::new(SIGNATURES_PER_MINUTE).unwrap_or(NonZeroU32::MIN),
            )),
        }
    }
}
