//! The audit search backfill's plan and progress (ARCHITECTURE.md, "The audit search backfill"),
//! as pure data: a [`BackfillSpec`] (a range of `CreationTime` and the optional record-type and
//! workload filters) is planned as [`BackfillWindow`]s, one Graph `auditLogQuery` each; each window
//! moves `pending -> submitted -> paging -> done`, back to `pending` when its query fails (until
//! its attempts run out: `failed`), and is split in two when its query reports
//! `isRecordCountLimitExceeded`. The whole [`BackfillJob`] is saved after every step through the
//! [`BackfillStore`] port, conditionally on its version, so a run cut off resumes where it stopped:
//! a submitted query is polled again (not submitted again), a window being paged continues from
//! its saved next link, and a finished window is never read again.
//!
//! Records reach the events table through the Management Activity API's own path, under the
//! content type [`content_type_of`] derives from the record, so a record both APIs serve (same
//! `Id`) is one event.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{ErrorInfo, fmt_time, parse_time};
use crate::store::{StateError, StoreError};
use crate::stream::ContentType;

/// The smallest window a split makes: a minute of the unified audit log that still holds more
/// records than a query may return cannot be cut further, and is reported as incomplete.
pub const MIN_WINDOW: TimeDelta = TimeDelta::minutes(1);

/// A problem with a backfill request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackfillError {
    #[error("`{0}` is not a duration such as 180d, 36h or 2w")]
    BadDuration(String),
    #[error("the backfill's start ({start}) must be before its end ({end})")]
    Empty { start: String, end: String },
    #[error("`{field}` is not an RFC 3339 time: {value}")]
    BadTime { field: &'static str, value: String },
    #[error("a backfill needs `since`, or both `start` and `end`")]
    NoRange,
    #[error("the backfill request is not understood: {0}")]
    BadPayload(String),
    #[error("`{0}` is not a record type or workload name (letters, digits, `.`, `_` and `-`)")]
    BadFilter(String),
}

/// What to backfill: `[start, end)` of record `CreationTime`, optionally only some record types
/// (`auditLogRecordType` names, e.g. `exchangeAdmin`) or workloads (`Exchange`, `SharePoint`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackfillSpec {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub record_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
}

impl BackfillSpec {
    /// A spec, its filters sorted and deduplicated so the same request names the same job.
    pub fn new(
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        mut record_types: Vec<String>,
        mut services: Vec<String>,
    ) -> Result<Self, BackfillError> {
        if start >= end {
            return Err(BackfillError::Empty {
                start: fmt_time(start),
                end: fmt_time(end),
            });
        }
        for f in record_types.iter().chain(&services) {
            let ok = !f.is_empty()
                && f.len() <= 64
                && f.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !ok {
                return Err(BackfillError::BadFilter(f.clone()));
            }
        }
        for list in [&mut record_types, &mut services] {
            list.sort();
            list.dedup();
        }
        Ok(BackfillSpec {
            start,
            end,
            record_types,
            services,
        })
    }

    /// The job's id: `bf-` and 16 hex digits of a hash of the range and filters, so asking for
    /// the same backfill again continues it instead of starting over.
    pub fn id(&self) -> String {
        let mut h = Sha256::new();
        h.update(fmt_time(self.start));
        h.update("|");
        h.update(fmt_time(self.end));
        for list in [&self.record_types, &self.services] {
            h.update("|");
            h.update(list.join(","));
        }
        let digest = h.finalize();
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("bf-{hex}")
    }
}

/// Reads a look-back such as `180d`, `36h`, `2w` or `90m`.
pub fn parse_since(s: &str) -> Result<TimeDelta, BackfillError> {
    let bad = || BackfillError::BadDuration(s.to_string());
    let s = s.trim();
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let d = match unit {
        "m" => TimeDelta::try_minutes(n),
        "h" => TimeDelta::try_hours(n),
        "d" => TimeDelta::try_days(n),
        "w" => TimeDelta::try_weeks(n),
        _ => None,
    };
    d.filter(|d| *d > TimeDelta::zero()).ok_or_else(bad)
}

