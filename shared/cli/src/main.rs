//! The `auditlake` operator CLI: `normalize` turns Microsoft exports into AuditEvent NDJSON;
//! `run` performs one pull run of a source against the configured tenant and AWS account (or a
//! local stack via `AWS_ENDPOINT_URL`); `import` loads exports through the same normalize-and-
//! dedupe path; `doctor` checks the app registration and every source's
//! access and says in plain sentences what is wrong; `serve` runs the query API (with `/mcp` and
//! the questions) on a local port; `mcp` runs the MCP server over stdio;
//! `detect` runs the detection rules over exports (see `detect.rs`); `backfill` searches the
//! unified audit log beyond seven days (see `backfill.rs`).
//! Exit codes: 0 success, 1 I/O or run error (or
//! a doctor finding of an error), 2 usage error, 3 some records quarantined, 4 (`detect`) alerts
//! raised.

mod backfill;
mod detect;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use collector::app::{Ports, PullerApp};
use domain::config::PullerConfig;
use domain::model::Source;
use domain::normalize::{Counts, ReaderError, normalize_file, normalize_reader};
use runtime::clock::Deadline;

#[derive(Parser)]
#[command(
    name = "auditlake",
    version,
    about = "Collector and audit lake for Microsoft 365 and Entra ID logs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Normalize Microsoft records (Graph list responses, JSON arrays, single records, NDJSON)
    /// into AuditEvent NDJSON on stdout. Reads stdin when no FILE is given.
    Normalize {
        /// Source the records come from, e.g. entra-directory-audits.
        #[arg(long)]
        source: Source,
        /// Tenant id written into each event.
        #[arg(long, env = "AUDITLAKE_TENANT_ID", default_value = "unknown")]
        tenant: String,
        /// Input files (`-` for stdin).
        files: Vec<PathBuf>,
    },
    /// Evaluate the detection rules (the built-in pack, plus --rules) over Microsoft records in
    /// any format `normalize` reads, and print one alert per line as JSON. Threshold rules run
    /// over the input in time order. Exit 0: nothing raised; 4: alerts raised; 3: some records
    /// quarantined (alerts still printed); 2: a usage or rule error.
    Detect {
        /// The tenant's own Sigma rules, evaluated with the built-in ones: a directory (*.yml,
        /// *.yaml, searched recursively) or one file.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Source the records come from, e.g. entra-sign-ins.
        #[arg(long)]
        source: Source,
        /// The stream the records are from (a sign-in kind such as interactiveUser, or a
        /// content type such as Audit.Exchange). Without it, every rule of the source runs.
        #[arg(long)]
        stream: Option<domain::stream::Stream>,
        /// Tenant id written into each event.
        #[arg(long, env = "AUDITLAKE_TENANT_ID", default_value = "unknown")]
        tenant: String,
        /// Input files (`-` for stdin).
        files: Vec<PathBuf>,
    },
    /// Run one pull of a source now, as its scheduled Lambda would, and print the run summaries
    /// (one JSON object per stream). Configuration comes from AUDITLAKE_* variables.
    Run {
        /// Source to pull.
        #[arg(long)]
        source: Source,
        /// Stop starting new windows after this many seconds (default: no limit).
        #[arg(long)]
        time_budget_secs: Option<u64>,
        /// Backfill from this time (RFC 3339) instead of continuing from the watermark.
        #[arg(long, requires = "end")]
        start: Option<String>,
        /// End of the backfill (RFC 3339, exclusive).
        #[arg(long, requires = "start")]
        end: Option<String>,
    },
    /// Backfill the unified audit log beyond the Management Activity API's 7 days through
    /// Graph's audit log query API (global cloud only; needs AuditLogsQuery.Read.All), stored as
    /// m365-activity events, each once. Asking again (or with no range) continues an unfinished
    /// backfill where it stopped. Progress on stderr, a JSON summary per job on stdout. Exit 3:
    /// some windows could not be completed. Configuration as for `run`, plus
    /// AUDITLAKE_BACKFILL_*.
    Backfill {
        /// How far back from now, e.g. 180d, 36h, 2w.
        #[arg(long, conflicts_with_all = ["start", "end"])]
        since: Option<String>,
        /// Start of the range (RFC 3339).
        #[arg(long)]
        start: Option<String>,
        /// End of the range (RFC 3339, exclusive; default now).
        #[arg(long, requires = "start")]
        end: Option<String>,
        /// Only this record type (Graph's auditLogRecordType name, e.g. exchangeAdmin); repeatable.
        #[arg(long = "record-type")]
        record_types: Vec<String>,
        /// Only this workload (e.g. Exchange, SharePoint); repeatable.
        #[arg(long = "service")]
        services: Vec<String>,
        /// Try the windows that could not be completed again.
        #[arg(long)]
        retry_failed: bool,
        /// Stop after this many seconds (the job is saved; run again to continue).
        #[arg(long)]
        time_budget_secs: Option<u64>,
        /// Print the tenant's backfill jobs (JSON lines) without running anything.
        #[arg(long, conflicts_with_all = ["since", "start", "retry_failed"])]
        status: bool,
    },
    /// Import exports (Graph list responses, JSON arrays, NDJSON; for Entra logs also Azure
    /// Monitor diagnostic-settings exports) through the same normalize-and-dedupe path as a pull,
    /// to backfill history Microsoft no longer keeps. Importing a file twice stores nothing new.
    /// Needs AUDITLAKE_TENANT_ID, AUDITLAKE_BUCKET and AUDITLAKE_EVENTS_TABLE.
    Import {
        /// Source the records come from.
        #[arg(long)]
        source: Source,
        /// Files to import (`-` for stdin).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Serve the query API (the Lambda's router) on a local address, against the stores the
    /// AUDITLAKE_* variables name (AUDITLAKE_TENANT_ID, AUDITLAKE_EVENTS_TABLE,
    /// AUDITLAKE_STATE_TABLE, and AUDITLAKE_API_AUDIENCE or AUDITLAKE_AUTH_DISABLED=true).
    /// Prints `listening: http://ADDR` once it accepts requests; stops on Ctrl-C.
    Serve {
        /// Address to listen on (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        /// With AUDITLAKE_AUTH_DISABLED=true, listen on an address that is not loopback anyway:
        /// anyone who can reach it reads and annotates every event. Refused without this flag.
        #[arg(long)]
        unauthenticated_on_network: bool,
    },
    /// Serve the MCP server over stdio (for an assistant that starts it: Claude Desktop, VS
    /// Code), against the stores and with the configuration `serve` reads. The caller is the
    /// bearer token in AUDITLAKE_MCP_TOKEN (roles as over HTTP); without one only
    /// AUDITLAKE_AUTH_DISABLED=true serves. Logs go to stderr; stdout carries only the protocol.
    Mcp {
        /// The variable holding the caller's access token.
        #[arg(long, default_value = "AUDITLAKE_MCP_TOKEN")]
        token_env: String,
    },
    /// Check the app registration and each Graph source's access (token, permissions, licences,
    /// provisioning, credential expiry) and explain what is wrong. Configuration as for `run`.
    Doctor {
        /// Sources to check (default: every Graph source).
        #[arg(long = "source")]
        sources: Vec<Source>,
        /// Print the findings as JSON lines.
        #[arg(long)]
        json: bool,
    },
}

