//! End-to-end tests: the real pipeline, through the same `PullerApp::handle` the Lambda calls,
//! against the tenant simulator on its virtual clock and moto through the real AWS SDK. They prove
//! the exactly-once promise against the simulator's ground truth.

#[path = "e2e/query.rs"]
mod query;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use collector::app::{Ports, PullerApp};
use domain::config::PullerConfig;
use domain::model::{Source, fmt_time};
use domain::store::{StateError, StreamKey};
use e2e::{
    Moto, SimClock, SimControl, StackNames, local_sdk_config, provision, puller_vars,
    raw_record_ids,
};
use m365_sim::SimConfig;
use runtime::clock::{Clock, Deadline};
use serde_json::json;
use testkit::clock::ManualClock;

const SOURCE: Source = Source::EntraDirectoryAudits;

fn scheduled_event() -> serde_json::Value {
    json!({
        "version": "0", "id": "5e1c0b7e-0000-4000-8000-000000000001", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2024-01-01T00:00:00Z",
        "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/auditlake"], "detail": {}
    })
}

struct Env {
    _moto: Moto,
    sim: m365_sim::RunningSim,
    ctl: SimControl,
    config: PullerConfig,
    ports: Ports,
    clock: Arc<SimClock>,
    key: StreamKey,
}

async fn env(sim_config: SimConfig, extra: &[(&str, &str)], secret_override: Option<&str>) -> Env {
    let moto = Moto::start().await.expect("moto_server");
    let sdk = local_sdk_config(&moto.endpoint).await;
    let names = StackNames::default();
    provision(
        &sdk,
        &names,
        secret_override.unwrap_or(&sim_config.client_secret),
    )
    .await
    .expect("provision local stack");
    let tenant = sim_config.tenant.clone();
    let client_id = sim_config.client_id.clone();
    let sim = m365_sim::start(sim_config).await.expect("simulator");
    let ctl = SimControl::new(sim.base_url());
    let clock = Arc::new(SimClock::new(ctl.clone()).await.expect("sim clock"));
    let vars = puller_vars(&sim.base_url(), &tenant, &client_id, &names, extra);
    let config = PullerConfig::from_vars(vars).expect("config");
    let ports = Ports::aws(&sdk, &config).with_clock(clock.clone());
    Env {
        _moto: moto,
        sim,
        ctl,
        key: StreamKey::new(tenant, SOURCE, None),
        config,
        ports,
        clock,
    }
}

impl Env {
    fn app(&self) -> PullerApp {
        PullerApp::new(SOURCE, &self.config, self.ports.clone()).expect("puller")
    }

