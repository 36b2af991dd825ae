//! The virtual clock: `POST /_sim/clock` moves it forward only, and it drives the `Date` header;
//! unknown paths and methods get Graph's error shape.

use m365_sim::start;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn clock_moves_forward_only_and_drives_the_date_header() -> TestResult {
    let sim = start(config(|_| {})).await?;
    let c = client();
    let resp = c
        .get(format!("{}/_sim/clock", sim.base_url()))
        .send()
        .await?;
    assert_eq!(
        resp.headers().get("date").and_then(|d| d.to_str().ok()),
        Some("Fri, 17 Jul 2026 12:00:00 GMT")
    );
    assert_eq!(resp.json::<Value>().await?["now"], NOW);
    let (status, body) = set_clock(&c, &sim, json!({"advance_secs": 90061})).await?;
    assert_eq!(
        (status, body["now"].as_str()),
        (StatusCode::OK, Some("2026-07-18T13:01:01Z"))
    );
    let (status, body) = set_clock(&c, &sim, json!({"now": "2026-07-20T00:00:00+02:00"})).await?;
    assert_eq!(
        (status, body["now"].as_str()),
        (StatusCode::OK, Some("2026-07-19T22:00:00Z"))
    );
    for bad in [
        json!({"now": "2026-07-17T00:00:00Z"}),
        json!({"advance_secs": -5}),
        json!({"now": "yesterday"}),
        json!({}),
        json!({"now": NOW, "advance_secs": 1}),
    ] {
        let (status, body) = set_clock(&c, &sim, bad.clone()).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(body["error"]["message"].is_string());
    }
    let resp = c
        .get(format!("{}/nothing/here", sim.base_url()))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        resp.headers().get("date").and_then(|d| d.to_str().ok()),
        Some("Sun, 19 Jul 2026 22:00:00 GMT")
    );
    assert!(resp.headers().get("request-id").is_some());
    let body: Value = resp.json().await?;
    assert_eq!(body["error"]["code"], "NotFound");
    assert!(body["error"]["innerError"]["client-request-id"].is_string());
    let resp = c
        .delete(format!("{}{AUDITS}", sim.base_url()))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(resp.json::<Value>().await?["error"]["code"].is_string());
    sim.shutdown().await;
    Ok(())
}
