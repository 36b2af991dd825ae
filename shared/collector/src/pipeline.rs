//! One pull run (ARCHITECTURE.md, "Bird's-eye view"): take the stream's lease, plan the window from the
//! watermark (`watermark - overlap` to `now - lag`, clamped at the source's history edge), cut it
//! into chunks, and for each chunk stream pages: raw bytes to S3 first, then normalize, quarantine
//! what fails, and conditionally insert into the event store. The watermark advances only after a
//! whole chunk is durable, and only while the lease still holds; a chunk cut short by the deadline
//! is pulled again whole by the next run, and dedupe absorbs the repeat.
//!
//! Invariants: a record's raw bytes are in S3 before anything derived from it is written; the
//! watermark never passes a record that is not durable; a backfill never moves the watermark.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use futures::StreamExt;
use serde_json::value::RawValue;

use crate::sources::{SourceError, SourcePuller};
use domain::model::{ErrorInfo, Gap, RawRef, RunMode, RunSummary, Source, Window, fmt_time};
use domain::normalize::{self, Context};
use domain::store::{
    EventStore, HealthUpdate, Lease, RawStore, StateError, StateStore, StoreError, StoredEvent,
    StreamKey, keys,
};
use domain::stream::Stream;
use runtime::clock::{Clock, Deadline};

/// Records whose raw JSON is larger than this are not carried inline in the event at all (the
/// curated layer then has only `raw_ref`); the hot store always keeps `raw_ref` alone.
pub const INLINE_RAW_LIMIT: usize = 300_000;
/// Extra lease time beyond the run's deadline, so a crashed run's lease expires soon after.
const LEASE_MARGIN: TimeDelta = TimeDelta::minutes(2);
/// Lease length when the run has no deadline (CLI without a budget).
const UNBOUNDED_LEASE: TimeDelta = TimeDelta::minutes(30);
/// The history edge is taken this far inside Microsoft's stated retention.
const EDGE_MARGIN: TimeDelta = TimeDelta::minutes(10);

/// What triggered a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// A scheduled tick: continue from the watermark.
    Scheduled,
    /// Pull exactly this range; the watermark is not touched.
    Backfill(Window),
}

/// Invocation payload problems.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvocationError {
    #[error("a backfill needs both `start` and `end`")]
    Incomplete,
    #[error("`{field}` is not an RFC 3339 time: {value}")]
    BadTime { field: &'static str, value: String },
    #[error("backfill `start` must be before `end`")]
    Empty,
}

impl Invocation {
    /// Reads a Lambda payload: any payload without `start`/`end` (an EventBridge scheduled event,
    /// `{}`, `null`) is a scheduled tick; `{"start","end"}` is a backfill.
    pub fn from_payload(payload: &serde_json::Value) -> Result<Self, InvocationError> {
        let field = |name: &'static str| -> Result<Option<DateTime<Utc>>, InvocationError> {
            match payload.get(name) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(v) => v
                    .as_str()
                    .and_then(domain::model::parse_time)
                    .map(Some)
                    .ok_or_else(|| InvocationError::BadTime {
                        field: name,
                        value: v.to_string(),
                    }),
            }
        };
        match (field("start")?, field("end")?) {
            (None, None) => Ok(Invocation::Scheduled),
            (Some(start), Some(end)) if start < end => {
                Ok(Invocation::Backfill(Window::new(start, end)))
            }
            (Some(_), Some(_)) => Err(InvocationError::Empty),
            _ => Err(InvocationError::Incomplete),
        }
    }
}

/// Tunables of the pipeline (from [`domain::config::PullerConfig`]).
#[derive(Debug, Clone)]
pub struct Settings {
    pub lag: TimeDelta,
    pub overlap: TimeDelta,
    pub initial_lookback: TimeDelta,
    pub hot_retention: TimeDelta,
}

/// Preflight checks a stream's first run records in its health (the app plugs the doctor in).
#[async_trait::async_trait]
pub trait FirstRunCheck: Send + Sync {
    async fn findings(&self, stream: Option<Stream>) -> Vec<domain::store::Finding>;
}

