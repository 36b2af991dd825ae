//! Ports: the narrow traits the pipeline and the query side use to reach storage and secrets.
//! Adapters live in the `aws` crate (the only one that depends on the AWS SDK) and in the test
//! kit (in-process fakes). Key layouts are pure functions in [`keys`], shared by both. Health,
//! which a stream's runs and its doctor findings fold into, is defined here too.

pub mod keys;
pub mod ledger;

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::model::{AuditEvent, ErrorInfo, Gap, RunSummary, Source};
use crate::stream::Stream;

/// A storage failure, with the operation and resource it concerned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{op} on {resource} failed: {message}")]
    Backend {
        op: &'static str,
        resource: String,
        message: String,
    },
    #[error("{resource} holds data auditlake cannot read: {message}")]
    Corrupt { resource: String, message: String },
    #[error("{resource} not found")]
    NotFound { resource: String },
}

impl StoreError {
    pub fn backend(
        op: &'static str,
        resource: impl Into<String>,
        err: impl std::fmt::Display,
    ) -> Self {
        StoreError::Backend {
            op,
            resource: resource.into(),
            message: err.to_string(),
        }
    }

    pub fn info(&self) -> ErrorInfo {
        let code = match self {
            StoreError::Backend { op, .. } => format!("Store.{op}"),
            StoreError::Corrupt { .. } => "Store.Corrupt".to_string(),
            StoreError::NotFound { .. } => "Store.NotFound".to_string(),
        };
        ErrorInfo {
            code,
            message: self.to_string(),
        }
    }
}

/// Object storage for raw records, quarantine and curated data (S3).
#[async_trait]
pub trait RawStore: Send + Sync {
    /// Writes one object (gzip-compressed NDJSON, or a curated Parquet file).
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError>;
    /// Reads one object's bytes.
    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError>;
    /// Lists keys under a prefix.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
}

/// A normalized event ready to be stored, with its time-to-live.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub event: AuditEvent,
    /// Epoch seconds after which DynamoDB's TTL may delete the item.
    pub expires_at: i64,
}

/// The deduplicating event store (DynamoDB).
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Inserts each event unless an event with the same id exists; first write wins. Returns, per
    /// input, whether it was new.
    async fn put_new(&self, events: Vec<StoredEvent>) -> Result<Vec<bool>, StoreError>;
    /// One event by id.
    async fn get(&self, id: &str) -> Result<Option<AuditEvent>, StoreError>;
    /// Every event of `source` with `start <= time < end`, oldest first (reads the time index).
    async fn list_by_time(
        &self,
        source: Source,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<AuditEvent>, StoreError>;
    /// Writes what the store keeps back for amortisation (the DynamoDB store's per-day counters,
    /// accumulated over a chunk's batches); the pipeline calls it after each chunk. A failure is
    /// the store's to log: counters are approximate, events are already stored.
    async fn flush(&self) {}
}

/// Identifies one checkpointed stream of one source in one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamKey {
    pub tenant: String,
    pub source: Source,
    pub stream: Option<Stream>,
}

impl StreamKey {
    pub fn new(tenant: impl Into<String>, source: Source, stream: Option<Stream>) -> Self {
        StreamKey {
            tenant: tenant.into(),
            source,
            stream,
        }
    }
}

/// The checkpoint as read when a run takes its lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub owner: String,
    /// Version of the checkpoint item after the lease was taken; every later write names it.
    pub version: u64,
    pub watermark: Option<DateTime<Utc>>,
}

/// Why a lease or checkpoint write was refused.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("stream is locked by run {owner} until {until}")]
    Locked { owner: String, until: String },
    #[error("lease lost: another run changed the checkpoint (version {expected} expected)")]
    LeaseLost { expected: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    Warning,
    Error,
}

/// One thing the doctor found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    /// The source and stream checked; `None` for the app registration itself.
    pub source: Option<Source>,
    pub stream: Option<Stream>,
    /// Microsoft's code (`AADSTS7000215`, `Authorization_RequestDenied`) or auditlake's.
    pub code: String,
    pub message: String,
}

/// What one run tells the source's health record.
#[derive(Debug, Clone)]
pub struct HealthUpdate {
    pub at: DateTime<Utc>,
    pub summary: RunSummary,
    pub watermark: Option<DateTime<Utc>>,
    /// Preflight findings, when this run checked (a stream's first run does).
    pub doctor: Option<Vec<Finding>>,
}

