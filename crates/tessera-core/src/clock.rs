//! The current time as a port, so that expiry and rotation can be tested without sleeping.

use std::fmt::Debug;

use time::OffsetDateTime;

/// Where the time comes from.
pub trait Clock: Send + Sync + Debug + 'static {
    fn now(&self) -> OffsetDateTime;
}

/// The operating system's clock, truncated to whole seconds (the resolution Tessera stores).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads the system clock
    fn now(&self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        now.replace_nanosecond(0).unwrap_or(now)
    }
}