    async fn advance(&self, secs: u64) {
        self.clock.advance(secs).await.expect("advance sim clock");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_audits_exactly_once_under_faults() {
    let sim_config = SimConfig {
        seed: 7,
        days: 2,
        events_per_hour: 40,
        ingest_delay_secs: 300,
        fault_429: 0.10,
        fault_5xx: 0.05,
        retry_after_secs: 2,
        ..SimConfig::default()
    };
    let env = env(
        sim_config,
        &[
            ("AUDITLAKE_PAGE_SIZE", "20"),
            ("AUDITLAKE_MAX_RETRIES", "20"),
            ("AUDITLAKE_INITIAL_LOOKBACK_DAYS", "2"),
            ("AUDITLAKE_LAG_SECS", "120"),
            ("AUDITLAKE_OVERLAP_SECS", "1800"),
            // Far above Graph's budget, so the simulator's budget is really reached and its
            // Retry-After must be honoured (the all-sources test checks the default pacing).
            ("AUDITLAKE_REQUEST_BUDGET", "50/10"),
        ],
        None,
    )
    .await;
    let started = env.clock.now();
    let app = env.app();
    let tick = scheduled_event();

    // 1. A first run whose time budget runs out mid-window: every page takes a second to arrive
    // and the budget is a second and a half, so the first window's first page is stored and the
    // deadline passes before its next page. Faults are off for it: a throttled request whose
    // Retry-After is longer than the time left ends the run at once, by design.
    env.ctl
        .set_faults_and_latency(0.0, 0.0, 1000)
        .await
        .unwrap();
    let s = app
        .handle(&tick, Deadline::after(Duration::from_millis(1500)))
        .await
        .unwrap();
    assert_eq!(s.len(), 1);
    assert!(
        !s[0].complete,
        "the budget should cut the first run short: {:?}",
        s[0]
    );
    assert!(s[0].error.is_none(), "{:?}", s[0].error);
    assert!(s[0].pulled > 0, "{:?}", s[0]);
    // The first run pins its origin as the watermark and never moves it past the cut window.
    let wm = env
        .ports
        .state
        .watermark(&env.key)
        .await
        .unwrap()
        .expect("origin watermark");
    assert_eq!(s[0].window_start.as_deref(), Some(fmt_time(wm).as_str()));
    assert_eq!(wm, started - TimeDelta::days(2));
    assert_eq!(s[0].windows, 0);
    let past_watermark = env
        .ports
        .events
        .list_by_time(SOURCE, wm + TimeDelta::milliseconds(1), started)
        .await
        .unwrap();
    assert!(
        !past_watermark.is_empty(),
        "events of the unfinished window are stored while the watermark stays behind them"
    );

    env.ctl.set_faults_and_latency(0.10, 0.05, 0).await.unwrap();

    // 2. Two runs started together: exactly one takes the lease.
    env.advance(600).await;
    let other = env.app();
    let (a, b) = tokio::join!(
        app.handle(&tick, Deadline::none()),
        other.handle(&tick, Deadline::none())
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let locked = [&a[0], &b[0]]
        .iter()
        .filter(|s| s.skipped.as_deref() == Some("locked"))
        .count();
    assert_eq!(
        locked, 1,
        "one run must report skipped: locked: {a:?} {b:?}"
    );
    let winner = if a[0].skipped.is_none() { &a[0] } else { &b[0] };
    assert!(winner.complete && winner.error.is_none(), "{winner:?}");

    // 3. Two more simulated days of scheduled ticks, two hours apart.
    for _ in 0..24 {
        env.advance(7200).await;
        let waited_before: Duration = env.clock.sleeps().iter().sum();
        let s = app.handle(&tick, Deadline::none()).await.unwrap();
        assert!(s[0].complete && s[0].error.is_none(), "{:?}", s[0]);
        // Lag is the configured 120 s plus the time this run spent waiting out Retry-After and
        // backoff (the clock moves while the puller waits).
        let waited = env.clock.sleeps().iter().sum::<Duration>() - waited_before;
        let allowed = 120 + waited.as_secs() as i64 + 1;
        assert!(
            s[0].lag_secs.is_some_and(|l| l <= allowed),
            "{:?} (waited {waited:?})",
            s[0]
        );
    }

    // 4. A window pulled again: everything is a duplicate.
    let wm = env
        .ports
        .state
        .watermark(&env.key)
        .await
        .unwrap()
        .expect("watermark");
    let again = json!({"start": fmt_time(wm - TimeDelta::hours(6)), "end": fmt_time(wm - TimeDelta::hours(5))});
    let s = app.handle(&again, Deadline::none()).await.unwrap();
    assert!(s[0].complete && s[0].pulled > 0, "{:?}", s[0]);
    assert_eq!(s[0].new, 0, "{:?}", s[0]);
    assert_eq!(s[0].duplicates, s[0].pulled);
    assert_eq!(
        env.ports.state.watermark(&env.key).await.unwrap(),
        Some(wm),
        "a backfill never moves the watermark"
    );

    // 5. The proof: every event visible by the last window end is stored exactly once, in
    // DynamoDB and raw in S3; nothing is stored that Microsoft did not send.
    let now = env.clock.now();
    let truth_at_wm: HashSet<String> = env
        .ctl
        .truth(SOURCE.name(), wm)
        .await
        .unwrap()
        .ids
        .into_iter()
        .collect();
    let truth_now: HashSet<String> = env
        .ctl
        .truth(SOURCE.name(), now)
        .await
        .unwrap()
        .ids
        .into_iter()
        .collect();
    assert!(
        truth_at_wm.len() > 2000,
        "a few days of events: {}",
        truth_at_wm.len()
    );
    let stored = env
        .ports
        .events
        .list_by_time(
            SOURCE,
            started - TimeDelta::days(4),
            now + TimeDelta::hours(1),
        )
        .await
        .unwrap();
    let stored_ids: Vec<String> = stored.iter().filter_map(|e| e.record_id.clone()).collect();
    assert_eq!(
        stored_ids.len(),
        stored.len(),
        "every simulated record has an id"
    );
    let stored_set: HashSet<String> = stored_ids.iter().cloned().collect();
    assert_eq!(
        stored_set.len(),
        stored_ids.len(),
        "no event is stored twice"
    );
    let missing: Vec<&String> = truth_at_wm.difference(&stored_set).take(5).collect();
    assert!(
        missing.is_empty(),
        "events visible by the watermark but not stored: {missing:?}"
    );
    let phantom: Vec<&String> = stored_set.difference(&truth_now).take(5).collect();
    assert!(
        phantom.is_empty(),
        "stored events Microsoft never sent: {phantom:?}"
    );

    let raw_ids: HashSet<String> =
        raw_record_ids(env.ports.raw.as_ref(), "raw/source=entra-directory-audits/")
            .await
            .unwrap()
            .into_iter()
            .collect();
    let not_raw: Vec<&String> = truth_at_wm.difference(&raw_ids).take(5).collect();
    assert!(
        not_raw.is_empty(),
        "events missing from the raw layer: {not_raw:?}"
    );

    // Faults really happened, Graph's request budget was hit, and every budget refusal was
    // answered by waiting out its Retry-After before asking again.
    let stats = env.ctl.stats().await.unwrap();
    assert!(stats["throttled_429"].as_u64().unwrap() > 0, "{stats}");
    assert!(stats["server_errors_5xx"].as_u64().unwrap() > 0, "{stats}");
    assert!(stats["over_budget_429"].as_u64().unwrap() > 0, "{stats}");
    assert_eq!(stats["early_retries"], 0, "{stats}");
    assert!(
        env.clock.sleeps().contains(&Duration::from_secs(2)),
        "the puller waited Retry-After: 2 at least once"
    );

    // Health agrees with the store.
    let health = env
        .ports
        .state
        .health(&env.key)
        .await
        .unwrap()
        .expect("health");
    assert!(health.last_success_at.is_some());
    assert_eq!(health.total_new, stored.len() as u64);
    assert_eq!(health.consecutive_failures, 0);
    assert!(
        health.doctor.iter().any(|f| f.code == "TokenOk")
            && health.doctor.iter().any(|f| f.code == "ReadOk"),
        "the first run's doctor findings are kept: {:?}",
        health.doctor
    );
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_a_clear_error_and_moves_nothing() {
    let env = env(
        SimConfig {
            seed: 3,
            days: 1,
            ..SimConfig::default()
        },
        &[],
        Some("not-the-secret"),
    )
    .await;
    let s = env
        .app()
        .handle(&json!({}), Deadline::none())
        .await
        .unwrap();
    let err = s[0].error.as_ref().expect("an error");
    assert_eq!(err.code, "AADSTS7000215", "{err:?}");
    assert!(
        err.message.contains("client secret is wrong"),
        "{}",
        err.message
    );
    assert!(
        !err.message.contains("not-the-secret"),
        "the secret never appears in errors"
    );
    assert_eq!(s[0].pulled, 0);
    // Only the origin (now minus the initial lookback) is pinned; nothing was collected past it.
    let origin = env.clock.now() - TimeDelta::days(7);
    assert_eq!(
        env.ports.state.watermark(&env.key).await.unwrap(),
        Some(origin)
    );
    let health = env
        .ports
        .state
        .health(&env.key)
        .await
        .unwrap()
        .expect("health");
    assert_eq!(health.last_error.unwrap().code, "AADSTS7000215");
    assert_eq!(health.consecutive_failures, 1);
    // The first run ran the doctor; its finding is in health too.
    assert!(
        health
            .doctor
            .iter()
            .any(|f| f.code == "AADSTS7000215" && f.message.contains("client secret is wrong")),
        "{:?}",
        health.doctor
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_leases_and_checkpoints_are_conditional() {
    let env = env(SimConfig::default(), &[], None).await;
    let state = env.ports.state.clone();
    let key = &env.key;
    let t0 = env.clock.now();
    let a = state
        .acquire(key, "run-a", t0, t0 + TimeDelta::minutes(5))
        .await
        .unwrap();
    assert_eq!(a.watermark, None);
    match state
        .acquire(key, "run-b", t0, t0 + TimeDelta::minutes(5))
        .await
    {
        Err(StateError::Locked { owner, .. }) => assert_eq!(owner, "run-a"),
        other => panic!("expected Locked, got {other:?}"),
    }
    let a = state.advance(key, &a, t0).await.unwrap();
    assert_eq!(a.watermark, Some(t0));
    // An expired lease can be taken over; the old holder's writes are then refused.
    let later = t0 + TimeDelta::minutes(6);
    let b = state
        .acquire(key, "run-b", later, later + TimeDelta::minutes(5))
        .await
        .unwrap();
    assert_eq!(b.watermark, Some(t0));
    assert!(matches!(
        state.advance(key, &a, later).await,
        Err(StateError::LeaseLost { .. })
    ));
    let b = state.advance(key, &b, later).await.unwrap();
    state.release(key, &b).await.unwrap();
    let c = state
        .acquire(key, "run-c", later, later + TimeDelta::minutes(5))
        .await
        .unwrap();
    assert_eq!(c.watermark, Some(later));
}

#[path = "e2e/m365.rs"]
mod m365;

mod http_client {
    //! The retrying Graph client and the token cache, against the simulator.

    use super::*;
    use collector::auth::{ClientCredentials, TokenSource};
    use collector::http::{ApiClient, ApiError, RetryPolicy};
    use domain::config::CredentialSource;
    use testkit::memory::MemoryParameters;

    struct Client {
        sim: m365_sim::RunningSim,
        ctl: SimControl,
        clock: Arc<ManualClock>,
        api: ApiClient,
        url: String,
    }

    async fn client(retry_after_secs: u64, max_retries: usize) -> Client {
        // These tests count requests and waits exactly; Graph's request budget (tested with the
        // pipeline, where the clock's waits move the simulator's clock) is off here.
        let cfg = SimConfig {
            retry_after_secs,
            days: 1,
            enforce_budgets: false,
            ..SimConfig::default()
        };
        let (tenant, client_id, secret) = (
            cfg.tenant.clone(),
            cfg.client_id.clone(),
            cfg.client_secret.clone(),
        );
        let sim = m365_sim::start(cfg).await.unwrap();
        let ctl = SimControl::new(sim.base_url());
        let clock = Arc::new(ManualClock::new(ctl.now().await.unwrap()));
        let params = Arc::new(MemoryParameters::default().with("/secret", &secret));
        let http = reqwest::Client::new();
        let tokens: Arc<dyn TokenSource> = Arc::new(ClientCredentials::new(
            http.clone(),
            format!("{}/{tenant}/oauth2/v2.0/token", sim.base_url()),
            client_id,
            CredentialSource::Secret {
                param: "/secret".into(),
            },
            params,
            clock.clone(),
        ));
        let policy = RetryPolicy {
            max_retries,
            ..RetryPolicy::default()
        };
        let api = ApiClient::new(
            "Microsoft Graph",
            http,
            tokens,
            "https://graph.microsoft.com/.default".into(),
            clock.clone(),
            policy,
        );
        let url = format!("{}/v1.0/auditLogs/directoryAudits?$top=5", sim.base_url());
        Client {
            sim,
            ctl,
            clock,
            api,
            url,
        }
    }

    #[tokio::test]
    async fn tokens_are_cached_until_shortly_before_expiry() {
        let c = client(1, 3).await;
        for _ in 0..5 {
            c.api.get(&c.url, &Deadline::none()).await.unwrap();
        }
        assert_eq!(c.ctl.stats().await.unwrap()["tokens_issued"], 1);
        // 56 minutes later the token (valid 3599 s) is inside the 5-minute renewal margin.
        c.clock.set(c.ctl.advance(56 * 60).await.unwrap());
        c.api.get(&c.url, &Deadline::none()).await.unwrap();
        assert_eq!(c.ctl.stats().await.unwrap()["tokens_issued"], 2);
        c.sim.shutdown().await;
    }

    #[tokio::test]
    async fn a_401_refreshes_the_token_once() {
        let c = client(1, 3).await;
        c.api.get(&c.url, &Deadline::none()).await.unwrap();
        // The simulator's clock moves past the token's expiry, ours does not: the cached token is
        // rejected with 401, the client fetches a new one and the request succeeds.
        c.ctl.advance(2 * 3600).await.unwrap();
        c.api.get(&c.url, &Deadline::none()).await.unwrap();
        let stats = c.ctl.stats().await.unwrap();
        assert_eq!(stats["tokens_issued"], 2, "{stats}");
        assert_eq!(stats["unauthorized_401"], 1, "{stats}");
    }

    #[tokio::test]
    async fn throttling_honours_retry_after_then_gives_up_with_microsofts_code() {
        let c = client(7, 3).await;
        c.ctl.set_faults(1.0, 0.0).await.unwrap();
        let err = c.api.get(&c.url, &Deadline::none()).await.unwrap_err();
        match &err {
            ApiError::Api { status, code, .. } => {
                assert_eq!(*status, 429);
                assert_eq!(code, "TooManyRequests");
            }
            other => panic!("expected the 429, got {other:?}"),
        }
        assert_eq!(c.clock.sleeps(), vec![Duration::from_secs(7); 3]);
        assert_eq!(c.ctl.stats().await.unwrap()["throttled_429"], 4);
    }

    #[tokio::test]
    async fn server_errors_back_off_and_recover() {
        let c = client(1, 8).await;
        c.ctl.set_faults(0.0, 0.5).await.unwrap();
        for _ in 0..10 {
            c.api.get(&c.url, &Deadline::none()).await.unwrap();
        }
        let stats = c.ctl.stats().await.unwrap();
        let errors = stats["server_errors_5xx"].as_u64().unwrap();
        assert!(errors > 0, "{stats}");
        assert_eq!(c.clock.sleeps().len() as u64, errors, "one backoff per 5xx");
        assert!(
            c.clock
                .sleeps()
                .iter()
                .all(|d| *d <= Duration::from_secs(30))
        );
    }

    #[tokio::test]
    async fn a_retry_wait_longer_than_the_time_left_ends_the_request() {
        let c = client(120, 5).await;
        c.ctl.set_faults(1.0, 0.0).await.unwrap();
        let err = c
            .api
            .get(&c.url, &Deadline::after(Duration::from_secs(60)))
            .await
            .unwrap_err();
        assert!(matches!(err, ApiError::Deadline { .. }), "{err:?}");
        assert!(
            c.clock.sleeps().is_empty(),
            "it did not start a wait it could not finish"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_graph_source_and_stream_exactly_once_under_faults_within_budgets() {
    let sim_config = SimConfig {
        seed: 11,
        days: 1,
        events_per_hour: 12,
        ingest_delay_secs: 300,
        fault_429: 0.05,
        fault_5xx: 0.03,
        retry_after_secs: 3,
        ..SimConfig::default()
    };
    let env = env(
        sim_config,
        &[
            // Two days back covers the simulator's whole day of history even for the pullers
            // whose first run starts later on the clock (earlier pullers' waits move it).
            ("AUDITLAKE_INITIAL_LOOKBACK_DAYS", "2"),
            ("AUDITLAKE_MAX_RETRIES", "20"),
            ("AUDITLAKE_PAGE_SIZE", "50"),
        ],
        None,
    )
    .await;
    let started = env.clock.now();
    let sources = [
        Source::EntraDirectoryAudits,
        Source::EntraSignIns,
        Source::IntuneAudit,
        Source::ExchangeMessageTrace,
    ];
    let apps: Vec<PullerApp> = sources
        .iter()
        .map(|s| PullerApp::new(*s, &env.config, env.ports.clone()).expect("puller"))
        .collect();
    // A first pull of the day of history, then eight scheduled ticks 45 minutes apart. The
    // pullers run one after another, sharing Graph's audit-log budget as Lambdas of one app do.
    for tick in 0..9 {
        if tick > 0 {
            env.advance(45 * 60).await;
        }
        for app in &apps {
            let summaries = app
                .handle(&scheduled_event(), Deadline::none())
                .await
                .unwrap();
            for s in &summaries {
                assert!(s.complete && s.error.is_none(), "tick {tick}: {s:?}");
            }
        }
    }
    let now = env.clock.now();
    let mut checked = 0;
    for source in sources {
        let stored = env
            .ports
            .events
            .list_by_time(
                source,
                started - TimeDelta::days(2),
                now + TimeDelta::hours(1),
            )
            .await
            .unwrap();
        let streams: Vec<Option<String>> = match source {
            Source::EntraSignIns => [
                "interactiveUser",
                "nonInteractiveUser",
                "servicePrincipal",
                "managedIdentity",
            ]
            .iter()
            .map(|k| Some(k.to_string()))
            .collect(),
            _ => vec![None],
        };
        for stream in streams {
            let key = StreamKey::new(env.key.tenant.clone(), source, stream.clone());
            let wm = env
                .ports
                .state
                .watermark(&key)
                .await
                .unwrap()
                .expect("watermark");
            let truth_wm: HashSet<String> = env
                .ctl
                .truth_of(source.name(), stream.as_deref(), wm)
                .await
                .unwrap()
                .ids
                .into_iter()
                .collect();
            let truth_now: HashSet<String> = env
                .ctl
                .truth_of(source.name(), stream.as_deref(), now)
                .await
                .unwrap()
                .ids
                .into_iter()
                .collect();
            let ids: Vec<String> = stored
                .iter()
                .filter(|e| e.stream == stream)
                .filter_map(|e| e.record_id.clone())
                .collect();
            let set: HashSet<String> = ids.iter().cloned().collect();
            let what = format!("{source} {stream:?}");
            assert!(
                truth_wm.len() > 20,
                "{what}: {} events visible",
                truth_wm.len()
            );
            assert_eq!(set.len(), ids.len(), "{what}: an event stored twice");
            let missing: Vec<&String> = truth_wm.difference(&set).take(5).collect();
            assert!(missing.is_empty(), "{what}: not stored: {missing:?}");
            let phantom: Vec<&String> = set.difference(&truth_now).take(5).collect();
            assert!(phantom.is_empty(), "{what}: never sent: {phantom:?}");
            checked += truth_wm.len();
        }
        let quarantined: u64 = env
            .ports
            .state
            .health(&StreamKey::new(env.key.tenant.clone(), source, None))
            .await
            .unwrap()
            .map_or(0, |h| h.total_quarantined);
        assert_eq!(
            quarantined, 0,
            "{source}: the simulator's records all normalize"
        );
    }
    assert!(checked > 1000, "{checked}");
    let stats = env.ctl.stats().await.unwrap();
    // Paced to their default shares (2 + 3 of Graph's 5 requests per 10 s, 100 per 5 min for
    // message trace), the pullers never go over Microsoft's budgets.
    assert_eq!(stats["over_budget_429"], 0, "{stats}");
    assert!(stats["throttled_429"].as_u64().unwrap() > 0, "{stats}");
    assert!(stats["server_errors_5xx"].as_u64().unwrap() > 0, "{stats}");
    assert_eq!(
        stats["early_retries"], 0,
        "every budget refusal was waited out: {stats}"
    );
}

mod doctor {
    //! `auditlake doctor` against a tenant set up wrongly in each way it knows.

    use super::*;
    use collector::doctor::{GRAPH_SOURCES, Severity, check};
    use testkit::memory::MemoryParameters;

    async fn findings(sim_config: SimConfig, secret: &str) -> Vec<collector::doctor::Finding> {
        let (tenant, client_id) = (sim_config.tenant.clone(), sim_config.client_id.clone());
        let sim = m365_sim::start(sim_config).await.unwrap();
        let ctl = SimControl::new(sim.base_url());
        let clock = Arc::new(SimClock::new(ctl).await.unwrap());
        let vars = puller_vars(
            &sim.base_url(),
            &tenant,
            &client_id,
            &StackNames::default(),
            &[],
        );
        let config = PullerConfig::from_vars(vars).unwrap();
        let params = Arc::new(MemoryParameters::default().with("/auditlake/client-secret", secret));
        let out = check(&config, &GRAPH_SOURCES, params, clock).await.unwrap();
        sim.shutdown().await;
        out
    }

    #[tokio::test]
    async fn a_healthy_tenant_is_all_ok() {
        let cfg = SimConfig::default();
        let secret = cfg.client_secret.clone();
        let f = findings(cfg, &secret).await;
        assert!(f.iter().all(|f| f.severity != Severity::Error), "{f:#?}");
        // token + directory audits + 4 sign-in kinds + Intune + message trace (+ expiry note)
        assert!(
            f.iter().filter(|f| f.code == "ReadOk").count() == 7,
            "{f:#?}"
        );
    }

    #[tokio::test]
    async fn missing_licence_and_unprovisioned_message_trace_are_explained() {
        let cfg = SimConfig {
            premium: false,
            message_trace_provisioned: false,
            ..SimConfig::default()
        };
        let secret = cfg.client_secret.clone();
        let f = findings(cfg, &secret).await;
        let errors: Vec<_> = f.iter().filter(|f| f.severity == Severity::Error).collect();
        assert_eq!(errors.len(), 5, "{errors:#?}");
        let licence: Vec<_> = errors
            .iter()
            .filter(|f| f.source == Some(Source::EntraSignIns))
            .collect();
        assert_eq!(licence.len(), 4, "one per sign-in kind");
        assert!(licence.iter().all(|f| f.code
            == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
            && f.message.contains("P1 or P2")));
        let trace = errors
            .iter()
            .find(|f| f.source == Some(Source::ExchangeMessageTrace))
            .unwrap();
        assert!(
            trace
                .message
                .contains("8bd644d1-64a1-4d4b-ae52-2e0cbf64e373"),
            "{}",
            trace.message
        );
        assert!(
            f.iter()
                .any(|f| f.source == Some(Source::EntraDirectoryAudits)
                    && f.severity == Severity::Ok)
        );
    }

    #[tokio::test]
    async fn a_missing_permission_is_named_with_the_permission_to_add() {
        let cfg = SimConfig {
            denied_sources: vec!["intune-audit".into()],
            ..SimConfig::default()
        };
        let secret = cfg.client_secret.clone();
        let f = findings(cfg, &secret).await;
        let errors: Vec<_> = f.iter().filter(|f| f.severity == Severity::Error).collect();
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert_eq!(errors[0].source, Some(Source::IntuneAudit));
        assert_eq!(errors[0].code, "Authorization_RequestDenied");
        assert!(
            errors[0].message.contains("DeviceManagementApps.Read.All")
                && errors[0].message.contains("admin consent"),
            "{}",
            errors[0].message
        );
    }

    #[tokio::test]
    async fn an_expired_secret_is_named() {
        let cfg = SimConfig {
            secret_expired: true,
            ..SimConfig::default()
        };
        let secret = cfg.client_secret.clone();
        let f = findings(cfg, &secret).await;
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].code, "AADSTS7000222");
        assert!(
            f[0].message.contains("client secret has expired"),
            "{}",
            f[0].message
        );
    }

    #[tokio::test]
    async fn a_wrong_secret_stops_at_the_token_with_its_code() {
        let f = findings(SimConfig::default(), "wrong").await;
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(f[0].code, "AADSTS7000215");
        assert!(f[0].message.contains("client secret is wrong"));
    }
}

mod certificate_auth {
    //! Certificate credentials end to end: `ClientCredentials` reading a key and certificate from
    //! the parameter store, signing client assertions on the simulator's virtual time, and getting
    //! tokens and Graph pages through `ApiClient`; a certificate the app does not have; Entra
    //! refusing PS256, answered by one RS256 retry that is then kept.

    use super::*;
    use collector::auth::{ClientCredentials, TokenSource};
    use collector::http::{ApiClient, RetryPolicy};
    use domain::config::CredentialSource;
    use testkit::memory::MemoryParameters;

    const PARAM: &str = "/auditlake/client-cert";
    const GRAPH: &str = "https://graph.microsoft.com/.default";

    fn fixture(name: &str) -> String {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/certs");
        std::fs::read_to_string(dir.join(name)).unwrap()
    }

    struct Client {
        sim: m365_sim::RunningSim,
        ctl: SimControl,
        clock: Arc<ManualClock>,
        tokens: Arc<dyn TokenSource>,
        api: ApiClient,
        url: String,
    }

    /// A simulator whose app has client.crt registered, and a client whose SSM parameter holds
    /// `stored`.
    async fn client(stored: String, reject_ps256: bool) -> Client {
        let cfg = SimConfig {
            days: 1,
            enforce_budgets: false,
            client_certificate_pem: Some(fixture("client.crt")),
            reject_ps256,
            ..SimConfig::default()
        };
        let (tenant, client_id) = (cfg.tenant.clone(), cfg.client_id.clone());
        let sim = m365_sim::start(cfg).await.unwrap();
        let ctl = SimControl::new(sim.base_url());
        let clock = Arc::new(ManualClock::new(ctl.now().await.unwrap()));
        let params = Arc::new(MemoryParameters::default().with(PARAM, &stored));
        let http = reqwest::Client::new();
        let tokens: Arc<dyn TokenSource> = Arc::new(ClientCredentials::new(
            http.clone(),
            format!("{}/{tenant}/oauth2/v2.0/token", sim.base_url()),
            client_id,
            CredentialSource::Certificate {
                param: PARAM.into(),
            },
            params,
            clock.clone(),
        ));
        let api = ApiClient::new(
            "Microsoft Graph",
            http,
            tokens.clone(),
            GRAPH.into(),
            clock.clone(),
            RetryPolicy::default(),
        );
        let url = format!("{}/v1.0/auditLogs/directoryAudits?$top=5", sim.base_url());
        Client {
            sim,
            ctl,
            clock,
            tokens,
            api,
            url,
        }
    }

    #[tokio::test]
    async fn a_certificate_gets_tokens_and_graph_pages() {
        // The SSM value as an operator stores it: key and certificate in one text (here the
        // certificate first, and each with its explanatory line).
        let c = client(
            format!("{}{}", fixture("client.crt"), fixture("client.key")),
            false,
        )
        .await;
        for _ in 0..3 {
            let page = c.api.get(&c.url, &Deadline::none()).await.unwrap();
            let body: serde_json::Value = serde_json::from_slice(&page.body).unwrap();
            assert!(!body["value"].as_array().unwrap().is_empty(), "{body}");
        }
        let stats = c.ctl.stats().await.unwrap();
        assert_eq!(
            stats["tokens_issued"], 1,
            "one assertion, then the cache: {stats}"
        );
        assert_eq!(stats["token_failures"], 0, "{stats}");
        // Two hours on: the assertion's nbf/exp come from the Clock port, so a new one is valid on
        // the simulator's (moved) virtual clock, whatever the machine's clock says.
        c.clock.set(c.ctl.advance(2 * 3600).await.unwrap());
        c.api.get(&c.url, &Deadline::none()).await.unwrap();
        let stats = c.ctl.stats().await.unwrap();
        assert_eq!(stats["tokens_issued"], 2, "{stats}");
        assert_eq!(stats["token_failures"], 0, "{stats}");
        c.sim.shutdown().await;
    }

    #[tokio::test]
    async fn a_certificate_the_app_does_not_have_fails_with_aadsts700027() {
        let c = client(
            format!("{}{}", fixture("other.key"), fixture("other.crt")),
            false,
        )
        .await;
        let err = c.tokens.token(GRAPH).await.unwrap_err();
        let info = err.info();
        assert_eq!(info.code, "AADSTS700027", "{info:?}");
        assert!(info.message.contains("Certificates & secrets"), "{info:?}");
        assert!(!info.message.contains("BEGIN"), "{info:?}");
        // PS256 was refused, so RS256 was tried once; nothing more.
        let stats = c.ctl.stats().await.unwrap();
        assert_eq!(stats["token_failures"], 2, "{stats}");
        assert_eq!(stats["tokens_issued"], 0, "{stats}");
        c.sim.shutdown().await;
    }

    #[tokio::test]
    async fn a_refused_ps256_falls_back_to_rs256_once_and_keeps_it() {
        // A PKCS#1 key this time.
        let c = client(
            format!("{}{}", fixture("client.rsa.key"), fixture("client.crt")),
            true,
        )
        .await;
        let page = c.api.get(&c.url, &Deadline::none()).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&page.body).unwrap();
        assert!(body["value"].is_array(), "{body}");
        let stats = c.ctl.stats().await.unwrap();
        assert_eq!(stats["token_failures"], 1, "the PS256 attempt: {stats}");
        assert_eq!(stats["tokens_issued"], 1, "{stats}");
        // Another scope needs another token: RS256 straight away.
        c.tokens
            .token("https://manage.office.com/.default")
            .await
            .unwrap();
        let stats = c.ctl.stats().await.unwrap();
        assert_eq!(stats["token_failures"], 1, "{stats}");
        assert_eq!(stats["tokens_issued"], 2, "{stats}");
        c.sim.shutdown().await;
    }
}
