//! `defender-alerts` end to end under faults, against moto: alerts change after they are created
//! (taken, then resolved), each change moving `lastUpdateDateTime`, which the puller windows on.
//! Against the simulator's truth, every alert is stored exactly once, in the latest version it
//! had when collected (never an older one over a newer), raw keeps every version read, and an
//! alert that went through its three versions while the puller ran has all three in raw and its
//! last one in the events table.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use domain::model::parse_time;

use super::*;

fn time_of(v: &serde_json::Value) -> DateTime<Utc> {
    v.as_str().and_then(parse_time).expect("a time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defender_alerts_keep_every_version_in_raw_and_the_latest_in_the_store() {
    let sim_config = SimConfig {
        seed: 31,
        days: 1,
        events_per_hour: 400,
        ingest_delay_secs: 120,
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
    let source = Source::DefenderAlerts;
    let started = env.clock.now();
    let app = PullerApp::new(source, &env.config, env.ports.clone()).expect("puller");
    // A first pull of the day of history, then ticks 5 minutes apart for 6 hours: an update
    // comes at least 15 minutes after the version before it, so every version is read while it
    // is the one served (lag 2 min + ingestion delay up to 6 min + tick 5 min < 15 min).
    for tick in 0..=72 {
        if tick > 0 {
            env.advance(5 * 60).await;
        }
        for s in app
            .handle(&scheduled_event(), Deadline::none())
            .await
            .unwrap()
        {
            assert!(s.complete && s.error.is_none(), "tick {tick}: {s:?}");
        }
    }
    let now = env.clock.now();
    let key = StreamKey::new(env.key.tenant.clone(), source, None);
    let wm = env
        .ports
        .state
        .watermark(&key)
        .await
        .unwrap()
        .expect("watermark");

    // Truth: every alert and its versions' times, as served at the watermark and now.
    let detail = |v: serde_json::Value| -> HashMap<String, serde_json::Value> {
        v["events"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| (e["id"].as_str().unwrap_or_default().to_string(), e.clone()))
            .collect()
    };
    let at_wm = detail(env.ctl.truth_detail(source.name(), wm).await.unwrap());
    let at_now = detail(env.ctl.truth_detail(source.name(), now).await.unwrap());
    assert!(at_wm.len() > 300, "{} alerts visible", at_wm.len());

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
    let by_id: HashMap<String, &domain::model::AuditEvent> = stored
        .iter()
        .filter_map(|e| Some((e.record_id.clone()?, e)))
        .collect();
    assert_eq!(
        by_id.len(),
        stored.len(),
        "an alert stored twice, or without id"
    );
    let missing: Vec<&String> = at_wm
        .keys()
        .filter(|id| !by_id.contains_key(*id))
        .take(5)
        .collect();
    assert!(missing.is_empty(), "not stored: {missing:?}");
    let phantom: Vec<&String> = by_id
        .keys()
        .filter(|id| !at_now.contains_key(*id))
        .take(5)
        .collect();
    assert!(phantom.is_empty(), "never sent: {phantom:?}");

    // Raw: every version read, keyed by alert.
    let mut versions: HashMap<String, BTreeSet<DateTime<Utc>>> = HashMap::new();
    for r in raw_records(env.ports.raw.as_ref(), "raw/source=defender-alerts/")
        .await
        .unwrap()
    {
        let id = r["id"].as_str().unwrap_or_default().to_string();
        versions
            .entry(id)
            .or_default()
            .insert(time_of(&r["lastUpdateDateTime"]));
    }

    let mut three = 0;
    for (id, event) in &by_id {
        let kept = time_of(&event.details["last_update_date_time"]);
        let (wm_v, now_v) = (&at_wm.get(id), &at_now[id]);
        // Never older than what was served at the watermark, never newer than what exists.
        if let Some(w) = wm_v {
            assert!(
                kept >= time_of(&w["current_time"]),
                "{id}: an older version kept"
            );
        }
        assert!(
            kept <= time_of(&now_v["current_time"]),
            "{id}: a version never served"
        );
        // The stored version is the newest raw holds: a later read replaced the item.
        let read = &versions[id];
        assert_eq!(
            read.last(),
            Some(&kept),
            "{id}: raw has a newer version than the store"
        );
        // Every version this alert had between the first pull and the watermark was read.
        let served: BTreeSet<DateTime<Utc>> = std::iter::once(time_of(&now_v["time"]))
            .chain(
                now_v["updates"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(time_of),
            )
            .filter(|t| *t > started && *t + TimeDelta::minutes(10) < wm)
            .collect();
        let unread: Vec<_> = served.difference(read).collect();
        assert!(unread.is_empty(), "{id}: versions never read: {unread:?}");
        // An alert created, taken and resolved while the puller ran: three versions in raw, the
        // last (resolved) one what the store, and so the query API and detections, see.
        if served.len() == 3 {
            three += 1;
            assert_eq!(read.len(), 3, "{id}: {read:?}");
            assert_eq!(event.details["status"], "resolved", "{id}");
            assert_eq!(
                env.ports
                    .events
                    .get(&event.id)
                    .await
                    .unwrap()
                    .map(|e| e.details["status"].clone()),
                Some(json!("resolved"))
            );
        }
    }
    assert!(
        three >= 3,
        "alerts with three versions while the puller ran: {three}"
    );
    let health = env.ports.state.health(&key).await.unwrap().expect("health");
    assert_eq!(health.total_quarantined, 0, "all normalize");
    assert_eq!(
        health.total_new,
        stored.len() as u64,
        "a replaced version is no new event"
    );
    let stats = env.ctl.stats().await.unwrap();
    assert!(stats["server_errors_5xx"].as_u64().unwrap() > 0, "{stats}");
    env.sim.shutdown().await;
}
