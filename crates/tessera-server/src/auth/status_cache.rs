//! A small cache of "is this tenant/agent active", so that a token or key check does not read
//! the store on every request. Local changes invalidate at once; entries written by other
//! instances are re-read after the cache TTL.

use std::hash::Hash;
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;

pub struct StatusCache<K, V> {
    entries: Cache<K, (V, Instant)>,
    ttl: Duration,
}

impl<K: Eq + Hash + Clone, V: Clone> std::fmt::Debug for StatusCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusCache")
            .field("len", &self.entries.len())
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl<K: Eq + Hash + Clone, V: Clone> StatusCache<K, V> {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: Cache::new(capacity),
            ttl,
        }
    }

    /// The cached value, or `load`'s (which is then cached).
    pub async fn get_or_load<E, F>(&self, key: &K, load: F) -> Result<V, E>
    where
        F: Future<Output = Result<V, E>>,
    {
        if let Some((value, at)) = self.entries.get(key)
            && at.elapsed() < self.ttl
        {
            return Ok(value);
        }
        let value = load.await?;
        self.entries
            .insert(key.clone(), (value.clone(), Instant::now()));
        Ok(value)
    }

    pub fn invalidate(&self, key: &K) {
        self.entries.remove(key);
    }
}
