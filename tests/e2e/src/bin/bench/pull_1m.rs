//! `auditlake-bench pull-1m --events N`: the puller's memory over a large pull. The real puller
//! (`PullerApp::handle`: the Graph HTTP client, paging, raw gzip, normalization, the curated
//! Parquet writer, dedupe through `EventStore::put_new`, checkpoints) pulls about N events
//! (default 1,000,000) from the tenant simulator, which runs as its own process (`--sim-bin`) so
//! its memory is not counted, into stores that keep only counts (`testkit::counting`: the event
//! store keeps an 8-byte fingerprint per event to answer new or duplicate; checkpoints and health
//! in `testkit::memory::MemoryStateStore`, a few items per stream). No moto, no AWS SDK.
//!
//! It reports this process's peak RSS (`VmHWM`, read right after the ticks, before anything else
//! is fetched), its RSS sampled every 5 seconds against the events stored so far (flat in volume
//! means it does not grow with them), and the dedupe state's own heap bytes, and checks that the
//! events stored, per stream, equal the simulator's truth (`/_sim/truth?count=true`, read only
//! after the measurement) and the run summaries' counts.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use collector::app::{Ports, PullerApp};
use collector::curated::CuratingEventStore;
use domain::config::PullerConfig;
use domain::model::RunSummary;
use domain::store::ledger::MemoryLedger;
use domain::store::{StateStore, StreamKey};
use e2e::{SimControl, StackNames, puller_vars};
use runtime::clock::Deadline;
use serde_json::json;
use testkit::clock::ManualClock;
use testkit::counting::{CountingEventStore, CountingRawStore};
use testkit::memory::{MemoryParameters, MemoryStateStore};

use super::{SimArgs, clock_ticks, proc_figures, pulled_streams, round, sized_sim, status_kb};

#[derive(Args)]
pub struct Pull1mArgs {
    /// About this many events of history to pull (the history holds at least this many).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    events: u64,
    /// Graph page size (AUDITLAKE_PAGE_SIZE).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1000))]
    page_size: u64,
    #[command(flatten)]
    sim: SimArgs,
}

/// RSS in kB of this process now (`VmRSS`).
fn rss_now_kb() -> u64 {
    status_kb("self", "VmRSS").unwrap_or(0)
}

