//! The two later Graph sources end to end under faults: `entra-risk-detections` (Identity
//! Protection, whose 429s come without `Retry-After`: the client must back off on its own, and
//! still collect every detection exactly once) and `entra-provisioning`, each against the
//! simulator's truth, with nothing quarantined.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn risk_detections_and_provisioning_exactly_once_under_faults() {
    let sim_config = SimConfig {
        seed: 23,
        days: 1,
        events_per_hour: 60,
        ingest_delay_secs: 300,
        fault_429: 0.15,
        fault_5xx: 0.05,
        retry_after_secs: 2,
        ..SimConfig::default()
    };
    let env = env(
        sim_config,
        &[
            ("AUDITLAKE_INITIAL_LOOKBACK_DAYS", "2"),
            ("AUDITLAKE_MAX_RETRIES", "20"),
            ("AUDITLAKE_PAGE_SIZE", "20"),
        ],
        None,
    )
    .await;
    let started = env.clock.now();
    let sources = [Source::EntraRiskDetections, Source::EntraProvisioning];
    let apps: Vec<PullerApp> = sources
        .iter()
        .map(|s| PullerApp::new(*s, &env.config, env.ports.clone()).expect("puller"))
        .collect();
    // A first pull of the day of history, then six scheduled ticks 45 minutes apart.
    for tick in 0..7 {
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
    for source in sources {
        let key = StreamKey::new(env.key.tenant.clone(), source, None);
        let wm = env
            .ports
            .state
            .watermark(&key)
            .await
            .unwrap()
            .expect("watermark");
        let truth_wm: HashSet<String> = env
            .ctl
            .truth(source.name(), wm)
            .await
            .unwrap()
            .ids
            .into_iter()
            .collect();
        let truth_now: HashSet<String> = env
            .ctl
            .truth(source.name(), now)
            .await
            .unwrap()
            .ids
            .into_iter()
            .collect();
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
        let ids: Vec<String> = stored.iter().filter_map(|e| e.record_id.clone()).collect();
        assert_eq!(ids.len(), stored.len(), "{source}: every record has an id");
        let set: HashSet<String> = ids.iter().cloned().collect();
        assert!(truth_wm.len() > 50, "{source}: {} visible", truth_wm.len());
        assert_eq!(set.len(), ids.len(), "{source}: an event stored twice");
        let missing: Vec<&String> = truth_wm.difference(&set).take(5).collect();
        assert!(missing.is_empty(), "{source}: not stored: {missing:?}");
        let phantom: Vec<&String> = set.difference(&truth_now).take(5).collect();
        assert!(phantom.is_empty(), "{source}: never sent: {phantom:?}");
        let raw: HashSet<String> = raw_record_ids(
            env.ports.raw.as_ref(),
            &format!("raw/source={}/", source.name()),
        )
        .await
        .unwrap()
        .into_iter()
        .collect();
        let not_raw: Vec<&String> = truth_wm.difference(&raw).take(5).collect();
        assert!(
            not_raw.is_empty(),
            "{source}: missing from raw: {not_raw:?}"
        );
        let health = env.ports.state.health(&key).await.unwrap().expect("health");
        assert_eq!(health.total_quarantined, 0, "{source}: all normalize");
        assert_eq!(health.total_new, stored.len() as u64, "{source}");
    }
    // Identity Protection's throttles really came without Retry-After, and the puller waited
    // on its own backoff instead of asking again at once: every wait it took is at least the
    // backoff's first step.
    let stats = env.ctl.stats().await.unwrap();
    assert!(
        stats["throttled_no_retry_after_429"].as_u64().unwrap() > 0,
        "{stats}"
    );
    assert!(stats["server_errors_5xx"].as_u64().unwrap() > 0, "{stats}");
    assert_eq!(
        stats["over_budget_429"], 0,
        "paced under the budgets: {stats}"
    );
    assert!(
        env.clock
            .sleeps()
            .iter()
            .all(|d| *d >= Duration::from_millis(250)),
        "no retry without a wait: {:?}",
        env.clock.sleeps().iter().min()
    );
    env.sim.shutdown().await;
}
