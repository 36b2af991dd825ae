//! Integration tests of the `auditlake` crate as its users meet it: pull-pipeline scenarios on the
//! in-memory ports with a fake Graph source (exact counts, raw bytes in S3, watermarks, leases,
//! backfills, history gaps, quarantine, health), the Lambda payload contract, the
//! `auditlake normalize` CLI run as a process on the hand-written fixtures in `tests/fixtures/`,
//! and a conformance check of the normalizer against the shared corpus of published
//! directory-audit records (read in place, never copied), when that corpus is present.

/// A fake Graph `directoryAudits` source and a harness wiring it to the in-memory ports.
mod fake {
    use std::io::Read;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use auditlake::clock::{Deadline, ManualClock};
    use auditlake::http::ApiError;
    use auditlake::model::{AuditEvent, RunSummary, Source, Window};
    use auditlake::pipeline::{Invocation, Pipeline, Settings};
    use auditlake::sources::{Page, PageStream, SourceError, SourcePuller};
    use auditlake::store::memory::{MemoryEventStore, MemoryRawStore, MemoryStateStore};
    use auditlake::store::{EventStore, Health, RawStore, StateStore, StreamKey};
    use chrono::{DateTime, TimeDelta, Utc};
    use futures::StreamExt;
    use serde_json::value::RawValue;

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
                Failure::Protocol => {
                    SourceError::Protocol("page 2 of the window was not JSON".into())
                }
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

