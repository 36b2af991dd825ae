//! Microsoft's per-tenant request budgets, enforced on the simulator's clock: Graph's identity
//! and access reports budget (directory audits and sign-ins together: 5 requests per 10 s per app
//! per tenant) and the Exchange message trace budget (100 requests per rolling 5 minutes per
//! tenant). A request over its budget is answered 429 with `Retry-After` (whole seconds until the
//! oldest counted request leaves the window, at least 1), is counted in `/_sim/stats` as
//! `over_budget_429` (apart from injected faults), and is **not** counted into the window, as a
//! refused request costs Microsoft nothing either. Budgets can be switched off
//! ([`crate::SimConfig::enforce_budgets`]).
//!
//! # Which clock measures a budget window
//! The virtual clock is frozen between `POST /_sim/clock` calls, so a window measured on it alone
//! never drains for a client that honours `Retry-After` by sleeping: it would be refused forever.
//! A window measured on real time alone would ignore the virtual clock, so a test could not
//! skip the wait by advancing it. The simulator therefore measures budgets on **budget time**:
//!
//! `budget_now = virtual_now + real time elapsed since the simulator started`
//!
//! Both terms only move forward, so budget time is monotonic; a request's age is the virtual time
//! that has passed since it **plus** the real time that has passed since it. A slot frees when
//! their sum reaches the window: after `Retry-After` seconds of real waiting, after advancing the
//! virtual clock by `Retry-After` seconds, or any mix of the two.
//!
//! Why not `virtual_now + real time since the clock was last set`, which looks equivalent:
//! resetting the real-time term on every clock move makes budget time jump backwards whenever the
//! clock moves by less than the real time since the previous move (refusing requests that had
//! already aged out), and makes advancing the virtual clock by a full window not free the
//! window: requests stamped with some real time after the previous move stay inside it until as
//! much real time has passed again. The cost of the chosen form is that a driver advancing the
//! virtual clock in step with real time ages requests at twice the real rate; drivers here move
//! the clock in steps of minutes, far beyond any window, so nothing observable changes.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use crate::clock::NS_PER_SEC;

/// A request budget: at most `limit` requests in any `window_secs` of budget time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetSpec {
    /// The budget's name; collections naming the same budget share it.
    pub key: &'static str,
    /// Requests allowed per window.
    pub limit: usize,
    /// The rolling window, in seconds.
    pub window_secs: i64,
    /// The Graph error message of a refusal.
    pub message: &'static str,
}

/// Graph's identity and access reports budget (`auditLogRoot`: directory audits and sign-ins):
/// 5 requests per 10 s per app per tenant.
pub const IDENTITY_REPORTS: BudgetSpec = BudgetSpec {
    key: "identity-and-access-reports",
    limit: 5,
    window_secs: 10,
    message: "Too many requests.",
};

/// Identity Protection's budget (risk detections): 1 request per second per tenant for all apps;
/// its refusals carry no `Retry-After` ([`crate::sources::GraphResource::throttle_retry_after`]).
pub const IDENTITY_PROTECTION: BudgetSpec = BudgetSpec {
    key: "identity-protection",
    limit: 1,
    window_secs: 1,
    message: "Too many requests.",
};

/// The Exchange message trace budget: 100 requests per rolling 5 minutes per tenant.
pub const MESSAGE_TRACE: BudgetSpec = BudgetSpec {
    key: "exchange-message-trace",
    limit: 100,
    window_secs: 300,
    message: "Your recent queries have surpassed the permitted limit, please try again later.",
};

/// The Office 365 Management Activity API budget: 2,000 requests per minute per tenant (the
/// reference's baseline; the troubleshooting page's 60K per minute is not modelled).
pub const MGMT_ACTIVITY: BudgetSpec = BudgetSpec {
    key: "management-activity",
    limit: 2000,
    window_secs: 60,
    message: "Too many requests.",
};

/// The live budget windows of one simulator (one tenant, one app).
#[derive(Debug)]
pub struct Budgets {
    started: Instant,
    windows: Mutex<HashMap<&'static str, VecDeque<i64>>>,
    /// Per budget, the budget time before which the last refusal told the client not to return.
    blocked_until: Mutex<HashMap<&'static str, i64>>,
    /// Requests that came back before the `Retry-After` they were given had passed.
    early_retries: std::sync::atomic::AtomicU64,
}

impl Default for Budgets {
    fn default() -> Self {
        Self::new()
    }
}

impl Budgets {
    /// Empty windows; real time for budget time counts from now.
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            windows: Mutex::new(HashMap::new()),
            blocked_until: Mutex::new(HashMap::new()),
            early_retries: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Budget time (ns) at virtual time `virtual_now_ns` (see the module doc).
    pub fn budget_now_ns(&self, virtual_now_ns: i64) -> i64 {
        let real = i64::try_from(self.started.elapsed().as_nanos()).unwrap_or(i64::MAX);
        virtual_now_ns.saturating_add(real)
    }

