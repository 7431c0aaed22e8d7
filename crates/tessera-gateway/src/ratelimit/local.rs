//! The in-process counters: the whole limiter in embedded mode, and the fallback while Redis
//! is unreachable in cluster mode.

use std::sync::atomic::{AtomicU64, Ordering};

use tessera_core::{PlanLimits, TenantId};

use super::shard::Shards;
use super::window::{Decision, Windows, admits};

#[derive(Debug, Clone, Copy)]
struct Counts {
    minute: u64,
    minute_count: u64,
    day: u64,
    day_count: u64,
}

/// Counts per tenant for the current minute and day. Memory stays bounded by the tenants seen
/// today: the first request of every minute sweeps out the entries of past days.
#[derive(Debug)]
pub(crate) struct LocalCounters {
    counts: Shards<Counts>,
    /// The minute window of the last sweep.
    swept_at: AtomicU64,
}

impl LocalCounters {
    pub fn new() -> Self {
        Self {
            counts: Shards::new(),
            swept_at: AtomicU64::new(0),
        }
    }

    /// Checks both windows and, only when both admit the request, counts it in both.
    pub fn check(&self, tenant: TenantId, limits: &PlanLimits, windows: &Windows) -> Decision {
        self.sweep(windows);
        let mut shard = self.counts.lock(&tenant);
        let counts = shard.entry(tenant).or_insert(Counts {
            minute: windows.minute,
            minute_count: 0,
            day: windows.day,
            day_count: 0,
        });
        if counts.minute != windows.minute {
            counts.minute = windows.minute;
            counts.minute_count = 0;
        }
        if counts.day != windows.day {
            counts.day = windows.day;
            counts.day_count = 0;
        }
        let allowed = admits(limits, counts.minute_count, counts.day_count);
        if allowed {
            counts.minute_count += 1;
            counts.day_count += 1;
        }
        Decision::from_counts(
            windows,
            limits,
            allowed,
            counts.minute_count,
            counts.day_count,
        )
    }

    /// Once per minute (whoever moves `swept_at` does it), drops the counts of past days.
    fn sweep(&self, windows: &Windows) {
        let last = self.swept_at.load(Ordering::Relaxed);
        if last >= windows.minute
            || self
                .swept_at
                .compare_exchange(last, windows.minute, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        self.counts
            .for_each(|shard| shard.retain(|_, counts| counts.day >= windows.day));
    }

    /// Tenants with counts held.
    #[cfg(test)]
    pub fn tenants(&self) -> usize {
        let mut total = 0;
        self.counts.for_each(|shard| total += shard.len());
        total
    }
}
