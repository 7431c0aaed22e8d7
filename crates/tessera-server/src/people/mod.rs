//! People signing in: the doors share [`accounts::AppState::sign_in`] (find the user behind a
//! door, or create one with a custodial wallet, or link the door to the signed-in user) and end
//! in the same session issuance ([`sessions`]); [`signed_in`] authenticates a session on later
//! requests; [`password`] hashes and throttles passwords; [`passkeys`] runs WebAuthn ceremonies.

pub mod accounts;
pub mod cookies;
pub mod passkeys;
pub mod password;
pub mod sessions;
pub mod signed_in;
pub mod wallets;

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tessera_core::UserId;

/// Wallet signatures one user may ask for per minute.
const SIGNATURES_PER_MINUTE: u32 = 30;
/// Passkey sign-ins one address may start per minute (each stores a ceremony).
const PASSKEY_STARTS_PER_MINUTE: u32 = 60;

/// The per-process state of the sign-in doors.
#[derive(Debug)]
pub struct People {
    pub password_backoff: password::Backoff,
    pub signatures: DefaultKeyedRateLimiter<UserId>,
    /// The WebAuthn relying party, or why passkeys are off (the host is an IP address).
    pub passkeys: Result<webauthn_rs::Webauthn, String>,
    pub passkey_starts: DefaultKeyedRateLimiter<IpAddr>,
}

impl People {
    pub fn new(config: &crate::config::Config) -> Self {
        Self {
            password_backoff: password::Backoff::default(),
            signatures: RateLimiter::keyed(Quota::per_minute(
                NonZeroU32::new(SIGNATURES_PER_MINUTE).unwrap_or(NonZeroU32::MIN),
            )),
            passkeys: passkeys::relying_party(config),
            passkey_starts: RateLimiter::keyed(Quota::per_minute(
                NonZeroU32::new(PASSKEY_STARTS_PER_MINUTE).unwrap_or(NonZeroU32::MIN),
            )),
        }
    }
}
