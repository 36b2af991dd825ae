//! What the pipeline tests share: a fake Graph `directoryAudits` source over a fixed set of
//! records (paged, failing one chosen page on request), a harness wiring it to the in-memory
//! ports of `testkit` with a manual clock, the records it serves, named count structs for exact
//! comparisons, and the rule for tests that read the shared corpus.

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use collector::http::ApiError;
use collector::pipeline::{Invocation, Pipeline, Settings};
use collector::sources::{Page, PageStream, SourceError, SourcePuller};
use domain::model::{AuditEvent, RunSummary, Source, Window};
use domain::store::{EventStore, Health, RawStore, StateStore, StreamKey};
use futures::StreamExt;
use runtime::clock::Deadline;
use serde_json::value::RawValue;
use testkit::clock::ManualClock;
use testkit::memory::{MemoryEventStore, MemoryRawStore, MemoryStateStore};

pub const TENANT: &str = "11111111-2222-4333-8444-555555555555";

/// Parses an RFC 3339 time (test input, so a bad one is a test bug).
pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("bad test time {s}: {e}"))
        .with_timezone(&Utc)
}

/// A record the fake serves: `at` decides which windows return it (Graph filters on
/// `activityDateTime`), `text` is the record exactly as "Microsoft" sends it.
#[derive(Clone)]
pub struct Record {
    pub at: DateTime<Utc>,
    pub text: String,
}

/// A directoryAudit record written for these tests, with irregular spacing and JSON escapes
/// so that any re-serialization would show in a byte comparison.
pub fn audit(id: &str, at: &str) -> String {
    padded(id, at, 0)
}