async fn import(source: Source, files: Vec<PathBuf>) -> ExitCode {
    use collector::import::{ImportSummary, Target, import_reader};
    use indicatif::{ProgressBar, ProgressStyle};

    let config = match domain::config::ImportConfig::from_vars(std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprint!("auditlake: {e}");
            return ExitCode::from(2);
        }
    };
    let sdk = aws::load_sdk_config().await;
    let (raw, events) = aws::lake_stores(
        &sdk,
        &config.bucket,
        &config.events_table,
        config.write_concurrency,
    );
    let (raw, events) =
        collector::import::lake(std::sync::Arc::new(raw), std::sync::Arc::new(events));
    let clock = runtime::clock::SystemClock;
    let target = Target {
        tenant_id: &config.tenant_id,
        source,
        raw: raw.as_ref(),
        events: events.as_ref(),
        clock: &clock,
        hot_retention: config.hot_retention,
    };
    let mut total = ImportSummary::default();
    for path in &files {
        let name = path.display().to_string();
        let (reader, size): (Box<dyn std::io::Read + Send>, Option<u64>) = if name == "-" {
            (Box::new(std::io::stdin()), None)
        } else {
            match File::open(path) {
                Ok(f) => {
                    let size = f.metadata().ok().map(|m| m.len());
                    (Box::new(f), size)
                }
                Err(e) => {
                    eprintln!("auditlake: cannot open {name}: {e}");
                    return ExitCode::from(1);
                }
            }
        };
        let bar = match size {
            Some(n) => ProgressBar::new(n).with_style(
                ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::new_spinner(),
        };
        bar.set_message(name.clone());
        let reader = bar.wrap_read(reader);
        let progress_bar = bar.clone();
        let result = import_reader(
            &target,
            reader,
            name.clone(),
            &mut |s| {
                progress_bar.set_message(format!("{name}: {} records, {} new", s.records, s.new))
            },
            &mut |position, reason| progress_bar.suspend(|| eprintln!("{position}: {reason}")),
        )
        .await;
        bar.finish_and_clear();
        match result {
            Ok(s) => {
                eprintln!(
                    "{name}: {} records: {} new, {} already stored, {} quarantined",
                    s.records, s.new, s.duplicates, s.quarantined
                );
                total.records += s.records;
                total.new += s.new;
                total.duplicates += s.duplicates;
                total.quarantined += s.quarantined;
                total.raw_objects += s.raw_objects;
                total.raw_bytes += s.raw_bytes;
            }
            Err(e @ collector::import::ImportError::EnvelopeUnsupported { .. }) => {
                eprintln!("auditlake: {e}");
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("auditlake: {e}");
                return ExitCode::from(1);
            }
        }
    }
    println!("{}", serde_json::to_string(&total).unwrap_or_default());
    if total.quarantined > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

async fn doctor(sources: Vec<Source>, json: bool) -> ExitCode {
    let config = match PullerConfig::from_vars(std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprint!("auditlake: {e}");
            return ExitCode::from(2);
        }
    };
    let sources = if sources.is_empty() {
        Source::ALL.to_vec()
    } else {
        sources
    };
    let sdk = aws::load_sdk_config().await;
    let ports = Ports::aws(&sdk, &config);
    let findings =
        match collector::doctor::check(&config, &sources, ports.params, ports.clock).await {
            Ok(f) => f,
            Err(e) => {
                eprintln!("auditlake: {e}");
                return ExitCode::from(2);
            }
        };
    for f in &findings {
        if json {
            println!("{}", serde_json::to_string(f).unwrap_or_default());
        } else {
            let tag = match f.severity {
                collector::doctor::Severity::Ok => "ok",
                collector::doctor::Severity::Warning => "warning",
                collector::doctor::Severity::Error => "ERROR",
            };
            println!("{tag:>7}  {}", f.message);
        }
    }
    if findings
        .iter()
        .any(|f| f.severity == collector::doctor::Severity::Error)
    {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `auditlake mcp`: the MCP server over stdio, configured as `serve` is.
async fn mcp_stdio(token_env: &str) -> ExitCode {
    let (config, ask) = match api_configs() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let token = std::env::var(token_env)
        .ok()
        .filter(|t| !t.trim().is_empty());
    if token.is_none() && !config.auth_disabled {
        eprintln!(
            "auditlake: {token_env} is not set: the MCP server needs the caller's access token (or AUDITLAKE_AUTH_DISABLED=true on a local stack)"
        );
        return ExitCode::from(2);
    }
    let sdk = aws::load_sdk_config().await;
    let app = match mcp::mcp_app(&sdk, &config, ask.as_ref()).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("auditlake: {e}");
            return ExitCode::from(1);
        }
    };
    let authorization = token.map(|t| format!("Bearer {}", t.trim()));
    match mcp::serve_stdio(app, authorization).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("auditlake: {e}");
            ExitCode::from(1)
        }
    }
}

