//! `auditlake-bench`: the measurements behind BENCHMARKS.md (run them with `scripts/bench`).
//!
//! Both take `--source`: `entra-directory-audits` (the default) or `entra-sign-ins`.
//!
//! - `gen --records N --out FILE` starts the tenant simulator with enough history, pages through
//!   `GET /v1.0/auditLogs/directoryAudits` (or `GET /v1.0/auditLogs/signIns`, which serves the
//!   interactive sign-ins) like any Graph client (client-credentials token, hourly `$filter`
//!   windows, `@odata.nextLink`) and writes exactly N records as NDJSON, each record's bytes as
//!   served: the input of the `auditlake normalize` benchmark.
//! - `pull --events N` starts moto and the simulator (history sized from the simulator's
//!   per-stream volumes for about N events over every stream pulled, no faults), provisions the
//!   local stack and runs scheduled ticks of the real puller (for sign-ins, every stream of
//!   `AUDITLAKE_SIGNIN_KINDS`: all four kinds by default) until every stream's watermark reaches
//!   the end of the history. It checks each stream's store against the simulator's ground truth
//!   for that stream, then reports throughput, Graph requests per route, peak RSS (this process,
//!   moto, the simulator when it runs as a child), where the time went (S3 and DynamoDB calls,
//!   timed through wrapped ports), S3 raw bytes per event and DynamoDB item sizes computed with
//!   AWS's item-size rules (what drives cost).
//!
//! - `pull-1m --events N` pulls about N events (default 1,000,000) through the real puller into
//!   stores that only count, and reports the puller's peak RSS (see `bench/pull_1m.rs`).
//!
//! - `query --events N` stores N generated events in moto and measures pages of the query API's
//!   `GET /events` with and without filters (see `bench/query.rs`).
//!
//! All print progress on stderr, a human-readable table on stdout, and one JSON line with every
//! figure as the last line of stdout. Any inconsistency is an error (exit 1).

// The figures object is one `json!` literal with many fields.
#![recursion_limit = "256"]

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeDelta, Utc};
use clap::{Args, Parser, Subcommand};
use collector::app::{Ports, PullerApp};
use domain::config::PullerConfig;
use domain::model::{AuditEvent, RunSummary, Source, fmt_time};
use domain::store::{EventStore, RawStore, StoreError, StoredEvent, StreamKey, keys};
use e2e::{Moto, SimControl, StackNames, local_sdk_config, provision, puller_vars};
use m365_sim::SimConfig;
use runtime::clock::Deadline;
use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;
use testkit::clock::ManualClock;

/// What the benchmark needs to know about each source it measures.
#[derive(Debug, Clone, Copy)]
struct Bench {
    source: Source,
    /// The Graph path `gen` pages through.
    gen_path: &'static str,
    /// The simulator stream `gen` reads (`/v1.0/auditLogs/signIns` serves interactive sign-ins
    /// only); `None` for a source without streams.
    gen_stream: Option<&'static str>,
    /// The record time the windows filter on.
    time_field: &'static str,
    /// What the simulator's request counters name the source's routes by.
    route: &'static str,
}

const DIRECTORY_AUDITS: Bench = Bench {
    source: Source::EntraDirectoryAudits,
    gen_path: "v1.0/auditLogs/directoryAudits",
    gen_stream: None,
    time_field: "activityDateTime",
    route: "/auditLogs/directoryAudits",
};

const SIGN_INS: Bench = Bench {
    source: Source::EntraSignIns,
    gen_path: "v1.0/auditLogs/signIns",
    gen_stream: Some("interactiveUser"),
    time_field: "createdDateTime",
    route: "/auditLogs/signIns",
};

fn bench_of(s: &str) -> Result<Bench, String> {
    match s.parse::<Source>().map_err(|e| e.to_string())? {
        Source::EntraDirectoryAudits => Ok(DIRECTORY_AUDITS),
        Source::EntraSignIns => Ok(SIGN_INS),
        other => Err(format!(
            "the benchmark covers entra-directory-audits and entra-sign-ins, not {other}"
        )),
    }
}

/// The simulator's relative volume of these streams of a source (1 for a source without
/// streams): with `events_per_hour` E, the streams hold about `E x volume` events an hour.
fn stream_volume(source: Source, streams: &[Option<String>]) -> Result<f64, String> {
    let (_, sim_source) = m365_sim::sources::find(source.name())
        .ok_or_else(|| format!("the simulator does not serve {source}"))?;
    let known = sim_source.streams();
    if known.is_empty() {
        return Ok(1.0);
    }
    streams
        .iter()
        .map(|s| {
            let name = s.as_deref().unwrap_or_default();
            known
                .iter()
                .find(|k| k.name == name)
                .map(|k| k.volume)
                .ok_or_else(|| format!("the simulator has no {source} stream `{name}`"))
        })
        .sum()
}
/// History is sized this much above the requested count, then checked against the truth.
const HEADROOM: f64 = 1.10;

#[path = "bench/blobs.rs"]
mod blobs;
#[path = "bench/pull_1m.rs"]
mod pull_1m;
#[path = "bench/query.rs"]
mod query;

#[derive(Parser)]
#[command(
    name = "auditlake-bench",
    about = "Benchmarks of auditlake against the tenant simulator and moto"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write exactly N Graph records (directoryAudit, or interactive signIn), as served by the
    /// simulator, as NDJSON.
    Gen(GenArgs),
    /// Pull about N events from the simulator into moto (S3, DynamoDB) and report the figures.
    Pull(PullArgs),
    /// Pull about N events (default 1,000,000) into stores that only count, and report the
    /// puller's peak RSS (the simulator runs as its own process: --sim-bin).
    #[command(name = "pull-1m")]
    Pull1m(pull_1m::Pull1mArgs),
    /// Fetch and store N Management API content blobs at several concurrencies.
    Blobs(blobs::BlobArgs),
    /// Store N events in moto and measure pages of the query API's `GET /events`.
    Query(query::QueryArgs),
}

