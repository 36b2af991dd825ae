//! Risk detections and provisioning logs: paging against `/_sim/truth`, their licences, a
//! denied permission, and Identity Protection's 429s without `Retry-After`.

use m365_sim::start;
use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn both_sources_page_against_truth() -> TestResult {
    let sim = start(config(|c| {
        c.days = 1;
        c.events_per_hour = 120;
    }))
    .await?;
    let c = client();
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    for (source, path, top, field) in [
        (
            "entra-risk-detections",
            RISK_DETECTIONS,
            500,
            "detectedDateTime",
        ),
        ("entra-provisioning", PROVISIONING, 100, "activityDateTime"),
    ] {
        let all = ids_of(&truth_of(&c, &sim, source, None, None).await?["ids"]);
        assert!(all.len() > 200, "{source}: {}", all.len());
        let (records, pages) = pull_all(&c, &url_with(&sim, path, None, None), &token).await?;
        assert_eq!(
            pages,
            all.len().div_ceil(top),
            "{source}: default page size"
        );
        assert_eq!(sorted(record_ids(&records)), all, "{source}");
        let times: Vec<&str> = records.iter().filter_map(|r| r[field].as_str()).collect();
        assert_eq!(times.len(), records.len());
        assert!(
            times.windows(2).all(|w| w[0] >= w[1]),
            "{source}: newest first on {field}"
        );
    }
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn licences_and_permission_are_enforced_per_source() -> TestResult {
    let c = client();
    // No P2: risk detections are refused naming the licence; provisioning (P1) is served.
    let sim = start(config(|c| c.premium_p2 = false)).await?;
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let (status, _, body) =
        graph_get(&c, &url_with(&sim, RISK_DETECTIONS, None, None), &token).await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "Forbidden");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("P2 license"),
        "{body}"
    );
    let (status, _, _) = graph_get(&c, &url_with(&sim, PROVISIONING, None, None), &token).await?;
    assert_eq!(status, StatusCode::OK);
    sim.shutdown().await;
    // No P1/P2 at all: both refused, provisioning as sign-ins are.
    let sim = start(config(|c| c.premium = false)).await?;
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let (status, _, body) =
        graph_get(&c, &url_with(&sim, PROVISIONING, None, None), &token).await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["error"]["code"],
        "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
    );
    let (status, _, _) =
        graph_get(&c, &url_with(&sim, RISK_DETECTIONS, None, None), &token).await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    sim.shutdown().await;
    // A denied permission is the permission error, not the licence one.
    let sim = start(config(|c| {
        c.denied_sources = vec!["entra-risk-detections".into()]
    }))
    .await?;
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let (status, _, body) =
        graph_get(&c, &url_with(&sim, RISK_DETECTIONS, None, None), &token).await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "Authorization_RequestDenied");
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn identity_protection_throttles_without_retry_after() -> TestResult {
    let sim = start(config(|c| {
        c.fault_429 = 1.0;
        c.retry_after_secs = 4;
    }))
    .await?;
    let c = client();
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let (status, headers, _) =
        graph_get(&c, &url_with(&sim, RISK_DETECTIONS, None, None), &token).await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.get("retry-after").is_none(), "{headers:?}");
    let (status, headers, _) =
        graph_get(&c, &url_with(&sim, PROVISIONING, None, None), &token).await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("4")
    );
    let s = stats(&c, &sim).await?;
    assert_eq!(s["throttled_429"], 2, "{s}");
    assert_eq!(s["throttled_no_retry_after_429"], 1, "{s}");
    sim.shutdown().await;
    Ok(())
}
