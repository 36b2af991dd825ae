//! The `m365-sim` binary: runs the Microsoft 365 tenant simulator on a local port.
//!
//! When it accepts connections it prints exactly `listening: http://127.0.0.1:PORT` on stdout
//! (and nothing else there); logs go to stderr (`RUST_LOG` filters them, default `info`). It
//! stops cleanly on SIGINT or SIGTERM.

use std::io::Write;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Parser;
use m365_sim::SimConfig;

/// A deterministic Microsoft 365 tenant simulator: Entra token endpoint, Graph audit logs, the
/// Office 365 Management Activity API and the query API's OIDC issuer on a virtual clock, for
/// tests and the local demo.
///
/// The clock is frozen at --now (or the current time) and moves only through
/// `POST /_sim/clock` with {"now": RFC3339} or {"advance_secs": N}.
#[derive(Debug, Parser)]
#[command(name = "m365-sim", version, about, long_about)]
struct Args {
    /// TCP port on 127.0.0.1 (0 picks a free port; the chosen one is printed).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Seed for everything generated: directory, events, ids and fault decisions.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Tenant id (GUID) accepted by the token endpoint.
    #[arg(long, default_value = "8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35")]
    tenant: String,
    /// Application (client) id of the only registered app.
    #[arg(long, default_value = "5e7d9c1b-3a2f-4e6d-8c0b-1a9f7e5d3c21")]
    client_id: String,
    /// Client secret of that app.
    #[arg(long, default_value = "sim-client-secret")]
    client_secret: String,
    /// PEM file of the app's registered certificate (a file that also holds the private key is
    /// fine): the token endpoint then also accepts client assertions signed by its key.
    #[arg(long = "client-cert", value_name = "FILE", value_parser = read_file)]
    client_cert: Option<String>,
    /// Refuse PS256 client assertions with AADSTS700027 (as Entra once did), to exercise a
    /// client's fallback to RS256.
    #[arg(long)]
    reject_ps256: bool,
    /// Days of history before the initial time (events exist from now - days onward).
    #[arg(long, default_value_t = 2)]
    days: u32,
    /// Mean events per hour per source (each hour varies between 50% and 150%; 0 = none).
    #[arg(long, default_value_t = 60)]
    events_per_hour: u32,
    /// Maximum ingestion delay in seconds: an event becomes visible only at time + delay
    /// (about 2% of events are late, up to 3x this but never over 1800 s).
    #[arg(long, default_value_t = 120)]
    ingest_delay_secs: u64,
    /// Probability (0-1) that a data request is answered 429 TooManyRequests.
    #[arg(long, default_value_t = 0.0)]
    fault_429: f64,
    /// Probability (0-1) that a data request is answered 500 or 503 (alternating).
    #[arg(long, default_value_t = 0.0)]
    fault_5xx: f64,
    /// Real milliseconds of latency added to every data response.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Seconds sent in Retry-After with injected 429 and 503 answers.
    #[arg(long, default_value_t = 1)]
    retry_after_secs: u64,
    /// Initial virtual time (RFC 3339, e.g. 2026-07-17T12:00:00Z); default: now, whole seconds.
    #[arg(long, value_parser = parse_now)]
    now: Option<DateTime<Utc>>,
    /// The tenant has no Entra ID P1/P2 licence: sign-ins answer 403
    /// Authentication_RequestFromNonPremiumTenantOrB2CTenant.
    #[arg(long)]
    no_premium: bool,
    /// The tenant has no Entra ID P2 licence: risk detections answer 403 Forbidden.
    #[arg(long)]
    no_premium_p2: bool,
    /// The Exchange message trace service principal is not provisioned: message trace answers
    /// 401.
    #[arg(long)]
    message_trace_unprovisioned: bool,
    /// The app lacks this source's application permission: its requests answer 403
    /// Authorization_RequestDenied (repeatable).
    #[arg(long = "deny-source", value_name = "SOURCE")]
    deny_source: Vec<String>,
    /// The client secret has expired: the right secret answers AADSTS7000222.
    #[arg(long)]
    secret_expired: bool,
    /// Do not enforce Microsoft's request budgets (directory audits and sign-ins 5 per 10 s,
    /// message trace 100 per 5 min).
    #[arg(long)]
    no_budgets: bool,
    /// Plant no attack scenarios (by default every scenario is planted once per simulated day
    /// among the ordinary traffic, and listed by /_sim/truth/attacks).
    #[arg(long)]
    no_attacks: bool,
    /// Management Activity API: seconds between two blobs of one content type (60-86400).
    #[arg(long, default_value_t = 600)]
    mgmt_blob_interval_secs: u64,
    /// Management Activity API: content items per listing page before a NextPageUri.
    #[arg(long, default_value_t = 100)]
    mgmt_page_size: usize,
    /// Management Activity API: HTTP status of an AF429 throttle (429 or 403).
    #[arg(long, default_value_t = 429)]
    mgmt_af429_status: u16,
    /// Management Activity API: name of the paging header (NextPageUri or NextPageUrl).
    #[arg(long, default_value = "NextPageUri")]
    mgmt_next_page_header: String,
    /// Management Activity API: the app lacks this content type's permission (ActivityFeed.Read,
    /// or ActivityFeed.ReadDlp for DLP.All): start, listing and fetch answer 401 AF10001
    /// (repeatable).
    #[arg(long = "mgmt-deny-content-type", value_name = "CONTENT_TYPE")]
    mgmt_deny_content_type: Vec<String>,
    /// Management Activity API: unified audit logging is off; subscriptions/start answers AF20012.
    #[arg(long)]
    mgmt_audit_disabled: bool,
    /// Management Activity API quirk: a blob is listed up to this many seconds after its
    /// contentCreated (0 = at once).
    #[arg(long, default_value_t = 0)]
    mgmt_listing_delay_secs: u64,
    /// Management Activity API quirk: ~5% of blobs carry records 3-5 days old; records within a
    /// blob are not time-ordered.
    #[arg(long)]
    mgmt_late_records: bool,
    /// Management Activity API quirk: each blob's first record repeats the previous blob's last.
    #[arg(long)]
    mgmt_repeat_last: bool,
    /// Management Activity API quirk: ~3% of blobs are listed again 1-3 days later.
    #[arg(long)]
    mgmt_relist: bool,
    /// Management Activity API quirk: ~3% of blobs expire 20 minutes after they are listed.
    #[arg(long)]
    mgmt_early_expiry: bool,
    /// Management Activity API quirk: after this many successful content listings the
    /// Audit.Exchange subscription is disabled once (AF20023 until started again).
    #[arg(long, value_name = "N")]
    mgmt_disable_after: Option<u64>,
    /// Management Activity API: every quirk on (listing delay 5400 s unless set, late and
    /// repeated records, relisting, early expiry, Audit.Exchange disabled after 20 listings unless
    /// set, AF429 as 403, NextPageUrl).
    #[arg(long)]
    mgmt_quirks: bool,
    /// Default audience (`aud`) of the tokens `POST /_sim/user-token` issues: the query API's
    /// app id URI or client id.
    #[arg(long, default_value = m365_sim::oidc::DEFAULT_API_AUDIENCE)]
    api_audience: String,
    /// PEM file of the OIDC issuer's signing key and its certificate (default: the TEST-ONLY
    /// pair built in, tests/fixtures/certs/issuer.pem).
    #[arg(long = "issuer-key", value_name = "FILE", value_parser = read_file)]
    issuer_key: Option<String>,
    /// Audit log query API: days of unified audit log before the initial time.
    #[arg(long, default_value_t = 180, value_name = "DAYS")]
    audit_search_days: u32,
    /// Audit log query API: virtual seconds from a query's submission to its end.
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    audit_search_run_secs: u64,
    /// Audit log query API: records a query serves at most (past it, isRecordCountLimitExceeded).
    #[arg(long, default_value_t = 50_000, value_name = "N")]
    audit_search_record_limit: u64,
    /// Audit log query API: queries not yet ended at once (more: 429 with Retry-After).
    #[arg(long, default_value_t = 10, value_name = "N")]
    audit_search_max_concurrent: u32,
    /// Audit log query API: submissions in any 24 virtual hours (0: no limit).
    #[arg(long, default_value_t = 0, value_name = "N")]
    audit_search_daily_limit: u32,
    /// Audit log query API: every N-th submitted query fails (0: none).
    #[arg(long, default_value_t = 0, value_name = "N")]
    audit_search_fail_every: u32,
    /// Client id of the console's SPA registration (the authorization-code flow's client).
    #[arg(long, default_value = m365_sim::DEFAULT_SPA_CLIENT_ID)]
    spa_client_id: String,
    /// A registered SPA redirect URI (repeatable); none: any http URI on a loopback host.
    #[arg(long = "spa-redirect-uri", value_name = "URI")]
    spa_redirect_uris: Vec<String>,
    /// Do not plant script and markup payloads in display names (see /_sim/hostile).
    #[arg(long)]
    no_hostile: bool,
    /// Origin the planted <script> payload calls /_sim/beacon at (default: relative).
    #[arg(long, value_name = "URL")]
    hostile_beacon: Option<String>,
}