/// Like [`audit`], with an additional detail of `pad` bytes to make the record large.
pub fn padded(id: &str, at: &str, pad: usize) -> String {
    let details = if pad == 0 {
        "[ ]".to_string()
    } else {
        format!(r#"[{{"key":"Padding","value":"{}"}}]"#, "x".repeat(pad))
    };
    format!(
        r#"{{"id" : "{id}",  "category":"UserManagement","correlationId":"5e0d1c2b-0000-4000-8000-000000000001","result":"success","resultReason":"","activityDisplayName":"Update user","activityDateTime":"{at}","loggedByService":"Core Directory","operationType":"Update","initiatedBy":{{"user":{{"id":"0a1b2c3d-0000-4000-8000-00000000000a","displayName":"Zo\u00eb \"Ops\" Operator","userPrincipalName":"zoe@fabrikam.example","ipAddress":"198.51.100.23"}},"app":null}},"targetResources":[{{"id":"0a1b2c3d-0000-4000-8000-00000000000b","displayName":"T\u00e9a Target","type":"User","userPrincipalName":"tea@fabrikam.example","modifiedProperties":[{{"displayName":"AccountEnabled","oldValue":"[true]","newValue":"[false]"}}]}}],"additionalDetails":{details}}}"#
    )
}

pub fn rec(id: &str, at: &str) -> Record {
    Record {
        at: t(at),
        text: audit(id, at),
    }
}

/// A record served at `at` whatever its text says (for records that cannot be normalized).
pub fn served_at(at: &str, text: String) -> Record {
    Record { at: t(at), text }
}

/// Ten records over one morning, 2024-05-10. `r04` lies exactly on the boundary of the first
/// run's first two one-hour chunks, so Graph's inclusive `ge`/`le` returns it twice.
pub fn morning() -> Vec<Record> {
    vec![
        rec("Directory_test-r01", "2024-05-10T08:30:00.1000000Z"),
        rec("Directory_test-r02", "2024-05-10T09:30:00.2000000Z"),
        rec("Directory_test-r03", "2024-05-10T09:45:10.3000000Z"),
        rec("Directory_test-r04", "2024-05-10T10:05:00Z"),
        rec("Directory_test-r05", "2024-05-10T10:20:00.5Z"),
        rec("Directory_test-r06", "2024-05-10T10:40:00.6000000Z"),
        rec("Directory_test-r07", "2024-05-10T10:50:00.7000000Z"),
        rec("Directory_test-r08", "2024-05-10T11:30:00.8000000Z"),
        rec("Directory_test-r09", "2024-05-10T11:58:00.9000000Z"),
        rec("Directory_test-r10", "2024-05-10T12:03:00.1000000Z"),
    ]
}

/// The text of the morning record with this number (1-based).
pub fn morning_text(n: usize) -> String {
    morning().remove(n - 1).text
}

/// Ids `Directory_test-rNN` for the given numbers.
pub fn ids(ns: impl IntoIterator<Item = usize>) -> Vec<String> {
    ns.into_iter()
        .map(|n| format!("Directory_test-r{n:02}"))
        .collect()
}

/// How a page request fails.
#[derive(Debug, Clone, Copy)]
pub enum Failure {
    /// A response auditlake cannot read.
    Protocol,
    /// Graph's 403 when the app lacks `AuditLog.Read.All`.
    Forbidden,
}

impl Failure {
    fn error(self) -> SourceError {
        match self {
            Failure::Protocol => SourceError::Protocol("page 2 of the window was not JSON".into()),
            Failure::Forbidden => SourceError::Api(ApiError::Api {
                service: "Microsoft Graph",
                status: 403,
                code: "Authorization_RequestDenied".into(),
                message: "Insufficient privileges to complete the operation.".into(),
                hint: "",
                request_id: String::new(),
            }),
        }
    }
}

/// A Graph directory-audits source over a fixed set of records: a window returns the records
/// with `start <= at <= end`, in time order, in pages of `page_size` (one empty page when
/// none match, as Graph answers), and can fail one chosen page request.
pub struct FakeGraph {
    records: Vec<Record>,
    page_size: usize,
    served: AtomicUsize,
    fail_at: Mutex<Option<(usize, Failure)>>,
    asked: Mutex<Vec<Window>>,
}

impl FakeGraph {
    pub fn new(mut records: Vec<Record>, page_size: usize) -> Self {
        records.sort_by_key(|r| r.at);
        FakeGraph {
            records,
            page_size,
            served: AtomicUsize::new(0),
            fail_at: Mutex::new(None),
            asked: Mutex::new(Vec::new()),
        }
    }

    /// The `n`-th page request from now (1 = the next one) fails once with `failure`.
    pub fn fail_page(&self, n: usize, failure: Failure) {
        let next = self.served.load(Ordering::SeqCst) + n;
        *self.fail_at.lock().unwrap() = Some((next, failure));
    }

    /// Every window asked for so far, as `(start, end)` in RFC 3339.
    pub fn windows_asked(&self) -> Vec<(String, String)> {
        self.asked
            .lock()
            .unwrap()
            .iter()
            .map(|w| (rfc(w.start), rfc(w.end)))
            .collect()
    }

    pub fn forget_windows(&self) {
        self.asked.lock().unwrap().clear();
    }
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl SourcePuller for FakeGraph {
    fn source(&self) -> Source {
        Source::EntraDirectoryAudits
    }

    fn streams(&self) -> Vec<Option<domain::stream::Stream>> {
        vec![None]
    }

    fn chunk(&self) -> TimeDelta {
        TimeDelta::hours(1)
    }

    fn history(&self) -> TimeDelta {
        TimeDelta::days(30)
    }

    fn pages<'a>(
        &'a self,
        _stream: Option<domain::stream::Stream>,
        window: Window,
        deadline: &'a Deadline,
    ) -> PageStream<'a> {
        self.asked.lock().unwrap().push(window);
        let hits: Vec<&Record> = self
            .records
            .iter()
            .filter(|r| r.at >= window.start && r.at <= window.end)
            .collect();
        let mut pages: Vec<Vec<Box<RawValue>>> = hits
            .chunks(self.page_size)
            .map(|c| {
                c.iter()
                    .map(|r| RawValue::from_string(r.text.clone()).expect("test record"))
                    .collect()
            })
            .collect();
        if pages.is_empty() {
            pages.push(Vec::new());
        }
        Box::pin(futures::stream::iter(pages).map(move |records| {
            // Like a real source: no request once the run's time is up.
            if deadline.passed() {
                return Err(SourceError::Api(collector::http::ApiError::Deadline {
                    waiting_for: "the next page".into(),
                }));
            }
            let n = self.served.fetch_add(1, Ordering::SeqCst) + 1;
            let mut fail = self.fail_at.lock().unwrap();
            match *fail {
                Some((k, failure)) if k == n => {
                    *fail = None;
                    Err(failure.error())
                }
                _ => Ok(Page {
                    records,
                    ..Page::default()
                }),
            }
        }))
    }
}

/// The in-memory ports, a manual clock and the fake source, wired into a [`Pipeline`] with
/// lag 5 min, overlap 5 min and an initial lookback of 3 h.
pub struct Harness {
    pub graph: Arc<FakeGraph>,
    pub raw: Arc<MemoryRawStore>,
    pub events: Arc<MemoryEventStore>,
    pub state: Arc<MemoryStateStore>,
    pub clock: Arc<ManualClock>,
    pub pipeline: Pipeline,
}

