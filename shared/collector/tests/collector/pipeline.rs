//! Scheduled pull runs on the in-memory ports with the fake Graph source: the first run's
//! lookback in hour chunks with every raw byte kept, overlaps re-read as duplicates, quarantine,
//! a source error mid-window and the catch-up after it, health across failures and recovery,
//! leases, records stored by reference over the inline limit, and empty windows.

use chrono::TimeDelta;
use collector::pipeline::INLINE_RAW_LIMIT;
use domain::model::RawRef;
use domain::store::{EventStore, RawStore, StateError, StateStore};
use runtime::clock::Clock;
use serde_json::Value;

use crate::support::*;

const RAW_PREFIX: &str = "raw/source=entra-directory-audits/";

#[tokio::test]
async fn first_run_pulls_the_lookback_in_hour_chunks_and_stores_raw_bytes_unchanged() {
    let h = Harness::new(morning(), 2, "2024-05-10T12:05:00Z");
    let s = h.scheduled().await;

    assert_eq!(s.mode.name(), "scheduled");
    assert_eq!(s.error, None);
    assert_eq!(s.skipped, None);
    assert_eq!(s.gap, None, "the initial lookback is not a gap");
    assert!(s.complete);
    // Lookback 3 h from now, up to now - lag (5 min), in one-hour chunks.
    assert_eq!(
        h.graph.windows_asked(),
        spans(&[
            ("2024-05-10T09:05:00Z", "2024-05-10T10:05:00Z"),
            ("2024-05-10T10:05:00Z", "2024-05-10T11:05:00Z"),
            ("2024-05-10T11:05:00Z", "2024-05-10T12:00:00Z"),
        ])
    );
    assert_eq!(s.window_start.as_deref(), Some("2024-05-10T09:05:00.000Z"));
    assert_eq!(s.window_end.as_deref(), Some("2024-05-10T12:00:00.000Z"));
    // r02..r09, with r04 returned by both of the windows it bounds; pages of 2: 2 + 2 + 1.
    assert_eq!(
        counts(&s),
        Counts {
            windows: 3,
            pulled: 9,
            new: 8,
            duplicates: 1,
            quarantined: 0,
            raw_objects: 5
        }
    );
    assert_eq!(s.lag_secs, Some(300));
    assert_eq!(h.watermark().await, Some(t("2024-05-10T12:00:00Z")));
    assert_eq!(h.events.len(), 8);
    assert_eq!(h.stored_ids().await, ids(2..=9));

    // Raw objects: gzip NDJSON, partitioned by write time, each record's bytes unchanged.
    let objects = h.objects("raw/").await;
    assert_eq!(objects.len(), 5);
    let mut total_bytes = 0;
    for (i, (key, _)) in objects.iter().enumerate() {
        let want = format!(
            "raw/source=entra-directory-audits/dt=2024-05-10/hour=12/20240510T120500Z-{}-{i:05}.json.gz",
            s.run_id
        );
        assert_eq!(key, &want);
        total_bytes += h.raw.get(key).await.unwrap().len() as u64;
    }
    assert_eq!(s.raw_bytes, total_bytes);
    let lines: Vec<String> = objects.into_iter().flat_map(|(_, l)| l).collect();
    let want: Vec<String> = [2, 3, 4, 4, 5, 6, 7, 8, 9]
        .into_iter()
        .map(morning_text)
        .collect();
    assert_eq!(lines, want, "raw lines are the records byte for byte");
    assert!(
        h.objects("quarantine/").await.is_empty(),
        "nothing quarantined"
    );

    // The stored events say where their record is: a line of the raw object, which holds it
    // as received (the hot store keeps the reference, not the record: aws::codec).
    let raw_objects = h.objects(RAW_PREFIX).await;
    for e in h.stored().await {
        let id = e.record_id.clone().unwrap();
        let n: usize = id.trim_start_matches("Directory_test-r").parse().unwrap();
        assert_eq!(
            e.id,
            domain::store::keys::event_id(e.source, e.time, &id),
            "the id carries the event's second"
        );
        assert!(
            e.id.starts_with("entra-directory-audits:20240510T"),
            "{}",
            e.id
        );
        assert_eq!(e.dedupe_key, id);
        assert_eq!(e.tenant_id, TENANT);
        assert_eq!(e.ingested_at, t("2024-05-10T12:05:00Z"));
        assert!(e.raw.is_none(), "the hot store keeps the reference only");
        let r = e.raw_ref.as_ref().expect("a raw reference");
        let (_, lines) = raw_objects
            .iter()
            .find(|(k, _)| *k == r.key)
            .unwrap_or_else(|| panic!("{}: no raw object {}", e.id, r.key));
        assert_eq!(lines[r.line as usize - 1], morning_text(n));
        let got = h.events.get(&e.id).await.unwrap().expect("get by id");
        assert_eq!(got.record_id.as_deref(), Some(id.as_str()));
    }

    let health = h.health().await.expect("health recorded");
    assert_eq!(health.total_pulled, 9);
    assert_eq!(health.total_new, 8);
    assert_eq!(health.total_duplicates, 1);
    assert_eq!(health.total_quarantined, 0);
    assert_eq!(
        health.watermark.as_deref(),
        Some("2024-05-10T12:00:00.000Z")
    );
    assert_eq!(health.lag_secs, Some(300));
    assert_eq!(
        health.last_success_at.as_deref(),
        Some("2024-05-10T12:05:00.000Z")
    );
    assert_eq!(health.consecutive_failures, 0);
    assert_eq!(health.last_error, None);
    assert_eq!(health.last_run_id.as_deref(), Some(s.run_id.as_str()));
}