/// Reads `start`/`end` (RFC 3339) or `since` into a range ending at `now`.
pub fn resolve_range(
    since: Option<&str>,
    start: Option<&str>,
    end: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), BackfillError> {
    let time = |field: &'static str, v: &str| {
        parse_time(v).ok_or_else(|| BackfillError::BadTime {
            field,
            value: v.to_string(),
        })
    };
    match (since, start, end) {
        (Some(s), None, None) => Ok((now - parse_since(s)?, now)),
        (None, Some(a), Some(b)) => Ok((time("start", a)?, time("end", b)?)),
        (None, Some(a), None) => Ok((time("start", a)?, now)),
        _ => Err(BackfillError::NoRange),
    }
}

/// Where one window is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum WindowState {
    /// No query yet (or its query failed and it waits to be submitted again).
    Pending,
    /// A query was created and has not been seen to end.
    Submitted { query: String, submitted_at: String },
    /// The query succeeded; its records are being read. `next` is the next page's link (`None`:
    /// the first page), `records` the records stored so far.
    Paging {
        query: String,
        #[serde(default)]
        next: Option<String>,
        records: u64,
    },
    /// Every record is stored.
    Done { records: u64 },
    /// Given up: the query failed `max_attempts` times, or a minute holds more records than a
    /// query returns (`records` of them stored).
    Failed { reason: ErrorInfo, records: u64 },
}

/// One query's range and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackfillWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    #[serde(flatten)]
    pub state: WindowState,
    /// Queries of this window that failed.
    #[serde(default)]
    pub attempts: u32,
}

impl BackfillWindow {
    fn pending(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        BackfillWindow {
            start,
            end,
            state: WindowState::Pending,
            attempts: 0,
        }
    }

    /// True once nothing more will happen to it.
    pub fn is_finished(&self) -> bool {
        matches!(
            self.state,
            WindowState::Done { .. } | WindowState::Failed { .. }
        )
    }

    /// True while a query of it is open at Microsoft (counts against the concurrency limit).
    pub fn is_open(&self) -> bool {
        matches!(self.state, WindowState::Submitted { .. })
    }
}

/// Who is running a job, so two invocations never work on it at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobLease {
    pub owner: String,
    pub until: DateTime<Utc>,
}

/// A backfill and its progress: what the state table keeps and health shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackfillJob {
    pub id: String,
    pub spec: BackfillSpec,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub finished_at: Option<String>,
    /// In time order, covering the spec's range without gaps or overlaps.
    pub windows: Vec<BackfillWindow>,
    /// Windows (after splits) whose records are all stored.
    #[serde(default)]
    pub windows_done: u64,
    /// Records read from Microsoft, and of them newly stored, already stored (the Management
    /// API's overlap, or a page read again after a cut-off) and quarantined.
    #[serde(default)]
    pub records: u64,
    #[serde(default)]
    pub new: u64,
    #[serde(default)]
    pub duplicates: u64,
    #[serde(default)]
    pub quarantined: u64,
    #[serde(default)]
    pub queries_submitted: u64,
    #[serde(default)]
    pub queries_failed: u64,
    /// Windows split because their query hit the record limit.
    #[serde(default)]
    pub splits: u64,
    /// Submissions Microsoft refused with 429 (limits on queries a day or at once).
    #[serde(default)]
    pub throttled: u64,
    /// No query is submitted before this (a 429's `Retry-After`).
    #[serde(default)]
    pub not_before: Option<DateTime<Utc>>,
    #[serde(default)]
    pub lease: Option<JobLease>,
    /// The last error a run stopped on (not a window's failure, which stays with the window).
    #[serde(default)]
    pub last_error: Option<ErrorInfo>,
}

impl BackfillJob {
    /// Plans `spec` as windows of at most `window`, none submitted yet.
    pub fn plan(spec: BackfillSpec, window: TimeDelta, now: DateTime<Utc>) -> Self {
        let window = window.max(MIN_WINDOW);
        let mut windows = Vec::new();
        let mut start = spec.start;
        while start < spec.end {
            let end = (start + window).min(spec.end);
            windows.push(BackfillWindow::pending(start, end));
            start = end;
        }
        BackfillJob {
            id: spec.id(),
            spec,
            created_at: fmt_time(now),
            updated_at: fmt_time(now),
            finished_at: None,
            windows,
            windows_done: 0,
            records: 0,
            new: 0,
            duplicates: 0,
            quarantined: 0,
            queries_submitted: 0,
            queries_failed: 0,
            splits: 0,
            throttled: 0,
            not_before: None,
            lease: None,
            last_error: None,
        }
    }

