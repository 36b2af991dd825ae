//! `auditlake-demo`, run by `scripts/demo`: starts the tenant simulator and moto, provisions the
//! bucket, tables and secret, then runs the puller through the same `PullerApp::handle` the Lambda
//! runs for a few scheduled ticks on the simulator's virtual clock, and prints what it found,
//! including an exactly-once check against the simulator's ground truth, then the detection
//! function over the events table's new items and the alerts it raised. With `--serve` it prints
//! the contract's service lines and `ready` on stdout and serves until SIGINT/SIGTERM.

use std::collections::HashSet;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::TimeDelta;
use clap::Parser;
use collector::app::{Ports, PullerApp};
use domain::config::PullerConfig;
use domain::model::{AuditEvent, RunSummary, Source, fmt_time};
use domain::store::StreamKey;
use e2e::{Moto, SimClock, SimControl, StackNames, local_sdk_config, provision, puller_vars};
use runtime::clock::{Clock, Deadline};

#[derive(Parser)]
#[command(
    name = "auditlake-demo",
    about = "Run the whole auditlake pipeline locally against a simulated tenant"
)]
struct Args {
    /// After the pull, print the service lines and `ready`, then serve until interrupted.
    #[arg(long)]
    serve: bool,
    /// Scheduled ticks to run (the first pulls the history, later ones run 5 minutes apart).
    #[arg(long, default_value_t = 4)]
    ticks: u32,
    /// Seed of the simulated tenant.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Days of history the simulated tenant holds.
    #[arg(long, default_value_t = 1)]
    days: u32,
    /// Simulated events per hour per source (sign-ins: per interactive kind; other kinds scale).
    #[arg(long, default_value_t = 20)]
    events_per_hour: u32,
}

/// Every source the demo pulls: all of them (the Graph sources and the Management Activity API
/// with its five content types).
const SOURCES: [Source; 8] = Source::ALL;

/// Prints to stdout normally, to stderr under `--serve` (where stdout carries only the contract).
struct Out {
    serve: bool,
}

impl Out {
    fn line(&self, s: impl AsRef<str>) {
        if self.serve {
            eprintln!("{}", s.as_ref());
        } else {
            println!("{}", s.as_ref());
        }
    }
}

fn tick_line(n: u32, at: chrono::DateTime<chrono::Utc>, s: &RunSummary) -> String {
    format!(
        "tick {n:>2}  {:<22} {:<26}  {}  windows {:>3}  pulled {:>6}  new {:>6}  duplicates {:>5}  quarantined {:>3}  raw objects {:>4}  {}",
        s.source.name(),
        s.stream.map(|s| s.name()).unwrap_or("-"),
        fmt_time(at),
        s.windows,
        s.pulled,
        s.new,
        s.duplicates,
        s.quarantined,
        s.raw_objects,
        match (&s.error, &s.skipped, s.complete) {
            (Some(e), _, _) => format!("ERROR {}: {}", e.code, e.message),
            (_, Some(k), _) => format!("skipped: {k}"),
            (_, _, true) => "complete".to_string(),
            _ => "incomplete".to_string(),
        }
    )
}

fn event_line(e: &AuditEvent) -> String {
    let actor = e
        .actor
        .upn
        .as_deref()
        .or(e.actor.name.as_deref())
        .unwrap_or("system");
    let target = e
        .targets
        .first()
        .and_then(|t| t.name.as_deref().or(t.id.as_deref()))
        .unwrap_or("-");
    format!(
        "  {:<22} {}  {:<30} by {:<34} on {:<28} {}",
        e.source.name(),
        fmt_time(e.time),
        e.operation,
        actor,
        target,
        e.result.as_str()
    )
}

