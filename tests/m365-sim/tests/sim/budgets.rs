//! Microsoft's request budgets: the switches' defaults, Graph's audit-log budget of five
//! requests per ten seconds shared with sign-ins (Intune has none), message trace's hundred per
//! five minutes apart from it, each refusal a 429 with Retry-After; switched off, none.

use std::time::Duration;

use m365_sim::{SimConfig, start};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

fn retry_after(headers: &reqwest::header::HeaderMap) -> u64 {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn switches_default_to_a_licensed_provisioned_budgeted_tenant() {
    let d = SimConfig::default();
    assert!(d.premium && d.message_trace_provisioned && d.enforce_budgets);
}

#[tokio::test]
async fn audit_log_budget_is_five_per_ten_seconds_shared_with_sign_ins() -> TestResult {
    let sim = start(config(|c| c.enforce_budgets = true)).await?;
    let c = client();
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let audits = url_with(&sim, AUDITS, None, Some(1));
    let sign_ins = url_with(&sim, SIGN_INS_V1, None, Some(1));
    // A burst of six at one virtual instant: exactly one 429.
    let mut refused = Vec::new();
    for _ in 0..6 {
        let (status, headers, body) = graph_get(&c, &audits, &token).await?;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(body["error"]["code"], "TooManyRequests");
            assert_eq!(body["error"]["innerError"]["status"], "429");
            refused.push(retry_after(&headers));
        } else {
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }
    assert_eq!(refused.len(), 1);
    assert!((1..=10).contains(&refused[0]), "{refused:?}");
    // Sign-ins draw on the same budget; refusals are not counted into the window.
    let (status, _, _) = graph_get(&c, &sign_ins, &token).await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    set_clock(&c, &sim, json!({"advance_secs": 5})).await?;
    for _ in 0..3 {
        let (status, headers, _) = graph_get(&c, &audits, &token).await?;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!((1..=5).contains(&retry_after(&headers)));
    }
    set_clock(&c, &sim, json!({"advance_secs": 5})).await?;
    for url in [&audits, &audits, &audits, &sign_ins, &sign_ins] {
        let (status, _, body) = graph_get(&c, url, &token).await?;
        assert_eq!(status, StatusCode::OK, "a full window again: {body}");
    }
    let (status, _, _) = graph_get(
        &c,
        &url_with(
            &sim,
            SIGN_INS_BETA,
            Some("signInEventTypes/any(t: t eq 'servicePrincipal')"),
            None,
        ),
        &token,
    )
    .await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Real time counts too: after 8 virtual seconds the wait is about 2 real seconds.
    set_clock(&c, &sim, json!({"advance_secs": 8})).await?;
    let (status, headers, _) = graph_get(&c, &audits, &token).await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&headers);
    assert!((1..=2).contains(&wait), "{wait}");
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let (status, _, _) = graph_get(&c, &audits, &token).await?;
    assert_eq!(status, StatusCode::OK, "honouring Retry-After in real time");
    // Intune has no simulated budget.
    for _ in 0..12 {
        let (status, _, _) = graph_get(&c, &url_with(&sim, INTUNE, None, Some(1)), &token).await?;
        assert_eq!(status, StatusCode::OK);
    }
    let s = stats(&c, &sim).await?;
    assert_eq!(s["over_budget_429"], 7);
    assert_eq!(
        s["throttled_429"], 0,
        "budget refusals are not injected faults"
    );
    sim.shutdown().await;

    // Switched off, nothing is refused.
    let sim = start(config(|c| c.enforce_budgets = false)).await?;
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    for _ in 0..20 {
        let (status, _, _) = graph_get(&c, &url_with(&sim, AUDITS, None, Some(1)), &token).await?;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(stats(&c, &sim).await?["over_budget_429"], 0);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn message_trace_budget_is_a_hundred_per_five_minutes() -> TestResult {
    let sim = start(config(|c| {
        c.enforce_budgets = true;
        c.events_per_hour = 5;
    }))
    .await?;
    let c = client();
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let url = url_with(
        &sim,
        TRACES,
        Some(
            "receivedDateTime ge 2026-07-17T10:00:00Z and receivedDateTime le 2026-07-17T12:00:00Z",
        ),
        Some(10),
    );
    for i in 0..100 {
        let (status, _, body) = graph_get(&c, &url, &token).await?;
        assert_eq!(status, StatusCode::OK, "request {i}: {body}");
        if i == 40 {
            set_clock(&c, &sim, json!({"advance_secs": 120})).await?;
        }
    }
    let (status, headers, body) = graph_get(&c, &url, &token).await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"]["code"], "TooManyRequests");
    let wait = retry_after(&headers);
    assert!(
        (170..=180).contains(&wait),
        "oldest request frees in ~180 s: {wait}"
    );
    // The audit-log budget is separate.
    let (status, _, _) = graph_get(&c, &url_with(&sim, AUDITS, None, Some(1)), &token).await?;
    assert_eq!(status, StatusCode::OK);
    set_clock(&c, &sim, json!({"advance_secs": wait})).await?;
    let (status, _, _) = graph_get(&c, &url, &token).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stats(&c, &sim).await?["over_budget_429"], 1);
    sim.shutdown().await;
    Ok(())
}