/// How the simulated tenant is set up.
#[derive(Args, Clone)]
struct SimArgs {
    /// Days of history the events are spread over (at most 29: the source's edge is 30 days).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=29))]
    days: u32,
    /// Simulator seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The simulator's virtual "now" (RFC 3339); fixed so that runs are reproducible.
    #[arg(long, default_value = "2025-06-02T00:00:00Z")]
    now: String,
    /// Run the simulator as this `m365-sim` binary instead of in-process (keeps its memory and
    /// CPU out of this process's figures).
    #[arg(long)]
    sim_bin: Option<PathBuf>,
    /// Source to benchmark: entra-directory-audits or entra-sign-ins.
    #[arg(long = "source", default_value = "entra-directory-audits", value_parser = bench_of)]
    bench: Bench,
}

#[derive(Args)]
struct GenArgs {
    /// Number of records to write.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    records: u64,
    /// Output file (NDJSON).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    sim: SimArgs,
}

#[derive(Args)]
struct PullArgs {
    /// About this many events of history to pull (the history holds at least this many).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    events: u64,
    /// Concurrent DynamoDB writes per run (AUDITLAKE_WRITE_CONCURRENCY).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=256))]
    concurrency: u64,
    /// Graph page size (AUDITLAKE_PAGE_SIZE).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1000))]
    page_size: u64,
    #[command(flatten)]
    sim: SimArgs,
}

// ---------------------------------------------------------------------------------------------
// /proc readings (Linux): peak RSS and CPU time of this process and its children.

/// A `kB` field of `/proc/<pid>/status` (`VmHWM` = peak RSS, `VmRSS` = current).
fn status_kb(pid: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Clock ticks per second for `/proc/<pid>/stat` times.
fn clock_ticks() -> f64 {
    Process::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// `(parent pid, user + system CPU seconds)` from `/proc/<pid>/stat`.
fn proc_stat(pid: &str, ticks: f64) -> Option<(u32, f64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: split after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((ppid, (utime + stime) / ticks))
}

/// Pid of this process's child whose command line contains `needle`.
fn child_pid(needle: &str) -> Option<String> {
    let me = std::process::id();
    let ticks = 100.0;
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid = entry.file_name().to_string_lossy().to_string();
            if !pid.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let (ppid, _) = proc_stat(&pid, ticks)?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            (ppid == me && String::from_utf8_lossy(&cmdline).contains(needle)).then_some(pid)
        })
}

/// Peak RSS and CPU seconds of one process, read at one moment.
#[derive(Debug, Clone, Copy, Default)]
struct ProcFigures {
    peak_rss_kb: Option<u64>,
    cpu_secs: Option<f64>,
}

fn proc_figures(pid: Option<&str>, ticks: f64) -> ProcFigures {
    let Some(pid) = pid else {
        return ProcFigures::default();
    };
    ProcFigures {
        peak_rss_kb: status_kb(pid, "VmHWM"),
        cpu_secs: proc_stat(pid, ticks).map(|(_, c)| c),
    }
}

// ---------------------------------------------------------------------------------------------
// The simulator, in-process or as a child process.

enum SimHandle {
    InProcess(m365_sim::RunningSim),
    Child(Child),
}

struct Sim {
    base: String,
    config: SimConfig,
    handle: Option<SimHandle>,
}