#[tokio::test]
async fn a_second_run_at_the_same_clock_rereads_the_overlap_as_duplicates() {
    let h = Harness::new(morning(), 2, "2024-05-10T12:05:00Z");
    let first = h.scheduled().await;
    assert_eq!(
        counts(&first),
        Counts {
            windows: 3,
            pulled: 9,
            new: 8,
            duplicates: 1,
            quarantined: 0,
            raw_objects: 5
        }
    );
    h.graph.forget_windows();

    let s = h.scheduled().await;
    assert!(s.complete);
    assert_eq!(s.error, None);
    // watermark 12:00 - overlap 5 min .. now - lag: one window holding r09.
    assert_eq!(
        h.graph.windows_asked(),
        spans(&[("2024-05-10T11:55:00Z", "2024-05-10T12:00:00Z")])
    );
    assert_eq!(
        counts(&s),
        Counts {
            windows: 1,
            pulled: 1,
            new: 0,
            duplicates: 1,
            quarantined: 0,
            raw_objects: 1
        }
    );
    assert_eq!(h.events.len(), 8, "store size unchanged");
    assert_eq!(h.watermark().await, Some(t("2024-05-10T12:00:00Z")));
    assert_ne!(s.run_id, first.run_id);
    assert_eq!(h.objects("raw/").await.len(), 6, "overlaps are kept in raw");

    let health = h.health().await.unwrap();
    assert_eq!(
        totals(&health),
        Totals {
            pulled: 10,
            new: 8,
            duplicates: 2
        }
    );
}

