//! `auditlake-bench blobs`: what bounded blob concurrency buys the Management Activity API
//! puller. The simulator serves one content type with a blob every minute and answers every
//! request after a fixed latency (50 ms by default); a backfill of exactly N minutes then lists
//! and fetches N blobs and stores their records (raw to S3, events to DynamoDB in moto, one
//! content-ledger entry per blob). The same backfill runs once per concurrency (default 8 and 1),
//! each into its own bucket and tables so nothing is skipped as already stored; the ratio of the
//! two wall times is the figure. With `--memory` the stores are in-process instead of moto, which
//! isolates the fetch path from moto's write speed.

use std::sync::Arc;
use std::time::Instant;

use chrono::TimeDelta;
use clap::Args;
use collector::app::{Ports, PullerApp};
use domain::config::PullerConfig;
use domain::model::{Source, fmt_time};
use domain::store::ledger::MemoryLedger;
use e2e::{Moto, SimClock, SimControl, StackNames, local_sdk_config, provision, puller_vars};
use m365_sim::SimConfig;
use runtime::clock::Deadline;
use serde_json::json;
use testkit::memory::{MemoryEventStore, MemoryParameters, MemoryRawStore, MemoryStateStore};

#[derive(Args, Clone)]
pub struct BlobArgs {
    /// Content blobs to fetch and store per run.
    #[arg(long, default_value_t = 1000)]
    pub blobs: u32,
    /// Latency the simulator adds to every listing and blob response, in milliseconds.
    #[arg(long, default_value_t = 50)]
    pub latency_ms: u64,
    /// Concurrencies to compare, comma-separated; the first is divided by the last.
    #[arg(long, default_value = "8,1", value_delimiter = ',')]
    pub concurrency: Vec<usize>,
    /// Records per blob (on average; the simulator varies each blob 50-150%).
    #[arg(long, default_value_t = 5)]
    pub records_per_blob: u32,
    /// Store in process instead of moto (fetch path only).
    #[arg(long)]
    pub memory: bool,
}

/// One run's figures.
struct RunFigures {
    concurrency: usize,
    secs: f64,
    blobs: u64,
    records: u64,
}