/// The query API's configuration and the questions', from the environment (exit 2 with every
/// problem when they do not parse).
fn api_configs() -> Result<
    (
        domain::config::QueryConfig,
        Option<domain::config::AskConfig>,
    ),
    ExitCode,
> {
    let query = domain::config::QueryConfig::from_vars(std::env::vars());
    let ask = domain::config::AskConfig::from_vars(std::env::vars());
    match (query, ask) {
        (Ok(q), Ok(a)) => Ok((q, a)),
        (q, a) => {
            for e in [q.err(), a.err()].into_iter().flatten() {
                eprint!("auditlake: {e}");
            }
            Err(ExitCode::from(2))
        }
    }
}

async fn serve(addr: &str, unauthenticated_on_network: bool) -> ExitCode {
    let (config, ask) = match api_configs() {
        Ok(c) => c,
        Err(code) => return code,
    };
    // Without authentication the API is open to whoever reaches the port: loopback only, unless
    // asked twice (the variable and the flag).
    if config.auth_disabled && !unauthenticated_on_network {
        match tokio::net::lookup_host(addr).await {
            Ok(mut resolved) => {
                if let Some(a) = resolved.find(|a| !a.ip().is_loopback()) {
                    eprintln!(
                        "auditlake: refusing to serve without authentication on {a}, which is not a loopback address: anyone who reaches it could read and annotate every event. Listen on 127.0.0.1, turn authentication on, or pass --unauthenticated-on-network as well."
                    );
                    return ExitCode::from(2);
                }
            }
            Err(e) => {
                eprintln!("auditlake: cannot resolve {addr}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let sdk = aws::load_sdk_config().await;
    let app = match mcp::mcp_app(&sdk, &config, ask.as_ref()).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("auditlake: {e}");
            return ExitCode::from(1);
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("auditlake: cannot listen on {addr}: {e}");
            return ExitCode::from(1);
        }
    };
    match listener.local_addr() {
        Ok(a) => println!("listening: http://{a}"),
        Err(e) => {
            eprintln!("auditlake: {e}");
            return ExitCode::from(1);
        }
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match axum::serve(listener, mcp::router(app))
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("auditlake: {e}");
            ExitCode::from(1)
        }
    }
}

/// Normalizes `files` (stdin when none) of `source` into `out`, reporting quarantined records on
/// stderr; files on every core (in input order), stdin on this thread. `Err` is the exit code of
/// a run that had to stop (its message already printed).
pub(crate) fn normalize_inputs(
    source: Source,
    tenant: &str,
    files: &[PathBuf],
    out: &mut dyn Write,
) -> Result<Counts, ExitCode> {
    let mut err = std::io::stderr();
    let mut total = Counts::default();
    let threads = std::thread::available_parallelism().unwrap_or(std::num::NonZeroUsize::MIN);
    let inputs: Vec<PathBuf> = if files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        files.to_vec()
    };
    for path in &inputs {
        let name = path.display().to_string();
        let result = if name == "-" {
            let stdin = std::io::stdin().lock();
            normalize_reader(source, tenant, stdin, "stdin", out, &mut err)
        } else {
            match File::open(path) {
                Ok(f) => normalize_file(source, tenant, f, &name, out, &mut err, threads),
                Err(e) => {
                    eprintln!("auditlake: cannot open {name}: {e}");
                    return Err(ExitCode::from(1));
                }
            }
        };
        match result {
            Ok(c) => {
                total.normalized += c.normalized;
                total.quarantined += c.quarantined;
            }
            Err(e @ ReaderError::EnvelopeUnsupported { .. }) => {
                let _ = out.flush();
                eprintln!("auditlake: {e}");
                return Err(ExitCode::from(2));
            }
            Err(ReaderError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                return Err(ExitCode::SUCCESS);
            }
            Err(ReaderError::Io(e)) => {
                eprintln!("auditlake: {name}: {e}");
                return Err(ExitCode::from(1));
            }
        }
    }
    Ok(total)
}