#[tokio::test]
async fn records_that_cannot_be_normalized_are_quarantined_and_do_not_block_the_watermark() {
    let no_time = r#"{"id":"Directory_test-q2","category":"UserManagement","activityDisplayName":"Update user","loggedByService":"Core Directory","initiatedBy":{"user":null,"app":null},"targetResources":[]}"#;
    let garbage = r#"{"id":"Directory_test-q3","category":"UserManagement","activityDisplayName":"Update user","activityDateTime":"garbage","loggedByService":"Core Directory","initiatedBy":{"user":null,"app":null},"targetResources":[]}"#;
    let records = vec![
        rec("Directory_test-q1", "2024-05-10T11:10:00Z"),
        served_at("2024-05-10T11:20:00Z", no_time.to_string()),
        served_at("2024-05-10T11:30:00Z", garbage.to_string()),
        rec("Directory_test-q4", "2024-05-10T11:40:00Z"),
    ];
    let mut h = Harness::new(records.clone(), 10, "2024-05-10T12:05:00Z");
    h.pipeline.settings.initial_lookback = TimeDelta::hours(1);

    let s = h.scheduled().await;
    assert_eq!(
        h.graph.windows_asked(),
        spans(&[("2024-05-10T11:05:00Z", "2024-05-10T12:00:00Z")])
    );
    assert_eq!(
        counts(&s),
        Counts {
            windows: 1,
            pulled: 4,
            new: 2,
            duplicates: 0,
            quarantined: 2,
            raw_objects: 1
        }
    );
    assert!(s.complete);
    assert_eq!(s.error, None);
    assert_eq!(
        h.watermark().await,
        Some(t("2024-05-10T12:00:00Z")),
        "quarantine does not block the watermark"
    );
    assert_eq!(
        h.stored_ids().await,
        vec!["Directory_test-q1", "Directory_test-q4"]
    );

    // The raw object holds all four records, the two bad ones included.
    let raw = h.objects(RAW_PREFIX).await;
    assert_eq!(raw.len(), 1);
    let (raw_key, raw_lines) = &raw[0];
    let texts: Vec<String> = records.iter().map(|r| r.text.clone()).collect();
    assert_eq!(raw_lines, &texts);

    let q = h
        .objects("quarantine/source=entra-directory-audits/dt=2024-05-10/")
        .await;
    assert_eq!(q.len(), 1, "one quarantine object for the page");
    assert!(q[0].0.ends_with(".json.gz"), "{}", q[0].0);
    let entries: Vec<Value> = q[0]
        .1
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 2);
    let reason = |i: usize| entries[i]["reason"].as_str().unwrap().to_string();
    assert!(
        reason(0).contains("`activityDateTime` is missing"),
        "{}",
        reason(0)
    );
    assert!(
        reason(1).contains("garbage") && reason(1).contains("not a time"),
        "{}",
        reason(1)
    );
    assert_eq!(
        entries[0]["record"],
        serde_json::from_str::<Value>(no_time).unwrap()
    );
    assert_eq!(
        entries[1]["record"],
        serde_json::from_str::<Value>(garbage).unwrap()
    );
    for (entry, line) in entries.iter().zip([2, 3]) {
        assert_eq!(entry["raw_key"], raw_key.as_str());
        assert_eq!(entry["line"], line);
    }

    let health = h.health().await.unwrap();
    assert_eq!(health.total_quarantined, 2);
    assert_eq!(health.consecutive_failures, 0);
    assert!(health.last_success_at.is_some());
}

