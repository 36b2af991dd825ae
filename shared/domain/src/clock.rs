//! The clock port: what time the collector believes it is, and how it waits. Production uses the
//! system clock (`runtime::clock::SystemClock`); tests and the demo use the test kit's
//! `ManualClock` or a clock kept in step with the tenant simulator's virtual clock, so a simulated
//! week runs in seconds and waits (`Retry-After`, backoff) cost no real time while still being
//! recorded for assertions.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[async_trait]
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
    /// Waits `d` (a retry delay).
    async fn sleep(&self, d: Duration);
}
