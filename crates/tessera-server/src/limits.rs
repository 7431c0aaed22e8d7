//! Per-client-address limits on unauthenticated work: tenant registrations, and failed
//! authentications (after too many, the address is refused before any lookup until the quota
//! refills, so guessing cannot flood the store).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

#[derive(Debug)]
pub struct Limits {
    registrations: DefaultKeyedRateLimiter<IpAddr>,
    auth_failures: DefaultKeyedRateLimiter<IpAddr>,
    /// Addresses that exhausted their failure quota, and until when.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
}

impl Limits {
    pub fn new(registrations_per_hour: u32, auth_failures_per_minute: u32) -> Self {
        Self {
            registrations: RateLimiter::keyed(per_hour(registrations_per_hour)),
            auth_failures: RateLimiter::keyed(per_minute(auth_failures_per_minute)),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one registration; Err holds how long to wait.
    pub fn register(&self, ip: IpAddr) -> Result<(), Duration> {
        count(&self.registrations, &ip)
    }

    /// Err (how long to wait) while `ip` is blocked for failing too often.
    pub fn auth_allowed(&self, ip: IpAddr) -> Result<(), Duration> {
        let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        match blocked.get(&ip) {
            Some(until) if *until > Instant::now() => Err(*until - Instant::now()),
            Some(_) => {
                blocked.remove(&ip);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Counts one failed authentication from `ip`.
    pub fn auth_failed(&self, ip: IpAddr) {
        if let Err(wait) = count(&self.auth_failures, &ip) {
            let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            blocked.retain(|_, until| *until > now);
            blocked.insert(ip, now + wait);
        }
    }
}

/// A quota of `n` per minute (at least one).
pub fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

/// A quota of `n` per hour (at least one).
pub fn per_hour(n: u32) -> Quota {
    Quota::per_hour(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

/// Past this many keys, a count first forgets the keys whose quota has refilled (they hold
/// nothing a new key would not), so spraying addresses cannot grow a limiter without bound.
const PRUNE_ABOVE: usize = 10_000;

/// Counts one event for `key`; Err holds how long to wait.
pub fn count<K: Clone + Hash + Eq>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
) -> Result<(), Duration> {
    if limiter.len() > PRUNE_ABOVE {
        limiter.retain_recent();
    }
    limiter
        .check_key(key)
        .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_whose_quota_refilled_are_forgotten_past_the_threshold() {
        // One event per key refills within a millisecond at this rate.
        let limiter: DefaultKeyedRateLimiter<usize> =
            RateLimiter::keyed(Quota::per_second(NonZeroU32::new(1000).unwrap()));
        for key in 0..=PRUNE_ABOVE {
            count(&limiter, &key).unwrap();
        }
        assert_eq!(limiter.len(), PRUNE_ABOVE + 1);
        std::thread::sleep(Duration::from_millis(20));
        count(&limiter, &0).unwrap();
        assert_eq!(limiter.len(), 1, "only the key just counted");

        // Below the threshold nothing is pruned, and a spent key keeps its count.
        let limiter: DefaultKeyedRateLimiter<usize> = RateLimiter::keyed(per_hour(1));
        count(&limiter, &7).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(count(&limiter, &7).is_err());
        assert_eq!(limiter.len(), 1);
    }
}