#[tokio::test]
async fn a_source_error_mid_window_keeps_the_watermark_and_the_next_run_catches_up() {
    let h = Harness::new(morning(), 2, "2024-05-10T12:05:00Z");
    // Pages: window 1 -> 1, 2; window 2 -> 3, 4 (fails); window 3 never asked.
    h.graph.fail_page(4, Failure::Protocol);

    let s = h.scheduled().await;
    assert!(!s.complete);
    let err = s.error.clone().expect("error reported");
    assert_eq!(err.code, "ProtocolError");
    assert!(err.message.contains("not JSON"), "{}", err.message);
    // Window 1 complete (r02, r03, r04), window 2's first page (r04 again, r05) stored.
    assert_eq!(
        counts(&s),
        Counts {
            windows: 1,
            pulled: 5,
            new: 4,
            duplicates: 1,
            quarantined: 0,
            raw_objects: 3
        }
    );
    assert_eq!(s.window_end.as_deref(), Some("2024-05-10T10:05:00.000Z"));
    assert_eq!(
        h.watermark().await,
        Some(t("2024-05-10T10:05:00Z")),
        "end of the last complete window"
    );
    assert_eq!(s.lag_secs, Some(7200));
    assert_eq!(h.graph.windows_asked().len(), 2);
    let health = h.health().await.unwrap();
    assert_eq!(health.consecutive_failures, 1);
    assert_eq!(
        health.last_error.as_ref().map(|e| e.code.as_str()),
        Some("ProtocolError")
    );
    assert_eq!(
        health.last_success_at, None,
        "an incomplete run is no success"
    );

    // The error is gone: the next run re-reads window 2 whole and finishes.
    h.graph.forget_windows();
    let s = h.scheduled().await;
    assert!(s.complete);
    assert_eq!(s.error, None);
    assert_eq!(
        h.graph.windows_asked(),
        spans(&[
            ("2024-05-10T10:00:00Z", "2024-05-10T11:00:00Z"),
            ("2024-05-10T11:00:00Z", "2024-05-10T12:00:00Z"),
        ])
    );
    // r04..r07 (2 pages), r08, r09 (1 page); r04 and r05 were stored before.
    assert_eq!(
        counts(&s),
        Counts {
            windows: 2,
            pulled: 6,
            new: 4,
            duplicates: 2,
            quarantined: 0,
            raw_objects: 3
        }
    );
    assert_eq!(h.watermark().await, Some(t("2024-05-10T12:00:00Z")));
    assert_eq!(
        h.stored_ids().await,
        ids(2..=9),
        "every record exactly once"
    );
    assert_eq!(h.events.len(), 8);

    let health = h.health().await.unwrap();
    assert_eq!(health.consecutive_failures, 0);
    assert_eq!(
        health.last_success_at.as_deref(),
        Some("2024-05-10T12:05:00.000Z")
    );
    assert_eq!(
        totals(&health),
        Totals {
            pulled: 11,
            new: 8,
            duplicates: 3
        }
    );
}

#[tokio::test]
async fn health_tracks_failures_and_recovery_across_runs() {
    let h = Harness::new(morning(), 2, "2024-05-10T12:05:00Z");

    // Graph refuses: the app lacks AuditLog.Read.All.
    h.graph.fail_page(1, Failure::Forbidden);
    let s = h.scheduled().await;
    let err = s.error.clone().expect("error");
    assert_eq!(err.code, "Authorization_RequestDenied");
    assert!(err.message.contains("403"), "{}", err.message);
    assert!(!s.complete);
    assert_eq!(
        counts(&s),
        Counts {
            windows: 0,
            pulled: 0,
            new: 0,
            duplicates: 0,
            quarantined: 0,
            raw_objects: 0
        }
    );
    assert_eq!(s.window_end, None);
    assert!(h.events.is_empty());
    assert!(h.objects("").await.is_empty());
    // A first run pins where collection starts, so the lookback does not slide forward.
    assert_eq!(h.watermark().await, Some(t("2024-05-10T09:05:00Z")));
    assert_eq!(s.lag_secs, Some(3 * 3600));

    // An hour later, refused again.
    h.clock.set(t("2024-05-10T13:05:00Z"));
    h.graph.forget_windows();
    h.graph.fail_page(1, Failure::Forbidden);
    let s = h.scheduled().await;
    assert_eq!(
        s.window_start.as_deref(),
        Some("2024-05-10T09:00:00.000Z"),
        "pinned start - overlap"
    );
    assert_eq!(
        s.error.as_ref().unwrap().code,
        "Authorization_RequestDenied"
    );
    let health = h.health().await.unwrap();
    assert_eq!(health.consecutive_failures, 2);
    assert_eq!(health.last_success_at, None);
    assert_eq!(
        health.last_error_at.as_deref(),
        Some("2024-05-10T13:05:00.000Z")
    );
    assert_eq!(
        health.watermark.as_deref(),
        Some("2024-05-10T09:05:00.000Z")
    );
    assert_eq!(health.lag_secs, Some(4 * 3600));

    // Permission granted: the whole backlog comes in.
    h.graph.forget_windows();
    let s = h.scheduled().await;
    assert!(s.complete);
    assert_eq!(
        h.graph.windows_asked(),
        spans(&[
            ("2024-05-10T09:00:00Z", "2024-05-10T10:00:00Z"),
            ("2024-05-10T10:00:00Z", "2024-05-10T11:00:00Z"),
            ("2024-05-10T11:00:00Z", "2024-05-10T12:00:00Z"),
            ("2024-05-10T12:00:00Z", "2024-05-10T13:00:00Z"),
        ])
    );
    assert_eq!(
        counts(&s),
        Counts {
            windows: 4,
            pulled: 9,
            new: 9,
            duplicates: 0,
            quarantined: 0,
            raw_objects: 5
        }
    );
    let health = h.health().await.unwrap();
    assert_eq!(health.consecutive_failures, 0);
    assert_eq!(
        health.last_success_at.as_deref(),
        Some("2024-05-10T13:05:00.000Z")
    );
    assert_eq!(
        health.last_error.as_ref().map(|e| e.code.as_str()),
        Some("Authorization_RequestDenied"),
        "the last error stays on record"
    );
    assert_eq!(
        health.watermark.as_deref(),
        Some("2024-05-10T13:00:00.000Z")
    );
    assert_eq!(health.lag_secs, Some(300));
    assert_eq!(
        totals(&health),
        Totals {
            pulled: 9,
            new: 9,
            duplicates: 0
        }
    );
    assert_eq!(health.total_quarantined, 0);
    assert_eq!(health.last_summary.as_ref(), Some(&s));
    assert!(health.gaps.is_empty());
}

