//! The aggregates: `/filter-options` and `/summary` from the counters kept on insert, and
//! `/sources` with each stream's health.

use std::collections::HashSet;

use axum::http::StatusCode;
use chrono::TimeDelta;
use domain::model::Source;
use serde_json::{Value, json};

use crate::support::{TENANT, fixture, get, insert, now, seed};

#[tokio::test]
async fn filter_options_and_summary_come_from_the_counters_kept_on_insert() {
    let f = fixture();
    let events = seed(&f).await;
    // Re-ingesting changes nothing: only a successful first insert counts.
    insert(&f.store, events.clone()).await;
    let r = get(&f, "/filter-options?days=30").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["approximate"], true);
    let count = |list: &Value, value: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|v| v["value"] == value)
            .map(|v| v["count"].as_u64().unwrap())
    };
    assert_eq!(
        count(&r.body["services"], "Exchange"),
        Some(
            events
                .iter()
                .filter(|e| e.service.as_deref() == Some("Exchange"))
                .count() as u64
        )
    );
    assert_eq!(
        count(&r.body["results"], "failure"),
        Some(
            events
                .iter()
                .filter(|e| e.result.as_str() == "failure")
                .count() as u64
        )
    );
    assert_eq!(
        count(&r.body["actors"], "alice@contoso.com"),
        Some(
            events
                .iter()
                .filter(|e| e.actor.upn.as_deref() == Some("alice@contoso.com"))
                .count() as u64
        )
    );
    assert_eq!(
        count(&r.body["actors"], "33333333-3333-3333-3333-333333333333"),
        Some(events.iter().filter(|e| e.actor.upn.is_none()).count() as u64)
    );
    assert_eq!(r.body["operations"].as_array().unwrap().len(), 4);
    assert_eq!(count(&r.body["sources"], "entra-sign-ins"), Some(200));

    let r = get(&f, "/summary?days=2").await;
    assert_eq!(r.status, StatusCode::OK);
    let today = now().date_naive();
    let recent = events
        .iter()
        .filter(|e| e.time.date_naive() >= today - chrono::Days::new(1))
        .count() as u64;
    assert_eq!(r.body["total"], recent);
    assert_eq!(r.body["days"], 2);
    assert_eq!(r.body["from"], (today - chrono::Days::new(1)).to_string());
}

#[tokio::test]
async fn sources_show_each_streams_health() {
    use domain::store::{HealthUpdate, StateStore, StreamKey};
    let f = fixture();
    let key = StreamKey::new(
        TENANT,
        Source::EntraSignIns,
        Some(domain::stream::Stream::SignIn(
            domain::stream::SignInKind::ServicePrincipal,
        )),
    );
    let summary: domain::model::RunSummary = serde_json::from_value(json!({
        "source": "entra-sign-ins", "stream": "servicePrincipal", "run_id": "r1", "mode": "scheduled",
        "window_start": null, "window_end": null, "windows": 1, "pulled": 5, "new": 5, "duplicates": 0,
        "quarantined": 0, "raw_objects": 1, "raw_bytes": 100, "lag_secs": 120, "complete": false,
        "skipped": null, "gap": null, "error": {"code": "Authorization_RequestDenied", "message": "denied"},
        "duration_ms": 3
    })).unwrap();
    f.state
        .record_health(
            &key,
            HealthUpdate {
                at: now(),
                summary,
                watermark: Some(now()),
                doctor: None,
            },
        )
        .await
        .unwrap();
    let r = get(&f, "/sources").await;
    assert_eq!(r.status, StatusCode::OK);
    let list = r.body["sources"].as_array().unwrap();
    let names: HashSet<(String, Option<String>)> = list
        .iter()
        .map(|s| {
            (
                s["source"].as_str().unwrap().to_string(),
                s["stream"].as_str().map(String::from),
            )
        })
        .collect();
    assert!(names.contains(&("entra-directory-audits".into(), None)));
    assert!(names.contains(&("entra-sign-ins".into(), Some("interactiveUser".into()))));
    let sp = list
        .iter()
        .find(|s| s["stream"] == "servicePrincipal")
        .unwrap();
    assert_eq!(
        sp["health"]["last_error"]["code"],
        "Authorization_RequestDenied"
    );
    assert_eq!(sp["health"]["total_pulled"], 5);
    assert!(list.iter().find(|s| s["source"] == "intune-audit").unwrap()["health"].is_null());
    assert_eq!(r.body["deliveries"], json!([]), "nothing delivered yet");
}

#[tokio::test]
async fn sources_show_each_delivery_channels_health() {
    use domain::delivery::{Channel, DeliveryLog, Outcome};
    let f = fixture();
    let soc = Channel::Webhook("soc".into());
    f.deliveries
        .record(&soc, &Outcome::Delivered, now())
        .await
        .unwrap();
    f.deliveries
        .record(
            &soc,
            &Outcome::Failed("hooks.example.com: status 503 (after 4 tries)".into()),
            now(),
        )
        .await
        .unwrap();
    f.deliveries
        .record(&Channel::Topic, &Outcome::Delivered, now())
        .await
        .unwrap();
    let r = get(&f, "/sources").await;
    assert_eq!(r.status, StatusCode::OK);
    let d = r.body["deliveries"].as_array().unwrap();
    assert_eq!(d.len(), 2);
    let hook = d.iter().find(|c| c["channel"] == "webhook:soc").unwrap();
    assert_eq!(hook["delivered"], 1);
    assert_eq!(hook["failed"], 1);
    assert_eq!(hook["consecutive_failures"], 1);
    assert!(hook["last_error"].as_str().unwrap().contains("503"));
    let topic = d.iter().find(|c| c["channel"] == "topic").unwrap();
    assert_eq!(topic["consecutive_failures"], 0);
}

#[tokio::test]
async fn sources_show_each_backfill_with_its_failed_windows() {
    use domain::backfill::{BackfillJob, BackfillSpec, BackfillStore, WindowState};
    use domain::model::ErrorInfo;
    let f = fixture();
    let get_backfills = |r: &crate::support::Reply| r.body["backfills"].as_array().unwrap().clone();
    assert!(get_backfills(&get(&f, "/sources").await).is_empty());
    let spec = BackfillSpec::new(now() - TimeDelta::days(3), now(), vec![], vec![]).unwrap();
    let mut job = BackfillJob::plan(spec, TimeDelta::days(1), now());
    job.windows[0].state = WindowState::Done { records: 40 };
    job.windows_done = 1;
    job.records = 40;
    job.windows[1].state = WindowState::Failed {
        reason: ErrorInfo {
            code: "QueryFailed".into(),
            message: "the audit log query ended `failed` 3 times".into(),
        },
        records: 0,
    };
    f.backfills.save(TENANT, &job, 0).await.unwrap();
    let r = get(&f, "/sources").await;
    assert_eq!(r.status, StatusCode::OK);
    let b = get_backfills(&r);
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0]["id"], job.id.as_str());
    assert_eq!(b[0]["status"], "running");
    assert_eq!(b[0]["windows_done"], 1);
    assert_eq!(b[0]["windows_failed"], 1);
    assert_eq!(b[0]["windows_pending"], 1);
    assert_eq!(b[0]["records"], 40);
    assert_eq!(
        b[0]["failed"][0]["reason"]["code"], "QueryFailed",
        "{}",
        b[0]
    );
}
