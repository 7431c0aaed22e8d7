//! Counters in Redis, shared by every instance: one Lua script checks both windows and counts
//! the request in both (with expiries) atomically. When Redis cannot answer within
//! [`TIMEOUT`], the caller falls back to the in-process counters; this module tracks the
//! outage (one warning per outage, a gauge) and reconnects in the background, at most once
//! per [`RETRY_INTERVAL`], until Redis answers again.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisError, Script};
use tessera_core::{PlanLimits, TenantId};

use super::window::{Decision, Windows};

/// How long a request waits for Redis before it is counted in process instead.
pub const TIMEOUT: Duration = Duration::from_millis(100);
/// How long after a failure Redis is tried again.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// KEYS: the minute and day counters. ARGV: minute limit, day limit (0: unlimited), and the
/// lifetimes of the two keys. Returns {allowed, minute count, day count}: the counts after
/// this request when allowed, as they stood when refused (a refused request is not counted).
const CHECK_AND_COUNT: &str = r"
local minute = tonumber(redis.call('GET', KEYS[1]) or '0')
local day = tonumber(redis.call('GET', KEYS[2]) or '0')
local minute_limit = tonumber(ARGV[1])
local day_limit = tonumber(ARGV[2])
if minute >= minute_limit or (day_limit > 0 and day >= day_limit) then
  return {0, minute, day}
end
minute = redis.call('INCR', KEYS[1])
if minute == 1 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
day = redis.call('INCR', KEYS[2])
if day == 1 then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
return {1, minute, day}
";

/// Extra lifetime of a counter past its window, so that instances whose clocks differ a
/// little still find it; the window index in the key keeps windows apart regardless.
const EXPIRY_SLACK_SECS: u64 = 60;

pub(crate) struct RedisCounters {
    client: Client,
    script: Script,
    /// The live connection (cheap to clone: requests are multiplexed over it) and its
    /// generation; None while Redis is down and before the first connection.
    connection: Arc<Mutex<Option<(u64, MultiplexedConnection)>>>,
    health: Arc<Health>,
}

impl std::fmt::Debug for RedisCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client's connection info holds the password: never print it.
        f.debug_struct("RedisCounters")
            .field("degraded", &self.health.degraded())
            .finish_non_exhaustive()
    }
}

const STARTING: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

/// Whether Redis is answering, and when to try it again when it is not.
#[derive(Debug)]
struct Health {
    /// [`STARTING`] until the first connection attempt ends, then [`UP`] or [`DOWN`].
    state: AtomicU8,
    /// Milliseconds after `epoch` before which nobody tries to connect.
    next_attempt_ms: AtomicU64,
    /// Bumped by every new connection, so a request failing on an old one cannot drop it.
    generation: AtomicU64,
    epoch: Instant,
}