/// Everything a run needs, built once per container.
pub struct Pipeline {
    pub tenant_id: String,
    pub source: Arc<dyn SourcePuller>,
    pub raw: Arc<dyn RawStore>,
    pub events: Arc<dyn EventStore>,
    pub state: Arc<dyn StateStore>,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
    /// Run at a stream's first scheduled run; findings go to health.
    pub first_run_check: Option<Arc<dyn FirstRunCheck>>,
}

/// Why a window stopped.
#[derive(Debug, thiserror::Error)]
enum Stop {
    #[error("time budget exhausted")]
    Deadline,
    #[error(transparent)]
    Source(SourceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    State(#[from] StateError),
}

impl Stop {
    fn info(&self) -> Option<ErrorInfo> {
        match self {
            Stop::Deadline => None,
            Stop::Source(e) => Some(e.info()),
            Stop::Store(e) => Some(e.info()),
            Stop::State(e) => Some(ErrorInfo {
                code: "CheckpointConflict".into(),
                message: e.to_string(),
            }),
        }
    }
}

impl From<SourceError> for Stop {
    fn from(e: SourceError) -> Self {
        if e.is_deadline() {
            Stop::Deadline
        } else {
            Stop::Source(e)
        }
    }
}

/// Per-run mutable state.
struct Run<'a> {
    key: StreamKey,
    run_id: String,
    deadline: &'a Deadline,
    summary: RunSummary,
    seq: u64,
    doctor: Option<Vec<domain::store::Finding>>,
}

impl Pipeline {
    /// Runs every stream of the source once and returns one summary per stream, in the order
    /// of [`SourcePuller::streams`]. Streams run one after another, or all at once when the
    /// source allows it (each stream has its own lease and checkpoint either way).
    pub async fn run(&self, invocation: &Invocation, deadline: Deadline) -> Vec<RunSummary> {
        let streams = self.source.streams();
        if self.source.concurrent_streams() {
            let runs = streams
                .into_iter()
                .map(|stream| self.run_stream(stream, invocation, &deadline));
            return futures::future::join_all(runs).await;
        }
        let mut out = Vec::new();
        for stream in streams {
            out.push(self.run_stream(stream, invocation, &deadline).await);
        }
        out
    }