/// A source stream's health as stored.
/// How many gaps a health record keeps (it is one DynamoDB item, far below 400 KB at this size).
pub const MAX_GAPS: usize = 200;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub last_run_at: Option<String>,
    pub last_run_id: Option<String>,
    pub last_success_at: Option<String>,
    pub last_error: Option<ErrorInfo>,
    pub last_error_at: Option<String>,
    pub consecutive_failures: u64,
    pub watermark: Option<String>,
    pub lag_secs: Option<i64>,
    pub total_pulled: u64,
    pub total_new: u64,
    pub total_duplicates: u64,
    pub total_quarantined: u64,
    /// The latest [`MAX_GAPS`] gaps, oldest first.
    pub gaps: Vec<Gap>,
    /// Every gap ever recorded, including those no longer in `gaps`.
    #[serde(default)]
    pub total_gaps: u64,
    pub last_summary: Option<RunSummary>,
    /// What the doctor found at the stream's first run (or its last check).
    #[serde(default)]
    pub doctor: Vec<Finding>,
}

impl Health {
    /// Folds one run into the health record.
    pub fn apply(&mut self, u: &HealthUpdate) {
        let s = &u.summary;
        let at = crate::model::fmt_time(u.at);
        self.last_run_at = Some(at.clone());
        self.last_run_id = Some(s.run_id.clone());
        self.total_pulled += s.pulled;
        self.total_new += s.new;
        self.total_duplicates += s.duplicates;
        self.total_quarantined += s.quarantined;
        if let Some(w) = u.watermark {
            self.watermark = Some(crate::model::fmt_time(w));
        }
        if s.lag_secs.is_some() {
            self.lag_secs = s.lag_secs;
        }
        let gaps = s.gap.iter().chain(&s.lost);
        self.gaps.extend(gaps.cloned());
        self.total_gaps += s.gap.iter().len() as u64 + s.lost.len() as u64;
        let excess = self.gaps.len().saturating_sub(MAX_GAPS);
        self.gaps.drain(..excess);
        match &s.error {
            Some(e) => {
                self.last_error = Some(e.clone());
                self.last_error_at = Some(at);
                self.consecutive_failures += 1;
            }
            // A run cut short by its time budget is neither a failure nor a success: it leaves
            // the failure streak as it was.
            None if s.complete => {
                self.consecutive_failures = 0;
                self.last_success_at = Some(at);
            }
            None => {}
        }
        self.last_summary = Some(s.clone());
        if let Some(findings) = &u.doctor {
            self.doctor = findings.clone();
        }
    }
}

/// Checkpoints, leases and health (DynamoDB state table).
#[async_trait]
pub trait StateStore: Send + Sync {
    /// Takes the stream's lease unless another live run holds it; returns the checkpoint.
    async fn acquire(
        &self,
        key: &StreamKey,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Lease, StateError>;
    /// Moves the watermark, only if `lease` still holds (same owner and version).
    async fn advance(
        &self,
        key: &StreamKey,
        lease: &Lease,
        watermark: DateTime<Utc>,
    ) -> Result<Lease, StateError>;
    /// Gives the lease up.
    async fn release(&self, key: &StreamKey, lease: &Lease) -> Result<(), StateError>;
    /// The current watermark, without taking the lease.
    async fn watermark(&self, key: &StreamKey) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Records a run in the stream's health.
    async fn record_health(&self, key: &StreamKey, update: HealthUpdate) -> Result<(), StoreError>;
    /// The stream's health.
    async fn health(&self, key: &StreamKey) -> Result<Option<Health>, StoreError>;
}

/// Secrets from SSM Parameter Store (SecureString, decrypted).
#[async_trait]
pub trait ParameterStore: Send + Sync {
    /// Reads the named parameters; a name that does not exist is an error naming it.
    async fn get_secure(
        &self,
        names: &[String],
    ) -> Result<HashMap<String, SecretString>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ErrorInfo;

    fn summary(complete: bool, error: Option<&str>) -> RunSummary {
        RunSummary {
            source: Source::EntraDirectoryAudits,
            stream: None,
            run_id: "r".into(),
            mode: crate::model::RunMode::Scheduled,
            window_start: None,
            window_end: None,
            windows: 0,
            pulled: 2,
            new: 1,
            duplicates: 1,
            quarantined: 0,
            raw_objects: 1,
            raw_bytes: 10,
            lag_secs: Some(5),
            complete,
            skipped: None,
            gap: None,
            lost: Vec::new(),
            error: error.map(|c| ErrorInfo {
                code: c.into(),
                message: "m".into(),
            }),
            duration_ms: 1,
        }
    }

    #[test]
    fn a_run_cut_short_leaves_the_failure_streak_alone() {
        let mut h = Health::default();
        let at = chrono::Utc::now();
        for (complete, error) in [(false, Some("E")), (false, None), (false, Some("E"))] {
            h.apply(&HealthUpdate {
                at,
                summary: summary(complete, error),
                watermark: None,
                doctor: None,
            });
        }
        assert_eq!(h.consecutive_failures, 2);
        assert_eq!(h.last_success_at, None);
        h.apply(&HealthUpdate {
            at,
            summary: summary(true, None),
            watermark: Some(at),
            doctor: None,
        });
        assert_eq!(h.consecutive_failures, 0);
        assert!(h.last_success_at.is_some());
        assert_eq!((h.total_pulled, h.total_new, h.total_duplicates), (8, 4, 4));
    }
}