    /// Admits one request against `spec` at virtual time `virtual_now_ns`: `Ok` (and counted) when
    /// the window has room, else `Err(retry_after_secs)` (not counted).
    pub fn admit(&self, spec: &BudgetSpec, virtual_now_ns: i64) -> Result<(), u64> {
        self.admit_at(spec, self.budget_now_ns(virtual_now_ns))
    }

    /// Requests that arrived at a budget before the `Retry-After` of its last refusal had passed
    /// (a client that honours `Retry-After` makes none; requests from other clients of the same
    /// app count too, as they would at Microsoft).
    pub fn early_retries(&self) -> u64 {
        self.early_retries
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// [`Budgets::admit`] at an explicit budget time.
    pub fn admit_at(&self, spec: &BudgetSpec, now_ns: i64) -> Result<(), u64> {
        let result = self.admit_window(spec, now_ns);
        let mut blocked = self.blocked_until.lock().unwrap_or_else(|p| p.into_inner());
        if blocked.get(spec.key).is_some_and(|until| now_ns < *until) {
            self.early_retries
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        if let Err(secs) = result {
            let until = now_ns.saturating_add(
                i64::try_from(secs)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(NS_PER_SEC),
            );
            blocked.insert(spec.key, until);
        }
        result
    }

    fn admit_window(&self, spec: &BudgetSpec, now_ns: i64) -> Result<(), u64> {
        let window_ns = spec.window_secs.saturating_mul(NS_PER_SEC);
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let stamps = windows.entry(spec.key).or_default();
        while stamps
            .front()
            .is_some_and(|t| t.saturating_add(window_ns) <= now_ns)
        {
            stamps.pop_front();
        }
        if stamps.len() < spec.limit {
            stamps.push_back(now_ns);
            return Ok(());
        }
        let oldest = stamps.front().copied().unwrap_or(now_ns);
        let wait_ns = oldest.saturating_add(window_ns).saturating_sub(now_ns);
        let secs = (wait_ns.max(0) as u64).div_ceil(NS_PER_SEC as u64);
        Err(secs.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = NS_PER_SEC;

    #[test]
    fn a_window_admits_its_limit_and_names_the_wait() {
        let b = Budgets::new();
        for _ in 0..5 {
            assert_eq!(b.admit_at(&IDENTITY_REPORTS, 100 * S), Ok(()));
        }
        assert_eq!(b.admit_at(&IDENTITY_REPORTS, 100 * S), Err(10));
        assert_eq!(b.admit_at(&IDENTITY_REPORTS, 103 * S + 1), Err(7));
        assert_eq!(b.admit_at(&IDENTITY_REPORTS, 110 * S - 1), Err(1));
        // Refusals were not counted: the whole window frees at once.
        for _ in 0..5 {
            assert_eq!(b.admit_at(&IDENTITY_REPORTS, 110 * S), Ok(()));
        }
        assert!(b.admit_at(&IDENTITY_REPORTS, 110 * S).is_err());
        // Another budget is independent.
        assert_eq!(b.admit_at(&MESSAGE_TRACE, 110 * S), Ok(()));
    }

    #[test]
    fn refused_requests_do_not_extend_the_window() {
        let b = Budgets::new();
        for _ in 0..5 {
            assert!(b.admit_at(&IDENTITY_REPORTS, 0).is_ok());
        }
        for _ in 0..10 {
            assert_eq!(b.admit_at(&IDENTITY_REPORTS, 5 * S), Err(5));
        }
        for _ in 0..5 {
            assert!(b.admit_at(&IDENTITY_REPORTS, 10 * S).is_ok());
        }
    }

    #[test]
    fn coming_back_before_retry_after_is_counted() {
        let b = Budgets::new();
        let s = BudgetSpec {
            key: "t",
            limit: 1,
            window_secs: 10,
            message: "m",
        };
        assert_eq!(b.admit_at(&s, 0), Ok(()));
        let wait = b.admit_at(&s, NS_PER_SEC).unwrap_err();
        assert_eq!(b.early_retries(), 0);
        assert!(b.admit_at(&s, 2 * NS_PER_SEC).is_err(), "too early");
        assert_eq!(b.early_retries(), 1);
        assert_eq!(
            b.admit_at(&s, NS_PER_SEC + (wait as i64) * NS_PER_SEC),
            Ok(())
        );
        assert_eq!(b.early_retries(), 1, "an honoured Retry-After is not early");
    }

    #[test]
    fn budget_time_adds_real_time_to_virtual_time() {
        let b = Budgets::new();
        let a = b.budget_now_ns(1_000 * S);
        std::thread::sleep(std::time::Duration::from_millis(5));
        let c = b.budget_now_ns(1_000 * S);
        assert!(c - a >= 5_000_000);
        assert!(b.budget_now_ns(1_010 * S) - c >= 10 * S);
    }
}