    /// Plans a scheduled run's window from the watermark; returns the window and any gap.
    pub fn plan(
        &self,
        watermark: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> (Window, Option<Gap>) {
        let edge = now - self.source.history() + EDGE_MARGIN;
        let end = now - self.settings.lag;
        let (start, gap) = match watermark {
            Some(w) if w < edge => (
                edge,
                Some(Gap {
                    from: fmt_time(w),
                    to: fmt_time(edge),
                    secs: (edge - w).num_seconds(),
                    ..Gap::default()
                }),
            ),
            Some(w) => ((w - self.settings.overlap).max(edge), None),
            None => ((now - self.settings.initial_lookback).max(edge), None),
        };
        (Window::new(start, end), gap)
    }

    async fn run_stream(
        &self,
        stream: Option<Stream>,
        invocation: &Invocation,
        deadline: &Deadline,
    ) -> RunSummary {
        let started = Instant::now();
        let source = self.source.source();
        let run_id = uuid::Uuid::new_v4().simple().to_string();
        let mut run = Run {
            key: StreamKey::new(self.tenant_id.clone(), source, stream),
            run_id: run_id.clone(),
            deadline,
            summary: RunSummary {
                source,
                stream,
                run_id,
                mode: match invocation {
                    Invocation::Scheduled => RunMode::Scheduled,
                    Invocation::Backfill(_) => RunMode::Backfill,
                },
                window_start: None,
                window_end: None,
                windows: 0,
                pulled: 0,
                new: 0,
                duplicates: 0,
                quarantined: 0,
                raw_objects: 0,
                raw_bytes: 0,
                lag_secs: None,
                complete: false,
                skipped: None,
                gap: None,
                lost: Vec::new(),
                error: None,
                duration_ms: 0,
            },
            seq: 0,
            doctor: None,
        };
        let watermark = match invocation {
            Invocation::Scheduled => self.scheduled(&mut run).await,
            Invocation::Backfill(w) => {
                let (clamped, gap) = self.clamp_backfill(*w);
                run.summary.gap = gap;
                self.pull_range(&mut run, clamped, None).await;
                None
            }
        };
        let now = self.clock.now();
        if let Some(w) = watermark {
            run.summary.lag_secs = Some((now - w).num_seconds());
        }
        run.summary.duration_ms = started.elapsed().as_millis() as u64;
        if run.summary.skipped.is_none() {
            let update = HealthUpdate {
                at: now,
                summary: run.summary.clone(),
                watermark,
                doctor: run.doctor.take(),
            };
            if let Err(e) = self.state.record_health(&run.key, update).await {
                tracing::error!(error = %e, "Could not record health.");
            }
        }
        log_summary(&run.summary);
        run.summary
    }

    fn clamp_backfill(&self, w: Window) -> (Window, Option<Gap>) {
        let edge = self.clock.now() - self.source.history() + EDGE_MARGIN;
        if w.start >= edge {
            return (w, None);
        }
        let gap_end = w.end.min(edge);
        let gap = Gap {
            from: fmt_time(w.start),
            to: fmt_time(gap_end),
            secs: (gap_end - w.start).num_seconds(),
            ..Gap::default()
        };
        (Window::new(edge.max(w.start), w.end), Some(gap))
    }

    /// A scheduled run; returns the watermark after it.
    async fn scheduled(&self, run: &mut Run<'_>) -> Option<DateTime<Utc>> {
        let now = self.clock.now();
        let budget = run
            .deadline
            .remaining()
            .and_then(|d| TimeDelta::from_std(d).ok())
            .unwrap_or(UNBOUNDED_LEASE);
        let lease = match self
            .state
            .acquire(&run.key, &run.run_id, now, now + budget + LEASE_MARGIN)
            .await
        {
            Ok(l) => l,
            Err(StateError::Locked { owner, until }) => {
                tracing::warn!(holder = %owner, until = %until, "Another run holds this stream; skipping.");
                run.summary.skipped = Some("locked".into());
                return None;
            }
            Err(e) => {
                run.summary.error = Some(Stop::State(e).info().unwrap_or_else(unknown));
                return None;
            }
        };
        let (window, gap) = self.plan(lease.watermark, now);
        run.summary.gap = gap;
        let mut lease = lease;
        if lease.watermark.is_none()
            && let Some(check) = &self.first_run_check
        {
            run.doctor = Some(check.findings(run.key.stream).await);
        }
        if lease.watermark.is_none() {
            // First run: pin where collection starts, so a first run cut short does not let the
            // lookback slide forward with the next run's clock and lose its oldest minutes.
            match self
                .state
                .advance(&run.key, &lease, window.start.min(window.end))
                .await
            {
                Ok(l) => lease = l,
                Err(e) => {
                    run.summary.error = Some(Stop::State(e).info().unwrap_or_else(unknown));
                    return None;
                }
            }
        }
        let watermark = self
            .pull_range(run, window, Some(&mut lease))
            .await
            .or(lease.watermark);
        if let Err(e) = self.state.release(&run.key, &lease).await {
            tracing::warn!(error = %e, "Could not release the lease; it expires on its own.");
        }
        watermark
    }

    /// Pulls `window` chunk by chunk; with a lease, advances the watermark after each chunk.
    /// Returns the last watermark written.
    async fn pull_range(
        &self,
        run: &mut Run<'_>,
        window: Window,
        mut lease: Option<&mut Lease>,
    ) -> Option<DateTime<Utc>> {
        run.summary.window_start = Some(fmt_time(window.start));
        let mut estimate = Duration::ZERO;
        let mut watermark = None;
        for chunk in window.chunks(self.source.chunk()) {
            if run
                .deadline
                .remaining()
                .is_some_and(|left| left <= estimate)
            {
                tracing::info!(window = %chunk, "Not enough time left for another window; the next run resumes here.");
                return watermark;
            }
            let t0 = Instant::now();
            let pulled = self.pull_window(run, chunk).await;
            // The chunk's counters, whether or not it completed: its stored events are counted.
            self.events.flush().await;
            let outcome = match pulled {
                Ok(()) => match lease.as_deref_mut() {
                    Some(l) => match self.state.advance(&run.key, l, chunk.end).await {
                        Ok(next) => {
                            *l = next;
                            watermark = l.watermark;
                            Ok(())
                        }
                        Err(e) => Err(Stop::State(e)),
                    },
                    None => Ok(()),
                },
                Err(e) => Err(e),
            };
            if let Err(stop) = outcome {
                if let Stop::Deadline = stop {
                    tracing::info!(window = %chunk, "Time budget ran out mid-window; the next run pulls it again.");
                } else {
                    tracing::error!(window = %chunk, error = %stop, "Window failed.");
                }
                run.summary.error = stop.info();
                return watermark;
            }
            run.summary.windows += 1;
            run.summary.window_end = Some(fmt_time(chunk.end));
            estimate = estimate.max(t0.elapsed());
        }
        run.summary.complete = true;
        watermark
    }

    async fn pull_window(&self, run: &mut Run<'_>, window: Window) -> Result<(), Stop> {
        let source = self.source.clone();
        let stream = run.key.stream;
        // The source checks the deadline before each request and drains what is in flight, so
        // every page it yields is stored (work already fetched is never thrown away).
        let mut pages = source.pages(stream, window, run.deadline);
        while let Some(page) = pages.next().await {
            let page = page?;
            if !page.records.is_empty() {
                self.store_page(run, page.records).await?;
            }
            if let Some(receipt) = &page.receipt {
                source.committed(stream, receipt).await?;
            }
            for lost in page.lost {
                tracing::warn!(content_id = lost.content_id.as_deref().unwrap_or("-"), created = %lost.from, "Content expired before it could be fetched; recorded as a gap.");
                run.summary.lost.push(lost);
            }
        }
        Ok(())
    }

    /// Raw to S3, then normalize, quarantine failures, and insert with dedupe.
    async fn store_page(&self, run: &mut Run<'_>, records: Vec<Box<RawValue>>) -> Result<(), Stop> {
        let writer = PageWriter {
            tenant_id: &self.tenant_id,
            source: self.source.source(),
            stream: run.key.stream,
            run_id: &run.run_id,
            raw: self.raw.as_ref(),
            events: self.events.as_ref(),
            clock: self.clock.as_ref(),
            hot_retention: self.settings.hot_retention,
            envelope: false,
        };
        let mut counts = PageCounts::default();
        let stored = writer.store(&mut run.seq, records, &mut counts).await;
        let s = &mut run.summary;
        s.pulled += counts.pulled;
        s.raw_objects += counts.raw_objects;
        s.raw_bytes += counts.raw_bytes;
        s.quarantined += counts.quarantined;
        s.new += counts.new;
        s.duplicates += counts.duplicates;
        Ok(stored?)
    }
}

/// What [`PageWriter::store`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PageCounts {
    pub pulled: u64,
    pub raw_objects: u64,
    pub raw_bytes: u64,
    pub quarantined: u64,
    pub new: u64,
    pub duplicates: u64,
}

/// Stores one page of records the one way auditlake stores records, for pulls and imports
/// alike: raw bytes to S3 first, then normalize, quarantine what fails (with its reason), and
/// insert the rest with dedupe.
pub struct PageWriter<'a> {
    pub tenant_id: &'a str,
    pub source: Source,
    pub stream: Option<Stream>,
    /// Unique per run or import; part of every object key, so objects are never overwritten.
    pub run_id: &'a str,
    pub raw: &'a dyn RawStore,
    pub events: &'a dyn EventStore,
    pub clock: &'a dyn Clock,
    pub hot_retention: TimeDelta,
    /// Records are Azure Monitor diagnostic-settings records (the Graph object under `properties`).
    pub envelope: bool,
}

