//! The clock port: what time the collector believes it is, and how it waits. Production uses the
//! system clock; tests and the demo use a [`ManualClock`] kept in step with the tenant simulator's
//! virtual clock, so a simulated week runs in seconds and waits (`Retry-After`, backoff) cost no
//! real time while still being recorded for assertions.

use std::sync::Mutex;
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

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

/// A clock that moves only when told to. Its `sleep` returns at once and records the request.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
    slept: Mutex<Vec<Duration>>,
}

impl ManualClock {
    pub fn new(now: DateTime<Utc>) -> Self {
        ManualClock {
            now: Mutex::new(now),
            slept: Mutex::new(Vec::new()),
        }
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) = now;
    }

    /// Every delay `sleep` was asked for, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.slept.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn sleep(&self, d: Duration) {
        self.slept.lock().unwrap_or_else(|p| p.into_inner()).push(d);
        tokio::task::yield_now().await;
    }
}

/// The real-time limit of one run: the Lambda's remaining time less a margin, or the CLI's
/// `--time-budget-secs`. Unlike the clock it always measures real elapsed time.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Option<tokio::time::Instant>,
}

impl Deadline {
    /// No limit.
    pub fn none() -> Self {
        Deadline { at: None }
    }

    /// `budget` from now.
    pub fn after(budget: Duration) -> Self {
        Deadline {
            at: Some(tokio::time::Instant::now() + budget),
        }
    }

    /// Time left, `None` when unlimited.
    pub fn remaining(&self) -> Option<Duration> {
        self.at
            .map(|at| at.saturating_duration_since(tokio::time::Instant::now()))
    }

    /// True once the deadline has passed.
    pub fn passed(&self) -> bool {
        self.remaining().is_some_and(|d| d.is_zero())
    }
}