    /// True once every window is done or failed.
    pub fn is_finished(&self) -> bool {
        self.windows.iter().all(BackfillWindow::is_finished)
    }

    /// Splits window `idx` in two halves (both pending); false when it is already at
    /// [`MIN_WINDOW`] or less and cannot be split.
    pub fn split(&mut self, idx: usize) -> bool {
        let Some(w) = self.windows.get(idx) else {
            return false;
        };
        let len = w.end - w.start;
        if len < MIN_WINDOW * 2 {
            return false;
        }
        // Halves on whole seconds, so every window's bounds print exactly.
        let mid = w.start + TimeDelta::seconds(len.num_seconds() / 2);
        let (start, end) = (w.start, w.end);
        self.windows.splice(
            idx..=idx,
            [
                BackfillWindow::pending(start, mid),
                BackfillWindow::pending(mid, end),
            ],
        );
        self.splits += 1;
        true
    }

    /// Marks window `idx` done with `records` stored and merges it with done neighbours, so a
    /// finished stretch of the range is one entry however many queries it took.
    pub fn finish_window(&mut self, idx: usize, records: u64) {
        let Some(w) = self.windows.get_mut(idx) else {
            return;
        };
        w.state = WindowState::Done { records };
        w.attempts = 0;
        self.windows_done += 1;
        let mut merged: Vec<BackfillWindow> = Vec::with_capacity(self.windows.len());
        for w in self.windows.drain(..) {
            match (merged.last_mut(), &w.state) {
                (
                    Some(BackfillWindow {
                        end,
                        state: WindowState::Done { records: a },
                        ..
                    }),
                    WindowState::Done { records: b },
                ) if *end == w.start => {
                    *a += b;
                    *end = w.end;
                }
                _ => merged.push(w),
            }
        }
        self.windows = merged;
    }

    /// Puts failed windows back to pending, their attempts reset (a request to try them again).
    pub fn retry_failed(&mut self) -> usize {
        let mut n = 0;
        for w in &mut self.windows {
            if matches!(w.state, WindowState::Failed { .. }) {
                *w = BackfillWindow::pending(w.start, w.end);
                n += 1;
            }
        }
        if n > 0 {
            self.finished_at = None;
        }
        n
    }

    /// What health and the CLI show.
    pub fn progress(&self) -> BackfillProgress {
        let count =
            |f: fn(&WindowState) -> bool| self.windows.iter().filter(|w| f(&w.state)).count();
        let failed: Vec<FailedWindow> = self
            .windows
            .iter()
            .filter_map(|w| match &w.state {
                WindowState::Failed { reason, records } => Some(FailedWindow {
                    start: fmt_time(w.start),
                    end: fmt_time(w.end),
                    reason: reason.clone(),
                    records: *records,
                }),
                _ => None,
            })
            .collect();
        let status = match (self.is_finished(), failed.is_empty()) {
            (false, _) => "running",
            (true, true) => "complete",
            (true, false) => "complete_with_failures",
        };
        BackfillProgress {
            id: self.id.clone(),
            status,
            start: fmt_time(self.spec.start),
            end: fmt_time(self.spec.end),
            record_types: self.spec.record_types.clone(),
            services: self.spec.services.clone(),
            windows_done: self.windows_done,
            windows_pending: count(|s| matches!(s, WindowState::Pending)) as u64,
            windows_running: count(|s| {
                matches!(
                    s,
                    WindowState::Submitted { .. } | WindowState::Paging { .. }
                )
            }) as u64,
            windows_failed: failed.len() as u64,
            failed,
            records: self.records,
            new: self.new,
            duplicates: self.duplicates,
            quarantined: self.quarantined,
            queries_submitted: self.queries_submitted,
            queries_failed: self.queries_failed,
            splits: self.splits,
            throttled: self.throttled,
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
            finished_at: self.finished_at.clone(),
            last_error: self.last_error.clone(),
        }
    }
}

/// A window the backfill could not complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedWindow {
    pub start: String,
    pub end: String,
    pub reason: ErrorInfo,
    pub records: u64,
}

