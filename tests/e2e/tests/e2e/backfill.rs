//! The audit search backfill end to end: 180 simulated days of the unified audit log through
//! Graph's audit log query API (`collector::backfill`), with the simulator's limits and faults on
//! (queries at once and a day refused with 429 and `Retry-After`, every seventh query failed,
//! windows over the record limit that still say `succeeded`, injected 429s and 5xx), a run cut
//! off mid-backfill and resumed after its lease, and a week of the same records pulled by the
//! Management Activity API before and after. Proved against `/_sim/truth/audit-search`: every
//! record stored exactly once, no window skipped, no finished window downloaded again.
//!
//! The jobs, checkpoints and ledger live in moto's state table through the real SDK; the events
//! and raw pages go to the test kit's stores, which keep the same dedupe contract: moto takes
//! about half an hour on two cores to store half a year's 15,000 records, and the DynamoDB
//! write path is proven by every other module here.

use super::*;
use chrono::{DateTime, Utc};
use collector::backfill::{BackfillApp, BackfillAppError, BackfillRequest, BackfillRunError};
use domain::backfill::{BackfillJob, WindowState};
use domain::config::{BackfillConfig, BackfillSettings};
use domain::store::EventStore;
use m365_sim::audit_search::AuditSearchSettings;

const RECORD_LIMIT: u64 = 80;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_a_year_backfilled_exactly_once_under_faults_and_a_cut_off() {
    let sim_config = SimConfig {
        seed: 31,
        // The Management API's week (and a day for its late records).
        days: 8,
        // About 77 records a day over five content types: 180 days are ~14,000 records, and a
        // day's window is often over the record limit below.
        events_per_hour: 1,
        fault_429: 0.03,
        fault_5xx: 0.02,
        retry_after_secs: 2,
        mgmt_blob_interval_secs: 3600,
        // As in `m365.rs`: ten minutes before the hour keeps the 7-day edge's blob inside the
        // puller's edge margin.
        now: Some(
            chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 22, 13, 50, 0).unwrap(),
        ),
        audit_search: AuditSearchSettings {
            days: 181,
            run_secs: 120,
            record_limit: RECORD_LIMIT,
            max_concurrent: 3,
            daily_limit: 120,
            fail_every: 7,
        },
        ..SimConfig::default()
    };
    let env = env(
        sim_config,
        &[
            ("AUDITLAKE_INITIAL_LOOKBACK_DAYS", "7"),
            ("AUDITLAKE_MAX_RETRIES", "20"),
        ],
        None,
    )
    .await;
    let tick = scheduled_event();
    let events = Arc::new(testkit::memory::MemoryEventStore::default());
    let ports = Ports {
        events: events.clone(),
        raw: Arc::new(testkit::memory::MemoryRawStore::default()),
        ..env.ports.clone()
    };
    let mgmt = PullerApp::new(Source::M365Activity, &env.config, ports.clone()).expect("m365");
    let pull_week = || async {
        for s in mgmt.handle(&tick, Deadline::none()).await.unwrap() {
            assert!(s.complete && s.error.is_none(), "{s:?}");
        }
    };
    // 1. The Management API's week first.
    pull_week().await;

    let (_, store) = Ports::aws_with_backfills(&env.sdk, &env.config);
    let config = BackfillConfig {
        puller: env.config.clone(),
        settings: BackfillSettings {
            window: TimeDelta::hours(24),
            // One more than the tenant allows at once: the fourth submission meets a 429.
            concurrency: 4,
            poll: Duration::from_secs(30),
            max_attempts: 5,
        },
    };
    let (tx, mut rx) = tokio::sync::watch::channel(0u64);
    let app = BackfillApp::new(&config, ports.clone(), store.clone())
        .expect("backfill")
        .with_progress(Arc::new(move |job: &BackfillJob| {
            tx.send_replace(job.windows_done);
        }));
    let request =
        BackfillRequest::new(Some("180d"), None, None, vec![], vec![], false, app.now()).unwrap();
    let BackfillRequest::Start { spec, .. } = &request else {
        panic!("a start");
    };
    let (start, end) = (spec.start, spec.end);

    // 2. The backfill's first run, cut off (its future dropped, as a Lambda timeout would) once
    // 40 windows are done.
    let no_deadline = Deadline::none();
    tokio::select! {
        r = app.handle(request.clone(), &no_deadline) => panic!("finished before the cut: {r:?}"),
        _ = rx.wait_for(|done| *done >= 40) => {}
    }
    let at_cut = store.list(&env.key.tenant).await.unwrap();
    assert_eq!(at_cut.len(), 1, "one job");
    let done_at_cut: Vec<(DateTime<Utc>, DateTime<Utc>)> = at_cut[0]
        .windows
        .iter()
        .filter(|w| matches!(w.state, WindowState::Done { .. }))
        .map(|w| (w.start, w.end))
        .collect();
    assert!(!done_at_cut.is_empty());
    // Its lease still holds: a run now is refused, and stores nothing.
    match app
        .handle(BackfillRequest::Continue, &Deadline::none())
        .await
    {
        Err(BackfillAppError::Run { source, .. }) => assert!(
            matches!(*source, BackfillRunError::State(StateError::Locked { .. })),
            "{source}"
        ),
        other => panic!("a live lease must refuse another run: {other:?}"),
    }
    // 3. The Management API's next tick, then the backfill resumed once the lease ran out.
    let lease = at_cut[0].lease.clone().expect("the cut run's lease");
    let wait = (lease.until - env.clock.now()).num_seconds().max(0) as u64 + 60;
    env.advance(wait).await;
    pull_week().await;
    let served_before = sim_served(&env).await;
    let progress = app
        .handle(BackfillRequest::Continue, &Deadline::none())
        .await
        .expect("resumed");
    assert_eq!(progress.len(), 1, "{progress:?}");
    let p = &progress[0];
    assert_eq!(p.status, "complete", "{p:?}");
    assert_eq!(
        (p.windows_failed, p.windows_pending, p.windows_running),
        (0, 0, 0)
    );
    assert!(p.throttled > 0, "the limits refused submissions: {p:?}");
    assert!(p.queries_failed > 0, "failed queries were retried: {p:?}");
    assert!(
        p.splits > 0,
        "windows over the record limit were split: {p:?}"
    );
    assert!(
        p.duplicates > 0,
        "the Management API's week overlaps: {p:?}"
    );
    assert_eq!(p.quarantined, 0, "{p:?}");
    // Asked again for the same look-back, it backfills only what came since the finished job's
    // end (the days the backfill took, under the daily limit), never the half year again.
    let served_done = sim_served(&env).await;
    let again = app
        .handle(
            BackfillRequest::new(Some("180d"), None, None, vec![], vec![], false, app.now())
                .unwrap(),
            &Deadline::none(),
        )
        .await
        .unwrap();
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0].status, "complete", "{again:?}");
    assert!(
        domain::model::parse_time(&again[0].start) == Some(end),
        "the new job starts where the finished one ended: {again:?}"
    );
    assert_eq!(
        sim_served(&env).await - served_done,
        again[0].records,
        "{again:?}"
    );
    // 4. A last tick of the Management API, for the records of the backfill's final hour that
    // Microsoft had not yet indexed when that window's query ran.
    pull_week().await;

    // No window skipped: the windows tile [start, end), every one done.
    let job = store.list(&env.key.tenant).await.unwrap();
    let job = job.iter().find(|j| j.spec.start == start).expect("the job");
    assert_eq!(job.windows.first().map(|w| w.start), Some(start));
    assert_eq!(job.windows.last().map(|w| w.end), Some(end));
    for pair in job.windows.windows(2) {
        assert_eq!(pair[0].end, pair[1].start, "a gap or overlap: {pair:?}");
    }
    assert!(
        job.windows
            .iter()
            .all(|w| matches!(w.state, WindowState::Done { .. }))
    );

    // Every record of the half year exactly once, against truth.
    let now = env.clock.now();
    let truth: HashSet<String> = env
        .ctl
        .truth_range("audit-search", start, end, now)
        .await
        .unwrap()
        .ids
        .into_iter()
        .collect();
    assert!(truth.len() > 10_000, "{} records in the log", truth.len());
    let stored = events
        .list_by_time(
            Source::M365Activity,
            start - TimeDelta::days(10),
            now + TimeDelta::hours(1),
        )
        .await
        .unwrap();
    let ids: Vec<String> = stored.iter().filter_map(|e| e.record_id.clone()).collect();
    assert_eq!(ids.len(), stored.len(), "every record has an id");
    let set: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(set.len(), ids.len(), "a record stored twice");
    let missing: Vec<&String> = truth.difference(&set).take(5).collect();
    assert!(
        missing.is_empty(),
        "{} not stored, e.g. {missing:?}",
        truth.difference(&set).count()
    );
    let week: HashSet<String> = env
        .ctl
        .truth(Source::M365Activity.name(), now)
        .await
        .unwrap()
        .ids
        .into_iter()
        .collect();
    let phantom: Vec<&String> = set
        .iter()
        .filter(|id| !truth.contains(*id) && !week.contains(*id))
        .take(5)
        .collect();
    assert!(phantom.is_empty(), "never in the log: {phantom:?}");
    // The backfill stored what the Management API cannot reach: records older than its week.
    let older = truth.iter().filter(|id| !week.contains(*id)).count();
    assert!(older > truth.len() / 2, "{older} of {}", truth.len());
    assert_eq!(
        job.new + job.duplicates,
        job.records,
        "{:?}",
        job.progress()
    );

    // Nothing downloaded twice: after the cut, no query covered a window already done, and the
    // simulator served at most one window's records again (the page in flight at the cut).
    let served = served_done;
    assert!(
        served <= truth.len() as u64 + RECORD_LIMIT,
        "served {served} records for {} in the log: {}",
        truth.len(),
        env.ctl.stats().await.unwrap()
    );
    assert!(served > served_before, "the resumed run read records");
    let cut_at = domain::model::parse_time(&at_cut[0].updated_at).expect("a time");
    let queries = env.ctl.audit_queries().await.unwrap();
    assert!(
        queries.iter().any(|q| q.status == "failed"),
        "a query failed"
    );
    for q in queries {
        if q.submitted <= cut_at || q.start >= end {
            continue;
        }
        assert!(
            !done_at_cut
                .iter()
                .any(|(s, e)| q.start >= *s && q.end <= *e),
            "{q:?} asked again for a window done before the cut"
        );
    }
    env.sim.shutdown().await;
}

async fn sim_served(env: &Env) -> u64 {
    env.ctl.stats().await.unwrap()["audit_search_records_served"]
        .as_u64()
        .expect("the counter")
}
