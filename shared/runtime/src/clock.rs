//! The real clock and the real-time limit of a run: the production side of the clock port
//! (`domain::clock::Clock`, re-exported here so callers need one path).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use domain::clock::Clock;

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