impl PageWriter<'_> {
    /// Stores `records`; `seq` numbers the objects written. Counts are updated as far as it got.
    pub async fn store(
        &self,
        seq: &mut u64,
        records: Vec<Box<RawValue>>,
        counts: &mut PageCounts,
    ) -> Result<(), StoreError> {
        let written = self.clock.now();
        let raw_key = keys::raw_key(
            self.source,
            self.stream.map(Stream::name),
            written,
            self.run_id,
            *seq,
        );
        *seq += 1;
        let body = gzip_lines(records.iter().map(|r| r.get()))?;
        let bytes = body.len() as u64;
        self.raw.put(&raw_key, body).await?;
        counts.pulled += records.len() as u64;
        counts.raw_objects += 1;
        counts.raw_bytes += bytes;

        let ctx = Context {
            tenant_id: self.tenant_id,
            stream: self.stream.map(Stream::name),
            ingested_at: written,
        };
        let expires_at = (written + self.hot_retention).timestamp();
        let mut good = Vec::with_capacity(records.len());
        let mut bad = Vec::new();
        for (line, record) in records.iter().enumerate() {
            let normalized = if self.envelope {
                normalize::normalize_envelope(self.source, record, ctx)
            } else {
                normalize::normalize(self.source, record, ctx)
            };
            match normalized {
                Ok(mut event) => {
                    // Every event knows where its raw record is: the hot store keeps the
                    // reference instead of the record (aws::codec); the curated layer keeps
                    // the record itself, unless it is past the inline limit.
                    if record.get().len() > INLINE_RAW_LIMIT {
                        event.raw = None;
                    }
                    event.raw_ref = Some(RawRef {
                        key: raw_key.clone(),
                        line: line as u64 + 1,
                    });
                    good.push(StoredEvent { event, expires_at });
                }
                Err(e) => bad.push(serde_json::json!({
                    "reason": e.to_string(),
                    "raw_key": raw_key,
                    "line": line + 1,
                    "record": record,
                })),
            }
        }
        if !bad.is_empty() {
            let qkey = keys::quarantine_key(self.source, written, self.run_id, *seq);
            *seq += 1;
            let lines: Vec<String> = bad.iter().map(|b| b.to_string()).collect();
            self.raw
                .put(&qkey, gzip_lines(lines.iter().map(String::as_str))?)
                .await?;
            tracing::warn!(count = bad.len(), key = %qkey, "Quarantined records that could not be normalized.");
            counts.quarantined += bad.len() as u64;
        }
        if !good.is_empty() {
            let outcomes = self.events.put_new(good).await?;
            let new = outcomes.iter().filter(|n| **n).count() as u64;
            counts.new += new;
            counts.duplicates += outcomes.len() as u64 - new;
        }
        Ok(())
    }
}

