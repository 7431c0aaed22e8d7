//! Per-tenant state split over a few mutex-guarded maps, so that requests of different tenants
//! rarely wait on the same lock (each critical section is a hash lookup and a few additions).
//!
//! Hashed with FxHash rather than SipHash: tenant ids are random and minted by Tessera, so no
//! client can pick keys that collide, and the maps are used several times per request.

use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard};

use rustc_hash::{FxBuildHasher, FxHashMap};
use tessera_core::TenantId;

/// Enough to make contention rare on the machines Tessera runs on, small enough to stay cheap.
const SHARDS: usize = 32;

#[derive(Debug)]
pub(crate) struct Shards<V> {
    shards: Box<[Mutex<FxHashMap<TenantId, V>>]>,
}

impl<V> Shards<V> {
    pub fn new() -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(FxHashMap::default()))
                .collect(),
        }
    }

    /// The locked map holding `tenant`'s entry.
    pub fn lock(&self, tenant: &TenantId) -> MutexGuard<'_, FxHashMap<TenantId, V>> {
        // Middle bits: the map in the shard takes its bucket from the low bits and its tag
        // from the top ones, which would all be alike within a shard.
        let index = (FxBuildHasher.hash_one(tenant) >> 32) as usize % self.shards.len();
        lock(&self.shards[index])
    }

    /// Every map, one after the other (each locked only while `visit` runs on it).
    pub fn for_each(&self, mut visit: impl FnMut(&mut FxHashMap<TenantId, V>)) {
        for shard in &self.shards {
            visit(&mut lock(shard));
        }
    }
}

/// Every update under these locks is a few plain field writes that cannot panic halfway, so a
/// poisoned lock still holds consistent data and is used as is.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
