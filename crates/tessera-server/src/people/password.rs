//! Passwords: argon2id hashes (the `argon2` crate's defaults, OWASP's m=19 MiB, t=2, p=1),
//! computed off the async workers, and exponential backoff after failures, per account and per
//! client address. An unknown account costs the same hash as a known one, so neither the
//! status nor the timing of a refusal says whether the email exists.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use time::{Duration, OffsetDateTime};

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 1024;
/// Failures allowed before backoff: an account's owner mistypes; an address is shared by many.
const ACCOUNT_GRACE: u32 = 3;
const ADDRESS_GRACE: u32 = 20;
const MAX_WAIT: Duration = Duration::minutes(15);

/// Hashes a new password (argon2id, random salt), on a blocking thread.
pub async fn hash(password: String) -> Result<String, String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Checks `password` against a stored PHC string, or against a decoy when there is none, so
/// both cost one argon2id computation.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| decoy().to_owned());
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), phc.as_str())
            .is_ok();
        known && matches
    })
    .await
    .unwrap_or(false)
}

/// A hash of a random password with the same parameters as real ones.
fn decoy() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let random = uuid::Uuid::now_v7().to_string();
        Argon2::default()
            .hash_password(random.as_bytes())
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    })
}

/// Failures per account and per client address, and until when each must wait.
#[derive(Debug, Default)]
pub struct Backoff {
    entries: Mutex<HashMap<Key, Entry>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    until: OffsetDateTime,
    last: OffsetDateTime,
}

impl Backoff {
    /// Err(how long) while the account or the address must wait.
    pub fn check(&self, account: &str, ip: IpAddr, now: OffsetDateTime) -> Result<(), Duration> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let wait = [Key::Account(account.to_owned()), Key::Address(ip)]
            .iter()
            .filter_map(|key| entries.get(key))
            .map(|entry| entry.until - now)
            .max()
            .unwrap_or(Duration::ZERO);
        if wait > Duration::ZERO {
            Err(wait)
        } else {
            Ok(())
        }
    }

    /// Counts a failure: past the grace, each failure doubles the wait (1 s, 2 s, 4 s … 15 min).
    pub fn failed(&self, account: &str, ip: IpAddr, now: OffsetDateTime) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        // Forget entries idle for longer than the longest wait.
        if entries.len() > 10_000 {
            entries.retain(|_, entry| now - entry.last < MAX_WAIT);
        }
        for (key, grace) in [
            (Key::Account(account.to_owned()), ACCOUNT_GRACE),
            (Key::Address(ip), ADDRESS_GRACE),
        ] {
            let entry = entries.entry(key).or_insert(Entry {
                failures: 0,
                until: now,
                last: now,
            });
            if now - entry.last >= MAX_WAIT {
                entry.failures = 0;
            }
            entry.failures += 1;
            entry.last = now;
            if entry.failures >= grace {
                let doublings = (entry.failures - grace).min(20);
                let wait = Duration::seconds(1i64 << doublings).min(MAX_WAIT);
                entry.until = now + wait;
            }
        }
    }

    /// A success clears the account (the address keeps its count until it idles out).
    pub fn succeeded(&self, account: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.remove(&Key::Account(account.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn backoff_doubles_after_the_grace_and_clears_on_success() {
        let backoff = Backoff::default();
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let now = OffsetDateTime::UNIX_EPOCH;
        for _ in 0..ACCOUNT_GRACE - 1 {
            backoff.failed("a@x", ip, now);
            assert!(backoff.check("a@x", ip, now).is_ok());
        }
        backoff.failed("a@x", ip, now);
        assert_eq!(backoff.check("a@x", ip, now), Err(Duration::seconds(1)));
        backoff.failed("a@x", ip, now);
        assert_eq!(backoff.check("a@x", ip, now), Err(Duration::seconds(2)));
        assert!(
            backoff.check("b@x", ip, now).is_ok(),
            "other accounts unaffected"
        );
        backoff.succeeded("a@x");
        assert!(backoff.check("a@x", ip, now).is_ok());
    }
}
