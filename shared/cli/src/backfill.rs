//! `auditlake backfill`: the unified audit log's search API, beyond the Management Activity
//! API's seven days (the engine is `collector::backfill`). Progress goes to stderr as the job is
//! saved, one JSON summary per job to stdout. Exit 0: the jobs ran (finished, or to be continued
//! by the next call); 3: some windows could not be completed (listed in the summary); 2: a usage
//! or configuration error, including a cloud without the API; 1: a run error.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use collector::app::Ports;
use collector::backfill::{BackfillApp, BackfillAppError, BackfillRequest};
use domain::backfill::{BackfillJob, BackfillProgress};
use domain::config::BackfillConfig;
use runtime::clock::Deadline;

/// The flags of `auditlake backfill`.
pub struct Args {
    pub since: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub record_types: Vec<String>,
    pub services: Vec<String>,
    pub retry_failed: bool,
    pub time_budget_secs: Option<u64>,
    pub status: bool,
}

fn line(job: &BackfillJob) -> String {
    let p = job.progress();
    format!(
        "{}: {} of {} windows done, {} running, {} failed; {} records ({} new, {} already stored)",
        p.id,
        p.windows_done,
        p.windows_done + p.windows_pending + p.windows_running + p.windows_failed,
        p.windows_running,
        p.windows_failed,
        p.records,
        p.new,
        p.duplicates
    )
}

fn print(jobs: &[BackfillProgress]) {
    for p in jobs {
        println!("{}", serde_json::to_string(p).unwrap_or_default());
    }
}

pub async fn run(args: Args) -> ExitCode {
    let config = match BackfillConfig::from_vars(std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprint!("auditlake: {e}");
            return ExitCode::from(2);
        }
    };
    let sdk = aws::load_sdk_config().await;
    let (ports, store) = Ports::aws_with_backfills(&sdk, &config.puller);
    // At most one progress line every two seconds, and every line that finishes a window.
    let last: Arc<Mutex<(Option<Instant>, u64)>> = Arc::new(Mutex::new((None, u64::MAX)));
    let hook = move |job: &BackfillJob| {
        let Ok(mut last) = last.lock() else { return };
        let due = last.0.is_none_or(|t| t.elapsed() >= Duration::from_secs(2));
        if due || last.1 != job.windows_done {
            eprintln!("{}", line(job));
            *last = (Some(Instant::now()), job.windows_done);
        }
    };
    let app = match BackfillApp::new(&config, ports, store) {
        Ok(a) => a.with_progress(Arc::new(hook)),
        Err(e) => {
            eprintln!("auditlake: {e}");
            return ExitCode::from(1);
        }
    };
    if args.status {
        return match app.jobs().await {
            Ok(jobs) => {
                print(&jobs);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("auditlake: {e}");
                ExitCode::from(1)
            }
        };
    }
    let request = match BackfillRequest::new(
        args.since.as_deref(),
        args.start.as_deref(),
        args.end.as_deref(),
        args.record_types,
        args.services,
        args.retry_failed,
        app.now(),
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("auditlake: {e}");
            return ExitCode::from(2);
        }
    };
    let deadline = args
        .time_budget_secs
        .map_or_else(Deadline::none, |s| Deadline::after(Duration::from_secs(s)));
    match app.handle(request, &deadline).await {
        Ok(jobs) => {
            print(&jobs);
            if jobs.is_empty() {
                eprintln!("auditlake: no unfinished backfill to continue");
            }
            for p in jobs.iter().filter(|p| p.status == "running") {
                eprintln!(
                    "auditlake: {} stopped at its time budget; `auditlake backfill` continues it",
                    p.id
                );
            }
            if jobs.iter().any(|p| p.windows_failed > 0) {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e @ (BackfillAppError::WrongCloud(_) | BackfillAppError::Request(_))) => {
            eprintln!("auditlake: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("auditlake: {e}");
            ExitCode::from(1)
        }
    }
}