        fn streams(&self) -> Vec<Option<String>> {
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
            _stream: Option<&'a str>,
            window: Window,
            _deadline: &'a Deadline,
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
                let n = self.served.fetch_add(1, Ordering::SeqCst) + 1;
                let mut fail = self.fail_at.lock().unwrap();
                match *fail {
                    Some((k, failure)) if k == n => {
                        *fail = None;
                        Err(failure.error())
                    }
                    _ => Ok(Page { records }),
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

    /// Count fields of a summary, for one-line exact comparisons:
    /// `(windows, pulled, new, duplicates, quarantined, raw_objects)`.
    pub fn counts(s: &RunSummary) -> (u32, u64, u64, u64, u64, u64) {
        (
            s.windows,
            s.pulled,
            s.new,
            s.duplicates,
            s.quarantined,
            s.raw_objects,
        )
    }

    /// `(start, end)` pairs in RFC 3339 for comparing with [`FakeGraph::windows_asked`].
    pub fn spans(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }
}

/// Pull runs on the in-memory ports.
mod pipeline_runs {
    use std::time::Duration;

    use auditlake::clock::{Clock, Deadline};
    use auditlake::model::{Gap, RawRef, Window};
    use auditlake::pipeline::{INLINE_RAW_LIMIT, Invocation};
    use auditlake::store::{EventStore, RawStore, StateError, StateStore};
    use chrono::TimeDelta;
    use serde_json::Value;

    use super::fake::*;

    const RAW_PREFIX: &str = "raw/source=entra-directory-audits/";

    #[tokio::test]
    async fn first_run_pulls_the_lookback_in_hour_chunks_and_stores_raw_bytes_unchanged() {
        let h = Harness::new(morning(), 2, "2024-05-10T12:05:00Z");
        let s = h.scheduled().await;

        assert_eq!(s.mode, "scheduled");
        assert_eq!(s.error, None);
        assert_eq!(s.skipped, None);
        assert_eq!(s.gap, None, "the initial lookback is not a gap");
        assert!(s.complete);
        // Lookback 3 h from now, up to now - lag (5 min), in one-hour chunks.
        assert_eq!(
            h.graph.windows_asked(),
            spans(&[
                ("2024-05-10T09:05:00Z", "2024-05-10T10:05:00Z"),
                ("2024-05-10T10:05:00Z", "2024-05-10T11:05:00Z"),
                ("2024-05-10T11:05:00Z", "2024-05-10T12:00:00Z"),
            ])
        );
        assert_eq!(s.window_start.as_deref(), Some("2024-05-10T09:05:00.000Z"));
        assert_eq!(s.window_end.as_deref(), Some("2024-05-10T12:00:00.000Z"));
        // r02..r09, with r04 returned by both of the windows it bounds; pages of 2: 2 + 2 + 1.
        assert_eq!(counts(&s), (3, 9, 8, 1, 0, 5));
        assert_eq!(s.lag_secs, Some(300));
        assert_eq!(h.watermark().await, Some(t("2024-05-10T12:00:00Z")));
        assert_eq!(h.events.len(), 8);
        assert_eq!(h.stored_ids().await, ids(2..=9));

        // Raw objects: gzip NDJSON, partitioned by write time, each record's bytes unchanged.
        let objects = h.objects("raw/").await;
        assert_eq!(objects.len(), 5);
        let mut total_bytes = 0;
        for (i, (key, _)) in objects.iter().enumerate() {
            let want = format!(
                "raw/source=entra-directory-audits/dt=2024-05-10/hour=12/20240510T120500Z-{}-{i:05}.json.gz",
                s.run_id
            );
            assert_eq!(key, &want);
            total_bytes += h.raw.get(key).await.unwrap().len() as u64;
        }
        assert_eq!(s.raw_bytes, total_bytes);
        let lines: Vec<String> = objects.into_iter().flat_map(|(_, l)| l).collect();
        let want: Vec<String> = [2, 3, 4, 4, 5, 6, 7, 8, 9]
            .into_iter()
            .map(morning_text)
            .collect();
        assert_eq!(lines, want, "raw lines are the records byte for byte");
        assert!(
            h.objects("quarantine/").await.is_empty(),
            "nothing quarantined"
        );

        // The stored events keep the record as received and say where they came from.
        for e in h.stored().await {
            let id = e.record_id.clone().unwrap();
            let n: usize = id.trim_start_matches("Directory_test-r").parse().unwrap();
            assert_eq!(e.id, format!("entra-directory-audits:{id}"));
            assert_eq!(e.dedupe_key, id);
            assert_eq!(e.tenant_id, TENANT);
            assert_eq!(e.ingested_at, t("2024-05-10T12:05:00Z"));
            assert_eq!(
                e.raw.as_ref().map(|r| r.get()),
                Some(morning_text(n).as_str())
            );
            assert_eq!(e.raw_ref, None);
            let got = h.events.get(&e.id).await.unwrap().expect("get by id");
            assert_eq!(got.record_id.as_deref(), Some(id.as_str()));
        }

        let health = h.health().await.expect("health recorded");
        assert_eq!(health.total_pulled, 9);
        assert_eq!(health.total_new, 8);
        assert_eq!(health.total_duplicates, 1);
        assert_eq!(health.total_quarantined, 0);
        assert_eq!(
            health.watermark.as_deref(),
            Some("2024-05-10T12:00:00.000Z")
        );
        assert_eq!(health.lag_secs, Some(300));
        assert_eq!(
            health.last_success_at.as_deref(),
            Some("2024-05-10T12:05:00.000Z")
        );
        assert_eq!(health.consecutive_failures, 0);
        assert_eq!(health.last_error, None);
        assert_eq!(health.last_run_id.as_deref(), Some(s.run_id.as_str()));
    }

    #[tokio::test]
    async fn a_second_run_at_the_same_clock_rereads_the_overlap_as_duplicates() {
        let h = Harness::new(morning(), 2, "2024-05-10T12:05:00Z");
        let first = h.scheduled().await;
        assert_eq!(counts(&first), (3, 9, 8, 1, 0, 5));
        h.graph.forget_windows();

        let s = h.scheduled().await;
        assert!(s.complete);
        assert_eq!(s.error, None);
        // watermark 12:00 - overlap 5 min .. now - lag: one window holding r09.
        assert_eq!(
            h.graph.windows_asked(),
            spans(&[("2024-05-10T11:55:00Z", "2024-05-10T12:00:00Z")])
        );
        assert_eq!(counts(&s), (1, 1, 0, 1, 0, 1));
        assert_eq!(h.events.len(), 8, "store size unchanged");
        assert_eq!(h.watermark().await, Some(t("2024-05-10T12:00:00Z")));
        assert_ne!(s.run_id, first.run_id);
        assert_eq!(h.objects("raw/").await.len(), 6, "overlaps are kept in raw");

        let health = h.health().await.unwrap();
        assert_eq!(
            (
                health.total_pulled,
                health.total_new,
                health.total_duplicates
            ),
            (10, 8, 2)
        );
    }

    #[tokio::test]
    async fn records_that_cannot_be_normalized_are_quarantined_and_do_not_block_the_watermark() {
        let no_time = r#"{"id":"Directory_test-q2","category":"UserManagement","activityDisplayName":"Update user","loggedByService":"Core Directory","initiatedBy":{"user":null,"app":null},"targetResources":[]}"#;
        let garbage = r#"{"id":"Directory_test-q3","category":"UserManagement","activityDisplayName":"Update user","activityDateTime":"garbage","loggedByService":"Core Directory","initiatedBy":{"user":null,"app":null},"targetResources":[]}"#;
        let records = vec![
            rec("Directory_test-q1", "2024-05-10T11:10:00Z"),
            served_at("2024-05-10T11:20:00Z", no_time.to_string()),
            served_at("2024-05-10T11:30:00Z", garbage.to_string()),
            rec("Directory_test-q4", "2024-05-10T11:40:00Z"),
        ];
        let mut h = Harness::new(records.clone(), 10, "2024-05-10T12:05:00Z");
        h.pipeline.settings.initial_lookback = TimeDelta::hours(1);

        let s = h.scheduled().await;
        assert_eq!(
            h.graph.windows_asked(),
            spans(&[("2024-05-10T11:05:00Z", "2024-05-10T12:00:00Z")])
        );
        assert_eq!(counts(&s), (1, 4, 2, 0, 2, 1));
        assert!(s.complete);
        assert_eq!(s.error, None);
        assert_eq!(
            h.watermark().await,
            Some(t("2024-05-10T12:00:00Z")),
            "quarantine does not block the watermark"
        );
        assert_eq!(
            h.stored_ids().await,
            vec!["Directory_test-q1", "Directory_test-q4"]
        );

        // The raw object holds all four records, the two bad ones included.
        let raw = h.objects(RAW_PREFIX).await;
        assert_eq!(raw.len(), 1);
        let (raw_key, raw_lines) = &raw[0];
        let texts: Vec<String> = records.iter().map(|r| r.text.clone()).collect();
        assert_eq!(raw_lines, &texts);

        let q = h
            .objects("quarantine/source=entra-directory-audits/dt=2024-05-10/")
            .await;
        assert_eq!(q.len(), 1, "one quarantine object for the page");
        assert!(q[0].0.ends_with(".json.gz"), "{}", q[0].0);
        let entries: Vec<Value> = q[0]
            .1
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(entries.len(), 2);
        let reason = |i: usize| entries[i]["reason"].as_str().unwrap().to_string();
        assert!(
            reason(0).contains("`activityDateTime` is missing"),
            "{}",
            reason(0)
        );
        assert!(
            reason(1).contains("garbage") && reason(1).contains("not a time"),
            "{}",
            reason(1)
        );
        assert_eq!(
            entries[0]["record"],
            serde_json::from_str::<Value>(no_time).unwrap()
        );
        assert_eq!(
            entries[1]["record"],
            serde_json::from_str::<Value>(garbage).unwrap()
        );
        for (entry, line) in entries.iter().zip([2, 3]) {
            assert_eq!(entry["raw_key"], raw_key.as_str());
            assert_eq!(entry["line"], line);
        }

        let health = h.health().await.unwrap();
        assert_eq!(health.total_quarantined, 2);
        assert_eq!(health.consecutive_failures, 0);
        assert!(health.last_success_at.is_some());
    }

    #[tokio::test]
    async fn a_source_error_mid_window_keeps_the_watermark_and_the_next_run_catches_up() {
        let h = Harness::new(morning(), 2, "2024-05-10T12:05:00Z");
        // Pages: window 1 -> 1, 2; window 2 -> 3, 4 (fails); window 3 never asked.
        h.graph.fail_page(4, Failure::Protocol);

        let s = h.scheduled().await;
        assert!(!s.complete);
        let err = s.error.clone().expect("error reported");
        assert_eq!(err.code, "ProtocolError");
        assert!(err.message.contains("not JSON"), "{}", err.message);
        // Window 1 complete (r02, r03, r04), window 2's first page (r04 again, r05) stored.
        assert_eq!(counts(&s), (1, 5, 4, 1, 0, 3));
        assert_eq!(s.window_end.as_deref(), Some("2024-05-10T10:05:00.000Z"));
        assert_eq!(
            h.watermark().await,
            Some(t("2024-05-10T10:05:00Z")),
            "end of the last complete window"
        );
        assert_eq!(s.lag_secs, Some(7200));
        assert_eq!(h.graph.windows_asked().len(), 2);
        let health = h.health().await.unwrap();
        assert_eq!(health.consecutive_failures, 1);
        assert_eq!(
            health.last_error.as_ref().map(|e| e.code.as_str()),
            Some("ProtocolError")
        );
        assert_eq!(
            health.last_success_at, None,
            "an incomplete run is no success"
        );

        // The error is gone: the next run re-reads window 2 whole and finishes.
        h.graph.forget_windows();
        let s = h.scheduled().await;
        assert!(s.complete);
        assert_eq!(s.error, None);
        assert_eq!(
            h.graph.windows_asked(),
            spans(&[
                ("2024-05-10T10:00:00Z", "2024-05-10T11:00:00Z"),
                ("2024-05-10T11:00:00Z", "2024-05-10T12:00:00Z"),
            ])
        );
        // r04..r07 (2 pages), r08, r09 (1 page); r04 and r05 were stored before.
        assert_eq!(counts(&s), (2, 6, 4, 2, 0, 3));
        assert_eq!(h.watermark().await, Some(t("2024-05-10T12:00:00Z")));
        assert_eq!(
            h.stored_ids().await,
            ids(2..=9),
            "every record exactly once"
        );
        assert_eq!(h.events.len(), 8);

        let health = h.health().await.unwrap();
        assert_eq!(health.consecutive_failures, 0);
        assert_eq!(
            health.last_success_at.as_deref(),
            Some("2024-05-10T12:05:00.000Z")
        );
        assert_eq!(
            (
                health.total_pulled,
                health.total_new,
                health.total_duplicates
            ),
            (11, 8, 3)
        );
    }

    #[tokio::test]
    async fn health_tracks_failures_and_recovery_across_runs() {
        let h = Harness::new(morning(), 2, "2024-05-10T12:05:00Z");

        // Graph refuses: the app lacks AuditLog.Read.All.
        h.graph.fail_page(1, Failure::Forbidden);
        let s = h.scheduled().await;
        let err = s.error.clone().expect("error");
        assert_eq!(err.code, "Authorization_RequestDenied");
        assert!(err.message.contains("403"), "{}", err.message);
        assert!(!s.complete);
        assert_eq!(counts(&s), (0, 0, 0, 0, 0, 0));
        assert_eq!(s.window_end, None);
        assert!(h.events.is_empty());
        assert!(h.objects("").await.is_empty());
        // A first run pins where collection starts, so the lookback does not slide forward.
        assert_eq!(h.watermark().await, Some(t("2024-05-10T09:05:00Z")));
        assert_eq!(s.lag_secs, Some(3 * 3600));

        // An hour later, refused again.
        h.clock.set(t("2024-05-10T13:05:00Z"));
        h.graph.forget_windows();
        h.graph.fail_page(1, Failure::Forbidden);
        let s = h.scheduled().await;
        assert_eq!(
            s.window_start.as_deref(),
            Some("2024-05-10T09:00:00.000Z"),
            "pinned start - overlap"
        );
        assert_eq!(
            s.error.as_ref().unwrap().code,
            "Authorization_RequestDenied"
        );
        let health = h.health().await.unwrap();
        assert_eq!(health.consecutive_failures, 2);
        assert_eq!(health.last_success_at, None);
        assert_eq!(
            health.last_error_at.as_deref(),
            Some("2024-05-10T13:05:00.000Z")
        );
        assert_eq!(
            health.watermark.as_deref(),
            Some("2024-05-10T09:05:00.000Z")
        );
        assert_eq!(health.lag_secs, Some(4 * 3600));

        // Permission granted: the whole backlog comes in.
        h.graph.forget_windows();
        let s = h.scheduled().await;
        assert!(s.complete);
        assert_eq!(
            h.graph.windows_asked(),
            spans(&[
                ("2024-05-10T09:00:00Z", "2024-05-10T10:00:00Z"),
                ("2024-05-10T10:00:00Z", "2024-05-10T11:00:00Z"),
                ("2024-05-10T11:00:00Z", "2024-05-10T12:00:00Z"),
                ("2024-05-10T12:00:00Z", "2024-05-10T13:00:00Z"),
            ])
        );
        assert_eq!(counts(&s), (4, 9, 9, 0, 0, 5));
        let health = h.health().await.unwrap();
        assert_eq!(health.consecutive_failures, 0);
        assert_eq!(
            health.last_success_at.as_deref(),
            Some("2024-05-10T13:05:00.000Z")
        );
        assert_eq!(
            health.last_error.as_ref().map(|e| e.code.as_str()),
            Some("Authorization_RequestDenied"),
            "the last error stays on record"
        );
        assert_eq!(
            health.watermark.as_deref(),
            Some("2024-05-10T13:00:00.000Z")
        );
        assert_eq!(health.lag_secs, Some(300));
        assert_eq!(
            (
                health.total_pulled,
                health.total_new,
                health.total_duplicates,
                health.total_quarantined
            ),
            (9, 9, 0, 0)
        );
        assert_eq!(health.last_summary.as_ref(), Some(&s));
        assert!(health.gaps.is_empty());
    }

    #[tokio::test]
    async fn a_held_lease_skips_the_run_until_it_expires() {
        let h = Harness::new(morning(), 2, "2024-05-10T12:05:00Z");
        let key = Harness::key();
        let now = t("2024-05-10T12:05:00Z");
        let held = h
            .state
            .acquire(&key, "other-run", now, now + TimeDelta::minutes(10))
            .await
            .expect("first acquire");

        // A second acquire while the first holds is refused.
        match h
            .state
            .acquire(&key, "third-run", now, now + TimeDelta::minutes(10))
            .await
        {
            Err(StateError::Locked { owner, until }) => {
                assert_eq!(owner, "other-run");
                assert_eq!(until, "2024-05-10T12:15:00.000Z");
            }
            other => panic!("expected Locked, got {other:?}"),
        }

        let s = h.scheduled().await;
        assert_eq!(s.skipped.as_deref(), Some("locked"));
        assert!(!s.complete);
        assert_eq!(s.error, None);
        assert_eq!(counts(&s), (0, 0, 0, 0, 0, 0));
        assert!(h.graph.windows_asked().is_empty());
        assert!(h.events.is_empty());
        assert_eq!(h.watermark().await, None);
        assert_eq!(h.health().await, None, "a skipped run is not recorded");

        // Still held at the instant it expires.
        h.clock.set(t("2024-05-10T12:15:00Z"));
        assert_eq!(h.scheduled().await.skipped.as_deref(), Some("locked"));

        // Past it, a run proceeds.
        h.clock.set(t("2024-05-10T12:15:01Z"));
        let s = h.scheduled().await;
        assert_eq!(s.skipped, None);
        assert!(s.complete);
        assert_eq!(
            h.graph.windows_asked(),
            spans(&[
                ("2024-05-10T09:15:01Z", "2024-05-10T10:15:01Z"),
                ("2024-05-10T10:15:01Z", "2024-05-10T11:15:01Z"),
                ("2024-05-10T11:15:01Z", "2024-05-10T12:10:01Z"),
            ])
        );
        assert_eq!(counts(&s), (3, 9, 9, 0, 0, 6));
        assert_eq!(h.watermark().await, Some(t("2024-05-10T12:10:01Z")));

        // The run that lost its lease can no longer move the watermark.
        let stale = h
            .state
            .advance(&key, &held, t("2024-05-10T12:12:00Z"))
            .await;
        assert!(
            matches!(stale, Err(StateError::LeaseLost { .. })),
            "{stale:?}"
        );
        assert_eq!(h.watermark().await, Some(t("2024-05-10T12:10:01Z")));
    }

    #[tokio::test]
    async fn a_backfill_pulls_only_its_range_and_never_moves_the_watermark() {
        let h = Harness::new(morning(), 2, "2024-05-10T12:05:00Z");

        let s = h
            .backfill("2024-05-10T10:00:00Z", "2024-05-10T11:00:00Z")
            .await;
        assert_eq!(s.mode, "backfill");
        assert!(s.complete);
        assert_eq!(s.gap, None);
        assert_eq!(s.lag_secs, None);
        assert_eq!(
            h.graph.windows_asked(),
            spans(&[("2024-05-10T10:00:00Z", "2024-05-10T11:00:00Z")])
        );
        assert_eq!(counts(&s), (1, 4, 4, 0, 0, 2));
        assert_eq!(s.window_start.as_deref(), Some("2024-05-10T10:00:00.000Z"));
        assert_eq!(s.window_end.as_deref(), Some("2024-05-10T11:00:00.000Z"));
        assert_eq!(h.stored_ids().await, ids(4..=7));
        assert_eq!(h.watermark().await, None, "a backfill sets no watermark");

        // A scheduled run afterwards finds r04..r07 already stored.
        let s = h.scheduled().await;
        assert_eq!(counts(&s), (3, 9, 4, 5, 0, 5));
        assert_eq!(h.watermark().await, Some(t("2024-05-10T12:00:00Z")));

        // A backfill behind the watermark leaves it where it is.
        h.graph.forget_windows();
        let s = h
            .backfill("2024-05-10T08:00:00Z", "2024-05-10T09:00:00Z")
            .await;
        assert_eq!(counts(&s), (1, 1, 1, 0, 0, 1));
        assert_eq!(h.watermark().await, Some(t("2024-05-10T12:00:00Z")));
        assert_eq!(h.stored_ids().await, ids(1..=9));
        let health = h.health().await.unwrap();
        assert_eq!(
            health.watermark.as_deref(),
            Some("2024-05-10T12:00:00.000Z")
        );
        assert_eq!(health.lag_secs, Some(300), "a backfill reports no lag");
    }

    #[tokio::test]
    async fn a_backfill_behind_the_history_edge_is_clamped_and_reports_the_gap() {
        let mut records = morning();
        records.push(rec("Directory_test-old1", "2024-04-10T11:00:00Z"));
        records.push(rec("Directory_test-old2", "2024-04-10T13:00:00Z"));
        let h = Harness::new(records, 2, "2024-05-10T12:05:00Z");

        // Edge: now - 30 days + a 10-minute safety margin = 2024-04-10T12:15.
        let s = h
            .backfill("2024-04-10T10:00:00Z", "2024-04-10T14:00:00Z")
            .await;
        let gap = Gap {
            from: "2024-04-10T10:00:00.000Z".into(),
            to: "2024-04-10T12:15:00.000Z".into(),
            secs: 8100,
        };
        assert_eq!(s.gap, Some(gap.clone()));
        assert!(s.complete);
        assert_eq!(
            h.graph.windows_asked(),
            spans(&[
                ("2024-04-10T12:15:00Z", "2024-04-10T13:15:00Z"),
                ("2024-04-10T13:15:00Z", "2024-04-10T14:00:00Z"),
            ])
        );
        assert_eq!(s.window_start.as_deref(), Some("2024-04-10T12:15:00.000Z"));
        assert_eq!(counts(&s), (2, 1, 1, 0, 0, 1));
        assert_eq!(h.stored_ids().await, vec!["Directory_test-old2"]);
        assert_eq!(h.watermark().await, None);
        assert_eq!(h.health().await.unwrap().gaps, vec![gap]);

        // A backfill wholly behind the edge pulls nothing and reports all of it as a gap.
        h.graph.forget_windows();
        let s = h
            .backfill("2024-04-01T00:00:00Z", "2024-04-02T00:00:00Z")
            .await;
        assert_eq!(s.gap.as_ref().map(|g| g.secs), Some(86_400));
        assert!(h.graph.windows_asked().is_empty());
        assert_eq!(counts(&s), (0, 0, 0, 0, 0, 0));
    }

    #[tokio::test]
    async fn a_watermark_behind_the_history_edge_is_clamped_and_recorded_as_a_gap() {
        let mut records = morning();
        records.push(rec("Directory_test-old", "2024-04-05T00:00:00Z"));
        let h = Harness::new(records, 2, "2024-05-10T12:05:00Z");
        // The collector was last run on 1 April.
        let key = Harness::key();
        let then = t("2024-04-01T12:05:00Z");
        let lease = h
            .state
            .acquire(&key, "april", then, then + TimeDelta::minutes(5))
            .await
            .unwrap();
        let lease = h
            .state
            .advance(&key, &lease, t("2024-04-01T12:00:00Z"))
            .await
            .unwrap();
        h.state.release(&key, &lease).await.unwrap();

        let s = h.scheduled().await;
        let gap = Gap {
            from: "2024-04-01T12:00:00.000Z".into(),
            to: "2024-04-10T12:15:00.000Z".into(),
            secs: 9 * 86_400 + 15 * 60,
        };
        assert_eq!(s.gap, Some(gap.clone()));
        assert!(s.complete);
        assert_eq!(s.window_start.as_deref(), Some("2024-04-10T12:15:00.000Z"));
        assert_eq!(s.window_end.as_deref(), Some("2024-05-10T12:00:00.000Z"));
        // 30 days less 15 minutes, in one-hour chunks; r01..r09, none on a chunk boundary.
        assert_eq!(counts(&s), (720, 9, 9, 0, 0, 6));
        assert_eq!(h.watermark().await, Some(t("2024-05-10T12:00:00Z")));
        let health = h.health().await.unwrap();
        assert_eq!(health.gaps, vec![gap]);
        assert_eq!(health.consecutive_failures, 0);
    }

    #[tokio::test]
    async fn an_initial_lookback_beyond_the_edge_is_capped_without_a_gap() {
        let mut h = Harness::new(morning(), 100, "2024-05-10T12:05:00Z");
        h.pipeline.settings.initial_lookback = TimeDelta::days(40);
        let s = h.scheduled().await;
        assert_eq!(s.gap, None);
        assert_eq!(s.window_start.as_deref(), Some("2024-04-10T12:15:00.000Z"));
        assert_eq!(s.windows, 720);
        assert_eq!((s.pulled, s.new), (9, 9));
        assert!(h.health().await.unwrap().gaps.is_empty());
    }

    #[tokio::test]
    async fn a_deadline_already_passed_starts_no_window() {
        let h = Harness::new(morning(), 2, "2024-05-10T12:05:00Z");
        let s = h
            .run_with(&Invocation::Scheduled, Deadline::after(Duration::ZERO))
            .await;
        assert!(!s.complete);
        assert_eq!(s.error, None, "running out of time is not an error");
        assert_eq!(counts(&s), (0, 0, 0, 0, 0, 0));
        assert!(h.graph.windows_asked().is_empty());
        assert!(h.objects("").await.is_empty(), "nothing in S3");
        assert!(h.events.is_empty(), "nothing in the event store");
        // Only the first run's starting point is pinned; the next run pulls from there.
        assert_eq!(h.watermark().await, Some(t("2024-05-10T09:05:00Z")));

        let w = Window::new(t("2024-05-10T10:00:00Z"), t("2024-05-10T11:00:00Z"));
        let s = h
            .run_with(&Invocation::Backfill(w), Deadline::after(Duration::ZERO))
            .await;
        assert!(!s.complete);
        assert_eq!(counts(&s), (0, 0, 0, 0, 0, 0));
        assert!(h.graph.windows_asked().is_empty());

        let s = h.scheduled().await;
        assert!(s.complete);
        assert_eq!(s.window_start.as_deref(), Some("2024-05-10T09:00:00.000Z"));
        assert_eq!(h.stored_ids().await, ids(2..=9));
    }

    #[tokio::test]
    async fn records_over_the_inline_limit_are_stored_by_reference() {
        // A record of exactly `len` bytes (the padding adds one byte per unit).
        let sized = |id: &str, at: &str, len: usize| {
            let base = padded(id, at, 1).len() - 1;
            padded(id, at, len - base)
        };
        let at_limit = sized(
            "Directory_test-limit",
            "2024-05-10T11:30:00Z",
            INLINE_RAW_LIMIT,
        );
        let over = sized(
            "Directory_test-big",
            "2024-05-10T11:20:00Z",
            INLINE_RAW_LIMIT + 1,
        );
        assert_eq!(at_limit.len(), INLINE_RAW_LIMIT);
        assert_eq!(over.len(), INLINE_RAW_LIMIT + 1);
        let records = vec![
            rec("Directory_test-small", "2024-05-10T11:10:00Z"),
            served_at("2024-05-10T11:20:00Z", over.clone()),
            served_at("2024-05-10T11:30:00Z", at_limit.clone()),
        ];
        let mut h = Harness::new(records, 10, "2024-05-10T12:05:00Z");
        h.pipeline.settings.initial_lookback = TimeDelta::hours(1);
        let s = h.scheduled().await;
        assert_eq!(counts(&s), (1, 3, 3, 0, 0, 1));

        let objects = h.objects(RAW_PREFIX).await;
        assert_eq!(objects.len(), 1);
        let (raw_key, lines) = &objects[0];
        assert_eq!(
            lines[1], over,
            "line 2 of the raw object is the large record"
        );

        let stored = h.stored().await;
        let by_id = |id: &str| {
            stored
                .iter()
                .find(|e| e.record_id.as_deref() == Some(id))
                .unwrap_or_else(|| panic!("{id} stored"))
        };
        let big = by_id("Directory_test-big");
        assert!(big.raw.is_none());
        assert_eq!(
            big.raw_ref,
            Some(RawRef {
                key: raw_key.clone(),
                line: 2
            })
        );
        let json = serde_json::to_value(big).unwrap();
        assert!(json.get("raw").is_none(), "no `raw` beside `raw_ref`");
        assert_eq!(json["raw_ref"]["line"], 2);
        let limit = by_id("Directory_test-limit");
        assert_eq!(
            limit.raw.as_ref().map(|r| r.get().len()),
            Some(INLINE_RAW_LIMIT)
        );
        assert_eq!(limit.raw_ref, None);
        let small = by_id("Directory_test-small");
        assert!(small.raw.is_some() && small.raw_ref.is_none());
    }

    #[tokio::test]
    async fn windows_without_records_store_nothing_and_still_advance() {
        let h = Harness::new(Vec::new(), 2, "2024-05-10T12:05:00Z");
        let s = h.scheduled().await;
        assert_eq!(counts(&s), (3, 0, 0, 0, 0, 0), "empty pages store nothing");
        assert!(h.objects("").await.is_empty());
        assert_eq!(h.clock.now(), t("2024-05-10T12:05:00Z"));
        assert_eq!(h.watermark().await, Some(t("2024-05-10T12:00:00Z")));
    }
}

/// Reading Lambda payloads.
mod invocation {
    use auditlake::model::Window;
    use auditlake::pipeline::{Invocation, InvocationError};
    use serde_json::json;

    use super::fake::t;

    #[test]
    fn payloads_without_start_and_end_are_scheduled_ticks() {
        let eventbridge = json!({
            "version": "0",
            "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": "2024-05-10T12:05:00Z",
            "region": "eu-west-1",
            "resources": ["arn:aws:events:eu-west-1:123456789012:rule/auditlake-pull"],
            "detail": {}
        });
        for payload in [
            eventbridge,
            json!({}),
            json!(null),
            json!({"start": null, "end": null}),
        ] {
            assert_eq!(
                Invocation::from_payload(&payload),
                Ok(Invocation::Scheduled),
                "{payload}"
            );
        }
    }

    #[test]
    fn start_and_end_make_a_backfill() {
        let p = json!({"start": "2024-05-01T00:00:00Z", "end": "2024-05-02T06:30:00+02:00"});
        assert_eq!(
            Invocation::from_payload(&p),
            Ok(Invocation::Backfill(Window::new(
                t("2024-05-01T00:00:00Z"),
                t("2024-05-02T04:30:00Z")
            )))
        );
    }

    #[test]
    fn bad_backfill_payloads_are_refused_with_the_matching_error() {
        assert_eq!(
            Invocation::from_payload(&json!({"start": "2024-05-01T00:00:00Z"})),
            Err(InvocationError::Incomplete)
        );
        assert_eq!(
            Invocation::from_payload(&json!({"end": "2024-05-01T00:00:00Z"})),
            Err(InvocationError::Incomplete)
        );
        match Invocation::from_payload(
            &json!({"start": "yesterday", "end": "2024-05-01T00:00:00Z"}),
        ) {
            Err(InvocationError::BadTime { field, value }) => {
                assert_eq!(field, "start");
                assert!(value.contains("yesterday"), "{value}");
            }
            other => panic!("expected BadTime, got {other:?}"),
        }
        match Invocation::from_payload(&json!({"start": "2024-05-01T00:00:00Z", "end": 1714521600}))
        {
            Err(InvocationError::BadTime { field, value }) => {
                assert_eq!(field, "end");
                assert_eq!(value, "1714521600");
            }
            other => panic!("expected BadTime, got {other:?}"),
        }
        assert_eq!(
            Invocation::from_payload(
                &json!({"start": "2024-05-01T00:00:00Z", "end": "2024-05-01T00:00:00Z"})
            ),
            Err(InvocationError::Empty)
        );
        assert_eq!(
            Invocation::from_payload(
                &json!({"start": "2024-05-02T00:00:00Z", "end": "2024-05-01T00:00:00Z"})
            ),
            Err(InvocationError::Empty)
        );
    }
}

/// `auditlake normalize`, run as a process the way an operator runs it.
mod cli {
    use std::io::Write;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};

    use serde_json::Value;

    /// What one CLI run produced.
    pub struct Outcome {
        pub code: i32,
        pub stdout: String,
        pub stderr: String,
    }

    impl Outcome {
        /// Each stdout line parsed as one AuditEvent JSON object.
        pub fn events(&self) -> Vec<Value> {
            self.stdout
                .lines()
                .map(|l| {
                    let v: Value = serde_json::from_str(l).unwrap_or_else(|e| {
                        panic!("stdout line is not one JSON object ({e}): {l}")
                    });
                    assert!(v.is_object(), "{l}");
                    v
                })
                .collect()
        }

        pub fn record_ids(&self) -> Vec<String> {
            self.events()
                .iter()
                .map(|e| e["record_id"].as_str().unwrap_or_default().to_string())
                .collect()
        }
    }

    pub fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    }

