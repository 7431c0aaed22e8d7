//! Plan rate limits: requests counted per tenant per minute and per day, and requests in
//! flight per tenant.
//!
//! - [`RateLimiter`] counts in fixed windows aligned to unix time as the injected
//!   [`Clock`] tells it (so tests move windows with a manual clock). A request is counted in
//!   both windows or, when either is full, in neither. Counters live in process (embedded
//!   mode) or in Redis (cluster mode, shared by every instance); while Redis is unreachable
//!   the in-process counters take over (fail open) until it answers again.
//! - [`ConcurrencyLimiter`] caps the requests a tenant has in flight, per instance.
//!
//! The gateway asks [`RateLimiter::check`] for a [`Decision`], writes its headers with
//! [`Decision::write_headers`] on every response, answers 429 when it is refused, and holds a
//! [`Permit`] from [`ConcurrencyLimiter::acquire`] until the response body is done.

mod concurrency;
mod local;
mod redis;
mod shard;
mod window;

use std::sync::Arc;

use tessera_core::{Clock, PlanLimits, TenantId};

pub use self::concurrency::{ConcurrencyLimiter, Permit, Refused};
use self::local::LocalCounters;
use self::redis::RedisCounters;
pub use self::redis::{RETRY_INTERVAL, TIMEOUT as REDIS_TIMEOUT};
use self::window::Windows;
pub use self::window::{Decision, HEADERS};

/// Counts requests per tenant per minute and per day against a plan's limits.
#[derive(Debug)]
pub struct RateLimiter {
    clock: Arc<dyn Clock>,
    /// The counters of embedded mode, and the fallback while Redis is down.
    local: LocalCounters,
    redis: Option<RedisCounters>,
}

/// The Redis URL could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("invalid Redis URL: {0}")]
pub struct InvalidRedisUrl(String);

impl RateLimiter {
    /// Counters in this process only (embedded mode).
    pub fn in_process(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            local: LocalCounters::new(),
            redis: None,
        }
    }

    /// Counters in the Redis at `url` (`redis://` or `rediss://`), shared by every instance
    /// using it. Nothing connects here: the first check does, and an unreachable Redis only
    /// means counting in process until it answers.
    pub fn with_redis(url: &str, clock: Arc<dyn Clock>) -> Result<Self, InvalidRedisUrl> {
        // The parser's message never includes the URL (which may carry a password).
        let redis = RedisCounters::new(url).map_err(|e| InvalidRedisUrl(e.to_string()))?;
        Ok(Self {
            redis: Some(redis),
            ..Self::in_process(clock)
        })
    }

    /// Decides whether `tenant` may make one more request under `limits`, and counts it when
    /// it may. Never fails: when Redis cannot answer within [`REDIS_TIMEOUT`], the request is
    /// decided and counted in process.
    pub async fn check(&self, tenant: TenantId, limits: &PlanLimits) -> Decision {
        let windows = Windows::at(self.clock.now().unix_timestamp());
        if let Some(redis) = &self.redis {
            // Boxed: the Redis exchange's future is about 2.4 KB, and held inline it would make
            // every gateway request's future (moved at each step) that much larger, in
            // embedded mode too.
            if let Some(decision) = Box::pin(redis.check(tenant, limits, &windows)).await {
                return decision;
            }
            metrics::counter!("tessera_gateway_ratelimit_fallback_total").increment(1);
        }
        self.local.check(tenant, limits, &windows)
    }

    /// Whether Redis is configured but not answering (requests are counted in process): not
    /// yet connected, or in an outage. Always false in embedded mode.
    pub fn degraded(&self) -> bool {
        self.redis.as_ref().is_some_and(RedisCounters::degraded)
    }
}

#[cfg(test)]
mod tests;
