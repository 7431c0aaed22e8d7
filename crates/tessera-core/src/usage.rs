//! Usage counters, maintained as events happen, that analytics read.

use async_trait::async_trait;

/// Storage of usage counters.
#[async_trait]
pub trait UsageStore: Send + Sync {}
