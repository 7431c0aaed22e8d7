//! A clock the test moves by hand.

use std::sync::Mutex;

use tessera_server::Clock;
use time::{Duration, OffsetDateTime};

#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    /// Starts at the real time (whole seconds), so tokens also make sense to outside verifiers.
    pub fn starting_now() -> Self {
        Self(Mutex::new(tessera_server::SystemClock.now()))
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
