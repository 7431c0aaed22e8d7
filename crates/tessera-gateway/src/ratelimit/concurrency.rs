//! Requests in flight per tenant, capped by the plan's concurrent tasks.
//!
//! Counted per instance: with N instances behind a load balancer a tenant can have up to N
//! times its cap in flight. A shared count would need a Redis round trip at the start *and*
//! the end of every exchange, plus leases for instances that die mid-request; per-instance
//! caps bound what one instance spends on a tenant, which is what the cap protects.

use std::sync::Arc;

use tessera_core::{PlanLimits, TenantId};

use super::shard::Shards;

/// Hands out [`Permit`]s, at most the plan's `concurrent_tasks` per tenant at a time.
#[derive(Debug, Clone)]
pub struct ConcurrencyLimiter {
    in_flight: Arc<Shards<u64>>,
}

/// One request in flight; dropping it frees the slot. Hold it for the whole exchange,
/// streamed response body included.
#[derive(Debug)]
pub struct Permit {
    in_flight: Arc<Shards<u64>>,
    tenant: TenantId,
}

/// The tenant already has `limit` requests in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{limit} concurrent requests are in flight already, the plan's maximum")]
pub struct Refused {
    pub limit: u64,
}

impl Default for ConcurrencyLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl ConcurrencyLimiter {
    pub fn new() -> Self {
        Self {
            in_flight: Arc::new(Shards::new()),
        }
    }

    /// A permit when the tenant has fewer than `limits.concurrent_tasks` requests in flight.
    pub fn acquire(&self, tenant: TenantId, limits: &PlanLimits) -> Result<Permit, Refused> {
        let limit = limits.concurrent_tasks;
        let mut shard = self.in_flight.lock(&tenant);
        if shard.get(&tenant).copied().unwrap_or(0) >= limit {
            return Err(Refused { limit });
        }
        *shard.entry(tenant).or_insert(0) += 1;
        Ok(Permit {
            in_flight: Arc::clone(&self.in_flight),
            tenant,
        })
    }

    /// Requests of `tenant` in flight now.
    pub fn in_flight(&self, tenant: TenantId) -> u64 {
        self.in_flight
            .lock(&tenant)
            .get(&tenant)
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut shard = self.in_flight.lock(&self.tenant);
        if let Some(count) = shard.get_mut(&self.tenant) {
            *count = count.saturating_sub(1);
            // Idle tenants hold no memory.
            if *count == 0 {
                shard.remove(&self.tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(tasks: u64) -> PlanLimits {
        PlanLimits {
            requests_per_minute: 1,
            requests_per_day: None,
            max_agents: None,
            concurrent_tasks: tasks,
        }
    }

    #[test]
    fn permits_are_capped_per_tenant_and_freed_on_drop() {
        let limiter = ConcurrencyLimiter::new();
        let (a, b) = (TenantId::generate(), TenantId::generate());
        let first = limiter.acquire(a, &limits(2)).unwrap();
        let second = limiter.acquire(a, &limits(2)).unwrap();
        assert_eq!(
            limiter.acquire(a, &limits(2)).unwrap_err(),
            Refused { limit: 2 }
        );
        assert!(
            limiter.acquire(b, &limits(2)).is_ok(),
            "another tenant has its own cap"
        );
        drop(first);
        let third = limiter.acquire(a, &limits(2)).unwrap();
        assert_eq!(limiter.in_flight(a), 2);
        drop((second, third));
        assert_eq!(limiter.in_flight(a), 0);
    }

    #[tokio::test]
    async fn a_permit_moved_into_a_task_is_released_when_the_task_ends() {
        let limiter = ConcurrencyLimiter::new();
        let tenant = TenantId::generate();
        let permit = limiter.acquire(tenant, &limits(1)).unwrap();
        let held = tokio::spawn(async move {
            tokio::task::yield_now().await;
            drop(permit);
        });
        assert!(limiter.acquire(tenant, &limits(1)).is_err());
        held.await.unwrap();
        assert!(limiter.acquire(tenant, &limits(1)).is_ok());
    }
}