fn read_file(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 timestamp ({e})"))
}

impl From<Args> for SimConfig {
    fn from(a: Args) -> Self {
        SimConfig {
            port: a.port,
            seed: a.seed,
            tenant: a.tenant,
            client_id: a.client_id,
            client_secret: a.client_secret,
            client_certificate_pem: a.client_cert,
            reject_ps256: a.reject_ps256,
            days: a.days,
            events_per_hour: a.events_per_hour,
            ingest_delay_secs: a.ingest_delay_secs,
            fault_429: a.fault_429,
            fault_5xx: a.fault_5xx,
            latency_ms: a.latency_ms,
            retry_after_secs: a.retry_after_secs,
            now: a.now,
            premium: !a.no_premium,
            premium_p2: !a.no_premium_p2,
            message_trace_provisioned: !a.message_trace_unprovisioned,
            denied_sources: a.deny_source,
            secret_expired: a.secret_expired,
            enforce_budgets: !a.no_budgets,
            mgmt_blob_interval_secs: a.mgmt_blob_interval_secs,
            mgmt_page_size: a.mgmt_page_size,
            mgmt_af429_status: a.mgmt_af429_status,
            mgmt_next_page_header: a.mgmt_next_page_header,
            mgmt_denied_content_types: a.mgmt_deny_content_type,
            mgmt_audit_disabled: a.mgmt_audit_disabled,
            mgmt_listing_delay_secs: a.mgmt_listing_delay_secs,
            mgmt_late_records: a.mgmt_late_records,
            mgmt_repeat_last: a.mgmt_repeat_last,
            mgmt_relist: a.mgmt_relist,
            mgmt_early_expiry: a.mgmt_early_expiry,
            mgmt_disable_after: a.mgmt_disable_after,
            mgmt_quirks: a.mgmt_quirks,
            api_audience: a.api_audience,
            issuer_key_pem: a.issuer_key,
            attacks: !a.no_attacks,
            audit_search: m365_sim::audit_search::AuditSearchSettings {
                days: a.audit_search_days,
                run_secs: a.audit_search_run_secs,
                record_limit: a.audit_search_record_limit,
                max_concurrent: a.audit_search_max_concurrent,
                daily_limit: a.audit_search_daily_limit,
                fail_every: a.audit_search_fail_every,
            },
            spa_client_id: a.spa_client_id,
            spa_redirect_uris: a.spa_redirect_uris,
            hostile: !a.no_hostile,
            hostile_beacon: a.hostile_beacon,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config = SimConfig::from(Args::parse());
    let sim = match m365_sim::start(config).await {
        Ok(sim) => sim,
        Err(error) => {
            tracing::error!(%error, "Simulator failed to start.");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "listening: {}", sim.base_url())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        tracing::warn!("Could not write the listening line to stdout.");
    }
    drop(stdout);
    wait_for_signal().await;
    tracing::info!("Shutting down.");
    sim.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(error) => {
            tracing::warn!(%error, "SIGTERM handler unavailable; waiting for SIGINT only.");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
