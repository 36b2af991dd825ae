//! Faults and limits: AF429 as 429 or 403, server errors as AF50000, the request budget of 2000
//! per minute, latency and the virtual `Date` header.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::support::mgmt::*;
use crate::support::{NOW, TENANT, TestResult, t};

#[tokio::test]
async fn af429_is_429_or_403_and_server_errors_are_af50000() -> TestResult {
    for (status, want) in [
        (429, StatusCode::TOO_MANY_REQUESTS),
        (403, StatusCode::FORBIDDEN),
    ] {
        let api = Api::new(config(|c| {
            c.mgmt_af429_status = status;
            c.retry_after_secs = 7;
        }))
        .await?;
        api.start_all().await?;
        let now = t(NOW);
        let (items, _) = api.list_all(EXCHANGE, &at(now, -HOUR), &at(now, 0)).await?;
        let uri = items[0]["contentUri"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        api.c
            .post(format!("{}/_sim/faults", api.base()))
            .json(&json!({"fault_429": 1.0, "fault_5xx": 0.0}))
            .send()
            .await?;
        let (s, h, body) = api
            .get(&format!("subscriptions/content?contentType={EXCHANGE}"))
            .await?;
        assert_eq!(s, want);
        assert_eq!(
            h.get("retry-after").and_then(|v| v.to_str().ok()),
            Some("7")
        );
        assert_eq!(
            body,
            json!({"error": {"code": "AF429", "message": "Too many requests. Method=ListContent, PublisherId=00000000-0000-0000-0000-000000000000"}})
        );
        let (s, body) = api
            .fetch_text(&format!("{uri}?PublisherIdentifier={TENANT}"))
            .await?;
        assert_eq!(s, want);
        assert!(
            body.contains(&format!("Method=GetBlob, PublisherId={TENANT}")),
            "{body}"
        );
        // Subscription operations are not rolled.
        let (s, _, _) = api.get("subscriptions/list").await?;
        assert_eq!(s, StatusCode::OK);
        api.c
            .post(format!("{}/_sim/faults", api.base()))
            .json(&json!({"fault_429": 0.0, "fault_5xx": 1.0}))
            .send()
            .await?;
        let (s1, _) = api.fetch_text(&uri).await?;
        let (s2, body) = api.fetch_text(&uri).await?;
        assert_eq!(
            (s1, s2),
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                StatusCode::SERVICE_UNAVAILABLE
            )
        );
        assert!(body.contains("\"AF50000\""), "{body}");
        let stats = api.stats().await?;
        assert_eq!(stats["mgmt"]["af429"], json!(2));
        assert_eq!(stats["throttled_429"], json!(2));
        assert_eq!(stats["server_errors_5xx"], json!(2));
    }
    Ok(())
}

#[tokio::test]
async fn the_request_budget_is_2000_per_minute() -> TestResult {
    let api = Api::new(config(|c| c.enforce_budgets = true)).await?;
    let url = format!(
        "{}/subscriptions/list?PublisherIdentifier={TENANT}",
        api.feed()
    );
    let mut ok = 0;
    let mut refused = None;
    for _ in 0..2100 {
        let (s, h, body) = api.get(&url).await?;
        if s == StatusCode::OK {
            ok += 1;
        } else {
            refused = Some((s, h, body));
            break;
        }
    }
    assert_eq!(ok, 2000);
    let (s, h, body) = refused.ok_or("never refused")?;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(code(&body), "AF429");
    let wait: i64 = h
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!((1..=60).contains(&wait), "{wait}");
    api.advance(wait).await?;
    let (s, _, _) = api.get(&url).await?;
    assert_eq!(s, StatusCode::OK);
    let stats = api.stats().await?;
    assert_eq!(stats["over_budget_429"], json!(1));
    assert_eq!(stats["mgmt"]["af429"], json!(1));
    Ok(())
}

#[tokio::test]
async fn latency_and_the_virtual_date_header_apply() -> TestResult {
    let api = Api::new(config(|c| c.latency_ms = 300)).await?;
    api.start_all().await?;
    let began = Instant::now();
    let (s, h, _) = api
        .get(&format!("subscriptions/content?contentType={EXCHANGE}"))
        .await?;
    assert_eq!(s, StatusCode::OK);
    assert!(began.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        h.get("date").and_then(|v| v.to_str().ok()),
        Some("Fri, 17 Jul 2026 12:00:00 GMT")
    );
    Ok(())
}
