//! The Graph pullers end to end: directory audits exactly once under faults, a run cut short by
//! its time budget, two runs racing for the lease, a window pulled again as duplicates, and
//! Graph's request budget hit and waited out; every Graph source and sign-in stream exactly once
//! within Microsoft's budgets; a wrong secret as a clear error that moves nothing.

use super::*;

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
            let typed = stream.as_deref().map(|s| s.parse().expect("a stream name"));
            let key = StreamKey::new(env.key.tenant.clone(), source, typed);
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
