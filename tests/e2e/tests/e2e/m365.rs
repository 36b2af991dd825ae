//! The Management Activity API puller end to end: a simulated week with every one of Microsoft's
//! quirks on (blobs listed late, records days older than their blob, the last record repeated,
//! blobs re-listed days later, blobs that expire early, a subscription disabled mid-run, AF429 as
//! 403, server errors), proved against the simulator's ground truth; the content ledger in
//! DynamoDB; and a puller whose clock is an hour off the server's.

use super::*;
use domain::store::ledger::LedgerEntry;

const M365: Source = Source::M365Activity;
const CONTENT_TYPES: [&str; 5] = [
    "Audit.AzureActiveDirectory",
    "Audit.Exchange",
    "Audit.SharePoint",
    "Audit.General",
    "DLP.All",
];

struct M365Env {
    _moto: Moto,
    sim: m365_sim::RunningSim,
    ctl: SimControl,
    config: PullerConfig,
    ports: Ports,
    clock: Arc<SimClock>,
    tenant: String,
}

async fn m365_env(sim_config: SimConfig, extra: &[(&str, &str)]) -> M365Env {
    let e = env(sim_config, extra, None).await;
    M365Env {
        _moto: e._moto,
        sim: e.sim,
        ctl: e.ctl,
        config: e.config,
        ports: e.ports,
        clock: e.clock,
        tenant: e.key.tenant,
    }
}

impl M365Env {
    fn key(&self, ct: &str) -> StreamKey {
        StreamKey::new(
            self.tenant.clone(),
            M365,
            Some(ct.parse().expect("a content type")),
        )
    }
}

/// Health's record counts summed over the content types.
#[derive(Default)]
struct HealthTotals {
    new: u64,
    duplicates: u64,
}

