//! Which windows a pull run reads: backfills (their range only, never moving the watermark),
//! the 30-day history edge (backfills and stale watermarks clamped to it and reported as gaps,
//! an initial lookback capped without one), and a deadline already passed.

use std::time::Duration;

use chrono::TimeDelta;
use collector::pipeline::Invocation;
use domain::model::{Gap, Window};
use domain::store::StateStore;
use runtime::clock::Deadline;

use crate::support::*;

#[tokio::test]
async fn a_backfill_pulls_only_its_range_and_never_moves_the_watermark() {
    let h = Harness::new(morning(), 2, "2024-05-10T12:05:00Z");

    let s = h
        .backfill("2024-05-10T10:00:00Z", "2024-05-10T11:00:00Z")
        .await;
    assert_eq!(s.mode.name(), "backfill");
    assert!(s.complete);
    assert_eq!(s.gap, None);
    assert_eq!(s.lag_secs, None);
    assert_eq!(
        h.graph.windows_asked(),
        spans(&[("2024-05-10T10:00:00Z", "2024-05-10T11:00:00Z")])
    );
    assert_eq!(
        counts(&s),
        Counts {
            windows: 1,
            pulled: 4,
            new: 4,
            duplicates: 0,
            quarantined: 0,
            raw_objects: 2
        }
    );
    assert_eq!(s.window_start.as_deref(), Some("2024-05-10T10:00:00.000Z"));
    assert_eq!(s.window_end.as_deref(), Some("2024-05-10T11:00:00.000Z"));
    assert_eq!(h.stored_ids().await, ids(4..=7));
    assert_eq!(h.watermark().await, None, "a backfill sets no watermark");

    // A scheduled run afterwards finds r04..r07 already stored.
    let s = h.scheduled().await;
    assert_eq!(
        counts(&s),
        Counts {
            windows: 3,
            pulled: 9,
            new: 4,
            duplicates: 5,
            quarantined: 0,
            raw_objects: 5
        }
    );
    assert_eq!(h.watermark().await, Some(t("2024-05-10T12:00:00Z")));

    // A backfill behind the watermark leaves it where it is.
    h.graph.forget_windows();
    let s = h
        .backfill("2024-05-10T08:00:00Z", "2024-05-10T09:00:00Z")
        .await;
    assert_eq!(
        counts(&s),
        Counts {
            windows: 1,
            pulled: 1,
            new: 1,
            duplicates: 0,
            quarantined: 0,
            raw_objects: 1
        }
    );
    assert_eq!(h.watermark().await, Some(t("2024-05-10T12:00:00Z")));
    assert_eq!(h.stored_ids().await, ids(1..=9));
    let health = h.health().await.unwrap();
    assert_eq!(
        health.watermark.as_deref(),
        Some("2024-05-10T12:00:00.000Z")
    );
    assert_eq!(health.lag_secs, Some(300), "a backfill reports no lag");
}

#[tokio::test]
async fn a_backfill_behind_the_history_edge_is_clamped_and_reports_the_gap() {
    let mut records = morning();
    records.push(rec("Directory_test-old1", "2024-04-10T11:00:00Z"));
    records.push(rec("Directory_test-old2", "2024-04-10T13:00:00Z"));
    let h = Harness::new(records, 2, "2024-05-10T12:05:00Z");

    // Edge: now - 30 days + a 10-minute safety margin = 2024-04-10T12:15.
    let s = h
        .backfill("2024-04-10T10:00:00Z", "2024-04-10T14:00:00Z")
        .await;
    let gap = Gap {
        from: "2024-04-10T10:00:00.000Z".into(),
        to: "2024-04-10T12:15:00.000Z".into(),
        secs: 8100,
        ..Gap::default()
    };
    assert_eq!(s.gap, Some(gap.clone()));
    assert!(s.complete);
    assert_eq!(
        h.graph.windows_asked(),
        spans(&[
            ("2024-04-10T12:15:00Z", "2024-04-10T13:15:00Z"),
            ("2024-04-10T13:15:00Z", "2024-04-10T14:00:00Z"),
        ])
    );
    assert_eq!(s.window_start.as_deref(), Some("2024-04-10T12:15:00.000Z"));
    assert_eq!(
        counts(&s),
        Counts {
            windows: 2,
            pulled: 1,
            new: 1,
            duplicates: 0,
            quarantined: 0,
            raw_objects: 1
        }
    );
    assert_eq!(h.stored_ids().await, vec!["Directory_test-old2"]);
    assert_eq!(h.watermark().await, None);
    assert_eq!(h.health().await.unwrap().gaps, vec![gap]);

    // A backfill wholly behind the edge pulls nothing and reports all of it as a gap.
    h.graph.forget_windows();
    let s = h
        .backfill("2024-04-01T00:00:00Z", "2024-04-02T00:00:00Z")
        .await;
    assert_eq!(s.gap.as_ref().map(|g| g.secs), Some(86_400));
    assert!(h.graph.windows_asked().is_empty());
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
}

