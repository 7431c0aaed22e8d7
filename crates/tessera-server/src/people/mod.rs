//! People signing in: the doors share [`accounts::AppState::enter`] (find the user behind a
//! door, or create one with a custodial wallet, or link the door to the signed-in user) and end
//! in the same session issuance ([`sessions`]); [`signed_in`] authenticates a session on later
//! requests; [`password`] hashes and throttles passwords, [`sign_up`] confirms password sign-ups
//! by email and [`password_reset`] resets passwords by an emailed code; [`email`] sends and
//! checks emailed links and codes (sign-in, sign-up confirmation, password reset);
//! [`wallet_sign_in`] and [`oauth`] are the wallet and OAuth/OIDC doors' own state and checks;
//! [`passkeys`] runs WebAuthn ceremonies; [`redirect`] says where a flow may send the browser
//! back to.

pub mod accounts;
pub mod cookies;
pub mod email;
pub mod oauth;
pub mod passkeys;
pub mod password;
pub mod password_reset;
pub mod redirect;
pub mod sessions;
pub mod sign_up;
pub mod signed_in;
pub mod wallet_sign_in;
pub mod wallets;

use std::net::IpAddr;

use governor::{DefaultKeyedRateLimiter, RateLimiter};
use tessera_core::UserId;

use crate::limits::{self, per_minute};

/// Wallet signatures one user may ask for per minute.
const SIGNATURES_PER_MINUTE: u32 = 30;
/// Sign-ins one client address may begin per minute (wallet nonces, OAuth redirects, passkey
/// ceremonies): each stores a challenge, so an address must not be able to fill the store.
const SIGN_IN_STARTS_PER_MINUTE: u32 = 30;

/// The per-process state of the sign-in doors.
#[derive(Debug)]
pub struct People {
    pub password_backoff: password::Backoff,
    pub email_sends: email::SendLimits,
    /// Where mail goes (also used by invitations).
    pub mailer: crate::mail::Mailer,
    pub signatures: DefaultKeyedRateLimiter<UserId>,
    sign_in_starts: DefaultKeyedRateLimiter<IpAddr>,
    pub oauth: oauth::Providers,
    /// The WebAuthn relying party, or why passkeys are off (the host is an IP address).
    pub passkeys: Result<webauthn_rs::Webauthn, String>,
}

impl People {
    pub fn new(config: &crate::config::Config) -> Result<Self, oauth::SetupError> {
        Ok(Self {
            password_backoff: password::Backoff::default(),
            email_sends: email::SendLimits::default(),
            mailer: crate::mail::Mailer::new(config),
            signatures: RateLimiter::keyed(per_minute(SIGNATURES_PER_MINUTE)),
            sign_in_starts: RateLimiter::keyed(per_minute(SIGN_IN_STARTS_PER_MINUTE)),
            oauth: oauth::Providers::new(config)?,
            passkeys: passkeys::relying_party(config),
        })
    }

    /// Counts one sign-in begun from `ip`; Err holds how long to wait.
    pub fn sign_in_started(&self, ip: IpAddr) -> Result<(), std::time::Duration> {
        limits::count(&self.sign_in_starts, &ip)
    }
}