pub async fn run(args: BlobArgs) -> Result<(), String> {
    if args.concurrency.is_empty() || args.concurrency.contains(&0) {
        return Err("--concurrency needs positive numbers".into());
    }
    let minutes = i64::from(args.blobs);
    let sim_config = SimConfig {
        seed: 3,
        days: 2,
        // Exchange has volume 1.0: records per blob = events_per_hour / 60 with 60 s blobs.
        events_per_hour: args.records_per_blob * 60,
        mgmt_blob_interval_secs: 60,
        mgmt_page_size: 1000,
        fault_429: 0.0,
        fault_5xx: 0.0,
        now: Some(
            chrono::DateTime::parse_from_rfc3339("2025-06-02T00:00:00Z")
                .map_err(|e| e.to_string())?
                .with_timezone(&chrono::Utc),
        ),
        ..SimConfig::default()
    };
    let tenant = sim_config.tenant.clone();
    let client_id = sim_config.client_id.clone();
    let secret = sim_config.client_secret.clone();
    let sim = m365_sim::start(sim_config)
        .await
        .map_err(|e| format!("simulator: {e}"))?;
    let ctl = SimControl::new(sim.base_url());
    ctl.set_faults_and_latency(0.0, 0.0, args.latency_ms)
        .await?;
    let moto = if args.memory {
        None
    } else {
        Some(Moto::start().await?)
    };
    let clock = Arc::new(SimClock::new(ctl.clone()).await?);
    let now = runtime::clock::Clock::now(clock.as_ref());
    // Whole minutes, so the window holds exactly `blobs` blob slots.
    let end = now - TimeDelta::minutes(10);
    let end = end - TimeDelta::seconds(end.timestamp().rem_euclid(60));
    let start = end - TimeDelta::minutes(minutes);
    let backfill = json!({"start": fmt_time(start), "end": fmt_time(end)});

    let mut figures = Vec::new();
    for (i, &concurrency) in args.concurrency.iter().enumerate() {
        let names = StackNames {
            bucket: format!("auditlake-bench-blobs-{i}"),
            events_table: format!("auditlake-bench-events-{i}"),
            state_table: format!("auditlake-bench-state-{i}"),
            alerts_table: format!("auditlake-bench-alerts-{i}"),
            secret_param: "/auditlake/client-secret".into(),
        };
        let vars = puller_vars(
            &sim.base_url(),
            &tenant,
            &client_id,
            &names,
            &[
                ("AUDITLAKE_CONTENT_TYPES", "Audit.Exchange"),
                ("AUDITLAKE_BLOB_CONCURRENCY", &concurrency.to_string()),
            ],
        );
        let config = PullerConfig::from_vars(vars).map_err(|e| e.to_string())?;
        let ports = match &moto {
            Some(moto) => {
                let sdk = local_sdk_config(&moto.endpoint).await;
                provision(&sdk, &names, &secret).await?;
                Ports::aws(&sdk, &config).with_clock(clock.clone())
            }
            None => Ports {
                raw: Arc::new(MemoryRawStore::default()),
                events: Arc::new(MemoryEventStore::default()),
                state: Arc::new(MemoryStateStore::default()),
                ledger: Arc::new(MemoryLedger::default()),
                params: Arc::new(MemoryParameters::default().with(&names.secret_param, &secret)),
                clock: clock.clone(),
            },
        };
        let app =
            PullerApp::new(Source::M365Activity, &config, ports).map_err(|e| e.to_string())?;
        let before = ctl.stats().await?;
        eprintln!(
            "blobs: concurrency {concurrency}: fetching {} blobs ...",
            args.blobs
        );
        let t0 = Instant::now();
        let summaries = app
            .handle(&backfill, Deadline::none())
            .await
            .map_err(|e| e.to_string())?;
        let secs = t0.elapsed().as_secs_f64();
        let after = ctl.stats().await?;
        let s = summaries.first().ok_or("no run summary")?;
        if let Some(e) = &s.error {
            return Err(format!("run failed: {}: {}", e.code, e.message));
        }
        if !s.complete {
            return Err(format!("run incomplete: {s:?}"));
        }
        let fetched = after["mgmt"]["blob_fetches"].as_u64().unwrap_or(0)
            - before["mgmt"]["blob_fetches"].as_u64().unwrap_or(0);
        if fetched != u64::from(args.blobs) {
            return Err(format!(
                "expected {} blobs fetched, the simulator served {fetched}",
                args.blobs
            ));
        }
        if s.new != s.pulled {
            return Err(format!(
                "a fresh store should take every record as new: {s:?}"
            ));
        }
        eprintln!(
            "blobs: concurrency {concurrency}: {fetched} blobs, {} records in {secs:.2} s",
            s.pulled
        );
        figures.push(RunFigures {
            concurrency,
            secs,
            blobs: fetched,
            records: s.pulled,
        });
    }
    sim.shutdown().await;
    drop(moto);

    let stores = if args.memory {
        "in-process"
    } else {
        "moto (S3, DynamoDB)"
    };
    println!(
        "Management API blob fetch: {} blobs, {} ms latency per response, stores {stores}",
        args.blobs, args.latency_ms
    );
    println!(
        "{:>12} {:>10} {:>10} {:>12} {:>12}",
        "concurrency", "seconds", "records", "blobs/s", "records/s"
    );
    for f in &figures {
        println!(
            "{:>12} {:>10.2} {:>10} {:>12.1} {:>12.1}",
            f.concurrency,
            f.secs,
            f.records,
            f.blobs as f64 / f.secs,
            f.records as f64 / f.secs
        );
    }
    let (first, last) = (&figures[0], &figures[figures.len() - 1]);
    let speedup = last.secs / first.secs;
    println!(
        "speed-up of concurrency {} over {}: {speedup:.2}x",
        first.concurrency, last.concurrency
    );
    let runs: Vec<serde_json::Value> = figures
        .iter()
        .map(|f| {
            json!({"concurrency": f.concurrency, "secs": f.secs, "blobs": f.blobs, "records": f.records})
        })
        .collect();
    println!(
        "{}",
        json!({"bench": "blobs", "blobs": args.blobs, "latency_ms": args.latency_ms, "stores": stores, "runs": runs, "speedup": speedup})
    );
    Ok(())
}