#[tokio::test]
async fn a_watermark_behind_the_history_edge_is_clamped_and_recorded_as_a_gap() {
    let mut records = morning();
    records.push(rec("Directory_test-old", "2024-04-05T00:00:00Z"));
    let h = Harness::new(records, 2, "2024-05-10T12:05:00Z");
    // The collector was last run on 1 April.
    let key = Harness::key();
    let then = t("2024-04-01T12:05:00Z");
    let lease = h
        .state
        .acquire(&key, "april", then, then + TimeDelta::minutes(5))
        .await
        .unwrap();
    let lease = h
        .state
        .advance(&key, &lease, t("2024-04-01T12:00:00Z"))
        .await
        .unwrap();
    h.state.release(&key, &lease).await.unwrap();

    let s = h.scheduled().await;
    let gap = Gap {
        from: "2024-04-01T12:00:00.000Z".into(),
        to: "2024-04-10T12:15:00.000Z".into(),
        secs: 9 * 86_400 + 15 * 60,
        ..Gap::default()
    };
    assert_eq!(s.gap, Some(gap.clone()));
    assert!(s.complete);
    assert_eq!(s.window_start.as_deref(), Some("2024-04-10T12:15:00.000Z"));
    assert_eq!(s.window_end.as_deref(), Some("2024-05-10T12:00:00.000Z"));
    // 30 days less 15 minutes, in one-hour chunks; r01..r09, none on a chunk boundary.
    assert_eq!(
        counts(&s),
        Counts {
            windows: 720,
            pulled: 9,
            new: 9,
            duplicates: 0,
            quarantined: 0,
            raw_objects: 6
        }
    );
    assert_eq!(h.watermark().await, Some(t("2024-05-10T12:00:00Z")));
    let health = h.health().await.unwrap();
    assert_eq!(health.gaps, vec![gap]);
    assert_eq!(health.consecutive_failures, 0);
}

#[tokio::test]
async fn an_initial_lookback_beyond_the_edge_is_capped_without_a_gap() {
    let mut h = Harness::new(morning(), 100, "2024-05-10T12:05:00Z");
    h.pipeline.settings.initial_lookback = TimeDelta::days(40);
    let s = h.scheduled().await;
    assert_eq!(s.gap, None);
    assert_eq!(s.window_start.as_deref(), Some("2024-04-10T12:15:00.000Z"));
    assert_eq!(s.windows, 720);
    assert_eq!(s.pulled, 9);
    assert_eq!(s.new, 9);
    assert!(h.health().await.unwrap().gaps.is_empty());
}

#[tokio::test]
async fn a_deadline_already_passed_starts_no_window() {
    let h = Harness::new(morning(), 2, "2024-05-10T12:05:00Z");
    let s = h
        .run_with(&Invocation::Scheduled, Deadline::after(Duration::ZERO))
        .await;
    assert!(!s.complete);
    assert_eq!(s.error, None, "running out of time is not an error");
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
    assert!(h.objects("").await.is_empty(), "nothing in S3");
    assert!(h.events.is_empty(), "nothing in the event store");
    // Only the first run's starting point is pinned; the next run pulls from there.
    assert_eq!(h.watermark().await, Some(t("2024-05-10T09:05:00Z")));

    let w = Window::new(t("2024-05-10T10:00:00Z"), t("2024-05-10T11:00:00Z"));
    let s = h
        .run_with(&Invocation::Backfill(w), Deadline::after(Duration::ZERO))
        .await;
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
    assert!(h.graph.windows_asked().is_empty());

    let s = h.scheduled().await;
    assert!(s.complete);
    assert_eq!(s.window_start.as_deref(), Some("2024-05-10T09:00:00.000Z"));
    assert_eq!(h.stored_ids().await, ids(2..=9));
}