pub async fn run(args: Pull1mArgs) -> Result<(), String> {
    if args.sim.sim_bin.is_none() {
        return Err(
            "pull-1m needs --sim-bin PATH (the m365-sim binary): the simulator must run as its own process so that its memory is not counted".into(),
        );
    }
    let source = args.sim.bench.source;
    let ticks = clock_ticks();
    let days = args.sim.days.to_string();
    let page_size = args.page_size.to_string();
    let extra = [
        ("AUDITLAKE_INITIAL_LOOKBACK_DAYS", days.as_str()),
        ("AUDITLAKE_PAGE_SIZE", page_size.as_str()),
    ];
    let names = StackNames::default();
    let streams = pulled_streams(source, &names, &extra)?;
    let (sim, history_events) = sized_sim(args.events, &args.sim, &streams).await?;
    let sim_pid = sim.child_pid();
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
    let raw = Arc::new(CountingRawStore::default());
    let events = Arc::new(CountingEventStore::default());
    let state = Arc::new(MemoryStateStore::default());
    // As `Ports::aws` wires it: every batch reaches the curated Parquet layer first.
    let ports = Ports {
        raw: raw.clone(),
        events: CuratingEventStore::wrap(events.clone(), raw.clone()),
        state: state.clone(),
        ledger: Arc::new(MemoryLedger::default()),
        params: Arc::new(
            MemoryParameters::default().with(&names.secret_param, &sim.config.client_secret),
        ),
        clock: clock.clone(),
    };
    let app = PullerApp::new(source, &config, ports).map_err(|e| e.to_string())?;
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
    let lag_secs = config.lag.num_seconds().max(0) as u64;

    // RSS against events stored, every 5 s (a few dozen samples at most).
    let samples: Arc<Mutex<Vec<(u64, u64)>>> = Arc::default();
    let sampler = {
        let (events, samples) = (events.clone(), samples.clone());
        tokio::spawn(async move {
            let t0 = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let (new, rss) = (events.new_events(), rss_now_kb());
                if let Ok(mut s) = samples.lock() {
                    s.push((new, rss));
                }
                eprintln!(
                    "pull-1m: {new} events stored, RSS {:.1} MiB, {:.0} events/s",
                    rss as f64 / 1024.0,
                    new as f64 / t0.elapsed().as_secs_f64()
                );
            }
        })
    };

    let before = proc_figures(Some("self"), ticks);
    let sim_before = proc_figures(sim_pid.as_deref(), ticks);
    eprintln!(
        "bench: pulling {} days of {source} history ({history_events} events) into counting stores, page size {}",
        args.sim.days, args.page_size
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
        for s in &run {
            let stream = s.stream.map_or("-", |st| st.name());
            if let Some(e) = &s.error {
                sampler.abort();
                return Err(format!(
                    "tick {tick}, stream {stream} failed: {}: {}",
                    e.code, e.message
                ));
            }
            if s.skipped.is_some() {
                sampler.abort();
                return Err(format!("tick {tick}, stream {stream} was skipped"));
            }
        }
        let complete = run.iter().all(|s| s.complete);
        summaries.extend(run);
        let mut all_done = true;
        for key in &stream_keys {
            let w = state.watermark(key).await.map_err(|e| e.to_string())?;
            all_done &= w.is_some_and(|w| w >= history_end);
        }
        if all_done {
            done = true;
            break;
        }
        if complete {
            // Caught up to now - lag: let the clock move so the next tick reaches the end.
            clock.set(ctl.advance(lag_secs.max(1)).await?);
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    sampler.abort();
    let after = proc_figures(Some("self"), ticks);
    let sim_after = proc_figures(sim_pid.as_deref(), ticks);
    let rss_end_kb = rss_now_kb();
    if !done {
        return Err(format!(
            "the watermarks did not reach the end of the history in {} ticks",
            tick_secs.len()
        ));
    }

    // Verification, after the measurement: the truth as counts, stream by stream.
    let mut problems = Vec::new();
    let mut per_stream = Vec::new();
    let mut truth_total = 0u64;
    for stream in &streams {
        let want = stream.as_deref();
        let truth = ctl.truth_count(source.name(), want, history_end).await?;
        truth_total += truth;
        let new: u64 = summaries
            .iter()
            .filter(|s| s.stream.map(|st| st.name()) == want)
            .map(|s| s.new)
            .sum();
        if new != truth {
            problems.push(format!(
                "stream {}: truth {truth}, run summaries count {new} new",
                want.unwrap_or("-")
            ));
        }
        per_stream.push(json!({"stream": want, "truth": truth, "new_in_summaries": new}));
    }
    let sum = |f: fn(&RunSummary) -> u64| summaries.iter().map(f).sum::<u64>();
    let (pulled, new, duplicates) = (sum(|s| s.pulled), sum(|s| s.new), sum(|s| s.duplicates));
    let (quarantined, summary_raw_bytes) = (sum(|s| s.quarantined), sum(|s| s.raw_bytes));
    let stored = events.new_events();
    if stored != truth_total || new != stored {
        problems.push(format!(
            "the store counted {stored} new events, the run summaries {new}, the simulator's truth is {truth_total}"
        ));
    }
    if events.duplicates() != duplicates || stored + duplicates != pulled {
        problems.push(format!(
            "pulled {pulled} = new {new} + duplicates {duplicates} does not hold (the store counted {} duplicates)",
            events.duplicates()
        ));
    }
    if quarantined > 0 || raw.quarantine.objects() > 0 {
        problems.push(format!("{quarantined} records quarantined"));
    }
    if raw.raw.bytes() != summary_raw_bytes {
        problems.push(format!(
            "the raw store took {} bytes, run summaries say {summary_raw_bytes}",
            raw.raw.bytes()
        ));
    }
    if stored < args.events {
        problems.push(format!(
            "only {stored} events pulled, {} asked for",
            args.events
        ));
    }
    let kb_to_mb = |kb: Option<u64>| kb.map(|k| round(k as f64 / 1024.0, 1));
    let cpu = match (before.cpu_secs, after.cpu_secs) {
        (Some(a), Some(b)) => Some(round(b - a, 2)),
        _ => None,
    };
    let sim_cpu = match (sim_before.cpu_secs, sim_after.cpu_secs) {
        (Some(a), Some(b)) => Some(round(b - a, 2)),
        _ => None,
    };
    let samples = samples.lock().map(|s| s.clone()).unwrap_or_default();
    let figures = json!({
        "bench": "pull-1m",
        "source": source.name(),
        "streams": per_stream,
        "events": stored,
        "truth_events": truth_total,
        "history_days": args.sim.days,
        "events_per_hour": sim.config.events_per_hour,
        "page_size": args.page_size,
        "ticks": tick_secs.len(),
        "tick_secs": tick_secs.iter().map(|t| round(*t, 2)).collect::<Vec<_>>(),
        "records_pulled": pulled,
        "duplicates": duplicates,
        "put_new_calls": events.batches(),
        "raw_objects": raw.raw.objects(),
        "raw_bytes": raw.raw.bytes(),
        "curated_objects": raw.curated.objects(),
        "curated_bytes": raw.curated.bytes(),
        "wall_secs": round(wall, 2),
        "events_per_sec": round(stored as f64 / wall.max(1e-9), 1),
        "cpu_secs": cpu,
        "cpu_us_per_event": cpu.map(|c| round(c * 1e6 / stored.max(1) as f64, 1)),
        "peak_rss_kb": after.peak_rss_kb,
        "peak_rss_mb": kb_to_mb(after.peak_rss_kb),
        "peak_rss_before_pull_mb": kb_to_mb(before.peak_rss_kb),
        "rss_end_mb": kb_to_mb(Some(rss_end_kb)),
        "dedupe_state_mb": round(events.state_bytes() as f64 / (1024.0 * 1024.0), 1),
        "rss_samples_events_mb": samples
            .iter()
            .map(|(n, kb)| json!([n, round(*kb as f64 / 1024.0, 1)]))
            .collect::<Vec<_>>(),
        "sim_peak_rss_mb": kb_to_mb(sim_after.peak_rss_kb),
        "sim_cpu_secs": sim_cpu,
        "ok": problems.is_empty(),
    });
    print_table(&figures);
    println!("{figures}");
    sim.stop().await;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn print_table(f: &serde_json::Value) {
    let rows = [
        (
            "events stored (= simulator truth)",
            format!("{} (truth {})", f["events"], f["truth_events"]),
        ),
        (
            "history",
            format!(
                "{} days, events_per_hour {}, page size {}",
                f["history_days"], f["events_per_hour"], f["page_size"]
            ),
        ),
        (
            "scheduled ticks",
            format!("{} ({} s each)", f["ticks"], f["tick_secs"]),
        ),
        (
            "records pulled (incl. overlap re-reads)",
            format!("{} ({} duplicates)", f["records_pulled"], f["duplicates"]),
        ),
        (
            "raw objects / bytes (counted, not kept)",
            format!("{} / {}", f["raw_objects"], f["raw_bytes"]),
        ),
        (
            "curated objects / bytes (counted, not kept)",
            format!("{} / {}", f["curated_objects"], f["curated_bytes"]),
        ),
        ("wall time of the ticks", format!("{} s", f["wall_secs"])),
        ("throughput", format!("{} events/s", f["events_per_sec"])),
        (
            "CPU, bench process",
            format!(
                "{} s ({} us per event)",
                f["cpu_secs"], f["cpu_us_per_event"]
            ),
        ),
        (
            "peak RSS, bench process (VmHWM)",
            format!("{} MiB", f["peak_rss_mb"]),
        ),
        (
            "  peak RSS before the first tick",
            format!("{} MiB", f["peak_rss_before_pull_mb"]),
        ),
        (
            "  of which dedupe fingerprints (heap)",
            format!("{} MiB", f["dedupe_state_mb"]),
        ),
        ("  RSS at the end", format!("{} MiB", f["rss_end_mb"])),
        (
            "  RSS sampled every 5 s [events, MiB]",
            thinned(&f["rss_samples_events_mb"], 12),
        ),
        (
            "peak RSS / CPU, simulator child",
            format!("{} MiB / {} s", f["sim_peak_rss_mb"], f["sim_cpu_secs"]),
        ),
    ];
    println!(
        "pull-1m benchmark: {} from the simulator into counting stores",
        f["source"].as_str().unwrap_or("?")
    );
    for (name, value) in rows {
        println!("  {name:<48} {value}");
    }
}

/// At most `n` evenly spaced elements of a JSON array, the last one included, as JSON text.
fn thinned(samples: &serde_json::Value, n: usize) -> String {
    let all = samples.as_array().cloned().unwrap_or_default();
    let step = all.len().div_ceil(n.max(1)).max(1);
    let mut kept: Vec<serde_json::Value> = all.iter().step_by(step).cloned().collect();
    if let Some(last) = all.last()
        && kept.last() != Some(last)
    {
        kept.push(last.clone());
    }
    serde_json::Value::Array(kept).to_string()
}
