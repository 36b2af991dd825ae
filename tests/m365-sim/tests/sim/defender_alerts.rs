//! Defender alerts: Graph serves each alert's current version only, and `$filter` on
//! `lastUpdateDateTime` selects on that version's time as the virtual clock moves past its
//! updates; `/_sim/truth` names every update.

use chrono::TimeDelta;
use m365_sim::start;
use serde_json::Value;

use crate::support::*;

/// The alert `id` among `records`.
fn find<'a>(records: &'a [Value], id: &str) -> Option<&'a Value> {
    records.iter().find(|r| r["id"] == id)
}

#[tokio::test]
async fn each_alert_is_served_as_it_stands_and_filtered_on_its_last_update() -> TestResult {
    let sim = start(config(|c| {
        c.days = 3;
        c.events_per_hour = 200;
    }))
    .await?;
    let c = client();
    // An alert created in the last day that will be updated twice, both updates still to come
    // a little while after NOW (its truth lists every update, served or not).
    let truth = truth_of(&c, &sim, "defender-alerts", None, None).await?;
    let events = truth["events"].as_array().cloned().unwrap_or_default();
    assert!(events.len() > 200, "{}", events.len());
    let now = t(NOW);
    let pick = events
        .iter()
        .find(|e| {
            let ups = e["updates"].as_array().cloned().unwrap_or_default();
            ups.len() == 2 && t(ups[0].as_str().unwrap_or_default()) > now
        })
        .cloned()
        .ok_or("an alert whose two updates are both after NOW")?;
    assert_eq!(pick["revision"], 0);
    assert_eq!(pick["current_time"], pick["time"]);
    let id = pick["id"].as_str().unwrap_or_default().to_string();
    let created = t(pick["time"].as_str().unwrap_or_default());
    let ups: Vec<_> = pick["updates"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| t(u.as_str().unwrap_or_default()))
        .collect();
    let delay = t(pick["visible_at"].as_str().unwrap_or_default()) - created;
    let window = |lo: chrono::DateTime<chrono::Utc>, hi: chrono::DateTime<chrono::Utc>| {
        format!(
            "lastUpdateDateTime ge {} and lastUpdateDateTime le {}",
            rfc(lo),
            rfc(hi)
        )
    };
    let around = |at| window(at - TimeDelta::seconds(1), at + TimeDelta::seconds(1));

    let mut seen = Vec::new();
    for (revision, version_time, status) in [
        (0usize, created, "new"),
        (1, ups[0], "inProgress"),
        (2, ups[1], "resolved"),
    ] {
        // Just after this version becomes visible (the event's ingestion delay applies).
        let at = version_time + delay + TimeDelta::seconds(1);
        if at > now {
            let (status_code, _) = set_clock(&c, &sim, serde_json::json!({"now": rfc(at)})).await?;
            assert_eq!(status_code, reqwest::StatusCode::OK);
        }
        let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
        let (hits, _) = pull_all(
            &c,
            &url_with(&sim, ALERTS, Some(&around(version_time)), None),
            &token,
        )
        .await?;
        let record = find(&hits, &id).ok_or(format!("revision {revision} served"))?;
        assert_eq!(record["status"], status, "revision {revision}");
        assert_eq!(
            t(record["lastUpdateDateTime"].as_str().unwrap_or_default()),
            version_time
        );
        assert_eq!(record["comments"].as_array().map(Vec::len), Some(revision));
        // The earlier versions' times no longer select it: only the current version is served.
        for earlier in [created, ups[0]].into_iter().take(revision) {
            let (old, _) = pull_all(
                &c,
                &url_with(&sim, ALERTS, Some(&around(earlier)), None),
                &token,
            )
            .await?;
            assert!(find(&old, &id).is_none(), "revision {revision} only");
        }
        let truth = truth_of(&c, &sim, "defender-alerts", None, None).await?;
        let mine = truth["events"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["id"] == id.as_str())
            .cloned()
            .unwrap_or_default();
        assert_eq!(mine["revision"], revision);
        seen.push(record["lastUpdateDateTime"].clone());
    }
    seen.dedup();
    assert_eq!(seen.len(), 3, "three versions: {seen:?}");
    // The whole collection at the end: every alert in truth once, at its current version.
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let (all, _) = pull_all(&c, &url_with(&sim, ALERTS, None, None), &token).await?;
    let truth = truth_of(&c, &sim, "defender-alerts", None, None).await?;
    assert_eq!(sorted(record_ids(&all)), ids_of(&truth["ids"]));
    for e in truth["events"].as_array().into_iter().flatten() {
        let record = find(&all, e["id"].as_str().unwrap_or_default()).ok_or("served")?;
        assert_eq!(
            t(record["lastUpdateDateTime"].as_str().unwrap_or_default()),
            t(e["current_time"].as_str().unwrap_or_default())
        );
    }
    sim.shutdown().await;
    Ok(())
}