/// A backfill's progress, as `GET /sources` and `auditlake backfill` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackfillProgress {
    pub id: String,
    /// `running`, `complete` or `complete_with_failures`.
    pub status: &'static str,
    pub start: String,
    pub end: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub record_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    pub windows_done: u64,
    pub windows_pending: u64,
    pub windows_running: u64,
    pub windows_failed: u64,
    pub failed: Vec<FailedWindow>,
    pub records: u64,
    pub new: u64,
    pub duplicates: u64,
    pub quarantined: u64,
    pub queries_submitted: u64,
    pub queries_failed: u64,
    pub splits: u64,
    pub throttled: u64,
    pub created_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
    pub last_error: Option<ErrorInfo>,
}

/// The Management API content type a unified audit log record belongs to, from its `RecordType`
/// and `Workload`: the DLP record types go to `DLP.All` whatever their workload; then Azure AD,
/// Exchange, SharePoint and OneDrive to their own; everything else (Teams, Power BI, the
/// Security & Compliance Center, ...) to `Audit.General`, as the Management Activity API files
/// them (see `tests/m365-sim/src/mgmt/records.rs` for the records both APIs serve).
pub fn content_type_of(record_type: Option<u64>, workload: Option<&str>) -> ContentType {
    // ComplianceDLPSharePoint (11), ComplianceDLPExchange (13), ComplianceDLPSharePoint-
    // Classification (33), DLPEndpoint (63), ComplianceDLPExchangeClassification (107).
    if matches!(record_type, Some(11 | 13 | 33 | 63 | 107)) {
        return ContentType::Dlp;
    }
    match workload.map(str::to_ascii_lowercase).as_deref() {
        Some("azureactivedirectory") => ContentType::AzureActiveDirectory,
        Some("exchange") => ContentType::Exchange,
        Some("sharepoint" | "onedrive") => ContentType::SharePoint,
        _ => ContentType::General,
    }
}

