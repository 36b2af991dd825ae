//! Intune audit events: `$filter` windows and paging against `/_sim/truth`.

use chrono::{DateTime, Utc};
use m365_sim::start;
use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn intune_audit_events_filter_and_page_against_truth() -> TestResult {
    let sim = start(config(|c| {
        c.days = 1;
        c.events_per_hour = 60;
    }))
    .await?;
    let c = client();
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let tr = truth_of(&c, &sim, "intune-audit", None, None).await?;
    let all = ids_of(&tr["ids"]);
    assert!(all.len() > 1000, "{}", all.len());
    let (records, pages) = pull_all(&c, &url_with(&sim, INTUNE, None, None), &token).await?;
    assert_eq!(pages, all.len().div_ceil(100), "default page size 100");
    assert_eq!(sorted(record_ids(&records)), all);
    let times: Vec<DateTime<Utc>> = records
        .iter()
        .map(|r| t(r["activityDateTime"].as_str().unwrap_or_default()))
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let (lo, hi) = ("2026-07-17T01:00:00Z", "2026-07-17T05:59:59.9999999Z");
    for filter in [
        format!("activityDateTime ge {lo} and activityDateTime le {hi}"),
        format!("activityDateTime le {hi} and activityDateTime ge {lo}"),
    ] {
        let (recs, _) = pull_all(
            &c,
            &url_with(&sim, INTUNE, Some(&filter), Some(1000)),
            &token,
        )
        .await?;
        assert_eq!(sorted(record_ids(&recs)), truth_ids_in(&tr, t(lo), t(hi)));
    }
    let (beta, _) = pull_all(
        &c,
        &format!(
            "{}/beta/deviceManagement/auditEvents?$top=1000",
            sim.base_url()
        ),
        &token,
    )
    .await?;
    assert_eq!(beta, records, "beta serves the same records");
    let odd = records
        .iter()
        .filter(|r| r.to_string().contains("\"<null>\""))
        .count() as f64
        / records.len() as f64;
    assert!((0.05..0.16).contains(&odd), "<null> share {odd}");
    let (status, _, body) = graph_get(
        &c,
        &url_with(&sim, INTUNE, Some("componentName eq 'MobileApps'"), None),
        &token,
    )
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "Request_UnsupportedQuery");
    sim.shutdown().await;
    Ok(())
}
