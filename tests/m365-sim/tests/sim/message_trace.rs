//! Exchange message trace: its query rules (both bounds, the window's length, `$top`, history),
//! paging against `/_sim/truth`, and a tenant without its service principal.

use chrono::{DateTime, Utc};
use m365_sim::start;
use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn message_trace_enforces_its_query_rules_and_history() -> TestResult {
    let sim = start(config(|c| {
        c.days = 100;
        c.events_per_hour = 3;
    }))
    .await?;
    let c = client();
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let now = t(NOW);
    let day = chrono::Duration::days(1);
    let window = |from: DateTime<Utc>, to: DateTime<Utc>| {
        format!(
            "receivedDateTime ge {} and receivedDateTime le {}",
            rfc(from),
            rfc(to)
        )
    };
    // Both bounds are required.
    for filter in [
        None,
        Some(format!("receivedDateTime ge {}", rfc(now - day))),
        Some(format!("receivedDateTime le {}", rfc(now))),
    ] {
        let (status, _, body) =
            graph_get(&c, &url_with(&sim, TRACES, filter.as_deref(), None), &token).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{filter:?}");
        assert_eq!(body["error"]["code"], "BadRequest");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("both sides")),
            "{body}"
        );
    }
    // At most 10 days per query.
    let (status, _, body) = graph_get(
        &c,
        &url_with(&sim, TRACES, Some(&window(now - day * 11, now)), None),
        &token,
    )
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("at most 10 days")),
        "{body}"
    );
    let lt_gt = format!(
        "receivedDateTime lt {} and receivedDateTime gt {}",
        rfc(now),
        rfc(now - day * 10)
    );
    let tr = truth_of(&c, &sim, "exchange-message-trace", None, None).await?;
    let (records, _) = pull_all(
        &c,
        &url_with(&sim, TRACES, Some(&lt_gt), Some(5000)),
        &token,
    )
    .await?;
    assert!(!records.is_empty());
    let ten = window(now - day * 10, now);
    let (records, _) = pull_all(&c, &url_with(&sim, TRACES, Some(&ten), None), &token).await?;
    assert_eq!(
        sorted(record_ids(&records)),
        truth_ids_in(&tr, now - day * 10, now)
    );
    // Nothing older than 90 days, from the API or the truth.
    let edge = now - day * 90;
    let old = window(now - day * 95, now - day * 86);
    let (records, _) =
        pull_all(&c, &url_with(&sim, TRACES, Some(&old), Some(5000)), &token).await?;
    assert!(!records.is_empty());
    assert!(
        records
            .iter()
            .all(|r| t(r["receivedDateTime"].as_str().unwrap_or_default()) >= edge)
    );
    assert_eq!(
        sorted(record_ids(&records)),
        truth_ids_in(&tr, now - day * 95, now - day * 86)
    );
    assert!(tr["events"].as_array().is_some_and(|e| {
        e.iter()
            .all(|x| t(x["time"].as_str().unwrap_or_default()) >= edge)
    }));
    let (records, _) = pull_all(
        &c,
        &url_with(
            &sim,
            TRACES,
            Some(&window(now - day * 99, now - day * 91)),
            None,
        ),
        &token,
    )
    .await?;
    assert!(records.is_empty(), "older than 90 days");
    // $top: 1..=5000, default 1000.
    for (top, ok) in [(5000, true), (1, true), (5001, false), (0, false)] {
        let (status, _, _) =
            graph_get(&c, &url_with(&sim, TRACES, Some(&ten), Some(top)), &token).await?;
        assert_eq!(status == StatusCode::OK, ok, "$top={top}");
    }
    sim.shutdown().await;

    // A big window pages at 5000 and defaults to 1000.
    let sim = start(config(|c| {
        c.days = 11;
        c.events_per_hour = 40;
    }))
    .await?;
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let ten = window(now - day * 10, now);
    let tr = truth_of(&c, &sim, "exchange-message-trace", None, None).await?;
    let want = truth_ids_in(&tr, now - day * 10, now);
    assert!(want.len() > 15_000, "{}", want.len());
    let (records, pages) =
        pull_all(&c, &url_with(&sim, TRACES, Some(&ten), Some(5000)), &token).await?;
    assert_eq!(pages, want.len().div_ceil(5000));
    assert_eq!(sorted(record_ids(&records)), want);
    let (_, _, body) = graph_get(&c, &url_with(&sim, TRACES, Some(&ten), None), &token).await?;
    assert_eq!(body["value"].as_array().map(Vec::len), Some(1000));
    let (beta, _) = pull_all(
        &c,
        &url_with(
            &sim,
            "/beta/admin/exchange/tracing/messageTraces",
            Some(&ten),
            Some(5000),
        ),
        &token,
    )
    .await?;
    assert_eq!(beta, records);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn message_trace_needs_its_service_principal() -> TestResult {
    let sim = start(config(|c| c.message_trace_provisioned = false)).await?;
    let c = client();
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let filter =
        "receivedDateTime ge 2026-07-16T00:00:00Z and receivedDateTime le 2026-07-17T00:00:00Z";
    for path in [TRACES, "/beta/admin/exchange/tracing/messageTraces"] {
        let (status, headers, body) =
            graph_get(&c, &url_with(&sim, path, Some(filter), None), &token).await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        let msg = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains("8bd644d1-64a1-4d4b-ae52-2e0cbf64e373") && msg.contains("not provisioned"),
            "{msg}"
        );
        assert!(body["error"]["code"].is_string());
        assert!(headers.get("request-id").is_some());
    }
    // Even a malformed query gets the 401 first, and other sources are unaffected.
    let (status, _, _) = graph_get(&c, &url_with(&sim, TRACES, None, None), &token).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = graph_get(&c, &url_with(&sim, SIGN_INS_V1, None, Some(1)), &token).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stats(&c, &sim).await?["unauthorized_401"], 3);
    sim.shutdown().await;
    Ok(())
}