/// Backfill jobs in the state table (`pk = <tenant>#backfill`, `sk = job#<id>`).
#[async_trait::async_trait]
pub trait BackfillStore: Send + Sync {
    /// The job and its version, if stored.
    async fn load(&self, tenant: &str, id: &str) -> Result<Option<(BackfillJob, u64)>, StoreError>;
    /// Every job of the tenant, oldest first.
    async fn list(&self, tenant: &str) -> Result<Vec<BackfillJob>, StoreError>;
    /// Stores `job` if its stored version is still `expected` (0: not stored yet); returns the
    /// new version, or [`StateError::LeaseLost`] when another run wrote it in between.
    async fn save(&self, tenant: &str, job: &BackfillJob, expected: u64)
    -> Result<u64, StateError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, d, h, 0, 0).unwrap()
    }

    fn spec() -> BackfillSpec {
        BackfillSpec::new(t(1, 0), t(4, 0), vec![], vec![]).unwrap()
    }

    #[test]
    fn durations_read_as_operators_write_them() {
        assert_eq!(parse_since("180d").unwrap(), TimeDelta::days(180));
        assert_eq!(parse_since("36h").unwrap(), TimeDelta::hours(36));
        assert_eq!(parse_since("2w").unwrap(), TimeDelta::weeks(2));
        assert_eq!(parse_since("90m").unwrap(), TimeDelta::minutes(90));
        for bad in ["", "d", "180", "0d", "-3d", "3y", "1.5d", "99999999999999d"] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
        let now = t(10, 0);
        assert_eq!(
            resolve_range(Some("2d"), None, None, now).unwrap(),
            (t(8, 0), now)
        );
        assert_eq!(
            resolve_range(None, None, None, now),
            Err(BackfillError::NoRange)
        );
        assert!(matches!(
            resolve_range(None, Some("yesterday"), None, now),
            Err(BackfillError::BadTime { field: "start", .. })
        ));
    }

    #[test]
    fn a_spec_is_named_by_its_range_and_filters_in_any_order() {
        let a = BackfillSpec::new(t(1, 0), t(2, 0), vec!["b".into(), "a".into()], vec![]).unwrap();
        let b = BackfillSpec::new(
            t(1, 0),
            t(2, 0),
            vec!["a".into(), "b".into(), "a".into()],
            vec![],
        )
        .unwrap();
        assert_eq!(a.id(), b.id());
        let c = BackfillSpec::new(t(1, 0), t(2, 0), vec![], vec!["a".into(), "b".into()]).unwrap();
        assert_ne!(
            a.id(),
            c.id(),
            "record types and workloads are different filters"
        );
        assert!(a.id().starts_with("bf-") && a.id().len() == 19);
        assert!(BackfillSpec::new(t(2, 0), t(1, 0), vec![], vec![]).is_err());
        assert_eq!(
            BackfillSpec::new(t(1, 0), t(2, 0), vec!["x' or 1".into()], vec![]),
            Err(BackfillError::BadFilter("x' or 1".into()))
        );
    }

    #[test]
    fn planning_covers_the_range_without_gaps_and_splitting_keeps_it_covered() {
        let mut job = BackfillJob::plan(spec(), TimeDelta::hours(24), t(10, 0));
        assert_eq!(job.windows.len(), 3);
        let covered = |job: &BackfillJob| {
            job.windows.first().unwrap().start == t(1, 0)
                && job.windows.last().unwrap().end == t(4, 0)
                && job.windows.windows(2).all(|p| p[0].end == p[1].start)
        };
        assert!(covered(&job));
        assert!(job.split(1));
        assert_eq!(job.windows.len(), 4);
        assert_eq!(job.windows[1].end, t(2, 12));
        assert!(covered(&job));
        assert_eq!(job.splits, 1);
        // A window of under two minutes is not split further.
        let mut tiny = BackfillJob::plan(
            BackfillSpec::new(t(1, 0), t(1, 0) + TimeDelta::seconds(100), vec![], vec![]).unwrap(),
            TimeDelta::hours(1),
            t(10, 0),
        );
        assert!(!tiny.split(0));
        assert!(!tiny.split(7));
    }

    #[test]
    fn finished_windows_merge_and_progress_counts_every_state() {
        let mut job = BackfillJob::plan(spec(), TimeDelta::hours(12), t(10, 0));
        assert_eq!(job.windows.len(), 6);
        job.finish_window(0, 5);
        job.finish_window(1, 7);
        assert_eq!(job.windows.len(), 5, "adjacent done windows are one entry");
        assert_eq!(job.windows[0].state, WindowState::Done { records: 12 });
        assert_eq!(job.windows[0].end, t(2, 0));
        job.windows[1].state = WindowState::Submitted {
            query: "q".into(),
            submitted_at: "x".into(),
        };
        job.windows[2].state = WindowState::Failed {
            reason: ErrorInfo {
                code: "QueryFailed".into(),
                message: "failed 3 times".into(),
            },
            records: 0,
        };
        let p = job.progress();
        assert_eq!(
            (
                p.windows_done,
                p.windows_running,
                p.windows_failed,
                p.windows_pending
            ),
            (2, 1, 1, 2)
        );
        assert_eq!(p.status, "running");
        assert_eq!(p.failed[0].start, fmt_time(t(2, 12)));
        for w in &mut job.windows {
            if !w.is_finished() {
                w.state = WindowState::Done { records: 0 };
            }
        }
        assert_eq!(job.progress().status, "complete_with_failures");
        assert_eq!(job.retry_failed(), 1);
        assert!(!job.is_finished());
    }

    #[test]
    fn records_go_to_the_content_type_the_management_api_files_them_under() {
        use ContentType::*;
        assert_eq!(
            content_type_of(Some(15), Some("AzureActiveDirectory")),
            AzureActiveDirectory
        );
        assert_eq!(content_type_of(Some(1), Some("Exchange")), Exchange);
        assert_eq!(content_type_of(Some(6), Some("OneDrive")), SharePoint);
        assert_eq!(content_type_of(Some(4), Some("sharepoint")), SharePoint);
        assert_eq!(content_type_of(Some(13), Some("Exchange")), Dlp);
        assert_eq!(content_type_of(Some(11), Some("SharePoint")), Dlp);
        assert_eq!(content_type_of(Some(25), Some("MicrosoftTeams")), General);
        assert_eq!(
            content_type_of(Some(40), Some("SecurityComplianceCenter")),
            General
        );
        assert_eq!(content_type_of(None, None), General);
    }

    #[test]
    fn a_job_round_trips_through_json() {
        let mut job = BackfillJob::plan(spec(), TimeDelta::hours(24), t(10, 0));
        job.windows[0].state = WindowState::Paging {
            query: "q1".into(),
            next: Some("https://graph.microsoft.com/v1.0/x?$skiptoken=1".into()),
            records: 1000,
        };
        let text = serde_json::to_string(&job).unwrap();
        assert!(text.contains(r#""state":"paging""#), "{text}");
        let back: BackfillJob = serde_json::from_str(&text).unwrap();
        assert_eq!(back, job);
    }
}
