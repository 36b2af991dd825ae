//! `auditlake-lake-size`: the BENCHMARKS.md storage figures. Pulls every source of the tenant
//! simulator once (no faults) through the real pipeline into moto, copies `raw/` and `curated/`
//! out of S3 into a folder, and runs `infra/athena/measure.py` on it (bytes per 1,000,000 events
//! in each layer, and the bytes a hunting query reads).
//!
//! `cargo run -p e2e --bin auditlake-lake-size -- --days 2 --events-per-hour 200`

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use collector::app::{Ports, PullerApp};
use domain::config::PullerConfig;
use domain::model::Source;
use e2e::{Moto, SimClock, SimControl, StackNames, local_sdk_config, provision, puller_vars};
use runtime::clock::Deadline;

#[derive(Parser)]
#[command(
    name = "auditlake-lake-size",
    about = "Measure raw vs curated bytes per event"
)]
struct Args {
    /// Days of history the simulated tenant holds (all pulled).
    #[arg(long, default_value_t = 2)]
    days: u32,
    /// Simulated events per hour per source.
    #[arg(long, default_value_t = 200)]
    events_per_hour: u32,
    /// Keep the mirrored lake in this folder (default: a temporary folder, removed).
    #[arg(long)]
    keep: Option<std::path::PathBuf>,
}

async fn run(args: &Args) -> Result<(), String> {
    let moto = Moto::start().await?;
    let sdk = local_sdk_config(&moto.endpoint).await;
    let names = StackNames::default();
    let sim_config = m365_sim::SimConfig {
        seed: 5,
        days: args.days,
        events_per_hour: args.events_per_hour,
        ..m365_sim::SimConfig::default()
    };
    provision(&sdk, &names, &sim_config.client_secret).await?;
    let (tenant, client_id) = (sim_config.tenant.clone(), sim_config.client_id.clone());
    let sim = m365_sim::start(sim_config)
        .await
        .map_err(|e| format!("simulator: {e}"))?;
    let clock = Arc::new(SimClock::new(SimControl::new(sim.base_url())).await?);
    let vars = puller_vars(
        &sim.base_url(),
        &tenant,
        &client_id,
        &names,
        &[(
            "AUDITLAKE_INITIAL_LOOKBACK_DAYS",
            &(args.days + 1).to_string(),
        )],
    );
    let config = PullerConfig::from_vars(vars).map_err(|e| e.to_string())?;
    let ports = Ports::aws(&sdk, &config).with_clock(clock);
    for source in Source::ALL {
        let app = PullerApp::new(source, &config, ports.clone()).map_err(|e| e.to_string())?;
        for s in app
            .handle(&serde_json::json!({}), Deadline::none())
            .await
            .map_err(|e| e.to_string())?
        {
            eprintln!("{} {:?}: {} new", s.source, s.stream, s.new);
        }
    }
    let dir = args.keep.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("auditlake-lake-size-{}", std::process::id()))
    });
    for prefix in ["raw/", "curated/"] {
        let n = e2e::analytics::mirror(ports.raw.as_ref(), prefix, &dir).await?;
        eprintln!("{n} objects under {prefix}");
    }
    let root = e2e::repo_root();
    let status = std::process::Command::new(root.join(".venv/bin/python"))
        .arg(root.join("infra/athena/measure.py"))
        .arg("--data")
        .arg(&dir)
        .status()
        .map_err(|e| e.to_string())?;
    if args.keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    sim.shutdown().await;
    drop(moto);
    status
        .success()
        .then_some(())
        .ok_or_else(|| "measure.py failed".to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(&Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("auditlake-lake-size: {e}");
            ExitCode::FAILURE
        }
    }
}
