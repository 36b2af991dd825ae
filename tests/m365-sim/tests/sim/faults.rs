//! Fault injection: 429s with Retry-After and 500/503s in Graph's error shape at the configured
//! rates, counted in `/_sim/stats`; the token endpoint and `/_sim` are never faulted; latency
//! applies to data endpoints.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use m365_sim::start;
use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn faults_are_injected_at_the_configured_rates() -> TestResult {
    let sim = start(config(|c| {
        c.fault_429 = 0.25;
        c.fault_5xx = 0.15;
        c.retry_after_secs = 7;
    }))
    .await?;
    let c = client();
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let url = format!("{}{AUDITS}?$top=5", sim.base_url());
    let n = 400;
    let mut counts: HashMap<u16, usize> = HashMap::new();
    let mut codes_5xx = BTreeSet::new();
    for _ in 0..n {
        let (status, headers, body) = graph_get(&c, &url, &token).await?;
        *counts.entry(status.as_u16()).or_default() += 1;
        match status.as_u16() {
            200 => assert!(body["value"].is_array()),
            429 => {
                assert_eq!(
                    headers.get("retry-after").and_then(|v| v.to_str().ok()),
                    Some("7")
                );
                assert_eq!(body["error"]["code"], "TooManyRequests");
                assert_eq!(body["error"]["innerError"]["code"], "429");
                assert_eq!(body["error"]["innerError"]["status"], "429");
                assert!(headers.get("request-id").is_some());
            }
            500 | 503 => {
                let code = body["error"]["code"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                assert_eq!(
                    code,
                    if status.as_u16() == 500 {
                        "UnknownError"
                    } else {
                        "ServiceUnavailable"
                    }
                );
                assert!(body["error"]["innerError"]["request-id"].is_string());
                codes_5xx.insert(code);
            }
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    let throttled = counts.get(&429).copied().unwrap_or(0);
    let failed = counts.get(&500).copied().unwrap_or(0) + counts.get(&503).copied().unwrap_or(0);
    assert!((70..=130).contains(&throttled), "429s: {throttled}");
    assert!((35..=85).contains(&failed), "5xx: {failed}");
    assert_eq!(codes_5xx.len(), 2, "both 500 and 503");
    let s = stats(&c, &sim).await?;
    assert_eq!(s["throttled_429"], throttled);
    assert_eq!(s["server_errors_5xx"], failed);
    assert_eq!(s["requests"]["GET /v1.0/auditLogs/directoryAudits"], n);
    sim.shutdown().await;

    // The token endpoint and /_sim are never faulted; latency applies to data endpoints.
    let sim = start(config(|c| {
        c.fault_429 = 1.0;
        c.latency_ms = 150;
    }))
    .await?;
    for _ in 0..5 {
        token_for(&c, &sim, GRAPH_SCOPE).await?;
    }
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let started = Instant::now();
    let (status, _, _) = graph_get(&c, &format!("{}{AUDITS}", sim.base_url()), &token).await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(stats(&c, &sim).await?["throttled_429"], 1);
    sim.shutdown().await;
    Ok(())
}
