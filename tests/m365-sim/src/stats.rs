//! Counters behind `GET /_sim/stats`, so tests can assert that faults, throttling and token
//! failures really happened (and how often), not just that the collector survived them.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Live counters, updated by the handlers.
#[derive(Debug, Default)]
pub struct Stats {
    requests: Mutex<BTreeMap<String, u64>>,
    throttled_429: AtomicU64,
    throttled_no_retry_after_429: AtomicU64,
    over_budget_429: AtomicU64,
    server_errors_5xx: AtomicU64,
    unauthorized_401: AtomicU64,
    tokens_issued: AtomicU64,
    token_failures: AtomicU64,
    audit_search_records_served: AtomicU64,
}

/// What `/_sim/stats` returns.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Requests per route (`"GET /v1.0/auditLogs/directoryAudits"`; unmatched paths are
    /// counted under `"unmatched"`).
    pub requests: BTreeMap<String, u64>,
    /// 429 answers injected on data endpoints (fault injection, `fault_429`).
    pub throttled_429: u64,
    /// Of `throttled_429`, those sent without `Retry-After` (Identity Protection's throttles).
    pub throttled_no_retry_after_429: u64,
    /// 429 answers to requests over a Microsoft request budget (see [`crate::budget`]); not
    /// included in `throttled_429`.
    pub over_budget_429: u64,
    /// 500/503 answers injected on data endpoints.
    pub server_errors_5xx: u64,
    /// 401 answers on data endpoints (missing, unknown, expired or wrong-audience tokens, and
    /// message trace without its service principal provisioned).
    pub unauthorized_401: u64,
    /// Access tokens issued.
    pub tokens_issued: u64,
    /// Token requests refused (any AADSTS error).
    pub token_failures: u64,
    /// Records the audit log query API served on records pages (a page read twice counts
    /// twice: what a backfill that re-downloads would show).
    pub audit_search_records_served: u64,
}

impl Stats {
    /// Counts one request on `route`.
    pub fn request(&self, route: &str) {
        let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry(route.to_string()).or_insert(0) += 1;
    }

    /// Counts an injected 429.
    pub fn throttled(&self) {
        self.throttled_429.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an injected 429 sent without `Retry-After` (also counted by [`Stats::throttled`]).
    pub fn throttled_without_retry_after(&self) {
        self.throttled_no_retry_after_429
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request refused for being over a request budget.
    pub fn over_budget(&self) {
        self.over_budget_429.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an injected 5xx.
    pub fn server_error(&self) {
        self.server_errors_5xx.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a 401 on a data endpoint.
    pub fn unauthorized(&self) {
        self.unauthorized_401.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an issued token.
    pub fn token_issued(&self) {
        self.tokens_issued.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a refused token request.
    pub fn token_failure(&self) {
        self.token_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts records served on an audit log query's records page.
    pub fn audit_records_served(&self, n: u64) {
        self.audit_search_records_served
            .fetch_add(n, Ordering::Relaxed);
    }

    /// A consistent-enough copy of every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: self
                .requests
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            throttled_429: self.throttled_429.load(Ordering::Relaxed),
            throttled_no_retry_after_429: self.throttled_no_retry_after_429.load(Ordering::Relaxed),
            over_budget_429: self.over_budget_429.load(Ordering::Relaxed),
            server_errors_5xx: self.server_errors_5xx.load(Ordering::Relaxed),
            unauthorized_401: self.unauthorized_401.load(Ordering::Relaxed),
            tokens_issued: self.tokens_issued.load(Ordering::Relaxed),
            token_failures: self.token_failures.load(Ordering::Relaxed),
            audit_search_records_served: self.audit_search_records_served.load(Ordering::Relaxed),
        }
    }
}