impl Health {
    fn degraded(&self) -> bool {
        self.state.load(Ordering::Relaxed) != UP
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// True for exactly one caller once the next attempt is due; it then owns the attempt.
    fn claim_attempt(&self) -> bool {
        let now = self.elapsed_ms();
        let due = self.next_attempt_ms.load(Ordering::Relaxed);
        now >= due
            && self
                .next_attempt_ms
                .compare_exchange(
                    due,
                    now + RETRY_INTERVAL_MS,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    /// Marks an outage; only its first failure logs.
    fn fail(&self, error: &dyn std::fmt::Display) {
        self.next_attempt_ms
            .fetch_max(self.elapsed_ms() + RETRY_INTERVAL_MS, Ordering::Relaxed);
        if self.state.swap(DOWN, Ordering::Relaxed) != DOWN {
            tracing::warn!(error = %error,
                "Redis is unreachable: rate limits are counted in process until it answers again");
            metrics::gauge!("tessera_gateway_ratelimit_degraded").set(1.0);
        }
    }

    fn recover(&self) {
        match self.state.swap(UP, Ordering::Relaxed) {
            UP => {}
            DOWN => tracing::info!("Redis answers again: rate limits are shared again"),
            _ => tracing::info!("connected to Redis: rate limits are shared by every instance"),
        }
        metrics::gauge!("tessera_gateway_ratelimit_degraded").set(0.0);
    }
}

const RETRY_INTERVAL_MS: u64 = RETRY_INTERVAL.as_millis() as u64;

type Slot = Arc<Mutex<Option<(u64, MultiplexedConnection)>>>;

impl RedisCounters {
    /// Parses `url` (`redis://` or `rediss://`) without connecting: the first request connects.
    pub fn new(url: &str) -> Result<Self, RedisError> {
        Ok(Self {
            client: Client::open(url)?,
            script: Script::new(CHECK_AND_COUNT),
            connection: Arc::new(Mutex::new(None)),
            health: Arc::new(Health {
                state: AtomicU8::new(STARTING),
                next_attempt_ms: AtomicU64::new(0),
                generation: AtomicU64::new(0),
                epoch: Instant::now(),
            }),
        })
    }

    pub fn degraded(&self) -> bool {
        self.health.degraded()
    }

    /// The decision Redis makes, or None when Redis is down, erring or slower than [`TIMEOUT`]
    /// (the caller then counts in process).
    pub async fn check(
        &self,
        tenant: TenantId,
        limits: &PlanLimits,
        windows: &Windows,
    ) -> Option<Decision> {
        let (generation, mut connection) = self.connection().await?;
        let mut invocation = self.script.prepare_invoke();
        invocation
            // The `{tenant}` hash tag keeps both keys in one Redis Cluster slot, as a script needs.
            .key(format!("tessera:rl:{{{tenant}}}:m:{}", windows.minute))
            .key(format!("tessera:rl:{{{tenant}}}:d:{}", windows.day))
            .arg(limits.requests_per_minute)
            .arg(limits.requests_per_day.unwrap_or(0))
            .arg(windows.minute_reset + EXPIRY_SLACK_SECS)
            .arg(windows.day_reset + EXPIRY_SLACK_SECS);
        let answer = tokio::time::timeout(
            TIMEOUT,
            invocation.invoke_async::<(u8, u64, u64)>(&mut connection),
        )
        .await;
        let failure: Box<dyn std::fmt::Display> = match answer {
            Ok(Ok((allowed, minute, day))) => {
                return Some(Decision::from_counts(
                    windows,
                    limits,
                    allowed == 1,
                    minute,
                    day,
                ));
            }
            Ok(Err(error)) => Box::new(error),
            Err(elapsed) => Box::new(elapsed),
        };
        // A fresh connection is made by the next attempt (the old one may be broken for good).
        {
            let mut slot = lock(&self.connection);
            if slot
                .as_ref()
                .is_some_and(|(current, _)| *current == generation)
            {
                *slot = None;
            }
        }
        self.health.fail(&failure);
        None
    }

    /// The connection to use now, if any. The very first request connects inline (bounded by
    /// [`TIMEOUT`]) so that a fresh instance shares counters from its first request; after a
    /// failure, one request per [`RETRY_INTERVAL`] starts a reconnection in the background
    /// while every request goes on in process.
    async fn connection(&self) -> Option<(u64, MultiplexedConnection)> {
        if let Some(current) = lock(&self.connection).clone() {
            return Some(current);
        }
        if !self.health.claim_attempt() {
            return None;
        }
        if self.health.state.load(Ordering::Relaxed) == STARTING {
            return connect(&self.client, &self.health, &self.connection).await;
        }
        let (client, health, slot) = (
            self.client.clone(),
            Arc::clone(&self.health),
            Arc::clone(&self.connection),
        );
        tokio::spawn(async move { connect(&client, &health, &slot).await });
        None
    }
}

/// Connects, checks that Redis answers, and installs the connection in `slot`.
async fn connect(
    client: &Client,
    health: &Health,
    slot: &Slot,
) -> Option<(u64, MultiplexedConnection)> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(TIMEOUT))
        .set_response_timeout(Some(TIMEOUT));
    let attempt = async {
        let mut connection = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        redis::cmd("PING")
            .query_async::<()>(&mut connection)
            .await?;
        Ok::<_, RedisError>(connection)
    };
    let failure: Box<dyn std::fmt::Display> = match tokio::time::timeout(TIMEOUT, attempt).await {
        Ok(Ok(connection)) => {
            let current = (
                health.generation.fetch_add(1, Ordering::Relaxed) + 1,
                connection,
            );
            *lock(slot) = Some(current.clone());
            health.recover();
            return Some(current);
        }
        Ok(Err(error)) => Box::new(error),
        Err(elapsed) => Box::new(elapsed),
    };
    health.fail(&failure);
    None
}

/// The slot only ever gets whole values written, so a poisoned lock still holds a valid one.
fn lock(slot: &Slot) -> MutexGuard<'_, Option<(u64, MultiplexedConnection)>> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}