impl Harness {
    pub fn new(records: Vec<Record>, page_size: usize, now: &str) -> Self {
        let graph = Arc::new(FakeGraph::new(records, page_size));
        let raw = Arc::new(MemoryRawStore::default());
        let events = Arc::new(MemoryEventStore::default());
        let state = Arc::new(MemoryStateStore::default());
        let clock = Arc::new(ManualClock::new(t(now)));
        let pipeline = Pipeline {
            tenant_id: TENANT.to_string(),
            source: graph.clone(),
            raw: raw.clone(),
            events: events.clone(),
            state: state.clone(),
            clock: clock.clone(),
            settings: Settings {
                lag: TimeDelta::minutes(5),
                overlap: TimeDelta::minutes(5),
                initial_lookback: TimeDelta::hours(3),
                hot_retention: TimeDelta::days(90),
            },
            first_run_check: None,
        };
        Harness {
            graph,
            raw,
            events,
            state,
            clock,
            pipeline,
        }
    }

    pub fn key() -> StreamKey {
        StreamKey::new(TENANT, Source::EntraDirectoryAudits, None)
    }

    pub async fn run_with(&self, invocation: &Invocation, deadline: Deadline) -> RunSummary {
        let mut summaries = self.pipeline.run(invocation, deadline).await;
        assert_eq!(summaries.len(), 1, "one stream, one summary");
        summaries.remove(0)
    }

    pub async fn scheduled(&self) -> RunSummary {
        self.run_with(&Invocation::Scheduled, Deadline::none())
            .await
    }

    pub async fn backfill(&self, start: &str, end: &str) -> RunSummary {
        let w = Window::new(t(start), t(end));
        self.run_with(&Invocation::Backfill(w), Deadline::none())
            .await
    }

    pub async fn watermark(&self) -> Option<DateTime<Utc>> {
        self.state.watermark(&Self::key()).await.unwrap()
    }

    pub async fn health(&self) -> Option<Health> {
        self.state.health(&Self::key()).await.unwrap()
    }

    /// Every object under `prefix`, in key order, with its gunzipped lines.
    pub async fn objects(&self, prefix: &str) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        for key in self.raw.list(prefix).await.unwrap() {
            let body = self.raw.get(&key).await.unwrap();
            let mut text = String::new();
            flate2::read::GzDecoder::new(body.as_slice())
                .read_to_string(&mut text)
                .unwrap_or_else(|e| panic!("{key} is not gzip text: {e}"));
            assert!(text.ends_with('\n'), "{key}: NDJSON ends with a newline");
            let lines = text.lines().map(str::to_string).collect();
            out.push((key, lines));
        }
        out
    }

    /// Every stored event, oldest first.
    pub async fn stored(&self) -> Vec<AuditEvent> {
        self.events
            .list_by_time(
                Source::EntraDirectoryAudits,
                t("2000-01-01T00:00:00Z"),
                t("2100-01-01T00:00:00Z"),
            )
            .await
            .unwrap()
    }

    /// The record ids of every stored event, oldest first.
    pub async fn stored_ids(&self) -> Vec<String> {
        self.stored()
            .await
            .into_iter()
            .map(|e| e.record_id.unwrap_or_default())
            .collect()
    }
}

/// The count fields of a run summary, compared whole so a test states every count of a run.
#[derive(Debug, PartialEq, Eq)]
pub struct Counts {
    pub windows: u32,
    pub pulled: u64,
    pub new: u64,
    pub duplicates: u64,
    pub quarantined: u64,
    pub raw_objects: u64,
}

/// The [`Counts`] of a summary.
pub fn counts(s: &RunSummary) -> Counts {
    Counts {
        windows: s.windows,
        pulled: s.pulled,
        new: s.new,
        duplicates: s.duplicates,
        quarantined: s.quarantined,
        raw_objects: s.raw_objects,
    }
}

/// A stream's running totals of pulled, new and duplicate records, from its health record.
#[derive(Debug, PartialEq, Eq)]
pub struct Totals {
    pub pulled: u64,
    pub new: u64,
    pub duplicates: u64,
}

/// The [`Totals`] of a health record.
pub fn totals(h: &Health) -> Totals {
    Totals {
        pulled: h.total_pulled,
        new: h.total_new,
        duplicates: h.total_duplicates,
    }
}

/// `(start, end)` pairs in RFC 3339 for comparing with [`FakeGraph::windows_asked`].
pub fn spans(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

pub use testkit::corpus::corpus_missing;