impl Sim {
    async fn start(config: SimConfig, bin: Option<&Path>) -> Result<Sim, String> {
        let Some(bin) = bin else {
            let running = m365_sim::start(config.clone())
                .await
                .map_err(|e| format!("cannot start the simulator: {e}"))?;
            return Ok(Sim {
                base: running.base_url(),
                config,
                handle: Some(SimHandle::InProcess(running)),
            });
        };
        let now = config.now.map(fmt_time).unwrap_or_default();
        let mut child = Process::new(bin)
            .args(["--port", "0", "--seed", &config.seed.to_string()])
            .args(["--tenant", &config.tenant, "--client-id", &config.client_id])
            .args(["--client-secret", &config.client_secret])
            .args(["--days", &config.days.to_string()])
            .args(["--events-per-hour", &config.events_per_hour.to_string()])
            .args(["--ingest-delay-secs", &config.ingest_delay_secs.to_string()])
            .args(["--now", &now])
            .args((!config.enforce_budgets).then_some("--no-budgets"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout from the simulator")?;
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        });
        let line = match tokio::time::timeout(Duration::from_secs(30), line).await {
            Ok(Ok(Ok(line))) => line,
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} did not print its listening line within 30 s",
                    bin.display()
                ));
            }
        };
        let Some(base) = line.trim().strip_prefix("listening: ") else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "unexpected first line from {}: {line:?}",
                bin.display()
            ));
        };
        Ok(Sim {
            base: base.to_string(),
            config,
            handle: Some(SimHandle::Child(child)),
        })
    }

    fn child_pid(&self) -> Option<String> {
        match &self.handle {
            Some(SimHandle::Child(c)) => Some(c.id().to_string()),
            _ => None,
        }
    }

    async fn stop(mut self) {
        match self.handle.take() {
            Some(SimHandle::InProcess(s)) => s.shutdown().await,
            Some(SimHandle::Child(mut c)) => {
                let _ = c.kill();
                let _ = c.wait();
            }
            None => {}
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(SimHandle::Child(c)) = &mut self.handle {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Record ids of these streams of the source visible by `until`, stream by stream.
async fn truth_by_stream(
    ctl: &SimControl,
    source: Source,
    streams: &[Option<String>],
    until: DateTime<Utc>,
) -> Result<Vec<(Option<String>, Vec<String>)>, String> {
    let mut out = Vec::new();
    for stream in streams {
        let truth = ctl
            .truth_of(source.name(), stream.as_deref(), until)
            .await?;
        out.push((stream.clone(), truth.ids));
    }
    Ok(out)
}

/// Starts a simulator whose visible history (no ingestion delay, no faults) holds at least `n`
/// events in `streams` of the source (sized from the simulator's per-stream volumes); returns it
/// with the number of events those streams hold.
async fn sized_sim(
    n: u64,
    args: &SimArgs,
    streams: &[Option<String>],
) -> Result<(Sim, u64), String> {
    let source = args.bench.source;
    let now = domain::model::parse_time(&args.now)
        .ok_or_else(|| format!("--now: `{}` is not RFC 3339", args.now))?;
    let hours = f64::from(args.days) * 24.0;
    let volume = stream_volume(source, streams)?;
    let mut per_hour = ((n as f64 * HEADROOM) / hours / volume).ceil().max(1.0);
    for _ in 0..4 {
        if per_hour > 1_000_000.0 {
            return Err(format!(
                "{n} events over {} days needs more than 1,000,000 per hour: raise --days",
                args.days
            ));
        }
        let config = SimConfig {
            seed: args.seed,
            days: args.days,
            events_per_hour: per_hour as u32,
            ingest_delay_secs: 0,
            now: Some(now),
            // Microsoft's request budget (5 Graph audit-log requests per 10 s) is a property of
            // Microsoft, not of this code: with it the figures would measure the budget. The
            // pull reports its Graph requests so the budget's ceiling can be worked out.
            enforce_budgets: false,
            ..SimConfig::default()
        };
        let sim = Sim::start(config, args.sim_bin.as_deref()).await?;
        let ctl = SimControl::new(sim.base.clone());
        // Counts only: the ids of a large history are not held before the pull is measured.
        let mut have = 0u64;
        for stream in streams {
            have += ctl
                .truth_count(source.name(), stream.as_deref(), now)
                .await?;
        }
        if have >= n {
            eprintln!(
                "bench: simulator at {} holds {have} {source} events in {} over {} days ({} per hour on average; events_per_hour {per_hour}, stream volume {volume})",
                sim.base,
                stream_names(streams),
                args.days,
                (have as f64 / hours).round(),
            );
            return Ok((sim, have));
        }
        eprintln!("bench: {have} events of history is short of {n}; resizing the simulator");
        sim.stop().await;
        per_hour = (per_hour * n as f64 * 1.05 / have.max(1) as f64).ceil();
    }
    Err(format!(
        "could not size the simulator's history to hold {n} events"
    ))
}

fn stream_names(streams: &[Option<String>]) -> String {
    let names: Vec<&str> = streams.iter().filter_map(|s| s.as_deref()).collect();
    if names.is_empty() {
        "its only stream".to_string()
    } else {
        names.join(", ")
    }
}

// ---------------------------------------------------------------------------------------------
// gen

#[derive(Deserialize)]
struct GraphPage {
    #[serde(default)]
    value: Vec<Box<RawValue>>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct RecordId {
    id: String,
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
}

async fn token(http: &reqwest::Client, sim: &Sim) -> Result<String, String> {
    let c = &sim.config;
    let reply = http
        .post(format!("{}/{}/oauth2/v2.0/token", sim.base, c.tenant))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.as_str()),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .map_err(|e| format!("token request: {e}"))?;
    let status = reply.status();
    let body = reply
        .text()
        .await
        .map_err(|e| format!("token reply: {e}"))?;
    if !status.is_success() {
        return Err(format!("token endpoint answered {status}: {body}"));
    }
    serde_json::from_str::<TokenReply>(&body)
        .map(|t| t.access_token)
        .map_err(|e| format!("token reply is not a token: {e}"))
}

async fn get_page(http: &reqwest::Client, url: &str, token: &str) -> Result<GraphPage, String> {
    let resp = http
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| format!("GET {url}: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "GET {url} answered {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not a Graph page: {e}"))
}

fn window_url(
    base: &str,
    bench: Bench,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<String, String> {
    let mut url =
        reqwest::Url::parse(&format!("{base}/{}", bench.gen_path)).map_err(|e| e.to_string())?;
    let field = bench.time_field;
    url.query_pairs_mut()
        .append_pair(
            "$filter",
            &format!(
                "{field} ge {} and {field} le {}",
                fmt_time(start),
                fmt_time(end)
            ),
        )
        .append_pair("$top", "1000");
    Ok(url.to_string())
}

async fn generate(args: GenArgs) -> Result<(), String> {
    let n = args.records;
    let bench = args.sim.bench;
    let streams = [bench.gen_stream.map(str::to_string)];
    let (sim, _) = sized_sim(n, &args.sim, &streams).await?;
    let http = reqwest::Client::new();
    let token = token(&http, &sim).await?;
    let now = sim.config.now.ok_or("the simulator has no fixed now")?;
    let mut start = now - TimeDelta::days(i64::from(sim.config.days));
    let file = std::fs::File::create(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let io = |e: std::io::Error| format!("writing {}: {e}", args.out.display());

    let t0 = Instant::now();
    let mut last_report = Instant::now();
    let (mut written, mut bytes, mut pages) = (0u64, 0u64, 0u64);
    // Windows overlap on their boundary instant (`ge` .. `le`, as Graph clients query); the
    // previous window's ids drop the repeat.
    let mut previous: HashSet<String> = HashSet::new();
    'windows: while start < now {
        let end = (start + TimeDelta::hours(1)).min(now);
        let mut current = HashSet::new();
        let mut next = Some(window_url(&sim.base, bench, start, end)?);
        while let Some(url) = next {
            let page = get_page(&http, &url, &token).await?;
            pages += 1;
            for record in page.value {
                let id = serde_json::from_str::<RecordId>(record.get())
                    .map_err(|e| format!("a record without an id: {e}"))?
                    .id;
                if previous.contains(&id) || !current.insert(id) {
                    continue;
                }
                let text = record.get();
                // One record per line: a newline inside a record can only be whitespace.
                if text.contains(['\n', '\r']) {
                    out.write_all(text.replace(['\n', '\r'], " ").as_bytes())
                        .map_err(io)?;
                } else {
                    out.write_all(text.as_bytes()).map_err(io)?;
                }
                out.write_all(b"\n").map_err(io)?;
                bytes += text.len() as u64 + 1;
                written += 1;
                if written == n {
                    break 'windows;
                }
            }
            next = page.next_link;
        }
        previous = current;
        start = end;
        if last_report.elapsed() >= Duration::from_secs(3) {
            eprintln!(
                "gen: {written} / {n} records ({:.0} s)",
                t0.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
    }
    out.flush().map_err(io)?;
    drop(out);
    let secs = t0.elapsed().as_secs_f64();
    sim.stop().await;
    if written != n {
        return Err(format!(
            "the simulator served only {written} distinct records, {n} were asked for"
        ));
    }
    println!(
        "gen: {written} {} records, {bytes} bytes ({:.0} bytes per record) in {pages} pages, {secs:.1} s, written to {}",
        bench.source,
        bytes as f64 / written as f64,
        args.out.display()
    );
    println!(
        "{}",
        json!({
            "bench": "gen",
            "source": bench.source.name(),
            "path": bench.gen_path,
            "records": written,
            "bytes": bytes,
            "avg_record_bytes": round(bytes as f64 / written as f64, 1),
            "pages": pages,
            "secs": round(secs, 2),
            "out": args.out.display().to_string(),
        })
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// pull: timed ports

/// Time and volume spent in the storage ports during the pull.
#[derive(Default)]
struct Timers {
    s3_put_ns: AtomicU64,
    s3_objects: AtomicU64,
    s3_bytes: AtomicU64,
    ddb_put_ns: AtomicU64,
    ddb_puts: AtomicU64,
    ddb_new: AtomicU64,
}

fn secs(ns: &AtomicU64) -> f64 {
    ns.load(Ordering::Relaxed) as f64 / 1e9
}

struct TimedRaw {
    inner: Arc<dyn RawStore>,
    t: Arc<Timers>,
}

#[async_trait]
impl RawStore for TimedRaw {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        let (t0, len) = (Instant::now(), body.len() as u64);
        let r = self.inner.put(key, body).await;
        self.t
            .s3_put_ns
            .fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.t.s3_objects.fetch_add(1, Ordering::Relaxed);
        self.t.s3_bytes.fetch_add(len, Ordering::Relaxed);
        r
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        self.inner.get(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list(prefix).await
    }
}

struct TimedEvents {
    inner: Arc<dyn EventStore>,
    t: Arc<Timers>,
}

#[async_trait]
impl EventStore for TimedEvents {
    async fn put_new(&self, events: Vec<StoredEvent>) -> Result<Vec<bool>, StoreError> {
        let (t0, count) = (Instant::now(), events.len() as u64);
        let r = self.inner.put_new(events).await;
        self.t
            .ddb_put_ns
            .fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.t.ddb_puts.fetch_add(count, Ordering::Relaxed);
        if let Ok(outcomes) = &r {
            let new = outcomes.iter().filter(|n| **n).count() as u64;
            self.t.ddb_new.fetch_add(new, Ordering::Relaxed);
        }
        r
    }

    async fn get(&self, id: &str) -> Result<Option<AuditEvent>, StoreError> {
        self.inner.get(id).await
    }

    async fn list_by_time(
        &self,
        source: Source,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        self.inner.list_by_time(source, start, end).await
    }

    async fn flush(&self) {
        self.inner.flush().await
    }
}

// ---------------------------------------------------------------------------------------------
// pull: DynamoDB item sizes and write units, by the cost model in shared/aws/src/cost.rs

type Item = std::collections::HashMap<String, AttributeValue>;

#[derive(Default, Debug)]
struct ItemFigures {
    items: u64,
    item_bytes: u64,
    max_item_bytes: u64,
    doc_bytes: u64,
    wcu_base: u64,
    wcu_actor_index: u64,
    wcu_ip_index: u64,
    storage_bytes: u64,
    record_ids: Vec<String>,
    /// Each event's `stream`, in the order of `record_ids`.
    record_streams: Vec<Option<String>>,
}

impl ItemFigures {
    fn add(&mut self, table: &str, item: &Item) -> Result<(), String> {
        let cost = aws::cost::event_cost(item);
        self.items += 1;
        self.item_bytes += cost.item_bytes as u64;
        self.max_item_bytes = self.max_item_bytes.max(cost.item_bytes as u64);
        let doc = item
            .get(aws::items::DOC)
            .and_then(|v| v.as_b().ok())
            .ok_or("an event item without its document")?;
        self.doc_bytes += doc.as_ref().len() as u64;
        self.wcu_base += cost.base_write_units;
        self.wcu_actor_index += cost.actor_index_write_units;
        self.wcu_ip_index += cost.ip_index_write_units;
        self.storage_bytes += cost.stored_bytes as u64;
        let event = aws::items::event_of(table, item).map_err(|e| e.to_string())?;
        let rid = event.record_id.ok_or("an event without record_id")?;
        self.record_ids.push(rid);
        self.record_streams.push(event.stream);
        Ok(())
    }
}

/// Reads back every event item of `source` with an event time in `[start, end)`: one paged
/// Query per hour bucket of the table (moto answers a Query on the table's partition key from
/// its index of partitions; a Scan would walk every item for each 1 MB page).
async fn read_events(
    sdk: &aws_config::SdkConfig,
    table: &str,
    source: Source,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<ItemFigures, String> {
    use chrono::DurationRound;
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let err = |e: &dyn std::fmt::Display| format!("Query {table}: {e}");
    let mut f = ItemFigures::default();
    let mut last_report = Instant::now();
    let mut hour = start
        .duration_trunc(TimeDelta::hours(1))
        .map_err(|e| err(&e))?;
    while hour < end {
        let mut pages = ddb
            .query()
            .table_name(table)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", AttributeValue::S(keys::event_pk(source, hour)))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| err(&aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
            for item in page.items() {
                f.add(table, item)?;
            }
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            eprintln!("pull: read back {} event items (up to {hour})", f.items);
            last_report = Instant::now();
        }
        hour += TimeDelta::hours(1);
    }
    Ok(f)
}

/// Number of items in a table (moto counts live; AWS refreshes it about every six hours).
async fn item_count(sdk: &aws_config::SdkConfig, table: &str) -> Result<u64, String> {
    // Event items only: the table also holds the query API's per-day counters and presence
    // markers, which have no document attribute.
    let mut pages = aws_sdk_dynamodb::Client::new(sdk)
        .scan()
        .table_name(table)
        .filter_expression("attribute_exists(#d)")
        .expression_attribute_names("#d", aws::items::DOC)
        .select(aws_sdk_dynamodb::types::Select::Count)
        .into_paginator()
        .send();
    let mut count = 0u64;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            format!(
                "Scan {table}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            )
        })?;
        count += page.count().max(0) as u64;
    }
    Ok(count)
}

/// `(objects, bytes)` under a prefix of the bucket.
async fn s3_usage(
    sdk: &aws_config::SdkConfig,
    bucket: &str,
    prefix: &str,
) -> Result<(u64, u64), String> {
    let s3 = aws::s3_client(sdk);
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    let (mut objects, mut bytes) = (0u64, 0u64);
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            format!(
                "ListObjectsV2 {bucket}/{prefix}: {}",
                aws_sdk_s3::error::DisplayErrorContext(e)
            )
        })?;
        for o in page.contents() {
            objects += 1;
            bytes += o.size().unwrap_or(0).max(0) as u64;
        }
    }
    Ok((objects, bytes))
}

// ---------------------------------------------------------------------------------------------
// pull

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

fn per(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The streams the puller pulls with these settings: every configured sign-in kind (all four
/// unless `AUDITLAKE_SIGNIN_KINDS` says otherwise), or the one stream of a source without streams.
fn pulled_streams(
    source: Source,
    names: &StackNames,
    extra: &[(&str, &str)],
) -> Result<Vec<Option<String>>, String> {
    if source != Source::EntraSignIns {
        return Ok(vec![None]);
    }
    // The simulator's address is not known yet; the kinds do not depend on it.
    let sim = SimConfig::default();
    let vars = puller_vars(
        "http://127.0.0.1:9",
        &sim.tenant,
        &sim.client_id,
        names,
        extra,
    );
    let config = PullerConfig::from_vars(vars).map_err(|e| e.to_string())?;
    Ok(config
        .signin_kinds
        .iter()
        .map(|k| Some(k.name().to_string()))
        .collect())
}

async fn pull(args: PullArgs) -> Result<(), String> {
    let bench = args.sim.bench;
    let source = bench.source;
    let ticks = clock_ticks();
    let days = args.sim.days.to_string();
    let concurrency = args.concurrency.to_string();
    let page_size = args.page_size.to_string();
    let extra = [
        ("AUDITLAKE_INITIAL_LOOKBACK_DAYS", days.as_str()),
        ("AUDITLAKE_WRITE_CONCURRENCY", concurrency.as_str()),
        ("AUDITLAKE_PAGE_SIZE", page_size.as_str()),
    ];
    let names = StackNames::default();
    let streams = pulled_streams(source, &names, &extra)?;
    let moto = Moto::start().await?;
    let moto_pid = child_pid("moto_server");
    if moto_pid.is_none() {
        eprintln!(
            "bench: warning: cannot find the moto_server child process; its RSS and CPU are not reported"
        );
    }
    let sdk = local_sdk_config(&moto.endpoint).await;
    let (sim, history_events) = sized_sim(args.events, &args.sim, &streams).await?;
    let sim_pid = sim.child_pid();
    provision(&sdk, &names, &sim.config.client_secret).await?;
    let ctl = SimControl::new(sim.base.clone());
    let history_end = ctl.now().await?;
    let clock = Arc::new(ManualClock::new(history_end));
    let vars = puller_vars(
        &sim.base,
        &sim.config.tenant,
        &sim.config.client_id,
        &names,
        &extra,
    );
    let config = PullerConfig::from_vars(vars).map_err(|e| e.to_string())?;
    let (aws, meter) = Ports::aws_metered(&sdk, &config);
    let aws = aws.with_clock(clock.clone());
    let timers = Arc::new(Timers::default());
    let ports = Ports {
        raw: Arc::new(TimedRaw {
            inner: aws.raw.clone(),
            t: timers.clone(),
        }),
        events: Arc::new(TimedEvents {
            inner: aws.events.clone(),
            t: timers.clone(),
        }),
        ..aws
    };
    let app = PullerApp::new(source, &config, ports.clone()).map_err(|e| e.to_string())?;
    let stream_keys: Vec<StreamKey> = streams
        .iter()
        .map(|s| {
            StreamKey::new(
                sim.config.tenant.clone(),
                source,
                s.as_deref().map(|n| n.parse().expect("a stream name")),
            )
        })
        .collect();
    let history_start = history_end - TimeDelta::days(i64::from(args.sim.days));
    let lag_secs = config.lag.num_seconds().max(0) as u64;

    // Progress: each stream's watermark advances after every hourly window; the slowest counts.
    let progress = {
        let (state, keys, timers) = (ports.state.clone(), stream_keys.clone(), timers.clone());
        let total = (history_end - history_start).num_seconds().max(1) as f64;
        tokio::spawn(async move {
            let t0 = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let mut marks = Vec::new();
                for key in &keys {
                    marks.push(state.watermark(key).await.ok().flatten());
                }
                let slowest: Option<DateTime<Utc>> = marks
                    .into_iter()
                    .collect::<Option<Vec<_>>>()
                    .and_then(|w| w.into_iter().min());
                let done = match slowest {
                    Some(w) => format!(
                        "{:.0}%",
                        100.0 * (w - history_start).num_seconds() as f64 / total
                    ),
                    _ => "-".into(),
                };
                let new = timers.ddb_new.load(Ordering::Relaxed);
                eprintln!(
                    "pull: {new} events stored, watermark at {done} of the history, {:.0} events/s",
                    new as f64 / t0.elapsed().as_secs_f64()
                );
            }
        })
    };

    let bench_before = proc_figures(Some("self"), ticks);
    let moto_before = proc_figures(moto_pid.as_deref(), ticks);
    let sim_before = proc_figures(sim_pid.as_deref(), ticks);
    eprintln!(
        "bench: pulling {} days of {source} history ({} events in {}) with write concurrency {}",
        args.sim.days,
        history_events,
        stream_names(&streams),
        args.concurrency
    );
    let t0 = Instant::now();
    let mut summaries: Vec<RunSummary> = Vec::new();
    let mut tick_secs = Vec::new();
    let mut done = false;
    for tick in 1..=10 {
        let t = Instant::now();
        let run = app
            .handle(&json!({}), Deadline::none())
            .await
            .map_err(|e| e.to_string())?;
        tick_secs.push(t.elapsed().as_secs_f64());
        if run.len() != streams.len() {
            progress.abort();
            return Err(format!(
                "tick {tick} returned {} run summaries for {} streams",
                run.len(),
                streams.len()
            ));
        }
        for s in &run {
            let stream = s.stream.map_or("-", |st| st.name());
            if let Some(e) = &s.error {
                progress.abort();
                return Err(format!(
                    "tick {tick}, stream {stream} failed: {}: {}",
                    e.code, e.message
                ));
            }
            if let Some(skipped) = &s.skipped {
                progress.abort();
                return Err(format!(
                    "tick {tick}, stream {stream} was skipped: {skipped}"
                ));
            }
        }
        let complete = run.iter().all(|s| s.complete);
        summaries.extend(run);
        let mut all_done = true;
        for key in &stream_keys {
            let watermark = ports
                .state
                .watermark(key)
                .await
                .map_err(|e| e.to_string())?;
            all_done &= watermark.is_some_and(|w| w >= history_end);
        }
        if all_done {
            done = true;
            break;
        }
        if complete {
            // Caught up to now - lag: let the clock move so the next tick reaches the end.
            let now = ctl.advance(lag_secs.max(1)).await?;
            clock.set(now);
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    progress.abort();
    let pull_cost = meter.consumed();
    let bench_after = proc_figures(Some("self"), ticks);
    let moto_after = proc_figures(moto_pid.as_deref(), ticks);
    let sim_after = proc_figures(sim_pid.as_deref(), ticks);
    if !done {
        return Err(format!(
            "the watermarks did not reach the end of the history in {} ticks",
            tick_secs.len()
        ));
    }

    // Verify against the truth and measure what was stored.
    eprintln!("bench: pull done in {wall:.1} s; reading the events back and listing the bucket");
    let v0 = Instant::now();
    // The truth is fetched only now, so that nothing but the puller grows this process's memory
    // during the pull. Every event item of the history's hour buckets is read back and compared
    // with it; the table's item count then rules out anything extra.
    let truth_streams = truth_by_stream(&ctl, source, &streams, history_end).await?;
    let truth_ids: Vec<&String> = truth_streams.iter().flat_map(|(_, ids)| ids).collect();
    let stats = ctl.stats().await?;
    // Requests per route of this source (`GET /v1.0/auditLogs/signIns`, `GET /beta/...`).
    let requests_by_route: BTreeMap<String, u64> = stats["requests"]
        .as_object()
        .map(|routes| {
            routes
                .iter()
                .filter(|(route, _)| route.contains(bench.route))
                .filter_map(|(route, n)| Some((route.clone(), n.as_u64()?)))
                .collect()
        })
        .unwrap_or_default();
    let graph_requests: u64 = requests_by_route.values().sum();
    let items = read_events(
        &sdk,
        &names.events_table,
        source,
        history_start - TimeDelta::days(1),
        history_end + TimeDelta::hours(1),
    )
    .await?;
    let table_items = item_count(&sdk, &names.events_table).await?;
    let (raw_objects, raw_bytes) = s3_usage(&sdk, &names.bucket, "raw/").await?;
    let (quarantine_objects, _) = s3_usage(&sdk, &names.bucket, "quarantine/").await?;
    let verify_secs = v0.elapsed().as_secs_f64();

    let pulled: u64 = summaries.iter().map(|s| s.pulled).sum();
    let new: u64 = summaries.iter().map(|s| s.new).sum();
    let duplicates: u64 = summaries.iter().map(|s| s.duplicates).sum();
    let quarantined: u64 = summaries.iter().map(|s| s.quarantined).sum();
    let summary_raw_bytes: u64 = summaries.iter().map(|s| s.raw_bytes).sum();
    let truth: HashSet<&str> = truth_ids.iter().map(|id| id.as_str()).collect();
    let stored: HashSet<&str> = items.record_ids.iter().map(String::as_str).collect();
    let mut problems = Vec::new();
    // Each stream's store against that stream's truth: the event's `stream` is the stream the
    // simulator served it on.
    let stored_stream: std::collections::HashMap<&str, Option<&str>> = items
        .record_ids
        .iter()
        .zip(&items.record_streams)
        .map(|(id, st)| (id.as_str(), st.as_deref()))
        .collect();
    let mut per_stream = Vec::new();
    for (stream, ids) in &truth_streams {
        let want = stream.as_deref();
        let stored_here = items
            .record_streams
            .iter()
            .filter(|st| st.as_deref() == want)
            .count();
        let wrong = ids
            .iter()
            .filter(|id| stored_stream.get(id.as_str()).is_some_and(|st| *st != want))
            .count();
        let summarized: u64 = summaries
            .iter()
            .filter(|s| s.stream.map(|st| st.name()) == want)
            .map(|s| s.new)
            .sum();
        if stored_here != ids.len() || wrong > 0 || summarized != ids.len() as u64 {
            problems.push(format!(
                "stream {}: truth {}, stored {stored_here}, {wrong} stored under another stream, run summaries count {summarized} new",
                want.unwrap_or("-"),
                ids.len()
            ));
        }
        per_stream.push(json!({
            "stream": want,
            "truth": ids.len(),
            "stored": stored_here,
            "new_in_summaries": summarized,
        }));
    }
    if table_items != items.items {
        problems.push(format!(
            "the events table holds {table_items} items, {} events were written",
            items.items
        ));
    }
    if stored.len() as u64 != items.items {
        problems.push(format!(
            "{} event items hold only {} distinct record ids",
            items.items,
            stored.len()
        ));
    }
    let missing = truth.difference(&stored).count();
    let phantom = stored.difference(&truth).count();
    if missing > 0 || phantom > 0 {
        problems.push(format!(
            "stored events differ from the simulator's truth: {missing} missing, {phantom} never sent ({} truth, {} stored)",
            truth.len(),
            stored.len()
        ));
    }
    if new != items.items {
        problems.push(format!(
            "run summaries count {new} new events, the table holds {}",
            items.items
        ));
    }
    if quarantined > 0 || quarantine_objects > 0 {
        problems.push(format!(
            "{quarantined} records quarantined ({quarantine_objects} objects)"
        ));
    }
    if raw_bytes != summary_raw_bytes {
        problems.push(format!(
            "S3 holds {raw_bytes} raw bytes, run summaries say {summary_raw_bytes}"
        ));
    }
    if items.items < args.events {
        problems.push(format!(
            "only {} events pulled, {} asked for",
            items.items, args.events
        ));
    }

    // The re-read pass: the whole history again, as a backfill, every record of which is stored
    // already. What it costs per record is what an overlap, a retried chunk or a backfill of
    // stored events costs (the pull's own ticks re-read only their 30-minute overlaps).
    eprintln!("bench: re-reading the whole history (a backfill of stored events)");
    let before_reread = meter.consumed();
    let reread = app
        .handle(
            &json!({"start": fmt_time(history_start), "end": fmt_time(history_end)}),
            Deadline::none(),
        )
        .await
        .map_err(|e| e.to_string())?;
    let reread_cost = meter.consumed().since(&before_reread);
    let reread_records: u64 = reread.iter().map(|s| s.duplicates).sum();
    let reread_new: u64 = reread.iter().map(|s| s.new).sum();
    if let Some(e) = reread.iter().find_map(|s| s.error.as_ref()) {
        problems.push(format!(
            "the re-read pass failed: {}: {}",
            e.code, e.message
        ));
    }
    if reread_new != 0 || reread_records != items.items {
        problems.push(format!(
            "the re-read pass stored {reread_new} new events and re-read {reread_records} of {}",
            items.items
        ));
    }

    let events = items.items;
    let events_per_sec = events as f64 / wall.max(1e-9);
    let cpu = |a: ProcFigures, b: ProcFigures| match (a.cpu_secs, b.cpu_secs) {
        (Some(a), Some(b)) => Some(round(b - a, 2)),
        _ => None,
    };
    let bench_cpu = cpu(bench_before, bench_after);
    let moto_cpu = cpu(moto_before, moto_after);
    let sim_cpu = cpu(sim_before, sim_after);
    let s3_secs = secs(&timers.s3_put_ns);
    let ddb_secs = secs(&timers.ddb_put_ns);
    let wcu_total = items.wcu_base + items.wcu_actor_index + items.wcu_ip_index;

    let figures = json!({
        "bench": "pull",
        "source": source.name(),
        "streams": per_stream,
        "events": events,
        "truth_events": truth.len(),
        "history_days": args.sim.days,
        "ticks": tick_secs.len(),
        "run_summaries": summaries.len(),
        "tick_secs": tick_secs.iter().map(|t| round(*t, 2)).collect::<Vec<_>>(),
        "records_pulled": pulled,
        "duplicates": duplicates,
        "quarantined": quarantined,
        "write_concurrency": args.concurrency,
        "page_size": args.page_size,
        "wall_secs": round(wall, 2),
        "events_per_sec": round(events_per_sec, 1),
        "s3_put_secs": round(s3_secs, 2),
        "ddb_put_secs": round(ddb_secs, 2),
        "other_secs": round((wall - s3_secs - ddb_secs).max(0.0), 2),
        "ddb_puts": timers.ddb_puts.load(Ordering::Relaxed),
        "graph_requests": graph_requests,
        "graph_requests_by_route": requests_by_route,
        "records_per_graph_request": round(per(pulled, graph_requests), 1),
        // Microsoft allows 5 audit-log requests per 10 s (shared with sign-ins).
        "graph_budget_bound_events_per_sec": round(per(pulled, graph_requests) * 0.5, 1),
        "bench_peak_rss_kb": bench_after.peak_rss_kb,
        "bench_cpu_secs": bench_cpu,
        "sim_in_process": sim_pid.is_none(),
        "sim_peak_rss_kb": sim_after.peak_rss_kb,
        "sim_cpu_secs": sim_cpu,
        "moto_peak_rss_kb": moto_after.peak_rss_kb,
        "moto_cpu_secs": moto_cpu,
        "moto_cpu_share": moto_cpu.map(|c| round(c / wall, 2)),
        "s3_raw_objects": raw_objects,
        "s3_raw_bytes": raw_bytes,
        "s3_raw_bytes_per_event": round(per(raw_bytes, events), 1),
        "s3_raw_bytes_per_pulled_record": round(per(raw_bytes, pulled), 1),
        "ddb_items": items.items,
        "ddb_table_items": table_items,
        "ddb_avg_item_bytes": round(per(items.item_bytes, items.items), 1),
        "ddb_max_item_bytes": items.max_item_bytes,
        "ddb_avg_doc_bytes": round(per(items.doc_bytes, items.items), 1),
        "ddb_wcu_per_event": round(per(wcu_total, items.items), 3),
        "ddb_wcu_base_per_event": round(per(items.wcu_base, items.items), 3),
        "ddb_wcu_actor_index_per_event": round(per(items.wcu_actor_index, items.items), 3),
        "ddb_wcu_ip_index_per_event": round(per(items.wcu_ip_index, items.items), 3),
        "ddb_storage_bytes_per_event": round(per(items.storage_bytes, items.items), 1),
        // The cost model's units of every call the event store made (events, presence markers,
        // counters, top lists, the stored-keys reads), per new event of the pull, and per record
        // of the re-read pass; moto's own reports (a constant per call) beside them.
        "wru_per_new_event": round(pull_cost.model_write_units / new.max(1) as f64, 3),
        "rru_per_new_event": round(pull_cost.model_read_units / new.max(1) as f64, 3),
        "wru_per_reread": round(reread_cost.model_write_units / reread_records.max(1) as f64, 3),
        "rru_per_reread": round(reread_cost.model_read_units / reread_records.max(1) as f64, 3),
        "reread_records": reread_records,
        "ddb_calls_pull": {"writes": pull_cost.writes, "reads": pull_cost.reads,
            "unreported": pull_cost.unreported,
            "moto_write_units": pull_cost.write_units, "moto_read_units": pull_cost.read_units},
        "ddb_calls_reread": {"writes": reread_cost.writes, "reads": reread_cost.reads,
            "moto_write_units": reread_cost.write_units, "moto_read_units": reread_cost.read_units},
        "verify_secs": round(verify_secs, 1),
        "ok": problems.is_empty(),
    });
    print_table(&figures);
    println!("{figures}");
    sim.stop().await;
    drop(moto);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn print_table(f: &serde_json::Value) {
    let kb = |v: &serde_json::Value| {
        v.as_u64().map_or("n/a".to_string(), |k| {
            format!("{:.1} MiB", k as f64 / 1024.0)
        })
    };
    let opt = |v: &serde_json::Value, unit: &str| {
        if v.is_null() {
            "n/a".to_string()
        } else {
            format!("{v}{unit}")
        }
    };
    let streams: Vec<String> = f["streams"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| Some(format!("{} {}", s["stream"].as_str()?, s["stored"])))
        .collect();
    let routes: Vec<String> = f["graph_requests_by_route"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(route, n)| format!("{route}: {n}"))
        .collect();
    let mut rows: Vec<(&str, String)> = vec![(
        "events stored (= simulator truth)",
        format!("{} (truth {})", f["events"], f["truth_events"]),
    )];
    if !streams.is_empty() {
        rows.push(("  per stream (each = its truth)", streams.join(", ")));
    }
    if routes.len() > 1 {
        rows.push(("  Graph requests per route", routes.join("; ")));
    }
    rows.extend(vec![
        (
            "scheduled ticks",
            format!("{} ({} s each)", f["ticks"], f["tick_secs"]),
        ),
        (
            "records pulled (incl. overlap re-reads)",
            format!("{} ({} duplicates)", f["records_pulled"], f["duplicates"]),
        ),
        ("wall time of the ticks", format!("{} s", f["wall_secs"])),
        (
            "Graph requests (records per request)",
            format!(
                "{} ({})",
                f["graph_requests"], f["records_per_graph_request"]
            ),
        ),
        (
            "catch-up bound of Graph's budget (5 req / 10 s)",
            format!("{} events/s", f["graph_budget_bound_events_per_sec"]),
        ),
        ("throughput", format!("{} events/s", f["events_per_sec"])),
        ("  time in S3 PutObject", format!("{} s", f["s3_put_secs"])),
        (
            "  time in DynamoDB puts",
            format!(
                "{} s (concurrency {})",
                f["ddb_put_secs"], f["write_concurrency"]
            ),
        ),
        (
            "  other (Graph fetch, normalize, checkpoints)",
            format!("{} s", f["other_secs"]),
        ),
        (
            "peak RSS, bench process (puller)",
            kb(&f["bench_peak_rss_kb"]),
        ),
        ("CPU, bench process", opt(&f["bench_cpu_secs"], " s")),
        ("peak RSS, simulator child", kb(&f["sim_peak_rss_kb"])),
        ("CPU, simulator child", opt(&f["sim_cpu_secs"], " s")),
        ("peak RSS, moto_server", kb(&f["moto_peak_rss_kb"])),
        (
            "CPU, moto_server (share of wall)",
            format!(
                "{} ({})",
                opt(&f["moto_cpu_secs"], " s"),
                opt(&f["moto_cpu_share"], "")
            ),
        ),
        (
            "S3 raw objects / bytes",
            format!("{} / {}", f["s3_raw_objects"], f["s3_raw_bytes"]),
        ),
        (
            "S3 raw bytes per event (gzip)",
            format!("{}", f["s3_raw_bytes_per_event"]),
        ),
        (
            "DynamoDB avg item size",
            format!(
                "{} bytes (max {})",
                f["ddb_avg_item_bytes"], f["ddb_max_item_bytes"]
            ),
        ),
        (
            "DynamoDB avg doc attribute",
            format!("{} bytes", f["ddb_avg_doc_bytes"]),
        ),
        (
            "DynamoDB write units per event",
            format!(
                "{} (base {} + by_actor {} + by_ip {})",
                f["ddb_wcu_per_event"],
                f["ddb_wcu_base_per_event"],
                f["ddb_wcu_actor_index_per_event"],
                f["ddb_wcu_ip_index_per_event"]
            ),
        ),
        (
            "DynamoDB storage per event (all indexes)",
            format!("{} bytes", f["ddb_storage_bytes_per_event"]),
        ),
        (
            "write / read units per new event (all told)",
            format!("{} / {}", f["wru_per_new_event"], f["rru_per_new_event"]),
        ),
        (
            "write / read units per re-read record",
            format!(
                "{} / {} (over {} records)",
                f["wru_per_reread"], f["rru_per_reread"], f["reread_records"]
            ),
        ),
    ]);
    println!(
        "pull benchmark: {} from the simulator into moto (S3, DynamoDB)",
        f["source"].as_str().unwrap_or("?")
    );
    for (name, value) in rows {
        println!("  {name:<48} {value}");
    }
}

// ---------------------------------------------------------------------------------------------

async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let work = async {
        match cli.command {
            Command::Gen(a) => generate(a).await,
            Command::Pull(a) => pull(a).await,
            Command::Pull1m(a) => pull_1m::run(a).await,
            Command::Blobs(a) => blobs::run(a).await,
            Command::Query(a) => query::run(a).await,
        }
    };
    // On SIGINT/SIGTERM the work future is dropped, which stops moto and the simulator.
    let result = tokio::select! {
        r = work => r,
        () = interrupted() => Err("interrupted".to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("auditlake-bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}