    /// Runs `auditlake <args>` with `stdin` fed from a thread (so a large output cannot stall it).
    pub fn auditlake(args: &[&str], stdin: Option<Vec<u8>>) -> Outcome {
        let mut child = Command::new(env!("CARGO_BIN_EXE_auditlake"))
            .args(args)
            .env_remove("AUDITLAKE_TENANT_ID")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("auditlake runs");
        let writer = stdin.map(|bytes| {
            let mut pipe = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            })
        });
        let out = child.wait_with_output().expect("auditlake finishes");
        if let Some(w) = writer {
            w.join().unwrap();
        }
        Outcome {
            code: out.status.code().expect("exit code"),
            stdout: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
            stderr: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
        }
    }

    /// `auditlake normalize --source entra-directory-audits <files>`.
    pub fn normalize(files: &[&Path]) -> Outcome {
        let mut args = vec!["normalize", "--source", "entra-directory-audits"];
        let names: Vec<&str> = files.iter().map(|p| p.to_str().unwrap()).collect();
        args.extend(names);
        auditlake(&args, None)
    }

    /// The records of a fixture, parsed independently of auditlake.
    fn records_of(name: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(fixture(name)).unwrap();
        if let Ok(v) = serde_json::from_str::<Value>(&text) {
            return match v {
                Value::Array(a) => a,
                Value::Object(ref m) if m.contains_key("value") => {
                    m["value"].as_array().unwrap().clone()
                }
                other => vec![other],
            };
        }
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn ids_of(name: &str) -> Vec<String> {
        records_of(name)
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// Every event is one line, keeps the record as `raw`, and names the source.
    fn assert_events_match(out: &Outcome, fixture_name: &str) {
        let records = records_of(fixture_name);
        let events = out.events();
        assert_eq!(events.len(), records.len(), "{}", out.stderr);
        for (e, r) in events.iter().zip(&records) {
            assert_eq!(e["source"], "entra-directory-audits");
            assert_eq!(e["record_id"], r["id"]);
            assert_eq!(
                e["id"],
                format!("entra-directory-audits:{}", r["id"].as_str().unwrap())
            );
            assert_eq!(&e["raw"], r, "raw is the record as received");
            assert_eq!(e["operation"], r["activityDisplayName"]);
        }
    }

    #[test]
    fn a_graph_list_response_file() {
        let out = normalize(&[&fixture("list-response.json")]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.stdout.lines().count(), 3, "one line per record");
        assert_events_match(&out, "list-response.json");
        assert!(
            out.stderr.contains("3 normalized, 0 quarantined"),
            "{}",
            out.stderr
        );
        let e = out.events();
        assert_eq!(e[0]["tenant_id"], "unknown");
        assert_eq!(e[0]["time"], "2024-05-10T08:15:42.345Z");
        assert_eq!(e[0]["result"], "success");
        assert_eq!(e[0]["result_reason"], Value::Null, "empty reason is absent");
        assert_eq!(e[0]["actor"]["kind"], "user");
        assert_eq!(e[0]["actor"]["upn"], "hana@fabrikam.example");
        assert_eq!(e[0]["actor"]["id"], "a1b2c3d4-1111-4aaa-8bbb-000000000001");
        assert_eq!(e[0]["client_ip"], "198.51.100.10");
        assert_eq!(e[0]["user_agent"], "Mozilla/5.0 (Windows NT 10.0)");
        assert_eq!(e[0]["targets"][0]["kind"], "User");
        assert_eq!(e[0]["targets"][0]["name"], "Olaf Operator");

        assert_eq!(e[1]["result"], "failure");
        assert_eq!(
            e[1]["result_reason"],
            "Microsoft.Online.Workflows.ObjectNotFound"
        );
        assert_eq!(e[1]["actor"]["kind"], "app");
        assert_eq!(e[1]["actor"]["id"], "d4e5f6a7-4444-4ddd-8eee-000000000004");
        assert_eq!(
            e[1]["actor"]["app_id"],
            "c3d4e5f6-3333-4ccc-8ddd-000000000003"
        );
        assert_eq!(e[1]["actor"]["name"], "Provisioning Robot");
        assert_eq!(e[1]["client_ip"], Value::Null);
        let kinds: Vec<&str> = e[1]["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["ServicePrincipal", "Group"]);
        assert_eq!(
            e[1]["details"]["modified_properties"][0]["new_value"],
            "[false]"
        );

        assert_eq!(e[2]["actor"]["kind"], "system");
        assert_eq!(e[2]["result"], "failure", "timeout is a failure");
        assert_eq!(
            e[2]["time"], "2024-05-10T08:20:30.500Z",
            "offsets are converted to UTC"
        );
        assert_eq!(e[2]["service"], "Conditional Access");
        assert_eq!(e[2]["targets"], serde_json::json!([]));
    }

    #[test]
    fn a_json_array_file_with_a_tenant() {
        let path = fixture("array.json");
        let out = auditlake(
            &[
                "normalize",
                "--source",
                "entra-directory-audits",
                "--tenant",
                "99999999-8888-4777-8666-555555555555",
                path.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_events_match(&out, "array.json");
        for e in out.events() {
            assert_eq!(e["tenant_id"], "99999999-8888-4777-8666-555555555555");
        }
        let e = out.events();
        assert_eq!(e[0]["time"], "2024-05-11T01:02:03.004Z");
        assert_eq!(e[0]["client_ip"], "2001:db8::7");
        assert_eq!(e[0]["targets"][1]["name"], "fay@fabrikam.example");
        assert_eq!(
            e[1]["time"], "2024-05-11T01:05:00.999Z",
            "fractions are truncated, not rounded"
        );
    }

    #[test]
    fn a_single_pretty_printed_record() {
        let out = normalize(&[&fixture("single-record.json")]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.stdout.lines().count(), 1, "one line: {}", out.stdout);
        assert_events_match(&out, "single-record.json");
        let e = &out.events()[0];
        assert_eq!(e["time"], "2024-05-12T23:59:59.999Z");
        assert_eq!(e["service"], "PIM");
        assert_eq!(
            e["details"]["additional_details"]["RoleDefinitionOriginType"],
            "BuiltInRole"
        );
    }

    #[test]
    fn an_ndjson_file_keeps_each_record_byte_for_byte() {
        let path = fixture("records.ndjson");
        let out = normalize(&[&path]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_events_match(&out, "records.ndjson");
        let text = std::fs::read_to_string(&path).unwrap();
        let inputs: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        for (line, input) in out.stdout.lines().zip(inputs) {
            assert!(
                line.ends_with(&format!(",\"raw\":{input}}}")),
                "raw is the input line verbatim: {line}"
            );
        }
        let e = out.events();
        assert_eq!(e[1]["actor"]["kind"], "app");
        assert_eq!(e[1]["actor"]["app_id"], Value::Null);
        assert_eq!(e[2]["result"], "unknown");
        assert_eq!(e[2]["actor"]["kind"], "system");
    }

    #[test]
    fn stdin_without_a_file_and_as_dash() {
        let bytes = std::fs::read(fixture("records.ndjson")).unwrap();
        let want = ids_of("records.ndjson");
        let none = auditlake(
            &["normalize", "--source", "entra-directory-audits"],
            Some(bytes.clone()),
        );
        assert_eq!(none.code, 0, "{}", none.stderr);
        assert_eq!(none.record_ids(), want);
        let dash = auditlake(
            &["normalize", "--source", "entra-directory-audits", "-"],
            Some(bytes),
        );
        assert_eq!(dash.code, 0, "{}", dash.stderr);
        assert_eq!(dash.record_ids(), want);

        let pretty = std::fs::read(fixture("list-response.json")).unwrap();
        let out = auditlake(
            &["normalize", "--source", "entra-directory-audits"],
            Some(pretty),
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.record_ids(), ids_of("list-response.json"));
    }

    #[test]
    fn several_files_in_one_call_are_read_in_order() {
        let out = normalize(&[&fixture("array.json"), &fixture("records.ndjson")]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let mut want = ids_of("array.json");
        want.extend(ids_of("records.ndjson"));
        assert_eq!(out.record_ids(), want);
        assert!(
            out.stderr.contains("5 normalized, 0 quarantined"),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn bad_ndjson_lines_are_reported_and_the_good_ones_still_printed() {
        let path = fixture("one-bad.ndjson");
        let out = normalize(&[&path]);
        assert_eq!(out.code, 3, "{}", out.stderr);
        let all = ids_of_lines(&path);
        assert_eq!(out.record_ids(), vec![all[0].clone(), all[2].clone()]);
        let p = path.display();
        for needle in [
            format!("{p}:line 2: not JSON"),
            format!("{p}:line 4: required field `activityDateTime` is missing"),
            format!("{p}:line 5: field `activityDateTime` holds `garbage`, which is not a time"),
            "2 normalized, 3 quarantined".to_string(),
        ] {
            assert!(
                out.stderr.contains(&needle),
                "want {needle:?} in:\n{}",
                out.stderr
            );
        }
    }

    /// The `id` of every line that parses, `<not JSON>` for one that does not.
    fn ids_of_lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l)
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_string))
                    .unwrap_or_else(|| "<not JSON>".into())
            })
            .collect()
    }

    #[test]
    fn a_bad_record_in_a_list_response_is_named_by_its_index() {
        let path = fixture("one-bad-list.json");
        let out = normalize(&[&path]);
        assert_eq!(out.code, 3, "{}", out.stderr);
        let all = ids_of("one-bad-list.json");
        assert_eq!(out.record_ids(), vec![all[0].clone(), all[2].clone()]);
        let needle = format!(
            "{}:#2: required field `activityDateTime` is missing",
            path.display()
        );
        assert!(out.stderr.contains(&needle), "{}", out.stderr);
        assert!(
            out.stderr.contains("2 normalized, 1 quarantined"),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn bad_records_on_stdin_are_named_by_line() {
        let bytes = std::fs::read(fixture("one-bad.ndjson")).unwrap();
        let out = auditlake(
            &["normalize", "--source", "entra-directory-audits"],
            Some(bytes),
        );
        assert_eq!(out.code, 3);
        assert_eq!(out.events().len(), 2);
        assert!(
            out.stderr.contains("stdin:line 2: not JSON"),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn a_broken_first_line_does_not_hide_the_records_after_it() {
        let good = std::fs::read_to_string(fixture("records.ndjson")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("truncated.ndjson");
        std::fs::write(
            &path,
            format!("{{\"id\":\"Directory_cut-off\",\"categ\n{good}"),
        )
        .unwrap();
        let out = normalize(&[&path]);
        assert_eq!(out.code, 3, "{}", out.stderr);
        assert_eq!(out.record_ids(), ids_of("records.ndjson"));
        assert!(
            out.stderr
                .contains(&format!("{}:line 1: not JSON", path.display())),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("3 normalized, 1 quarantined"),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_json() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["records.ndjson", "list-response.json"] {
            let mut bytes = vec![0xEF, 0xBB, 0xBF];
            bytes.extend(std::fs::read(fixture(name)).unwrap());
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let out = normalize(&[&path]);
            assert_eq!(out.code, 0, "{name}: {}", out.stderr);
            assert_eq!(out.record_ids(), ids_of(name));
        }
    }

    #[test]
    fn the_diagnostic_settings_envelope_is_read_from_properties() {
        for name in ["diagnostic-envelope.json", "diagnostic-lines.ndjson"] {
            let path = fixture(name);
            let out = normalize(&[&path]);
            assert_eq!(out.code, 0, "{name}: {}", out.stderr);
            let events = out.events();
            assert!(!events.is_empty(), "{name}");
            for e in &events {
                assert!(
                    e["raw"].get("properties").is_some(),
                    "{name}: raw is the envelope"
                );
                assert_eq!(e["source"], "entra-directory-audits");
                assert!(
                    e["time"].as_str().is_some_and(|t| t.ends_with('Z')),
                    "{name}"
                );
            }
        }
        // Intune's diagnostic export uses its own schema: refused with a message naming it.
        let out = super::cli::auditlake(
            &[
                "normalize",
                "--source",
                "intune-audit",
                fixture("diagnostic-lines.ndjson").to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(out.stderr.contains("diagnostic-settings"), "{}", out.stderr);
    }

    #[test]
    fn an_unknown_source_is_a_usage_error() {
        let path = fixture("records.ndjson");
        let out = auditlake(
            &[
                "normalize",
                "--source",
                "entra-audits",
                path.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(out.code, 2);
        assert!(
            out.stderr.contains("unknown source `entra-audits`"),
            "{}",
            out.stderr
        );
        assert!(out.stdout.is_empty());
    }

    #[test]
    fn a_source_without_a_normalizer_is_a_usage_error() {
        let path = fixture("records.ndjson");
        let out = auditlake(
            &[
                "normalize",
                "--source",
                "m365-activity",
                path.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(out.code, 2);
        assert!(out.stderr.contains("not supported"), "{}", out.stderr);
        assert!(out.stdout.is_empty());
    }

    #[test]
    fn a_missing_file_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-export.json");
        let out = normalize(&[&path]);
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains("cannot open"), "{}", out.stderr);
        assert!(
            out.stderr.contains(&path.display().to_string()),
            "{}",
            out.stderr
        );
    }
}

/// The normalizer against the shared corpus of published directory-audit records.
mod corpus {
    use std::path::{Path, PathBuf};

    use chrono::DateTime;
    use serde_json::Value;

    use super::cli::normalize;

    fn corpus_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/graph-directory-audits")
    }

    /// What a corpus file holds.
    enum Content {
        Graph(Vec<Value>),
        /// Diagnostic-settings records (the Graph object under `properties`).
        Envelope(Vec<Value>),
    }

    fn is_envelope(v: &Value) -> bool {
        v.get("records").is_some()
            || (v.get("properties").is_some_and(Value::is_object)
                && v.get("operationName").is_some())
    }

    /// Classifies a file and extracts its records without auditlake's help.
    fn read(path: &Path) -> Content {
        let text = std::fs::read_to_string(path).unwrap();
        let values: Vec<Value> = match serde_json::from_str::<Value>(&text) {
            Ok(v) => vec![v],
            Err(_) => text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| {
                    serde_json::from_str(l)
                        .unwrap_or_else(|e| panic!("{}: a line is not JSON: {e}", path.display()))
                })
                .collect(),
        };
        if values.iter().any(is_envelope) {
            let mut records = Vec::new();
            for v in values {
                match v.get("records").and_then(Value::as_array) {
                    Some(list) => records.extend(list.iter().cloned()),
                    None => records.push(v),
                }
            }
            return Content::Envelope(records);
        }
        let mut records = Vec::new();
        for v in values {
            match v {
                Value::Array(a) => records.extend(a),
                Value::Object(ref m) if m.get("value").is_some_and(Value::is_array) => {
                    records.extend(m["value"].as_array().unwrap().iter().cloned())
                }
                other => records.push(other),
            }
        }
        Content::Graph(records)
    }

    /// A Graph string as the contract carries it: Microsoft writes "nothing" as null, an empty
    /// string, or literal sentinels such as `N/A` and `<null>`; all of them are absent.
    fn present(v: Option<&Value>) -> Value {
        match v {
            Some(Value::String(s)) => {
                let t = s.trim();
                let sentinel = t.is_empty()
                    || ["<null>", "null", "__null__", "not available", "n/a"]
                        .iter()
                        .any(|x| t.eq_ignore_ascii_case(x));
                if sentinel {
                    Value::Null
                } else {
                    Value::String(t.to_string())
                }
            }
            Some(Value::Null) | None => Value::Null,
            Some(other) => other.clone(),
        }
    }

    fn expected_time(s: &str) -> String {
        DateTime::parse_from_rfc3339(s)
            .unwrap_or_else(|e| panic!("corpus time {s}: {e}"))
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    }

    fn expected_result(r: &Value) -> &'static str {
        match r
            .get("result")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("success") => "success",
            Some("failure") | Some("timeout") => "failure",
            _ => "unknown",
        }
    }

    fn check_actor(where_: &str, actor: &Value, record: &Value) {
        let by = record.get("initiatedBy");
        let user = by.and_then(|b| b.get("user")).filter(|u| u.is_object());
        if let Some(u) = user {
            let (id, upn) = (present(u.get("id")), present(u.get("userPrincipalName")));
            if !id.is_null() || !upn.is_null() {
                assert_eq!(actor["kind"], "user", "{where_}");
                assert_eq!(actor["id"], id, "{where_}");
                assert_eq!(actor["upn"], upn, "{where_}");
                return;
            }
        }
        let app = by.and_then(|b| b.get("app")).filter(|a| a.is_object());
        if let Some(a) = app
            && a.as_object()
                .unwrap()
                .values()
                .any(|v| !present(Some(v)).is_null())
        {
            assert_eq!(actor["kind"], "app", "{where_}");
            assert_eq!(
                actor["id"],
                present(a.get("servicePrincipalId")),
                "{where_}"
            );
            assert_eq!(actor["app_id"], present(a.get("appId")), "{where_}");
            return;
        }
        assert_eq!(actor["kind"], "system", "{where_}");
    }

    fn check_record(where_: &str, e: &Value, r: &Value) {
        assert_eq!(e["source"], "entra-directory-audits", "{where_}");
        assert_eq!(e["record_id"], present(r.get("id")), "{where_}");
        let time = r["activityDateTime"].as_str().expect("corpus time");
        let got = e["time"].as_str().unwrap_or_default();
        assert_eq!(got, expected_time(time), "{where_}");
        assert!(
            got.len() == 24 && got.as_bytes()[19] == b'.' && got.ends_with('Z'),
            "{where_}: {got}"
        );
        assert_eq!(
            e["operation"],
            present(r.get("activityDisplayName")),
            "{where_}"
        );
        assert_eq!(e["category"], present(r.get("category")), "{where_}");
        assert_eq!(e["service"], present(r.get("loggedByService")), "{where_}");
        assert_eq!(e["result"], expected_result(r), "{where_}");
        check_actor(where_, &e["actor"], r);
        let targets = r
            .get("targetResources")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let got = e["targets"].as_array().expect("targets array");
        assert_eq!(
            got.len(),
            targets.len(),
            "{where_}: one target per resource"
        );
        for (g, t) in got.iter().zip(&targets) {
            assert_eq!(g["id"], present(t.get("id")), "{where_}");
            let kind = match present(t.get("type")) {
                Value::Null => present(t.get("Type")),
                k => k,
            };
            assert_eq!(g["kind"], kind, "{where_}");
        }
        assert_eq!(&e["raw"], r, "{where_}: raw is the record");
    }

    #[test]
    fn the_normalizer_conforms_on_the_shared_corpus() {
        let dir = corpus_dir();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!(
                "note: corpus not found at {}; conformance not checked on this machine",
                dir.display()
            );
            return;
        };
        let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        files.retain(|p| p.is_file());
        files.sort();
        let (mut graph_files, mut envelope_files, mut records) = (0, 0, 0);
        for path in &files {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let out = normalize(&[path]);
            match read(path) {
                Content::Graph(expected) => {
                    assert_eq!(out.code, 0, "{name}: {}", out.stderr);
                    let events = out.events();
                    assert_eq!(events.len(), expected.len(), "{name}: one line per record");
                    for (i, (e, r)) in events.iter().zip(&expected).enumerate() {
                        check_record(&format!("{name} record {}", i + 1), e, r);
                    }
                    graph_files += 1;
                    records += expected.len();
                }
                Content::Envelope(envelopes) => {
                    // The Graph object is under `properties`; `raw` keeps the whole envelope.
                    assert_eq!(out.code, 0, "{name}: {}", out.stderr);
                    let events = out.events();
                    assert_eq!(events.len(), envelopes.len(), "{name}: one line per record");
                    for (i, (e, env)) in events.iter().zip(&envelopes).enumerate() {
                        let where_ = format!("{name} record {}", i + 1);
                        let inner = super::unwrap_envelope(&where_, e, env);
                        check_record(&where_, &inner, &super::envelope_record(env));
                    }
                    envelope_files += 1;
                    records += envelopes.len();
                }
            }
        }
        assert!(
            graph_files > 0,
            "the corpus at {} holds no Graph-format file",
            dir.display()
        );
        eprintln!(
            "corpus: {graph_files} Graph files and {envelope_files} diagnostic-settings files ({records} records) conform"
        );
    }
}

mod run_command {
    //! `auditlake run` refuses to start on bad configuration, naming every problem at once.

    use std::process::Command;

    #[test]
    fn run_without_configuration_lists_every_missing_variable_and_exits_2() {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_auditlake"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("AUDITLAKE_")) {
            cmd.env_remove(k);
        }
        let out = cmd
            .args(["run", "--source", "entra-directory-audits"])
            .env("AUDITLAKE_LAG_SECS", "soon")
            .output()
            .expect("auditlake runs");
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        for var in [
            "AUDITLAKE_TENANT_ID",
            "AUDITLAKE_CLIENT_ID",
            "AUDITLAKE_CLIENT_SECRET_PARAM",
            "AUDITLAKE_BUCKET",
            "AUDITLAKE_EVENTS_TABLE",
            "AUDITLAKE_STATE_TABLE",
            "AUDITLAKE_LAG_SECS",
        ] {
            assert!(err.contains(var), "{var} not reported in: {err}");
        }
        assert!(out.stdout.is_empty());
    }
}

/// `auditlake normalize` for the other Graph sources (sign-ins, Intune audit events, message
/// traces): the hand-written fixtures in `tests/fixtures/<source>/`, and a conformance check
/// against the shared corpus folders of published records (read in place, never copied), each
/// event compared with its input record parsed here, independently of auditlake.
mod graph_sources_conformance {
    use std::path::{Path, PathBuf};

    use chrono::DateTime;
    use serde_json::{Value, json};

    use super::cli::{Outcome, auditlake, fixture};

    /// `auditlake normalize --source <source> <files>`.
    fn normalize(source: &str, files: &[&Path]) -> Outcome {
        let mut args = vec!["normalize", "--source", source];
        args.extend(files.iter().map(|p| p.to_str().unwrap()));
        auditlake(&args, None)
    }

    /// The records of a fixture or corpus file, parsed without auditlake's help.
    fn records_in(path: &Path) -> Vec<Value> {
        let text = std::fs::read_to_string(path).unwrap();
        let values: Vec<Value> = match serde_json::from_str::<Value>(&text) {
            Ok(v) => vec![v],
            Err(_) => text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| {
                    serde_json::from_str(l)
                        .unwrap_or_else(|e| panic!("{}: a line is not JSON: {e}", path.display()))
                })
                .collect(),
        };
        let mut records = Vec::new();
        for v in values {
            match v {
                Value::Array(a) => records.extend(a),
                Value::Object(ref m) if m.get("value").is_some_and(Value::is_array) => {
                    records.extend(m["value"].as_array().unwrap().iter().cloned())
                }
                other => records.push(other),
            }
        }
        records
    }

    fn is_sentinel(t: &str) -> bool {
        let t = t.trim();
        t.is_empty()
            || ["<null>", "null", "__null__", "not available", "n/a"]
                .iter()
                .any(|x| t.eq_ignore_ascii_case(x))
    }

    /// A Graph string as the contract carries it: null, empty and sentinel strings are absent.
    fn present(v: Option<&Value>) -> Value {
        match v {
            Some(Value::String(s)) if is_sentinel(s) => Value::Null,
            Some(Value::String(s)) => Value::String(s.trim().to_string()),
            Some(Value::Null) | None => Value::Null,
            Some(other) => other.clone(),
        }
    }

    /// The first of `keys` that is present in `v`.
    fn first(v: &Value, keys: &[&str]) -> Value {
        keys.iter()
            .map(|k| present(v.get(*k)))
            .find(|x| !x.is_null())
            .unwrap_or(Value::Null)
    }

    fn expected_time(s: &str) -> String {
        DateTime::parse_from_rfc3339(s)
            .unwrap_or_else(|e| panic!("record time {s}: {e}"))
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    }

    /// Checks what every event of every source shares with its record: one line each, source,
    /// ids, the contract's time format, and the record itself as `raw`.
    fn check_common(where_: &str, source: &str, time_field: &str, e: &Value, r: &Value) {
        assert_eq!(e["source"], source, "{where_}");
        let id = present(r.get("id"));
        assert_eq!(e["record_id"], id, "{where_}");
        if let Value::String(id) = &id {
            assert_eq!(e["id"], format!("{source}:{id}"), "{where_}");
        }
        let time = r[time_field].as_str().expect("record time");
        let got = e["time"].as_str().unwrap_or_default();
        assert_eq!(got, expected_time(time), "{where_}");
        assert!(
            got.len() == 24 && got.as_bytes()[19] == b'.' && got.ends_with('Z'),
            "{where_}: {got}"
        );
        assert_eq!(&e["raw"], r, "{where_}: raw is the record");
        let mut derived = e.clone();
        derived.as_object_mut().unwrap().remove("raw");
        assert!(
            !derived.to_string().contains("<null>"),
            "{where_}: a `<null>` sentinel leaked: {derived}"
        );
    }

    // ----- sign-ins, as the test reads a signIn record -----

    fn sign_in_kind(r: &Value) -> &'static str {
        const KINDS: [&str; 4] = [
            "interactiveUser",
            "nonInteractiveUser",
            "servicePrincipal",
            "managedIdentity",
        ];
        if let Some(k) = r
            .get("signInEventTypes")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .and_then(|t| KINDS.into_iter().find(|k| k.eq_ignore_ascii_case(t)))
        {
            return k;
        }
        let user =
            !present(r.get("userId")).is_null() || !present(r.get("userPrincipalName")).is_null();
        let sp = !present(r.get("servicePrincipalId")).is_null()
            || !present(r.get("servicePrincipalName")).is_null();
        match r.get("isInteractive").and_then(Value::as_bool) {
            Some(true) => "interactiveUser",
            _ if !user && sp => {
                let msi = r
                    .pointer("/managedServiceIdentity/msiType")
                    .and_then(Value::as_str)
                    .is_some_and(|t| !t.eq_ignore_ascii_case("none"));
                if msi {
                    "managedIdentity"
                } else {
                    "servicePrincipal"
                }
            }
            Some(false) => "nonInteractiveUser",
            None => "interactiveUser",
        }
    }

    fn check_sign_in(where_: &str, e: &Value, r: &Value) {
        check_common(where_, "entra-sign-ins", "createdDateTime", e, r);
        let kind = sign_in_kind(r);
        let user_kind = kind.ends_with("User");
        assert_eq!(e["stream"], kind, "{where_}");
        assert_eq!(e["category"], format!("SignIn/{kind}"), "{where_}");
        let operation = match kind {
            "servicePrincipal" => "Service principal sign-in",
            "managedIdentity" => "Managed identity sign-in",
            _ => "Sign-in",
        };
        assert_eq!(e["operation"], operation, "{where_}");
        let service = match present(r.get("resourceDisplayName")) {
            Value::Null => json!("Entra ID"),
            s => s,
        };
        assert_eq!(e["service"], service, "{where_}");
        let result = match r.pointer("/status/errorCode").and_then(Value::as_i64) {
            Some(0) => "success",
            Some(_) => "failure",
            None => "unknown",
        };
        assert_eq!(e["result"], result, "{where_}");
        if result == "failure" {
            let code = r.pointer("/status/errorCode").unwrap().to_string();
            let reason = e["result_reason"].as_str().expect("a failure has a reason");
            assert!(reason.contains(&code), "{where_}: {reason}");
        } else {
            assert_eq!(e["result_reason"], Value::Null, "{where_}");
        }
        let actor = &e["actor"];
        if user_kind {
            assert_eq!(actor["kind"], "user", "{where_}");
            assert_eq!(actor["id"], present(r.get("userId")), "{where_}");
            assert_eq!(
                actor["upn"],
                present(r.get("userPrincipalName")),
                "{where_}"
            );
            assert_eq!(actor["name"], present(r.get("userDisplayName")), "{where_}");
        } else {
            assert_eq!(actor["kind"], "app", "{where_}");
            assert_eq!(
                actor["id"],
                present(r.get("servicePrincipalId")),
                "{where_}"
            );
            assert_eq!(actor["app_id"], present(r.get("appId")), "{where_}");
            assert_eq!(
                actor["name"],
                first(r, &["servicePrincipalName", "appDisplayName"]),
                "{where_}"
            );
        }
        let mut targets = Vec::new();
        let (id, name) = (
            present(r.get("resourceId")),
            present(r.get("resourceDisplayName")),
        );
        if !id.is_null() || !name.is_null() {
            targets.push(json!({"kind": "resource", "id": id, "name": name}));
        }
        let (id, name) = (present(r.get("appId")), present(r.get("appDisplayName")));
        if user_kind && (!id.is_null() || !name.is_null()) {
            targets.push(json!({"kind": "application", "id": id, "name": name}));
        }
        assert_eq!(e["targets"], Value::Array(targets), "{where_}");
        assert_eq!(e["client_ip"], present(r.get("ipAddress")), "{where_}");
        assert_eq!(
            e["location"]["country"],
            present(r.pointer("/location/countryOrRegion")),
            "{where_}"
        );
        assert_eq!(e["details"]["app_id"], present(r.get("appId")), "{where_}");
        assert_eq!(
            e["details"]["correlation_id"],
            present(r.get("correlationId")),
            "{where_}"
        );
    }

    // ----- Intune audit events -----

    fn check_intune(where_: &str, e: &Value, r: &Value) {
        check_common(where_, "intune-audit", "activityDateTime", e, r);
        assert_eq!(
            e["operation"],
            first(r, &["activity", "displayName", "activityType"]),
            "{where_}"
        );
        assert_eq!(e["service"], present(r.get("componentName")), "{where_}");
        assert_eq!(e["category"], present(r.get("category")), "{where_}");
        let result = match r
            .get("activityResult")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("success") => "success",
            Some("failure" | "failed" | "fail") => "failure",
            _ => "unknown",
        };
        assert_eq!(e["result"], result, "{where_}");
        let a = r.get("actor").cloned().unwrap_or(Value::Null);
        let actor = &e["actor"];
        let (uid, upn) = (
            present(a.get("userId")),
            present(a.get("userPrincipalName")),
        );
        let app_id = present(a.get("applicationId"));
        let app_name = first(&a, &["applicationDisplayName", "servicePrincipalName"]);
        if !uid.is_null() || !upn.is_null() {
            assert_eq!(actor["kind"], "user", "{where_}");
            assert_eq!(actor["id"], uid, "{where_}");
            assert_eq!(actor["upn"], upn, "{where_}");
        } else if !app_id.is_null() || !app_name.is_null() {
            assert_eq!(actor["kind"], "app", "{where_}");
            assert_eq!(actor["app_id"], app_id, "{where_}");
            assert_eq!(actor["name"], app_name, "{where_}");
        } else {
            assert_eq!(actor["kind"], "system", "{where_}");
        }
        assert_eq!(e["client_ip"], present(a.get("ipAddress")), "{where_}");
        let resources = r
            .get("resources")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let want: Vec<Value> = resources
            .iter()
            .map(|t| {
                json!({
                    "kind": first(t, &["type", "auditResourceType"]),
                    "id": present(t.get("resourceId")),
                    "name": present(t.get("displayName")),
                })
            })
            .collect();
        assert_eq!(e["targets"], Value::Array(want), "{where_}");
        let modified: usize = resources
            .iter()
            .map(|t| {
                t.get("modifiedProperties")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)
            })
            .sum();
        let got = e["details"]["modified_properties"]
            .as_array()
            .map_or(0, Vec::len);
        assert_eq!(got, modified, "{where_}: every modified property is kept");
    }

    // ----- message traces -----

    fn check_message_trace(where_: &str, e: &Value, r: &Value) {
        check_common(where_, "exchange-message-trace", "receivedDateTime", e, r);
        assert_eq!(e["service"], "Exchange Online", "{where_}");
        assert_eq!(e["category"], "MessageTrace", "{where_}");
        assert_eq!(e["operation"], "Message trace", "{where_}");
        let status = present(r.get("status"));
        let result = match status.as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("delivered" | "expanded") => "success",
            Some("failed" | "quarantined" | "filteredasspam") => "failure",
            _ => "unknown",
        };
        assert_eq!(e["result"], result, "{where_}");
        assert_eq!(e["details"]["status"], status, "{where_}");
        let sender = present(r.get("senderAddress"));
        if sender.is_null() {
            assert_eq!(e["actor"]["kind"], "system", "{where_}");
        } else {
            assert_eq!(e["actor"]["kind"], "user", "{where_}");
            assert_eq!(e["actor"]["upn"], sender, "{where_}");
        }
        let recipient = present(r.get("recipientAddress"));
        let targets = if recipient.is_null() {
            json!([])
        } else {
            json!([{"kind": "recipient", "id": null, "name": recipient}])
        };
        assert_eq!(e["targets"], targets, "{where_}");
        assert_eq!(e["client_ip"], present(r.get("fromIP")), "{where_}");
        assert_eq!(
            e["details"]["message_id"],
            present(r.get("messageId")),
            "{where_}"
        );
    }

    /// Every event matches its record, in order, with exit 0 and the summary line.
    fn check_all(
        out: &Outcome,
        records: &[Value],
        what: &str,
        check: fn(&str, &Value, &Value),
    ) -> Vec<Value> {
        assert_eq!(out.code, 0, "{what}: {}", out.stderr);
        let events = out.events();
        assert_eq!(events.len(), records.len(), "{what}: one line per record");
        assert!(
            out.stderr
                .contains(&format!("{} normalized, 0 quarantined", records.len())),
            "{what}: {}",
            out.stderr
        );
        for (i, (e, r)) in events.iter().zip(records).enumerate() {
            check(&format!("{what} record {}", i + 1), e, r);
        }
        events
    }

    #[test]
    fn sign_ins_from_a_v1_list_response() {
        let path = fixture("entra-sign-ins/list-response.json");
        let out = normalize("entra-sign-ins", &[&path]);
        let e = check_all(&out, &records_in(&path), "list-response", check_sign_in);
        assert_eq!(e[0]["time"], "2024-06-03T08:12:45.123Z");
        assert_eq!(e[0]["result"], "success");
        assert_eq!(e[0]["service"], "Office 365 Exchange Online");
        assert_eq!(e[0]["actor"]["upn"], "priya@tailspin.example");
        assert_eq!(
            e[0]["user_agent"],
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edg/125.0"
        );
        assert_eq!(
            e[0]["location"],
            json!({"city": "Seattle", "state": "Washington", "country": "US", "lat": 47.6062, "lon": -122.3321})
        );
        let d = &e[0]["details"];
        assert_eq!(d["device"]["name"], "TS-LT-0042");
        assert_eq!(d["device"]["is_compliant"], true);
        assert_eq!(d["device"]["trust_type"], "Azure AD joined");
        assert_eq!(
            d["applied_ca_policies"],
            json!([{"name": "Require MFA for all users", "result": "success"}])
        );
        assert_eq!(
            d["failure_reason"],
            Value::Null,
            "`Other.` on a success is dropped"
        );
        assert_eq!(d["status_code"], 0);

        assert_eq!(e[1]["result"], "failure", "the MFA interrupt");
        assert_eq!(
            e[1]["result_reason"],
            "Strong Authentication is required. (error 50074)"
        );
        assert_eq!(e[1]["client_ip"], "2001:db8:4::17");
        assert_eq!(e[1]["location"]["lat"], Value::Null);
        assert_eq!(e[1]["details"]["risk"]["level_aggregated"], "hidden");
        assert_eq!(
            e[1]["details"].get("device").map(|d| d.get("id")),
            Some(None)
        );

        assert_eq!(
            e[2]["time"], "2024-06-03T08:12:45.000Z",
            "offsets become UTC"
        );
        assert_eq!(e[2]["service"], "Windows Azure Service Management API");
        assert_eq!(
            e[2]["location"],
            json!({"city": null, "state": null, "country": "NL", "lat": null, "lon": null}),
            "(0, 0) is not a place"
        );
        assert_eq!(
            e[2]["details"]["risk"]["event_types"],
            json!(["unlikelyTravel", "anonymizedIPAddress"])
        );
        assert_eq!(e[2]["details"].get("applied_ca_policies"), None);
    }

    #[test]
    fn sign_ins_of_every_beta_kind_keep_their_bytes() {
        let path = fixture("entra-sign-ins/beta-kinds.ndjson");
        let out = normalize("entra-sign-ins", &[&path]);
        let e = check_all(&out, &records_in(&path), "beta-kinds", check_sign_in);
        let streams: Vec<&str> = e.iter().map(|e| e["stream"].as_str().unwrap()).collect();
        assert_eq!(
            streams,
            ["nonInteractiveUser", "servicePrincipal", "managedIdentity"]
        );
        assert_eq!(
            e[0]["details"]["incoming_token_type"],
            "primaryRefreshToken"
        );
        assert_eq!(e[0]["details"]["is_interactive"], false);
        assert_eq!(e[1]["actor"]["name"], "invoice-sync");
        assert_eq!(
            e[1]["result_reason"],
            "The provided client secret keys for app are expired. (error 7000222)"
        );
        assert_eq!(e[2]["result"], "success");
        assert_eq!(e[2]["client_ip"], Value::Null);
        assert_eq!(e[2]["location"], Value::Null);
        assert_eq!(e[2]["details"]["managed_identity_type"], "systemAssigned");
        let text = std::fs::read_to_string(&path).unwrap();
        for (line, input) in out.stdout.lines().zip(text.lines()) {
            assert!(
                line.ends_with(&format!(",\"raw\":{input}}}")),
                "raw is the input line verbatim: {line}"
            );
        }
    }

    #[test]
    fn a_sign_in_without_a_time_is_quarantined_by_line() {
        let path = fixture("entra-sign-ins/one-bad.ndjson");
        let out = normalize("entra-sign-ins", &[&path]);
        assert_eq!(out.code, 3, "{}", out.stderr);
        assert_eq!(
            out.record_ids(),
            [
                "c0ffee03-2b3c-4d5e-8f60-718293a4b521",
                "c0ffee03-2b3c-4d5e-8f60-718293a4b523"
            ]
        );
        let needle = format!(
            "{}:line 2: required field `createdDateTime` is missing",
            path.display()
        );
        assert!(out.stderr.contains(&needle), "{}", out.stderr);
        assert!(
            out.stderr.contains("2 normalized, 1 quarantined"),
            "{}",
            out.stderr
        );
        let e = out.events();
        assert_eq!(e[1]["result"], "failure");
        assert_eq!(e[1]["targets"], json!([]));
    }

    #[test]
    fn the_sign_in_diagnostic_settings_envelope_is_read_with_its_kind() {
        let path = fixture("entra-sign-ins/diagnostic-lines.ndjson");
        let out = normalize("entra-sign-ins", &[&path]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let envelopes = records_in(&path);
        let events = out.events();
        assert_eq!(events.len(), envelopes.len());
        for (i, (e, env)) in events.iter().zip(&envelopes).enumerate() {
            let where_ = format!("diagnostic-lines record {}", i + 1);
            let inner = super::unwrap_envelope(&where_, e, env);
            check_sign_in(&where_, &inner, &super::envelope_record(env));
        }
    }

    #[test]
    fn intune_audit_events_from_a_list_response() {
        let path = fixture("intune-audit/list-response.json");
        let out = normalize("intune-audit", &[&path]);
        let e = check_all(&out, &records_in(&path), "intune list", check_intune);
        assert_eq!(e[0]["operation"], "Create device configuration assignment");
        assert_eq!(e[0]["service"], "DeviceConfiguration");
        assert_eq!(e[0]["result"], "success");
        assert_eq!(e[0]["actor"]["upn"], "lena@tailspin.example");
        assert_eq!(e[0]["client_ip"], "198.51.100.80");
        assert_eq!(
            e[0]["targets"][1]["name"],
            Value::Null,
            "`<null>` is absent"
        );
        assert_eq!(
            e[0]["details"]["application_display_name"],
            "Microsoft Intune portal extension"
        );
        assert_eq!(
            e[0]["details"]["activity_type"],
            "Create DeviceManagementConfigurationPolicyAssignment"
        );
        assert_eq!(e[0]["details"]["user_permissions"], json!(["*"]));
        assert_eq!(
            e[0]["details"]["modified_properties"][2],
            json!({"target": "a9b8c7d6-e5f4-4a3b-9c2d-1e0f9a8b7c01_c4d5e6f7-0000-4000-8000-000000000001",
                   "property": "Target.DeviceAndAppManagementAssignmentFilterId",
                   "old_value": null, "new_value": null})
        );

        assert_eq!(e[1]["time"], "2024-06-05T20:30:00.000Z");
        assert_eq!(e[1]["result"], "failure");
        assert_eq!(e[1]["actor"]["kind"], "app");
        assert_eq!(e[1]["actor"]["name"], "Device cleanup runbook");
        assert_eq!(e[1]["client_ip"], Value::Null);
        assert_eq!(e[1]["targets"][0]["kind"], "ManagedDevice");

        assert_eq!(e[2]["operation"], "Delete DeviceEnrollmentConfiguration");
        assert_eq!(e[2]["actor"]["kind"], "system");
        assert_eq!(
            e[2]["result"], "unknown",
            "Intune's result words other than success/failure"
        );
        assert_eq!(e[2]["time"], "2024-06-05T23:59:59.999Z");
    }

    #[test]
    fn intune_audit_events_from_stdin() {
        let path = fixture("intune-audit/records.ndjson");
        let out = auditlake(
            &["normalize", "--source", "intune-audit"],
            Some(std::fs::read(&path).unwrap()),
        );
        let e = check_all(&out, &records_in(&path), "intune stdin", check_intune);
        assert_eq!(e[1]["actor"]["id"], Value::Null);
        assert_eq!(e[1]["actor"]["upn"], "omar@tailspin.example");
        assert_eq!(e[1]["client_ip"], "2001:db8:9::80");
    }

    #[test]
    fn message_traces_map_each_status() {
        let path = fixture("exchange-message-trace/list-response.json");
        let out = normalize("exchange-message-trace", &[&path]);
        let e = check_all(&out, &records_in(&path), "trace list", check_message_trace);
        let results: Vec<(&str, &str)> = e
            .iter()
            .map(|e| {
                (
                    e["details"]["status"].as_str().unwrap(),
                    e["result"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            results,
            [
                ("delivered", "success"),
                ("expanded", "success"),
                ("failed", "failure"),
                ("quarantined", "failure"),
                ("filteredAsSpam", "failure"),
                ("pending", "unknown"),
            ]
        );
        assert_eq!(e[0]["actor"]["upn"], "Priya@Tailspin.example", "as given");
        assert_eq!(e[0]["details"]["size"], 35210);
        assert_eq!(e[0]["details"].get("to_ip"), None);
        assert_eq!(e[2]["time"], "2024-06-07T09:30:00.100Z");
        assert_eq!(e[3]["result_reason"], "quarantined");
        assert_eq!(e[5]["details"]["to_ip"], "203.0.113.99");
        assert_eq!(
            e[5]["details"].get("subject"),
            None,
            "an empty subject is absent"
        );
    }

    #[test]
    fn message_traces_from_ndjson() {
        let path = fixture("exchange-message-trace/records.ndjson");
        let out = normalize("exchange-message-trace", &[&path]);
        let e = check_all(
            &out,
            &records_in(&path),
            "trace ndjson",
            check_message_trace,
        );
        assert_eq!(e[1]["actor"]["kind"], "system", "a bounce has no sender");
        assert_eq!(e[1]["result"], "unknown");
        assert_eq!(e[1]["result_reason"], "gettingStatus");
    }

    #[test]
    fn m365_activity_is_still_refused() {
        let path = fixture("exchange-message-trace/records.ndjson");
        let out = normalize("m365-activity", &[&path]);
        assert_eq!(out.code, 2);
        assert!(out.stderr.contains("not supported"), "{}", out.stderr);
        assert!(out.stdout.is_empty());
    }

    // ----- the shared corpus -----

    fn corpus_dir(folder: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/corpus")
            .join(folder)
    }

    fn is_envelope(v: &Value) -> bool {
        v.get("records").is_some()
            || (v.get("properties").is_some_and(Value::is_object)
                && (v.get("operationName").is_some() || v.get("resourceId").is_some()))
    }

    /// Runs every file of a corpus folder: Graph files must conform record by record; files in
    /// the diagnostic-settings envelope must conform on `properties` (sign-ins) or be refused (exit 2,
    /// other sources); files in another format (no
    /// record carries the Graph time field) are skipped with a note. Returns the number of
    /// Graph files checked, or `None` when the folder is absent.
    fn conform(
        folder: &str,
        source: &str,
        time_field: &str,
        check: fn(&str, &Value, &Value),
    ) -> Option<usize> {
        let dir = corpus_dir(folder);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!(
                "note: corpus not found at {}; {source} conformance not checked on this machine",
                dir.display()
            );
            return None;
        };
        let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        files.retain(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|x| x.to_str()),
                    Some("json" | "ndjson")
                )
        });
        files.sort();
        let (mut graph, mut envelope, mut other, mut records) = (0, 0, 0, 0);
        for path in &files {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let found = records_in(path);
            if found.iter().any(is_envelope) {
                let out = normalize(source, &[path]);
                if source != "entra-sign-ins" {
                    // Only Entra's audit and sign-in exports carry the Graph object.
                    assert_eq!(out.code, 2, "{name}: {}", out.stderr);
                    assert!(
                        out.stderr.contains("diagnostic-settings"),
                        "{name}: {}",
                        out.stderr
                    );
                    envelope += 1;
                    continue;
                }
                assert_eq!(out.code, 0, "{name}: {}", out.stderr);
                let events = out.events();
                assert_eq!(events.len(), found.len(), "{name}: one line per record");
                for (i, (e, env)) in events.iter().zip(&found).enumerate() {
                    let where_ = format!("{name} record {}", i + 1);
                    let inner = super::unwrap_envelope(&where_, e, env);
                    check(&where_, &inner, &super::envelope_record(env));
                }
                envelope += 1;
                records += found.len();
                continue;
            }
            if !found.iter().any(|r| r.get(time_field).is_some()) {
                eprintln!(
                    "note: {folder}/{name} is not a Graph {source} file (no `{time_field}`); skipped"
                );
                other += 1;
                continue;
            }
            let out = normalize(source, &[path]);
            check_all(&out, &found, &name, check);
            graph += 1;
            records += found.len();
        }
        eprintln!(
            "corpus {folder}: {graph} Graph files ({records} records) conform; {envelope} envelope files refused; {other} other-format files skipped"
        );
        Some(graph)
    }

    #[test]
    fn sign_ins_conform_on_the_shared_corpus() {
        if let Some(graph) = conform(
            "graph-signins",
            "entra-sign-ins",
            "createdDateTime",
            check_sign_in,
        ) {
            assert!(graph > 0, "graph-signins holds no Graph-format file");
        }
    }

    #[test]
    fn intune_audit_events_conform_on_the_shared_corpus() {
        if let Some(graph) = conform(
            "intune-audit-events",
            "intune-audit",
            "activityDateTime",
            check_intune,
        ) {
            assert!(graph > 0, "intune-audit-events holds no Graph-format file");
        }
    }

    #[test]
    fn message_traces_conform_on_the_shared_corpus() {
        // The folder holds a Reporting Web Service row and a Get-MessageTraceV2 row (PascalCase,
        // `Received`), neither of them Graph; they are skipped, and any Graph file added later
        // is checked.
        conform(
            "message-trace",
            "exchange-message-trace",
            "receivedDateTime",
            check_message_trace,
        );
    }
}

/// Checks that an event read from a diagnostic-settings record kept the whole record as `raw`
/// and took the envelope's tenant, and returns the event as if read from the Graph object alone
/// (`raw` = [`envelope_record`]), for the per-source field checks.
fn unwrap_envelope(
    where_: &str,
    event: &serde_json::Value,
    envelope: &serde_json::Value,
) -> serde_json::Value {
    assert_eq!(
        &event["raw"], envelope,
        "{where_}: raw keeps the whole envelope record"
    );
    if let Some(t) = envelope.get("tenantId").and_then(|t| t.as_str()) {
        assert_eq!(event["tenant_id"], t, "{where_}: tenant from the envelope");
    }
    let mut inner = event.clone();
    inner["raw"] = envelope_record(envelope);
    inner
}

/// The Graph object of a diagnostic-settings record, with the sign-in kind its log category
/// names made explicit (as Graph's beta `signInEventTypes`), since the category is what tells a
/// managed identity's sign-in from a service principal's in this export.
fn envelope_record(envelope: &serde_json::Value) -> serde_json::Value {
    let mut record = envelope["properties"].clone();
    let kind = match envelope.get("category").and_then(|c| c.as_str()) {
        Some("SignInLogs") => Some("interactiveUser"),
        Some("NonInteractiveUserSignInLogs") => Some("nonInteractiveUser"),
        Some("ServicePrincipalSignInLogs" | "MicrosoftServicePrincipalSignInLogs") => {
            Some("servicePrincipal")
        }
        Some("ManagedIdentitySignInLogs") => Some("managedIdentity"),
        _ => None,
    };
    if let (Some(kind), Some(obj)) = (kind, record.as_object_mut()) {
        obj.insert("signInEventTypes".into(), serde_json::json!([kind]));
    }
    record
}

mod documentation {
    //! The configuration the code parses, the README's table and the template agree.

    use auditlake::config::{PULLER_VARS, QUERY_VARS};

    fn read(rel: &str) -> String {
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
    }

    #[test]
    fn every_variable_is_in_the_readme_table() {
        let readme = read("../README.md");
        for (var, _, _) in PULLER_VARS.iter().chain(QUERY_VARS) {
            assert!(
                readme.contains(&format!("`{var}`")),
                "{var} is missing from README.md"
            );
        }
    }

    #[test]
    fn the_template_sets_only_variables_the_code_reads() {
        let template = read("../template.yaml");
        let known: Vec<&str> = PULLER_VARS.iter().chain(QUERY_VARS).map(|v| v.0).collect();
        let mut seen = 0;
        for word in template.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("AUDITLAKE_") {
                assert!(
                    known.contains(&word),
                    "template.yaml sets {word}, which no function reads"
                );
                seen += 1;
            }
        }
        assert!(seen > 0);
        assert!(
            !template.contains("AWS_ENDPOINT_URL"),
            "the template never points at a local stack"
        );
    }
}