fn stats_u64(stats: &serde_json::Value, path: &[&str]) -> u64 {
    let mut v = stats;
    for p in path {
        v = &v[*p];
    }
    v.as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_content_type_exactly_once_over_a_week_of_quirks() {
    let sim_config = SimConfig {
        seed: 21,
        days: 8,
        events_per_hour: 6,
        fault_429: 0.05,
        fault_5xx: 0.03,
        retry_after_secs: 2,
        mgmt_quirks: true,
        mgmt_af429_status: 403,
        mgmt_disable_after: Some(40),
        mgmt_page_size: 20,
        // Hourly blobs keep the week to about 1,700 blobs (each one S3 object and one batch of
        // DynamoDB writes against moto) while every quirk still happens many times.
        mgmt_blob_interval_secs: 3600,
        // Ten minutes before the hour, so the hourly blob created just after the 7-day edge falls
        // inside the puller's edge margin: never listed, and rightly not a gap (CI once failed on
        // exactly this when the wall clock stood there).
        now: Some(
            chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 22, 13, 50, 0).unwrap(),
        ),
        ..SimConfig::default()
    };
    let env = m365_env(
        sim_config,
        &[
            ("AUDITLAKE_INITIAL_LOOKBACK_DAYS", "7"),
            ("AUDITLAKE_MAX_RETRIES", "20"),
            ("AUDITLAKE_BLOB_CONCURRENCY", "4"),
        ],
    )
    .await;
    let started = env.clock.now();
    let app = PullerApp::new(M365, &env.config, env.ports.clone()).expect("puller");
    let tick = scheduled_event();

    // 1. A first run cut short by its time budget while blobs are in flight: every response
    // takes 100 ms and the run has three seconds. It must stop cleanly, keep what it fetched, and
    // leave the rest to the next run, which must not fetch any stored blob again.
    env.ctl.set_faults_and_latency(0.0, 0.0, 100).await.unwrap();
    let first = app
        .handle(&tick, Deadline::after(Duration::from_secs(3)))
        .await
        .unwrap();
    assert_eq!(first.len(), CONTENT_TYPES.len());
    assert!(
        first.iter().any(|s| !s.complete && s.error.is_none()),
        "the budget should cut some content type short: {first:?}"
    );
    assert!(first.iter().map(|s| s.pulled).sum::<u64>() > 0, "{first:?}");
    env.ctl.set_faults_and_latency(0.05, 0.03, 0).await.unwrap();

    // 2. A week of ticks two hours apart (blobs that expire 20 minutes after they are listed
    // are mostly missed, as they would be by any poller).
    for hour in (0..(7 * 24)).step_by(2) {
        env.clock.advance(7200).await.unwrap();
        let summaries = app.handle(&tick, Deadline::none()).await.unwrap();
        assert_eq!(summaries.len(), CONTENT_TYPES.len());
        for s in &summaries {
            assert!(s.complete && s.error.is_none(), "hour {hour}: {s:?}");
        }
    }

    // 3. The proof, against the simulator's ground truth as of the oldest watermark.
    let now = env.clock.now();
    let detail = env.ctl.truth_detail(M365.name(), now).await.unwrap();
    let stored = env
        .ports
        .events
        .list_by_time(
            M365,
            started - TimeDelta::days(20),
            now + TimeDelta::hours(1),
        )
        .await
        .unwrap();
    let ids: Vec<String> = stored.iter().filter_map(|e| e.record_id.clone()).collect();
    assert_eq!(ids.len(), stored.len(), "every simulated record has an Id");
    let stored_set: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(stored_set.len(), ids.len(), "no record is stored twice");
    let raw: HashSet<String> = raw_record_ids(env.ports.raw.as_ref(), "raw/source=m365-activity/")
        .await
        .unwrap()
        .into_iter()
        .collect();

    let mut checked = 0;
    let mut gaps: HashSet<String> = HashSet::new();
    for ct in CONTENT_TYPES {
        let key = env.key(ct);
        let wm = env
            .ports
            .state
            .watermark(&key)
            .await
            .unwrap()
            .expect("watermark");
        let truth = env.ctl.truth_of(M365.name(), Some(ct), wm).await.unwrap();
        let expired: HashSet<String> = truth.expired_ids.iter().cloned().collect();
        let truth_now: HashSet<String> = env
            .ctl
            .truth_of(M365.name(), Some(ct), now)
            .await
            .unwrap()
            .ids
            .into_iter()
            .collect();
        let mine: HashSet<String> = stored
            .iter()
            .filter(|e| e.stream.as_deref() == Some(ct))
            .filter_map(|e| e.record_id.clone())
            .collect();
        let missing: Vec<&String> = truth
            .ids
            .iter()
            .filter(|id| !expired.contains(*id) && !mine.contains(*id))
            .take(5)
            .collect();
        assert!(
            missing.is_empty(),
            "{ct}: listed but not stored: {missing:?}"
        );
        let not_raw: Vec<&String> = truth
            .ids
            .iter()
            .filter(|id| !expired.contains(*id) && !raw.contains(*id))
            .take(5)
            .collect();
        assert!(
            not_raw.is_empty(),
            "{ct}: not in the raw layer: {not_raw:?}"
        );
        let phantom: Vec<&String> = mine.difference(&truth_now).take(5).collect();
        assert!(
            phantom.is_empty(),
            "{ct}: stored but never sent: {phantom:?}"
        );
        checked += truth.ids.len() - expired.len();

        let health = env.ports.state.health(&key).await.unwrap().expect("health");
        assert_eq!(health.consecutive_failures, 0, "{ct}: {health:?}");
        assert_eq!(health.total_quarantined, 0, "{ct}: every record normalizes");
        gaps.extend(health.gaps.iter().filter_map(|g| g.content_id.clone()));
    }
    assert!(checked > 3000, "a week of five content types: {checked}");

    // Expired blobs are gaps in health, each named by its content id: every blob that expired
    // unfetched although it was created after where the first run began collecting its content
    // type. Older ones were already past Microsoft's 7 days (less the puller's edge margin) when
    // collection began, which is not a gap. The origin is read from the first run's own summary,
    // not recomputed here, because it depends on the wall clock's position within the margin.
    let origins: std::collections::HashMap<String, chrono::DateTime<chrono::Utc>> = first
        .iter()
        .filter_map(|s| {
            Some((
                s.stream?.name().to_string(),
                domain::model::parse_time(s.window_start.as_deref()?)?,
            ))
        })
        .collect();
    assert_eq!(origins.len(), CONTENT_TYPES.len(), "{first:?}");
    for origin in origins.values() {
        assert!(
            *origin > started - TimeDelta::days(7) && *origin < started - TimeDelta::days(6),
            "collection begins just inside the 7-day edge: {origin}"
        );
    }
    let created: std::collections::HashMap<&str, (&str, chrono::DateTime<chrono::Utc>)> =
        detail["blobs"]
            .as_array()
            .expect("blobs")
            .iter()
            .filter_map(|b| {
                Some((
                    b["content_id"].as_str()?,
                    (
                        b["content_type"].as_str()?,
                        domain::model::parse_time(b["content_created"].as_str()?)?,
                    ),
                ))
            })
            .collect();
    // The source clamps by the server's clock when it lists, a moment after the run planned its
    // window (and the `Date` header has one-second precision): a minute's slack covers that.
    let slack = TimeDelta::minutes(1);
    let expired_blobs: Vec<String> = detail["expired_content_ids"]
        .as_array()
        .expect("expired_content_ids")
        .iter()
        .filter_map(|v| v.as_str())
        .filter(|id| {
            created
                .get(id)
                .is_some_and(|(ct, c)| origins.get(*ct).is_some_and(|o| *c >= *o + slack))
        })
        .map(str::to_string)
        .collect();
    assert!(
        !expired_blobs.is_empty(),
        "the early-expiry quirk produced expired blobs"
    );
    let unreported: Vec<&String> = expired_blobs
        .iter()
        .filter(|id| !gaps.contains(*id))
        .take(5)
        .collect();
    assert!(
        unreported.is_empty(),
        "expired blobs missing from health's gaps: {unreported:?}"
    );

    // Quirks happened and were absorbed: repeated records were duplicates, re-listed blobs were
    // never fetched again, the disabled subscription was started again, AF429 came as 403.
    let mut totals = HealthTotals::default();
    for ct in CONTENT_TYPES {
        let h = env.ports.state.health(&env.key(ct)).await.unwrap().unwrap();
        totals.new += h.total_new;
        totals.duplicates += h.total_duplicates;
    }
    assert_eq!(
        totals.new,
        stored.len() as u64,
        "health counts every new record"
    );
    assert!(
        totals.duplicates > 0,
        "repeated records were seen and absorbed"
    );
    let stats = env.ctl.stats().await.unwrap();
    let twice: Vec<&serde_json::Value> = detail["blobs"]
        .as_array()
        .expect("blobs")
        .iter()
        .filter(|b| b["fetches"].as_u64().unwrap_or(0) > 1)
        .collect();
    assert!(twice.is_empty(), "blobs fetched twice: {twice:?}");
    assert_eq!(
        stats_u64(&stats, &["mgmt", "blobs_fetched_twice"]),
        0,
        "no blob is fetched twice: {stats}"
    );
    assert!(
        stats_u64(&stats, &["mgmt", "disabled", "Audit.Exchange"]) >= 1,
        "{stats}"
    );
    assert!(
        stats_u64(&stats, &["mgmt", "subscription_starts", "Audit.Exchange"]) >= 2,
        "the disabled subscription was started again: {stats}"
    );
    for ct in CONTENT_TYPES {
        assert!(
            stats_u64(&stats, &["mgmt", "subscription_starts", ct]) >= 1,
            "{ct} was subscribed: {stats}"
        );
    }
    assert!(stats_u64(&stats, &["mgmt", "af429"]) > 0, "{stats}");
    assert_eq!(
        stats_u64(&stats, &["mgmt", "missing_publisher"]),
        0,
        "{stats}"
    );
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_content_ledger_in_dynamodb_remembers_blobs_per_stream() {
    let env = m365_env(SimConfig::default(), &[]).await;
    let ledger = env.ports.ledger.clone();
    let exchange = env.key("Audit.Exchange");
    let sharepoint = env.key("Audit.SharePoint");
    let expires = env.clock.now() + TimeDelta::days(7);
    // More than one BatchGetItem's worth of ids.
    let ids: Vec<String> = (0..250).map(|i| format!("2024$blob${i:04}")).collect();
    for id in ids.iter().step_by(2) {
        ledger
            .record(
                &exchange,
                &LedgerEntry {
                    id: id.clone(),
                    expires,
                },
            )
            .await
            .unwrap();
    }
    let seen = ledger.seen(&exchange, &ids).await.unwrap();
    assert_eq!(seen.len(), 125);
    assert!(ids.iter().step_by(2).all(|id| seen.contains(id)));
    assert!(
        ledger.seen(&sharepoint, &ids).await.unwrap().is_empty(),
        "ledgers are per stream"
    );
    assert!(ledger.seen(&exchange, &[]).await.unwrap().is_empty());
    env.sim.shutdown().await;
}

/// A clock an hour behind the simulator's.
struct Behind(Arc<SimClock>);

#[domain::async_trait]
impl Clock for Behind {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.now() - TimeDelta::hours(1)
    }
    async fn sleep(&self, d: Duration) {
        self.0.sleep(d).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_puller_clock_an_hour_behind_follows_the_servers_date_header() {
    let env = m365_env(
        SimConfig {
            seed: 5,
            days: 8,
            events_per_hour: 6,
            ..SimConfig::default()
        },
        &[
            ("AUDITLAKE_INITIAL_LOOKBACK_DAYS", "7"),
            ("AUDITLAKE_CONTENT_TYPES", "Audit.SharePoint"),
        ],
    )
    .await;
    let behind: Arc<dyn Clock> = Arc::new(Behind(env.clock.clone()));
    let ports = env.ports.clone().with_clock(behind);
    let app = PullerApp::new(M365, &env.config, ports).expect("puller");
    // By its own clock the puller asks for 7 days back, which is 7 days and an hour by the
    // server's: Microsoft refuses it (AF20055) and the puller re-reads the server's clock.
    let s = app
        .handle(&scheduled_event(), Deadline::none())
        .await
        .unwrap();
    assert!(s[0].complete && s[0].error.is_none(), "{:?}", s[0]);
    assert!(s[0].pulled > 100, "{:?}", s[0]);
    env.sim.shutdown().await;
}

mod doctor {
    //! `auditlake doctor` on the Management Activity API: what a tenant set up wrongly hears.

    use super::*;
    use collector::doctor::{Finding, Severity, check};
    use testkit::memory::MemoryParameters;

    async fn findings(sim_config: SimConfig) -> (Vec<Finding>, serde_json::Value) {
        let (tenant, client_id) = (sim_config.tenant.clone(), sim_config.client_id.clone());
        let secret = sim_config.client_secret.clone();
        let sim = m365_sim::start(sim_config).await.unwrap();
        let ctl = SimControl::new(sim.base_url());
        let clock = Arc::new(SimClock::new(ctl.clone()).await.unwrap());
        let vars = puller_vars(
            &sim.base_url(),
            &tenant,
            &client_id,
            &StackNames::default(),
            &[],
        );
        let config = PullerConfig::from_vars(vars).unwrap();
        let params =
            Arc::new(MemoryParameters::default().with("/auditlake/client-secret", &secret));
        let out = check(&config, &[M365], params, clock).await.unwrap();
        let stats = ctl.stats().await.unwrap();
        sim.shutdown().await;
        (out, stats)
    }

    #[tokio::test]
    async fn a_healthy_tenant_lists_every_content_type_without_fetching_a_blob() {
        let (f, stats) = findings(SimConfig {
            days: 1,
            ..SimConfig::default()
        })
        .await;
        assert!(f.iter().all(|f| f.severity != Severity::Error), "{f:#?}");
        let read: Vec<&Finding> = f.iter().filter(|f| f.code == "ReadOk").collect();
        assert_eq!(read.len(), 5, "{f:#?}");
        assert!(
            read.iter()
                .all(|f| f.message.contains("content blob(s) listed")),
            "{read:#?}"
        );
        // The probe lists; fetching a blob it would not store would cost the pull a refetch.
        assert_eq!(stats_u64(&stats, &["mgmt", "blob_fetches"]), 0, "{stats}");
    }

    #[tokio::test]
    async fn dlp_without_its_permission_and_audit_logging_off_are_explained() {
        let (f, _) = findings(SimConfig {
            days: 1,
            mgmt_denied_content_types: vec!["DLP.All".into()],
            ..SimConfig::default()
        })
        .await;
        let dlp: Vec<&Finding> = f.iter().filter(|f| f.severity == Severity::Error).collect();
        assert_eq!(dlp.len(), 1, "{f:#?}");
        assert_eq!(dlp[0].stream.map(|s| s.name()), Some("DLP.All"));
        assert_eq!(dlp[0].code, "AF10001");
        assert!(
            dlp[0].message.contains("ActivityFeed.ReadDlp"),
            "{}",
            dlp[0].message
        );

        let (f, _) = findings(SimConfig {
            days: 1,
            mgmt_audit_disabled: true,
            ..SimConfig::default()
        })
        .await;
        let errors: Vec<&Finding> = f.iter().filter(|f| f.severity == Severity::Error).collect();
        assert_eq!(errors.len(), 5, "every content type: {f:#?}");
        assert!(
            errors
                .iter()
                .all(|f| f.message.contains("unified audit logging is not turned on")),
            "{errors:#?}"
        );
    }
}
