//! Helpers shared by the simulator's tests: the tenant's identifiers and the virtual instant the
//! simulator starts at, a configuration with request budgets off, an HTTP client, Graph tokens,
//! requests and `@odata.nextLink` paging, each Graph source's path, and `/_sim/clock`,
//! `/_sim/stats` and `/_sim/truth`. [`mgmt`] is the Management Activity API's client.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use m365_sim::{RunningSim, SimConfig};
use reqwest::{Client, StatusCode};
use serde_json::Value;

pub mod mgmt;

pub const TENANT: &str = "8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35";
pub const CLIENT_ID: &str = "5e7d9c1b-3a2f-4e6d-8c0b-1a9f7e5d3c21";
pub const SECRET: &str = "sim-client-secret";
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
/// The instant every test's simulator starts at. Slot-aligned: a Management API blob of every
/// content type is created at this very instant.
pub const NOW: &str = "2026-07-17T12:00:00Z";
pub const AUDITS: &str = "/v1.0/auditLogs/directoryAudits";

pub type TestResult = Result<(), Box<dyn std::error::Error>>;
pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_default()
}

/// A configuration at [`NOW`] with request budgets off (tests of budgets turn them on).
pub fn config(f: impl FnOnce(&mut SimConfig)) -> SimConfig {
    let mut c = SimConfig {
        now: Some(t(NOW)),
        enforce_budgets: false,
        ..SimConfig::default()
    };
    f(&mut c);
    c
}

pub fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_default()
}

pub async fn token_for(
    c: &Client,
    sim: &RunningSim,
    scope: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let resp = c
        .post(format!("{}/{TENANT}/oauth2/v2.0/token", sim.base_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("scope", scope),
        ])
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await?;
    Ok(body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

pub async fn graph_get(
    c: &Client,
    url: &str,
    token: &str,
) -> Result<(StatusCode, reqwest::header::HeaderMap, Value), Box<dyn std::error::Error>> {
    let resp = c.get(url).bearer_auth(token).send().await?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body: Value = resp.json().await?;
    Ok((status, headers, body))
}

/// Follows nextLink from `first` to the end; returns every record and the number of pages.
pub async fn pull_all(
    c: &Client,
    first: &str,
    token: &str,
) -> Result<(Vec<Value>, usize), Box<dyn std::error::Error>> {
    let mut url = first.to_string();
    let mut out = Vec::new();
    let mut pages = 0;
    loop {
        let (status, _, body) = graph_get(c, &url, token).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        pages += 1;
        out.extend(body["value"].as_array().cloned().unwrap_or_default());
        match body["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    Ok((out, pages))
}

pub fn ids_of(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn record_ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect()
}

pub async fn set_clock(
    c: &Client,
    sim: &RunningSim,
    body: Value,
) -> Result<(StatusCode, Value), Box<dyn std::error::Error>> {
    let resp = c
        .post(format!("{}/_sim/clock", sim.base_url()))
        .json(&body)
        .send()
        .await?;
    Ok((resp.status(), resp.json().await?))
}

pub async fn stats(c: &Client, sim: &RunningSim) -> Result<Value, Box<dyn std::error::Error>> {
    Ok(c.get(format!("{}/_sim/stats", sim.base_url()))
        .send()
        .await?
        .json()
        .await?)
}

pub fn rfc(ts: DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

pub const SIGN_INS_V1: &str = "/v1.0/auditLogs/signIns";
pub const SIGN_INS_BETA: &str = "/beta/auditLogs/signIns";
pub const RISK_DETECTIONS: &str = "/v1.0/identityProtection/riskDetections";
pub const PROVISIONING: &str = "/v1.0/auditLogs/provisioning";
pub const ALERTS: &str = "/v1.0/security/alerts_v2";
pub const INTUNE: &str = "/v1.0/deviceManagement/auditEvents";
pub const TRACES: &str = "/v1.0/admin/exchange/tracing/messageTraces";
pub const KINDS: [&str; 4] = [
    "interactiveUser",
    "nonInteractiveUser",
    "servicePrincipal",
    "managedIdentity",
];

/// `base + path` with `$filter` and `$top` encoded.
pub fn url_with(sim: &RunningSim, path: &str, filter: Option<&str>, top: Option<usize>) -> String {
    let mut params = Vec::new();
    if let Some(f) = filter {
        params.push(("$filter", f.to_string()));
    }
    if let Some(n) = top {
        params.push(("$top", n.to_string()));
    }
    reqwest::Url::parse_with_params(&format!("{}{path}", sim.base_url()), &params)
        .map(|u| u.to_string())
        .unwrap_or_default()
}

/// `/_sim/truth/{source}` with optional `stream` and `until`, with detail.
pub async fn truth_of(
    c: &Client,
    sim: &RunningSim,
    source: &str,
    stream: Option<&str>,
    until: Option<&str>,
) -> Result<Value, Box<dyn std::error::Error>> {
    let mut q = vec![("detail", "true".to_string())];
    if let Some(s) = stream {
        q.push(("stream", s.to_string()));
    }
    if let Some(u) = until {
        q.push(("until", u.to_string()));
    }
    let url =
        reqwest::Url::parse_with_params(&format!("{}/_sim/truth/{source}", sim.base_url()), &q)?;
    let resp = c.get(url).send().await?;
    assert_eq!(resp.status(), StatusCode::OK);
    Ok(resp.json().await?)
}

/// Truth ids whose event time lies in `[lo, hi]`, sorted.
pub fn truth_ids_in(truth: &Value, lo: DateTime<Utc>, hi: DateTime<Utc>) -> Vec<String> {
    let mut ids: Vec<String> = truth["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|e| {
            let at = t(e["time"].as_str().unwrap_or_default());
            at >= lo && at <= hi
        })
        .filter_map(|e| e["id"].as_str().map(str::to_string))
        .collect();
    ids.sort();
    ids
}

pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}