#[tokio::test]
async fn a_held_lease_skips_the_run_until_it_expires() {
    let h = Harness::new(morning(), 2, "2024-05-10T12:05:00Z");
    let key = Harness::key();
    let now = t("2024-05-10T12:05:00Z");
    let held = h
        .state
        .acquire(&key, "other-run", now, now + TimeDelta::minutes(10))
        .await
        .expect("first acquire");

    // A second acquire while the first holds is refused.
    match h
        .state
        .acquire(&key, "third-run", now, now + TimeDelta::minutes(10))
        .await
    {
        Err(StateError::Locked { owner, until }) => {
            assert_eq!(owner, "other-run");
            assert_eq!(until, "2024-05-10T12:15:00.000Z");
        }
        other => panic!("expected Locked, got {other:?}"),
    }

    let s = h.scheduled().await;
    assert_eq!(s.skipped.as_deref(), Some("locked"));
    assert!(!s.complete);
    assert_eq!(s.error, None);
    assert_eq!(
        counts(&s),
        Counts {
            windows: 0,
            pulled: 0,
            new: 0,
            duplicates: 0,
            quarantined: 0,
            raw_objects: 0
        }
    );
    assert!(h.graph.windows_asked().is_empty());
    assert!(h.events.is_empty());
    assert_eq!(h.watermark().await, None);
    assert_eq!(h.health().await, None, "a skipped run is not recorded");

    // Still held at the instant it expires.
    h.clock.set(t("2024-05-10T12:15:00Z"));
    assert_eq!(h.scheduled().await.skipped.as_deref(), Some("locked"));

    // Past it, a run proceeds.
    h.clock.set(t("2024-05-10T12:15:01Z"));
    let s = h.scheduled().await;
    assert_eq!(s.skipped, None);
    assert!(s.complete);
    assert_eq!(
        h.graph.windows_asked(),
        spans(&[
            ("2024-05-10T09:15:01Z", "2024-05-10T10:15:01Z"),
            ("2024-05-10T10:15:01Z", "2024-05-10T11:15:01Z"),
            ("2024-05-10T11:15:01Z", "2024-05-10T12:10:01Z"),
        ])
    );
    assert_eq!(
        counts(&s),
        Counts {
            windows: 3,
            pulled: 9,
            new: 9,
            duplicates: 0,
            quarantined: 0,
            raw_objects: 6
        }
    );
    assert_eq!(h.watermark().await, Some(t("2024-05-10T12:10:01Z")));

    // The run that lost its lease can no longer move the watermark.
    let stale = h
        .state
        .advance(&key, &held, t("2024-05-10T12:12:00Z"))
        .await;
    assert!(
        matches!(stale, Err(StateError::LeaseLost { .. })),
        "{stale:?}"
    );
    assert_eq!(h.watermark().await, Some(t("2024-05-10T12:10:01Z")));
}