fn unknown() -> ErrorInfo {
    ErrorInfo {
        code: "Unknown".into(),
        message: "unknown error".into(),
    }
}

/// Gzips records as NDJSON. JSON text cannot hold a raw newline inside a string, so a newline in
/// a record is whitespace between tokens; it becomes a space to keep one record per line.
pub fn gzip_lines<'a>(lines: impl Iterator<Item = &'a str>) -> Result<Vec<u8>, StoreError> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    let io = |e: std::io::Error| StoreError::backend("gzip", "raw object", e);
    for line in lines {
        if line.contains(['\n', '\r']) {
            gz.write_all(line.replace(['\n', '\r'], " ").as_bytes())
                .map_err(io)?;
        } else {
            gz.write_all(line.as_bytes()).map_err(io)?;
        }
        gz.write_all(b"\n").map_err(io)?;
    }
    gz.finish().map_err(io)
}

fn log_summary(s: &RunSummary) {
    tracing::info!(
        source = %s.source,
        stream = s.stream.map_or("-", Stream::name),
        run_id = %s.run_id,
        mode = %s.mode,
        window_start = s.window_start.as_deref().unwrap_or("-"),
        window_end = s.window_end.as_deref().unwrap_or("-"),
        pulled = s.pulled,
        new = s.new,
        duplicates = s.duplicates,
        quarantined = s.quarantined,
        raw_objects = s.raw_objects,
        complete = s.complete,
        skipped = s.skipped.as_deref().unwrap_or("-"),
        error = s.error.as_ref().map(|e| e.code.as_str()).unwrap_or("-"),
        duration_ms = s.duration_ms,
        "Run finished."
    );
}
