//! Usage counters.

use async_trait::async_trait;
use tessera_core::usage::UsageStore;

use crate::SqlStore;

#[async_trait]
impl UsageStore for SqlStore {}