#[tokio::test]
async fn records_over_the_inline_limit_are_stored_by_reference() {
    // A record of exactly `len` bytes (the padding adds one byte per unit).
    let sized = |id: &str, at: &str, len: usize| {
        let base = padded(id, at, 1).len() - 1;
        padded(id, at, len - base)
    };
    let at_limit = sized(
        "Directory_test-limit",
        "2024-05-10T11:30:00Z",
        INLINE_RAW_LIMIT,
    );
    let over = sized(
        "Directory_test-big",
        "2024-05-10T11:20:00Z",
        INLINE_RAW_LIMIT + 1,
    );
    assert_eq!(at_limit.len(), INLINE_RAW_LIMIT);
    assert_eq!(over.len(), INLINE_RAW_LIMIT + 1);
    let records = vec![
        rec("Directory_test-small", "2024-05-10T11:10:00Z"),
        served_at("2024-05-10T11:20:00Z", over.clone()),
        served_at("2024-05-10T11:30:00Z", at_limit.clone()),
    ];
    let mut h = Harness::new(records, 10, "2024-05-10T12:05:00Z");
    h.pipeline.settings.initial_lookback = TimeDelta::hours(1);
    let s = h.scheduled().await;
    assert_eq!(
        counts(&s),
        Counts {
            windows: 1,
            pulled: 3,
            new: 3,
            duplicates: 0,
            quarantined: 0,
            raw_objects: 1
        }
    );

    let objects = h.objects(RAW_PREFIX).await;
    assert_eq!(objects.len(), 1);
    let (raw_key, lines) = &objects[0];
    assert_eq!(
        lines[1], over,
        "line 2 of the raw object is the large record"
    );

    let stored = h.stored().await;
    let by_id = |id: &str| {
        stored
            .iter()
            .find(|e| e.record_id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("{id} stored"))
    };
    // Every event is kept by reference, whatever its size: line n of the page's raw object.
    for (id, line) in [
        ("Directory_test-small", 1),
        ("Directory_test-big", 2),
        ("Directory_test-limit", 3),
    ] {
        let e = by_id(id);
        assert!(e.raw.is_none(), "{id}");
        assert_eq!(
            e.raw_ref,
            Some(RawRef {
                key: raw_key.clone(),
                line
            }),
            "{id}"
        );
        let json = serde_json::to_value(e).unwrap();
        assert!(json.get("raw").is_none(), "no `raw` beside `raw_ref`");
    }
    // The record past the inline limit is not carried in the event at all (so the curated
    // layer gets the reference alone); the one at the limit is.
    assert!(INLINE_RAW_LIMIT < over.len() && at_limit.len() == INLINE_RAW_LIMIT);
}

#[tokio::test]
async fn windows_without_records_store_nothing_and_still_advance() {
    let h = Harness::new(Vec::new(), 2, "2024-05-10T12:05:00Z");
    let s = h.scheduled().await;
    assert_eq!(
        counts(&s),
        Counts {
            windows: 3,
            pulled: 0,
            new: 0,
            duplicates: 0,
            quarantined: 0,
            raw_objects: 0
        },
        "empty pages store nothing"
    );
    assert!(h.objects("").await.is_empty());
    assert_eq!(h.clock.now(), t("2024-05-10T12:05:00Z"));
    assert_eq!(h.watermark().await, Some(t("2024-05-10T12:00:00Z")));
}