fn normalize_files(source: Source, tenant: &str, files: &[PathBuf]) -> ExitCode {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let total = match normalize_inputs(source, tenant, files, &mut out) {
        Ok(t) => t,
        Err(code) => return code,
    };
    if let Err(e) = out.flush()
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("auditlake: writing output: {e}");
        return ExitCode::from(1);
    }
    eprintln!(
        "auditlake: {} normalized, {} quarantined",
        total.normalized, total.quarantined
    );
    if total.quarantined > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

async fn run(
    source: Source,
    budget: Option<u64>,
    start: Option<String>,
    end: Option<String>,
) -> ExitCode {
    let config = match PullerConfig::from_vars(std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprint!("auditlake: {e}");
            return ExitCode::from(2);
        }
    };
    let sdk = aws::load_sdk_config().await;
    let app = match PullerApp::new(source, &config, Ports::aws(&sdk, &config)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("auditlake: {e}");
            return ExitCode::from(2);
        }
    };
    let payload = match (start, end) {
        (Some(s), Some(e)) => serde_json::json!({"start": s, "end": e}),
        _ => serde_json::json!({}),
    };
    let deadline = budget.map_or_else(Deadline::none, |s| Deadline::after(Duration::from_secs(s)));
    match app.handle(&payload, deadline).await {
        Ok(summaries) => {
            let failed = summaries.iter().any(|s| s.error.is_some());
            for s in &summaries {
                println!("{}", serde_json::to_string(s).unwrap_or_default());
            }
            if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("auditlake: {e}");
            ExitCode::from(2)
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Normalize {
            source,
            tenant,
            files,
        } => normalize_files(source, &tenant, &files),
        Command::Detect {
            rules,
            source,
            stream,
            tenant,
            files,
        } => {
            detect::run(detect::Args {
                source,
                stream,
                tenant: &tenant,
                rules: rules.as_deref(),
                files: &files,
            })
            .await
        }
        Command::Run {
            source,
            time_budget_secs,
            start,
            end,
        } => {
            runtime::telemetry::init(false);
            run(source, time_budget_secs, start, end).await
        }
        Command::Doctor { sources, json } => {
            runtime::telemetry::init(false);
            doctor(sources, json).await
        }
        Command::Import { source, files } => import(source, files).await,
        Command::Backfill {
            since,
            start,
            end,
            record_types,
            services,
            retry_failed,
            time_budget_secs,
            status,
        } => {
            runtime::telemetry::init(false);
            backfill::run(backfill::Args {
                since,
                start,
                end,
                record_types,
                services,
                retry_failed,
                time_budget_secs,
                status,
            })
            .await
        }
        Command::Serve {
            addr,
            unauthenticated_on_network,
        } => {
            runtime::telemetry::init(false);
            serve(&addr, unauthenticated_on_network).await
        }
        Command::Mcp { token_env } => {
            runtime::telemetry::init(false);
            mcp_stdio(&token_env).await
        }
    }
}