async fn demo(args: &Args, out: &Out) -> Result<(), String> {
    let moto = Moto::start().await?;
    let sdk = local_sdk_config(&moto.endpoint).await;
    let names = StackNames::default();
    let sim_config = m365_sim::SimConfig {
        seed: args.seed,
        days: args.days,
        events_per_hour: args.events_per_hour,
        ingest_delay_secs: 180,
        fault_429: 0.05,
        fault_5xx: 0.02,
        retry_after_secs: 1,
        ..m365_sim::SimConfig::default()
    };
    provision(&sdk, &names, &sim_config.client_secret).await?;
    let (tenant, client_id) = (sim_config.tenant.clone(), sim_config.client_id.clone());
    let sim = m365_sim::start(sim_config)
        .await
        .map_err(|e| format!("simulator: {e}"))?;
    let ctl = SimControl::new(sim.base_url());
    // Waits (Retry-After, backoff) move the simulator's clock, as real time would.
    let clock = Arc::new(SimClock::new(ctl.clone()).await?);
    let vars = puller_vars(
        &sim.base_url(),
        &tenant,
        &client_id,
        &names,
        // One day more than the history: the pullers run one after another, and the earlier
        // ones' Retry-After waits move the clock before the later ones' first runs.
        &[(
            "AUDITLAKE_INITIAL_LOOKBACK_DAYS",
            &(args.days + 1).to_string(),
        )],
    );
    let config = PullerConfig::from_vars(vars).map_err(|e| e.to_string())?;
    let ports = Ports::aws(&sdk, &config).with_clock(clock.clone());
    let mut apps = Vec::new();
    for source in SOURCES {
        apps.push(PullerApp::new(source, &config, ports.clone()).map_err(|e| e.to_string())?);
    }

    out.line(format!(
        "auditlake demo: simulated tenant {tenant} ({} days of history, ~{} events/hour per source, sign-in kind and content type (scaled by volume), 5% throttling, 2% server errors, Microsoft's request budgets enforced)",
        args.days, args.events_per_hour
    ));
    out.line(format!(
        "simulator {}  moto {}",
        sim.base_url(),
        moto.endpoint
    ));
    out.line(String::new());
    let scheduled =
        serde_json::json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    let mut totals = (0u64, 0u64, 0u64, 0u64);
    // The detection function behind the events table's stream, after each tick.
    let mut detector = e2e::detections::LocalDetector::new(&sdk, &names, clock.clone())?;
    let mut detected = e2e::detections::Pass::default();
    for n in 1..=args.ticks.max(1) {
        if n > 1 {
            clock.advance(300).await?;
        }
        for app in &apps {
            let summaries = app
                .handle(&scheduled, Deadline::none())
                .await
                .map_err(|e| e.to_string())?;
            for s in &summaries {
                out.line(tick_line(n, clock.now(), s));
                totals.0 += s.pulled;
                totals.1 += s.new;
                totals.2 += s.duplicates;
                totals.3 += s.quarantined;
                if let Some(e) = &s.error {
                    return Err(format!("tick {n} failed: {}: {}", e.code, e.message));
                }
            }
        }
        let pass = detector.pass().await?;
        detected.events += pass.events;
        detected.alerts_new += pass.alerts_new;
        detected.alerts_existing += pass.alerts_existing;
        detected.batches += pass.batches;
    }
    let now = clock.now();
    let raw_keys = ports.raw.list("raw/").await.map_err(|e| e.to_string())?;
    let mut raw_bytes = 0usize;
    for k in &raw_keys {
        raw_bytes += ports.raw.get(k).await.map_err(|e| e.to_string())?.len();
    }
    let stats = ctl.stats().await?;
    out.line(String::new());
    out.line(format!(
        "pulled {} records: {} new, {} duplicates (overlap re-reads, absorbed by dedupe), {} quarantined",
        totals.0, totals.1, totals.2, totals.3
    ));
    out.line(format!(
        "microsoft side: {} throttled (429), {} over Graph's request budget (429, Retry-After waited out) and {} server errors, all retried",
        stats["throttled_429"], stats["over_budget_429"], stats["server_errors_5xx"]
    ));
    out.line(format!(
        "s3: {} raw objects, {} bytes (gzip NDJSON, exactly as received) under raw/",
        raw_keys.len(),
        raw_bytes
    ));
    out.line("exactly once, per source and stream, against the simulator's ground truth:");
    let mut failed = false;
    let mut stored_all = Vec::new();
    for (source, app) in SOURCES.iter().zip(&apps) {
        let stored = ports
            .events
            .list_by_time(
                *source,
                now - TimeDelta::days(i64::from(args.days) + 1),
                now,
            )
            .await
            .map_err(|e| e.to_string())?;
        for stream in app.pipeline().source.streams() {
            let key = StreamKey::new(tenant.clone(), *source, stream);
            let watermark = ports
                .state
                .watermark(&key)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("no watermark after the demo's runs")?;
            let ids: Vec<String> = stored
                .iter()
                .filter(|e| e.stream.as_deref() == stream.map(|s| s.name()))
                .filter_map(|e| e.record_id.clone())
                .collect();
            let set: HashSet<&String> = ids.iter().collect();
            let truth = ctl
                .truth_of(source.name(), stream.map(|s| s.name()), watermark)
                .await?;
            // Records of blobs that expired before anyone could fetch them are gaps, not misses.
            let expired: HashSet<&String> = truth.expired_ids.iter().collect();
            let truth: Vec<&String> = truth
                .ids
                .iter()
                .filter(|id| !expired.contains(id))
                .collect();
            let missing = truth.iter().filter(|id| !set.contains(*id)).count();
            let health = ports
                .state
                .health(&key)
                .await
                .map_err(|e| e.to_string())?
                .unwrap_or_default();
            failed |= missing > 0 || set.len() != ids.len();
            out.line(format!(
                "  {:<24} {:<26} {:>6} visible up to the watermark, {:>6} stored once each, {} missing; lag {}s, last success {}",
                source.name(),
                stream.map(|s| s.name()).unwrap_or("-"),
                truth.len(),
                ids.len(),
                missing,
                health.lag_secs.unwrap_or_default(),
                health.last_success_at.as_deref().unwrap_or("never"),
            ));
        }
        stored_all.extend(stored);
    }
    out.line("a few events:");
    stored_all.sort_by_key(|e| std::cmp::Reverse(e.time));
    let mut shown = HashSet::new();
    for e in &stored_all {
        if shown.insert(e.source) {
            out.line(event_line(e));
        }
    }
    if failed {
        return Err("the exactly-once check failed".into());
    }

    // Detections: every new event item through the rules once; the alerts table holds each once.
    let alerts = e2e::detections::stored_alerts(&sdk, &names).await?;
    out.line(String::new());
    out.line(format!(
        "detections: {} new events through the detection function ({} rules, {} stream batches): {} alerts raised, {} stored once each",
        detected.events, detector.rules, detected.batches, detected.alerts_new, alerts.len()
    ));
    for a in &alerts {
        out.line(format!(
            "  alert {:<13} {:<34} {} {} ({})",
            a.alert.severity.name(),
            a.alert.rule_id,
            fmt_time(a.alert.summary.time),
            a.alert.summary.actor.as_deref().unwrap_or("-"),
            a.alert.event_id
        ));
    }
    // Against the simulator's planted attacks: each raised once, nothing on the benign baseline.
    let attacks = ctl.attacks(now).await?;
    let mut matched = HashSet::new();
    out.line(format!(
        "  the simulator planted {} attacks visible by now (GET /_sim/truth/attacks):",
        attacks.len()
    ));
    for a in &attacks {
        let records: HashSet<&str> = a["record_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str())
            .collect();
        let raised: Vec<&domain::triage::StoredAlert> = alerts
            .iter()
            .filter(|s| {
                s.alert.rule_id == a["rule_id"].as_str().unwrap_or_default()
                    && s.alert
                        .record_id
                        .as_deref()
                        .is_some_and(|r| records.contains(r))
            })
            .collect();
        matched.extend(raised.iter().map(|s| s.alert.id.clone()));
        let rule = a["rule_id"].as_str().unwrap_or_default();
        let verdict = match raised.len() {
            1 => "raised once".to_string(),
            0 if e2e::detections::V1_BLIND.contains(&rule) => {
                "not raised: the rule reads sign-in fields only Graph beta sends".to_string()
            }
            n => format!("raised {n} times"),
        };
        out.line(format!(
            "    {:<26} {:<34} {}",
            a["scenario"].as_str().unwrap_or_default(),
            rule,
            verdict
        ));
        if raised.len() > 1 || (raised.is_empty() && !e2e::detections::V1_BLIND.contains(&rule)) {
            failed = true;
        }
    }
    // The truth lists an attack once all of its records are served; a burst still going on at
    // `now` can already have crossed its threshold on the records served so far. Such an alert
    // is on a planted attack, not on the benign baseline: look it up in a later truth (an alert
    // can only name a record that was served, so a later listing adds no false match).
    let later = ctl.attacks(now + TimeDelta::days(2)).await?;
    let planted_later = |s: &domain::triage::StoredAlert| {
        later.iter().any(|a| {
            s.alert.rule_id == a["rule_id"].as_str().unwrap_or_default()
                && a["record_ids"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|r| r.as_str().is_some() && r.as_str() == s.alert.record_id.as_deref())
        })
    };
    let unmatched: Vec<&domain::triage::StoredAlert> = alerts
        .iter()
        .filter(|s| !matched.contains(&s.alert.id))
        .collect();
    let early = unmatched.iter().filter(|s| planted_later(s)).count();
    if early > 0 {
        out.line(format!(
            "  alerts on attacks still under way at now (their last records not yet served): {early}"
        ));
    }
    let false_positives = unmatched.len() - early;
    out.line(format!(
        "  alerts on the benign baseline: {false_positives}"
    ));
    if failed || false_positives > 0 {
        return Err("the alerts do not match the simulator's planted attacks".into());
    }
    if alerts.len() != detected.alerts_new {
        return Err(format!(
            "{} alerts raised but {} stored",
            detected.alerts_new,
            alerts.len()
        ));
    }
    // The stream again from the start (a replay of every batch): nothing new.
    let mut replay = e2e::detections::LocalDetector::new(&sdk, &names, clock.clone())?;
    let again = replay.pass().await?;
    out.line(format!(
        "  the whole stream replayed: {} events evaluated again, {} new alerts",
        again.events, again.alerts_new
    ));
    if again.alerts_new != 0 {
        return Err("a replay of the stream raised new alerts".into());
    }

    // Notifications: the alerts table's stream through the notifier, to the alert topic (moto,
    // with an HTTP subscriber) and a signed webhook on a local HTTPS receiver.
    let mut notifier =
        e2e::notifications::LocalNotifier::start(&sdk, &names, clock.clone(), None).await?;
    let sent = notifier.pass().await?;
    let deliveries = notifier.webhook_deliveries();
    let requests: usize = deliveries.values().map(Vec::len).sum();
    let messages = notifier.topic_messages();
    out.line(format!(
        "notifications: {} alerts from the alerts table's stream sent to the alert topic ({} messages at its subscriber) and to webhook {} ({} requests, {} delivery ids, signatures {})",
        sent.alerts,
        messages.len(),
        e2e::notifications::WEBHOOK,
        requests,
        deliveries.len(),
        if notifier.signatures_valid() { "valid" } else { "INVALID" }
    ));
    notifier.rewind();
    let resent = notifier.pass().await?;
    out.line(format!(
        "  the alerts stream replayed: {} alerts read again, {} sent again",
        resent.alerts, resent.delivered
    ));
    if sent.alerts != alerts.len()
        || deliveries.len() != alerts.len()
        || requests != alerts.len()
        || messages.len() != alerts.len()
        || !notifier.signatures_valid()
        || resent.delivered != 0
    {
        return Err("the notifications do not match the alerts stored".into());
    }

    // A short audit search backfill: the unified audit log past the Management API's reach,
    // through Graph's audit log query API, into the same events table. (On the stack the
    // detection function sees its new events through the table's stream; the demo's detection
    // passes above covered the pullers' ticks.) The query API below lists them with the rest.
    out.line(String::new());
    for line in backfill(&sdk, &config, &ports, &ctl, args.days).await? {
        out.line(line);
    }
    stored_all.retain(|e| e.source != Source::M365Activity);
    stored_all.extend(
        ports
            .events
            .list_by_time(
                Source::M365Activity,
                now - TimeDelta::days(i64::from(args.days) + 4),
                clock.now() + TimeDelta::hours(1),
            )
            .await
            .map_err(|e| e.to_string())?,
    );

    // The query API over the same tables, with authentication on: the simulator is the token
    // issuer, and the API runs on the simulator's clock (tokens and the paging pin are on it).
    // The cursor key in SSM, as the stack keeps it: another process configured like this one
    // (`auditlake mcp` in tests/mcp/test_mcp.py) continues this API's cursors.
    let cursor_key_param = "/auditlake/cursor-key";
    testkit::provision::put_secure_parameter(
        &sdk,
        cursor_key_param,
        &secrecy::SecretString::from(format!(
            "auditlake-demo-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        )),
    )
    .await
    .map_err(|e| e.to_string())?;
    let query_config = domain::config::QueryConfig::from_vars(
        [
            ("AUDITLAKE_TENANT_ID", tenant.as_str()),
            ("AUDITLAKE_EVENTS_TABLE", names.events_table.as_str()),
            ("AUDITLAKE_STATE_TABLE", names.state_table.as_str()),
            ("AUDITLAKE_LOGIN_URL", sim.base_url().as_str()),
            (
                "AUDITLAKE_API_AUDIENCE",
                m365_sim::oidc::DEFAULT_API_AUDIENCE,
            ),
            // moto answers each Query by walking the table (0.2 to 2 s here, milliseconds on
            // DynamoDB), so the default budget of 100 requests could keep one call past API
            // Gateway's 30 s; a smaller one keeps every call of the demo (and of the attack
            // battery's fuzzing) well inside it, paging on with cursors instead.
            ("AUDITLAKE_API_READ_BUDGET", "25"),
            ("AUDITLAKE_ALERTS_TABLE", names.alerts_table.as_str()),
            // The raw layer: `GET /events/{id}` reads an event's raw record from it (the hot
            // store keeps a reference), as the stack's API does; the console shows it.
            ("AUDITLAKE_BUCKET", names.bucket.as_str()),
            // The web console signs in through the simulator's authorization-code flow, as
            // its SPA registration (the authority defaults to the login URL and tenant).
            (
                "AUDITLAKE_CONSOLE_CLIENT_ID",
                m365_sim::DEFAULT_SPA_CLIENT_ID,
            ),
            ("AUDITLAKE_CURSOR_KEY_PARAM", cursor_key_param),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    )
    .map_err(|e| e.to_string())?;
    // Hunting queries run on the local engine (sqlglot + DuckDB) over a copy of the curated
    // layer, where the stack would use Athena.
    let lake_dir =
        std::env::temp_dir().join(format!("auditlake-demo-curated-{}", std::process::id()));
    let curated_objects = e2e::analytics::mirror_curated(ports.raw.as_ref(), &lake_dir).await?;
    let query_app = query::query_app_with_clock(&sdk, &query_config, clock.clone())
        .await
        .map_err(|e| e.to_string())?
        .with_analytics(std::sync::Arc::new(
            testkit::local_engine::LocalEngine::from_repo(&lake_dir),
        ));
    // Questions on, against the chat-completions stand-in (HTTPS on loopback with the test CA),
    // so `/ask` and the MCP `ask` tool answer as they would with a model configured.
    let llm = testkit::llm_sim::LlmSim::start().await;
    let ask_config = domain::config::AskConfig::from_vars(
        [
            ("AUDITLAKE_LLM_BASE_URL", llm.base_url()),
            ("AUDITLAKE_LLM_MODEL", "auditlake-sim".to_string()),
            ("AUDITLAKE_LLM_ALLOWLIST", llm.allow_entry()),
            ("AUDITLAKE_DESTINATIONS_ALLOW_LOOPBACK", "1".to_string()),
            (
                "AUDITLAKE_DESTINATIONS_CA_FILE",
                testkit::receiver::ca_file().display().to_string(),
            ),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    )
    .map_err(|e| e.to_string())?
    .ok_or("questions are off")?;
    let asker = mcp::ask::Asker::new(ask_config, None).map_err(|e| e.to_string())?;
    let (query_addr, _query_task) =
        mcp::spawn(mcp::McpApp::new(query_app, Some(asker)), "127.0.0.1:0")
            .await
            .map_err(|e| format!("query API: {e}"))?;
    let query_url = format!("http://{query_addr}");
    let token = user_token(&sim.base_url()).await?;
    out.line(String::new());
    out.line(format!(
        "query API at {query_url} (Entra ID auth on, the simulator as issuer): GET /events?source=S, paged, against the store:"
    ));
    for source in SOURCES {
        let listed = list_events(&query_url, &token, source).await?;
        let stored: HashSet<&str> = stored_all
            .iter()
            .filter(|e| e.source == source)
            .map(|e| e.id.as_str())
            .collect();
        let listed_set: HashSet<&str> = listed.iter().map(String::as_str).collect();
        let same = listed.len() == listed_set.len() && listed_set == stored;
        out.line(format!(
            "  {:<24} {:>6} listed, {:>6} stored: {}",
            source.name(),
            listed.len(),
            stored.len(),
            if same {
                "the same events, each once"
            } else {
                "MISMATCH"
            }
        ));
        if !same {
            return Err(format!(
                "the query API does not list exactly the stored {source} events"
            ));
        }
    }

    let listed = e2e::detections::list_alerts(&query_url, &token).await?;
    out.line(format!(
        "  GET /alerts: {} alerts listed, {}",
        listed.len(),
        if listed.len() == alerts.len() {
            "each stored alert once"
        } else {
            "MISMATCH"
        }
    ));
    if listed.len() != alerts.len() {
        return Err("the query API does not list exactly the stored alerts".into());
    }

    // Analytics: two hunting queries over the curated layer, through the query API.
    out.line(String::new());
    out.line(format!(
        "analytics: {curated_objects} curated Parquet objects under curated/; hunting queries through POST /analytics, run locally (sqlglot + DuckDB) where the stack uses Athena:"
    ));
    let hunts = e2e::analytics::demo_hunts(&query_url, &token, now, args.days).await;
    if !args.serve {
        let _ = std::fs::remove_dir_all(&lake_dir);
    }
    for line in hunts? {
        out.line(line);
    }

    if args.serve {
        println!("simulator: {}", sim.base_url());
        println!("aws: {}", moto.endpoint);
        println!("query-api: {query_url}");
        println!("console: {query_url}/");
        println!("token: {token}");
        println!("ready");
        wait_for_signal().await;
        eprintln!("auditlake-demo: stopping");
        let _ = std::fs::remove_dir_all(&lake_dir);
    }
    sim.shutdown().await;
    drop(llm);
    drop(moto);
    Ok(())
}

/// Backfills twelve hours of the audit log through the audit search API, six of them before the
/// Management API's `days` of history and six within it (already collected), in 6-hour windows,
/// and checks the job against the simulator's truth: every record of the range stored once.
/// Short on purpose: moto stores a few hundred records a minute on two cores.
async fn backfill(
    sdk: &aws_config::SdkConfig,
    config: &PullerConfig,
    ports: &Ports,
    ctl: &SimControl,
    days: u32,
) -> Result<Vec<String>, String> {
    use collector::backfill::{BackfillApp, BackfillRequest};
    use domain::config::{BackfillConfig, BackfillSettings};
    let backfill_config = BackfillConfig {
        puller: config.clone(),
        settings: BackfillSettings {
            window: TimeDelta::hours(6),
            concurrency: 4,
            poll: std::time::Duration::from_secs(30),
            max_attempts: 5,
        },
    };
    let (_, jobs) = Ports::aws_with_backfills(sdk, config);
    let app = BackfillApp::new(&backfill_config, ports.clone(), jobs).map_err(|e| e.to_string())?;
    let edge = app.now() - TimeDelta::days(i64::from(days));
    let (from, to) = (
        fmt_time(edge - TimeDelta::hours(6)),
        fmt_time(edge + TimeDelta::hours(6)),
    );
    let request = BackfillRequest::new(
        None,
        Some(&from),
        Some(&to),
        vec![],
        vec![],
        false,
        app.now(),
    )
    .map_err(|e| e.to_string())?;
    let progress = app
        .handle(request, &Deadline::none())
        .await
        .map_err(|e| e.to_string())?;
    let p = progress.first().ok_or("the backfill reported no job")?;
    let (start, end) = (
        domain::model::parse_time(&p.start).ok_or("a job start")?,
        domain::model::parse_time(&p.end).ok_or("a job end")?,
    );
    let truth: HashSet<String> = ctl
        .truth_range("audit-search", start, end, app.now())
        .await?
        .ids
        .into_iter()
        .collect();
    let stored: HashSet<String> = ports
        .events
        .list_by_time(Source::M365Activity, start, end)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter_map(|e| e.record_id)
        .collect();
    let missing = truth.difference(&stored).count();
    let lines = vec![
        format!(
            "backfill (auditlake backfill --start {from} --end {to}, Graph's audit log query API): job {} {}, {} windows done, {} failed; {} queries ({} failed and retried), {} records: {} new, {} already collected by the Management API",
            p.id,
            p.status,
            p.windows_done,
            p.windows_failed,
            p.queries_submitted,
            p.queries_failed,
            p.records,
            p.new,
            p.duplicates
        ),
        format!(
            "  against the audit log's truth for {} .. {}: {} records, {} stored, {} missing",
            fmt_time(start),
            fmt_time(end),
            truth.len(),
            truth.intersection(&stored).count(),
            missing
        ),
    ];
    if p.status != "complete" || missing > 0 {
        return Err(format!(
            "the backfill did not complete exactly: {}",
            lines.join("; ")
        ));
    }
    Ok(lines)
}

/// An access token for the query API from the simulator's issuer, with every role.
async fn user_token(sim: &str) -> Result<String, String> {
    let reply: serde_json::Value = reqwest::Client::new()
        .post(format!("{sim}/_sim/user-token"))
        .json(&serde_json::json!({
            "roles": ["auditlake.admin"], "name": "Demo Analyst",
            "upn": "analyst@contoso.onmicrosoft.com", "expires_in_secs": 86_400
        }))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| format!("POST /_sim/user-token: {e}"))?
        .json()
        .await
        .map_err(|e| format!("POST /_sim/user-token reply: {e}"))?;
    reply["access_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "the simulator issued no access_token".into())
}

/// Every event id `GET /events?source=S` lists, following `next_cursor` to the end.
async fn list_events(api: &str, token: &str, source: Source) -> Result<Vec<String>, String> {
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let mut query = vec![
            ("source", source.name().to_string()),
            ("page_size", "500".to_string()),
        ];
        if let Some(c) = &cursor {
            query.push(("cursor", c.clone()));
        }
        let page: serde_json::Value = http
            .get(format!("{api}/events"))
            .bearer_auth(token)
            .query(&query)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("GET /events: {e}"))?
            .json()
            .await
            .map_err(|e| format!("GET /events reply: {e}"))?;
        for e in page["events"].as_array().into_iter().flatten() {
            if let Some(id) = e["id"].as_str() {
                ids.push(id.to_string());
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return Ok(ids),
        }
    }
    Err("GET /events did not finish paging".into())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out { serve: args.serve };
    match demo(&args, &out).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("auditlake-demo: {e}");
            ExitCode::FAILURE
        }
    }
}
