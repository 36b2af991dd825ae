//! End-to-end tests of the simulator over HTTP: token endpoint and its Entra errors, Graph auth,
//! `$filter`/`$top`/`$skiptoken` paging against `/_sim/truth`, pinned pages, ingestion delay,
//! determinism, fault injection, the virtual clock, the sign-in, Intune and message trace sources
//! (sign-in kinds and the `signInEventTypes` clause, v1.0 versus beta records, the licence and
//! provisioning switches, message trace's query rules), Microsoft's request budgets, schema
//! conformance of every source against Microsoft's published v1.0 definitions, and the binary's
//! `listening:` line and flags.
//!
//! Most tests switch request budgets off (see [`config`]), since they pull many pages at one
//! virtual instant; the budget tests switch them back on.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use m365_sim::{RunningSim, SimConfig, start};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const TENANT: &str = "8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35";
const CLIENT_ID: &str = "5e7d9c1b-3a2f-4e6d-8c0b-1a9f7e5d3c21";
const SECRET: &str = "sim-client-secret";
const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
const NOW: &str = "2026-07-17T12:00:00Z";
const AUDITS: &str = "/v1.0/auditLogs/directoryAudits";
const SOURCE: &str = "entra-directory-audits";

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_default()
}

/// A configuration at [`NOW`] with request budgets off (tests of budgets turn them on).
fn config(f: impl FnOnce(&mut SimConfig)) -> SimConfig {
    let mut c = SimConfig {
        now: Some(t(NOW)),
        enforce_budgets: false,
        ..SimConfig::default()
    };
    f(&mut c);
    c
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_default()
}

async fn token_for(
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

async fn graph_get(
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
async fn pull_all(
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

async fn truth(
    c: &Client,
    sim: &RunningSim,
    until: Option<&str>,
    detail: bool,
) -> Result<Value, Box<dyn std::error::Error>> {
    let mut url = format!("{}/_sim/truth/{SOURCE}", sim.base_url());
    let mut q = Vec::new();
    if let Some(u) = until {
        q.push(("until", u.to_string()));
    }
    if detail {
        q.push(("detail", "true".to_string()));
    }
    if !q.is_empty() {
        url = reqwest::Url::parse_with_params(&url, &q)?.to_string();
    }
    let resp = c.get(url).send().await?;
    assert_eq!(resp.status(), StatusCode::OK);
    Ok(resp.json().await?)
}

fn ids_of(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn record_ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect()
}

async fn set_clock(
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

async fn stats(c: &Client, sim: &RunningSim) -> Result<Value, Box<dyn std::error::Error>> {
    Ok(c.get(format!("{}/_sim/stats", sim.base_url()))
        .send()
        .await?
        .json()
        .await?)
}

fn filter_url(sim: &RunningSim, filter: &str, top: Option<usize>) -> String {
    let mut params = vec![("$filter", filter.to_string())];
    if let Some(n) = top {
        params.push(("$top", n.to_string()));
    }
    reqwest::Url::parse_with_params(&format!("{}{AUDITS}", sim.base_url()), &params)
        .map(|u| u.to_string())
        .unwrap_or_default()
}

fn rfc(ts: DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[tokio::test]
async fn token_endpoint_issues_v2_v1_and_basic_tokens() -> TestResult {
    let sim = start(config(|_| {})).await?;
    let c = client();
    let base = sim.base_url();
    for scope in [
        GRAPH_SCOPE,
        "https://manage.office.com/.default",
        "https://graph.microsoft.us/.default",
        "https://microsoftgraph.chinacloudapi.cn/.default",
    ] {
        let resp = c
            .post(format!("{base}/{TENANT}/oauth2/v2.0/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("client_secret", SECRET),
                ("scope", scope),
            ])
            .send()
            .await?;
        assert_eq!(resp.status(), StatusCode::OK, "{scope}");
        assert_eq!(
            resp.headers().get("date").and_then(|d| d.to_str().ok()),
            Some("Fri, 17 Jul 2026 12:00:00 GMT")
        );
        let body: Value = resp.json().await?;
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3599);
        assert_eq!(body["ext_expires_in"], 3599);
        assert!(body["access_token"].as_str().is_some_and(|s| s.len() >= 40));
    }
    // HTTP Basic client authentication.
    let resp = c
        .post(format!("{base}/{TENANT}/oauth2/v2.0/token"))
        .basic_auth(CLIENT_ID, Some(SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", GRAPH_SCOPE)])
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let basic_token = resp.json::<Value>().await?["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (status, _, _) = graph_get(&c, &format!("{base}{AUDITS}?$top=1"), &basic_token).await?;
    assert_eq!(status, StatusCode::OK);
    // Legacy v1 endpoint: resource= and string-typed numbers.
    let resp = c
        .post(format!("{base}/{TENANT}/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("resource", "https://manage.office.com"),
        ])
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await?;
    assert_eq!(body["expires_in"], "3599");
    let now = t(NOW).timestamp();
    assert_eq!(body["not_before"], now.to_string());
    assert_eq!(body["expires_on"], (now + 3599).to_string());
    assert_eq!(body["resource"], "https://manage.office.com");
    assert_eq!(stats(&c, &sim).await?["tokens_issued"], 6);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn token_errors_match_entra() -> TestResult {
    let sim = start(config(|_| {})).await?;
    let c = client();
    let base = sim.base_url();
    let good = [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", SECRET),
        ("scope", GRAPH_SCOPE),
    ];
    let with = |k: &str, v: Option<&'static str>| -> Vec<(&'static str, &'static str)> {
        good.iter()
            .filter_map(|(gk, gv)| {
                if *gk == k {
                    v.map(|v| (*gk, v))
                } else {
                    Some((*gk, *gv))
                }
            })
            .collect()
    };
    // (tenant, form, HTTP status, error, AADSTS code)
    type Case = (
        String,
        Vec<(&'static str, &'static str)>,
        u16,
        &'static str,
        u32,
    );
    let cases: Vec<Case> = vec![
        (
            TENANT.into(),
            with("client_secret", Some("wrong-secret")),
            401,
            "invalid_client",
            7000215,
        ),
        (
            TENANT.into(),
            with("client_secret", None),
            401,
            "invalid_client",
            7000218,
        ),
        (
            TENANT.into(),
            with("client_id", Some("00000000-1111-2222-3333-444444444444")),
            400,
            "unauthorized_client",
            700016,
        ),
        (
            "11111111-2222-3333-4444-555555555555".into(),
            good.to_vec(),
            400,
            "invalid_request",
            90002,
        ),
        (
            TENANT.into(),
            with(
                "scope",
                Some("https://graph.microsoft.com/AuditLog.Read.All"),
            ),
            400,
            "invalid_scope",
            1002012,
        ),
        (
            TENANT.into(),
            with("scope", Some("https://unknown.example.com/.default")),
            400,
            "invalid_scope",
            1002012,
        ),
        (
            TENANT.into(),
            with("scope", Some("https://graph.microsoft.com")),
            400,
            "invalid_scope",
            1002012,
        ),
    ];
    let n = cases.len();
    for (tenant, form, status, error, code) in cases {
        let resp = c
            .post(format!("{base}/{tenant}/oauth2/v2.0/token"))
            .header("client-request-id", "0b7c3e7a-3f0e-4d57-9a55-5a2f6c2f0d11")
            .form(&form)
            .send()
            .await?;
        assert_eq!(resp.status().as_u16(), status, "AADSTS{code}");
        let body: Value = resp.json().await?;
        assert_eq!(body["error"], error, "{body}");
        assert_eq!(body["error_codes"], json!([code]), "{body}");
        let desc = body["error_description"].as_str().unwrap_or_default();
        assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
        assert!(desc.contains("\r\nTrace ID: "), "{desc}");
        assert!(
            desc.contains("\r\nCorrelation ID: 0b7c3e7a-3f0e-4d57-9a55-5a2f6c2f0d11"),
            "{desc}"
        );
        assert!(
            desc.contains("\r\nTimestamp: 2026-07-17 12:00:00Z"),
            "{desc}"
        );
        assert_eq!(body["timestamp"], "2026-07-17 12:00:00Z");
        assert_eq!(
            body["correlation_id"],
            "0b7c3e7a-3f0e-4d57-9a55-5a2f6c2f0d11"
        );
        assert!(
            body["trace_id"]
                .as_str()
                .is_some_and(|s| uuid::Uuid::parse_str(s).is_ok())
        );
        assert_eq!(
            body["error_uri"],
            format!("https://login.microsoftonline.com/error?code={code}")
        );
    }
    let s = stats(&c, &sim).await?;
    assert_eq!(s["token_failures"], n);
    assert_eq!(s["tokens_issued"], 0);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn graph_refuses_missing_bad_expired_and_wrong_audience_tokens() -> TestResult {
    let sim = start(config(|_| {})).await?;
    let c = client();
    let url = format!("{}{AUDITS}?$top=5", sim.base_url());
    let check_401 = |status: StatusCode, headers: &reqwest::header::HeaderMap, body: &Value| {
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
        assert!(body["error"]["innerError"]["request-id"].is_string());
        assert!(body["error"]["innerError"]["date"].is_string());
        assert!(headers.get("request-id").is_some());
        assert!(headers.get("client-request-id").is_some());
    };
    let resp = c.get(&url).send().await?;
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body: Value = resp.json().await?;
    check_401(status, &headers, &body);
    assert_eq!(body["error"]["message"], "Access token is empty.");

    let (status, headers, body) = graph_get(&c, &url, "not-a-token-we-issued").await?;
    check_401(status, &headers, &body);

    let manage = token_for(&c, &sim, "https://manage.office.com/.default").await?;
    let (status, headers, body) = graph_get(&c, &url, &manage).await?;
    check_401(status, &headers, &body);

    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let (status, _, _) = graph_get(&c, &url, &token).await?;
    assert_eq!(status, StatusCode::OK);
    set_clock(&c, &sim, json!({"advance_secs": 3598})).await?;
    let (status, _, _) = graph_get(&c, &url, &token).await?;
    assert_eq!(
        status,
        StatusCode::OK,
        "still valid one second before expiry"
    );
    set_clock(&c, &sim, json!({"advance_secs": 1})).await?;
    let (status, headers, body) = graph_get(&c, &url, &token).await?;
    check_401(status, &headers, &body);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("expired"))
    );
    assert_eq!(stats(&c, &sim).await?["unauthorized_401"], 4);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn filter_windows_return_exactly_the_events_in_range() -> TestResult {
    let sim = start(config(|c| {
        c.days = 1;
        c.events_per_hour = 120;
    }))
    .await?;
    let c = client();
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let detail = truth(&c, &sim, None, true).await?;
    let events: Vec<(String, DateTime<Utc>)> = detail["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap_or_default().to_string(),
                t(e["time"].as_str().unwrap_or_default()),
            )
        })
        .collect();
    assert!(events.len() > 1000, "{}", events.len());
    let windows = [
        ("2026-07-17T03:00:00Z", "2026-07-17T04:30:00Z"),
        ("2026-07-16T12:00:00Z", "2026-07-16T12:00:59.9999999Z"),
        ("2026-07-17T11:00:00Z", "2026-07-17T12:00:00Z"),
        ("2026-07-10T00:00:00Z", "2026-07-16T13:00:00Z"),
    ];
    for (lo, hi) in windows {
        let filter = format!("activityDateTime ge {lo} and activityDateTime le {hi}");
        let (records, _) = pull_all(&c, &filter_url(&sim, &filter, Some(200)), &token).await?;
        let mut got = record_ids(&records);
        got.sort();
        let mut want: Vec<String> = events
            .iter()
            .filter(|(_, time)| *time >= t(lo) && *time <= t(hi))
            .map(|(id, _)| id.clone())
            .collect();
        want.sort();
        assert_eq!(got, want, "window {lo}..{hi}");
        for r in &records {
            let at = t(r["activityDateTime"].as_str().unwrap_or_default());
            assert!(at >= t(lo) && at <= t(hi));
        }
    }
    // Exact boundaries: ge/le include an event's own timestamp, gt/lt exclude it; the order of
    // clauses, quoting and '+' for spaces do not matter.
    let (records, _) = pull_all(&c, &format!("{}{AUDITS}?$top=50", sim.base_url()), &token).await?;
    let probe = &records[records.len() / 2];
    let at = probe["activityDateTime"].as_str().unwrap_or_default();
    let id = probe["id"].as_str().unwrap_or_default();
    let contains = |recs: &[Value]| recs.iter().any(|r| r["id"] == id);
    let inclusive = format!("activityDateTime le {at} and activityDateTime ge '{at}'");
    let (recs, _) = pull_all(&c, &filter_url(&sim, &inclusive, None), &token).await?;
    assert!(contains(&recs));
    assert!(recs.iter().all(|r| r["activityDateTime"] == at));
    for filter in [
        format!("activityDateTime gt {at}"),
        format!("activityDateTime lt {at}"),
    ] {
        let (recs, _) = pull_all(&c, &filter_url(&sim, &filter, Some(1000)), &token).await?;
        assert!(!contains(&recs), "{filter}");
    }
    let raw = format!(
        "{}{AUDITS}?$filter=activityDateTime+ge+{at}+and+activityDateTime+le+{at}",
        sim.base_url()
    );
    let (recs, _) = pull_all(&c, &raw, &token).await?;
    assert!(contains(&recs));
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn paging_returns_every_visible_event_once_newest_first() -> TestResult {
    let sim = start(config(|c| c.events_per_hour = 80)).await?;
    let c = client();
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let first = format!("{}{AUDITS}?$top=137", sim.base_url());
    let (records, pages) = pull_all(&c, &first, &token).await?;
    let want = ids_of(&truth(&c, &sim, None, false).await?["ids"]);
    let got = record_ids(&records);
    assert_eq!(
        got.iter().collect::<HashSet<_>>().len(),
        got.len(),
        "duplicates across pages"
    );
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(sorted, want);
    assert_eq!(pages, want.len().div_ceil(137));
    let keys: Vec<(DateTime<Utc>, String)> = records
        .iter()
        .map(|r| {
            (
                t(r["activityDateTime"].as_str().unwrap_or_default()),
                r["id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] > w[1]),
        "newest first, then id"
    );
    // nextLink keeps $top and points back at the simulator; the default page size is 100.
    let (_, _, body) = graph_get(&c, &first, &token).await?;
    let next = body["@odata.nextLink"].as_str().unwrap_or_default();
    assert!(
        next.starts_with(&format!("{}{AUDITS}?", sim.base_url())),
        "{next}"
    );
    assert!(
        next.contains("$top=137") && next.contains("$skiptoken="),
        "{next}"
    );
    assert_eq!(
        body["@odata.context"],
        format!(
            "{}/v1.0/$metadata#auditLogs/directoryAudits",
            sim.base_url()
        )
    );
    let (_, _, body) = graph_get(&c, &format!("{}{AUDITS}", sim.base_url()), &token).await?;
    assert_eq!(body["value"].as_array().map(Vec::len), Some(100));
    // $orderby asc pages forward over the same set; /beta serves the same collection.
    let asc = format!(
        "{}{AUDITS}?$top=500&$orderby=activityDateTime%20asc",
        sim.base_url()
    );
    let (asc_records, _) = pull_all(&c, &asc, &token).await?;
    let mut asc_ids = record_ids(&asc_records);
    asc_ids.reverse();
    assert_eq!(asc_ids, got);
    let (beta, _) = pull_all(
        &c,
        &format!(
            "{}/beta/auditLogs/directoryAudits?$top=1000",
            sim.base_url()
        ),
        &token,
    )
    .await?;
    assert_eq!(record_ids(&beta), got);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn pages_stay_pinned_while_the_clock_moves() -> TestResult {
    let sim = start(config(|c| c.events_per_hour = 100)).await?;
    let c = client();
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let before = ids_of(&truth(&c, &sim, None, false).await?["ids"]);
    let mut url = format!("{}{AUDITS}?$top=300", sim.base_url());
    let mut got = Vec::new();
    let mut page = 0;
    loop {
        let (status, _, body) = graph_get(&c, &url, &token).await?;
        assert_eq!(status, StatusCode::OK);
        got.extend(record_ids(
            body["value"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default(),
        ));
        page += 1;
        if page == 1 {
            let (status, _) = set_clock(&c, &sim, json!({"advance_secs": 1800})).await?;
            assert_eq!(status, StatusCode::OK);
        }
        match body["@odata.nextLink"].as_str() {
            Some(n) => url = n.to_string(),
            None => break,
        }
    }
    assert!(page > 2);
    got.sort();
    assert_eq!(
        got, before,
        "a paging run sees the page set of its first page"
    );
    let (fresh, _) = pull_all(&c, &format!("{}{AUDITS}?$top=1000", sim.base_url()), &token).await?;
    assert!(
        fresh.len() > before.len(),
        "a new query sees what arrived meanwhile"
    );
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn events_appear_only_after_their_ingestion_delay() -> TestResult {
    let sim = start(config(|c| {
        c.events_per_hour = 200;
        c.ingest_delay_secs = 600;
    }))
    .await?;
    let c = client();
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let future = truth(&c, &sim, Some("2026-07-17T13:00:00Z"), true).await?;
    let events = future["events"].as_array().cloned().unwrap_or_default();
    let now = t(NOW);
    let mut late = 0;
    for e in &events {
        let delay = t(e["visible_at"].as_str().unwrap_or_default())
            - t(e["time"].as_str().unwrap_or_default());
        assert!(delay.num_milliseconds() >= 0 && delay.num_seconds() <= 1800);
        if delay.num_milliseconds() > 600_000 {
            late += 1;
        }
    }
    assert!(late > 0, "some events arrive later than ingest_delay_secs");
    let pending = events
        .iter()
        .find(|e| {
            t(e["time"].as_str().unwrap_or_default()) < now - chrono::Duration::seconds(60)
                && t(e["visible_at"].as_str().unwrap_or_default())
                    > now + chrono::Duration::seconds(5)
        })
        .cloned()
        .unwrap_or_default();
    let id = pending["id"].as_str().unwrap_or_default().to_string();
    assert!(
        !id.is_empty(),
        "an event that happened but is not visible yet"
    );
    let visible_at = t(pending["visible_at"].as_str().unwrap_or_default());
    let time = t(pending["time"].as_str().unwrap_or_default());
    let window = format!(
        "activityDateTime ge {} and activityDateTime le {}",
        rfc(time - chrono::Duration::seconds(1)),
        rfc(time + chrono::Duration::seconds(1))
    );
    let url = filter_url(&sim, &window, Some(1000));
    let present = |recs: &[Value]| recs.iter().any(|r| r["id"] == id.as_str());
    let (recs, _) = pull_all(&c, &url, &token).await?;
    assert!(!present(&recs));
    assert!(!ids_of(&truth(&c, &sim, None, false).await?["ids"]).contains(&id));
    set_clock(
        &c,
        &sim,
        json!({"now": rfc(visible_at - chrono::Duration::milliseconds(1))}),
    )
    .await?;
    let (recs, _) = pull_all(&c, &url, &token).await?;
    assert!(!present(&recs), "not visible one millisecond early");
    set_clock(&c, &sim, json!({"now": rfc(visible_at)})).await?;
    let (recs, _) = pull_all(&c, &url, &token).await?;
    assert!(
        present(&recs),
        "visible once the clock reaches time + delay"
    );
    assert!(ids_of(&truth(&c, &sim, None, false).await?["ids"]).contains(&id));
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn same_seed_same_records_different_seed_different_records() -> TestResult {
    let c = client();
    let mut pulls = Vec::new();
    for seed in [7, 7, 8] {
        let sim = start(config(|c| {
            c.seed = seed;
            c.days = 1;
        }))
        .await?;
        let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
        let (records, _) =
            pull_all(&c, &format!("{}{AUDITS}?$top=1000", sim.base_url()), &token).await?;
        pulls.push(records);
        sim.shutdown().await;
    }
    assert!(!pulls[0].is_empty());
    assert_eq!(pulls[0], pulls[1], "same seed, byte-identical records");
    let a: HashSet<String> = record_ids(&pulls[0]).into_iter().collect();
    let b: HashSet<String> = record_ids(&pulls[2]).into_iter().collect();
    assert!(a.is_disjoint(&b), "a different seed gives different events");
    Ok(())
}

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

#[tokio::test]
async fn bad_queries_get_graph_errors_and_sim_endpoints_answer() -> TestResult {
    let sim = start(config(|_| {})).await?;
    let c = client();
    let base = sim.base_url();
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let cases = [
        (
            "activityDisplayName eq 'Add user'",
            None,
            "Request_UnsupportedQuery",
        ),
        (
            "activityDateTime ge 2026-07-17T00:00:00Z or activityDateTime le 2026-07-17T01:00:00Z",
            None,
            "Request_UnsupportedQuery",
        ),
        (
            "activityDateTime ne 2026-07-17T00:00:00Z",
            None,
            "Request_UnsupportedQuery",
        ),
        ("activityDateTime ge not-a-date", None, "BadRequest"),
        (
            "activityDateTime ge 2026-07-17T00:00:00Z",
            Some(1001),
            "BadRequest",
        ),
    ];
    for (filter, top, code) in cases {
        let (status, headers, body) = graph_get(&c, &filter_url(&sim, filter, top), &token).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{filter}");
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(body["error"]["innerError"]["date"].is_string());
        assert!(headers.get("request-id").is_some());
    }
    let (_, _, body) = graph_get(&c, &format!("{base}{AUDITS}?$top=1001"), &token).await?;
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("1000")),
        "{body}"
    );
    let (status, _, _) = graph_get(
        &c,
        &format!("{base}{AUDITS}?$skiptoken=bm90LW91cnM"),
        &token,
    )
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Graph's paths are case-insensitive.
    let (status, _, body) = graph_get(
        &c,
        &format!("{base}/v1.0/auditlogs/directoryaudits?$top=2"),
        &token,
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sources: Value = c
        .get(format!("{base}/_sim/sources"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        sources,
        json!([
            SOURCE,
            "entra-sign-ins",
            "intune-audit",
            "exchange-message-trace",
            "m365-activity"
        ])
    );
    let resp = c
        .get(format!("{base}/_sim/truth/no-such-source"))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(resp.json::<Value>().await?["error"]["message"].is_string());
    let tr = truth(&c, &sim, Some("2026-07-17T06:00:00Z"), false).await?;
    assert_eq!(tr["source"], SOURCE);
    assert_eq!(tr["as_of"], "2026-07-17T06:00:00Z");
    assert_eq!(tr["expired_ids"], json!([]));
    let ids = ids_of(&tr["ids"]);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
    let all = ids_of(&truth(&c, &sim, None, false).await?["ids"]);
    assert!(all.len() > ids.len());
    assert!(ids.iter().all(|id| all.binary_search(id).is_ok()));
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_hundred_thousand_events_page_out_quickly() -> TestResult {
    let sim = start(config(|c| {
        c.days = 3;
        c.events_per_hour = 1500;
    }))
    .await?;
    let c = client();
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let started = Instant::now();
    let (records, pages) =
        pull_all(&c, &format!("{}{AUDITS}?$top=1000", sim.base_url()), &token).await?;
    let elapsed = started.elapsed();
    eprintln!(
        "pulled {} records in {pages} pages in {elapsed:?}",
        records.len()
    );
    assert!(records.len() >= 100_000, "{}", records.len());
    let unique: HashSet<&str> = records.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(
        unique.len(),
        records.len(),
        "ids are unique across all events"
    );
    assert_eq!(
        ids_of(&truth(&c, &sim, None, false).await?["ids"]).len(),
        records.len()
    );
    assert!(elapsed < Duration::from_secs(120), "{elapsed:?}");
    sim.shutdown().await;
    Ok(())
}

// ---- Schema conformance against Microsoft Graph's published v1.0 definitions ----

struct Schema(Value);

impl Schema {
    /// Properties of an entity or complex type, including those inherited through `base`.
    fn properties(&self, name: &str) -> Option<serde_json::Map<String, Value>> {
        let def = self.0["entities"]
            .get(name)
            .or_else(|| self.0["complex_types"].get(name))?;
        let mut props = match def["base"].as_str() {
            Some(base) => self.properties(base.trim_start_matches("graph."))?,
            None => serde_json::Map::new(),
        };
        for (k, v) in def["properties"].as_object()? {
            props.insert(k.clone(), v.clone());
        }
        Some(props)
    }

    fn check_object(&self, type_name: &str, value: &Value, path: &str, errors: &mut Vec<String>) {
        let Some(obj) = value.as_object() else {
            errors.push(format!(
                "{path}: expected object of graph.{type_name}, got {value}"
            ));
            return;
        };
        let Some(props) = self.properties(type_name) else {
            errors.push(format!("{path}: unknown type graph.{type_name}"));
            return;
        };
        for (key, v) in obj {
            match props.get(key) {
                Some(def) => self.check_property(def, v, &format!("{path}.{key}"), errors),
                None => errors.push(format!("{path}.{key}: not a property of graph.{type_name}")),
            }
        }
        for (key, def) in &props {
            match obj.get(key) {
                None => errors.push(format!(
                    "{path}.{key}: missing (Graph sends every property)"
                )),
                Some(Value::Null) if def["nullable"] == false => {
                    errors.push(format!("{path}.{key}: null but not nullable"));
                }
                _ => {}
            }
        }
    }

    fn check_property(&self, def: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
        if v.is_null() {
            return; // nullability is checked by the caller
        }
        let ty = def["type"].as_str().unwrap_or_default();
        if def["collection"] == true {
            match v.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.check_scalar(ty, item, &format!("{path}[{i}]"), errors);
                    }
                }
                None => errors.push(format!("{path}: expected a collection of {ty}")),
            }
        } else {
            self.check_scalar(ty, v, path, errors);
        }
    }

    fn check_scalar(&self, ty: &str, v: &Value, path: &str, errors: &mut Vec<String>) {
        let ok = match ty {
            "Edm.String" => v.is_string(),
            "Edm.Guid" => v.as_str().is_some_and(|s| uuid::Uuid::parse_str(s).is_ok()),
            "Edm.DateTimeOffset" => v
                .as_str()
                .is_some_and(|s| DateTime::parse_from_rfc3339(s).is_ok()),
            "Edm.Int32" | "Edm.Int64" => v.is_i64(),
            "Edm.Boolean" => v.is_boolean(),
            "Edm.Double" => v.is_number(),
            graph if graph.starts_with("graph.") => {
                let name = graph.trim_start_matches("graph.");
                if let Some(members) = self.0["enums"][name].as_array() {
                    members.iter().any(|m| m == v)
                } else {
                    self.check_object(name, v, path, errors);
                    true
                }
            }
            other => {
                errors.push(format!(
                    "{path}: schema type {other} not handled by the test"
                ));
                true
            }
        };
        if !ok {
            errors.push(format!("{path}: {v} is not a valid {ty}"));
        }
    }
}

#[tokio::test]
async fn directory_audits_conform_to_the_graph_v1_schema() -> TestResult {
    let Some(schema) = load_schema() else {
        return Ok(());
    };
    assert!(
        schema
            .properties("directoryAudit")
            .is_some_and(|p| p.contains_key("id"))
    );
    let sim = start(config(|c| {
        c.days = 1;
        c.events_per_hour = 40;
    }))
    .await?;
    let c = client();
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let (records, _) =
        pull_all(&c, &format!("{}{AUDITS}?$top=1000", sim.base_url()), &token).await?;
    assert!(records.len() >= 300, "{}", records.len());
    let mut errors = Vec::new();
    for (i, r) in records.iter().enumerate() {
        schema.check_object("directoryAudit", r, &format!("record[{i}]"), &mut errors);
    }
    errors.truncate(20);
    assert!(
        errors.is_empty(),
        "schema violations:\n{}",
        errors.join("\n")
    );
    // Variety, as in real tenants.
    let categories: HashSet<&str> = records
        .iter()
        .filter_map(|r| r["category"].as_str())
        .collect();
    assert!(categories.len() >= 6, "{categories:?}");
    assert!(records.iter().any(|r| {
        r["id"]
            .as_str()
            .is_some_and(|s| s.starts_with("Directory_"))
    }));
    assert!(records.iter().any(|r| {
        r["id"]
            .as_str()
            .is_some_and(|s| uuid::Uuid::parse_str(s).is_ok())
    }));
    assert!(records.iter().any(|r| r["result"] == "failure"));
    assert!(records.iter().any(|r| {
        r["initiatedBy"]["user"]["ipAddress"]
            .as_str()
            .is_some_and(|ip| ip.contains(':'))
    }));
    assert!(records.iter().any(|r| {
        r["additionalDetails"]
            .as_array()
            .is_some_and(|d| d.iter().any(|kv| kv["key"] == "User-Agent"))
    }));
    for r in &records {
        let by = &r["initiatedBy"];
        assert!(
            by["user"].is_null() != by["app"].is_null(),
            "exactly one initiator: {r}"
        );
    }
    sim.shutdown().await;
    Ok(())
}

fn load_schema() -> Option<Schema> {
    // Vendored with attribution (schema/README.md), so the check runs in every clone.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schema/graph-v1.0-audit-schemas.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Some(Schema(
        serde_json::from_str(&text).expect("the schema file is JSON"),
    ))
}

#[test]
fn the_schema_checker_itself_catches_violations() {
    let Some(schema) = load_schema() else {
        return;
    };
    let bad = json!({
        "id": "x", "category": "UserManagement", "correlationId": null, "result": "maybe",
        "resultReason": "", "activityDisplayName": "Add user", "activityDateTime": null,
        "loggedByService": "Core Directory", "operationType": "Add",
        "initiatedBy": {"user": {"id": "u", "displayName": null, "userPrincipalName": "a@b", "ipAddress": 5, "userType": null}, "app": null},
        "targetResources": {"id": "t"},
        "additionalDetails": [{"key": "k", "value": "v"}],
        "unknownProperty": 1
    });
    let mut errors = Vec::new();
    schema.check_object("directoryAudit", &bad, "bad", &mut errors);
    let text = errors.join("\n");
    for needle in [
        "bad.result",
        "bad.activityDateTime: null",
        "bad.initiatedBy.user.ipAddress",
        "bad.initiatedBy.user.userType: not a property",
        "bad.targetResources: expected a collection",
        "bad.unknownProperty: not a property",
    ] {
        assert!(text.contains(needle), "{needle} not reported in:\n{text}");
    }
}

#[tokio::test]
async fn binary_prints_the_listening_line_and_stops_on_sigterm() -> TestResult {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_m365-sim"))
        .args([
            "--port",
            "0",
            "--now",
            NOW,
            "--seed",
            "3",
            "--no-premium",
            "--message-trace-unprovisioned",
            "--no-budgets",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(30))?;
    let base = line
        .trim()
        .strip_prefix("listening: ")
        .unwrap_or_default()
        .to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{line:?}");
    assert!(
        base["http://127.0.0.1:".len()..]
            .parse::<u16>()
            .is_ok_and(|p| p > 0),
        "{line:?}"
    );
    let clock: Value = client()
        .get(format!("{base}/_sim/clock"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(clock["now"], NOW);
    // The switch flags: no licence, no message trace service principal, no budgets.
    let c = client();
    let token: Value = c
        .post(format!("{base}/{TENANT}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("scope", GRAPH_SCOPE),
        ])
        .send()
        .await?
        .json()
        .await?;
    let token = token["access_token"].as_str().unwrap_or_default();
    let (status, _, _) = graph_get(&c, &format!("{base}{SIGN_INS_V1}"), token).await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = graph_get(&c, &format!("{base}{TRACES}"), token).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for _ in 0..8 {
        let (status, _, _) = graph_get(&c, &format!("{base}{AUDITS}?$top=1"), token).await?;
        assert_eq!(status, StatusCode::OK);
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait()? {
            assert!(status.success(), "clean exit on SIGTERM: {status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("simulator did not exit on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

// ---- Sign-ins, Intune audit events and message trace ----

const SIGN_INS_V1: &str = "/v1.0/auditLogs/signIns";
const SIGN_INS_BETA: &str = "/beta/auditLogs/signIns";
const INTUNE: &str = "/v1.0/deviceManagement/auditEvents";
const TRACES: &str = "/v1.0/admin/exchange/tracing/messageTraces";
const KINDS: [&str; 4] = [
    "interactiveUser",
    "nonInteractiveUser",
    "servicePrincipal",
    "managedIdentity",
];

/// `base + path` with `$filter` and `$top` encoded.
fn url_with(sim: &RunningSim, path: &str, filter: Option<&str>, top: Option<usize>) -> String {
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
async fn truth_of(
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
fn truth_ids_in(truth: &Value, lo: DateTime<Utc>, hi: DateTime<Utc>) -> Vec<String> {
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

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn sign_ins_v1_is_interactive_and_beta_selects_each_kind() -> TestResult {
    let sim = start(config(|c| {
        c.days = 1;
        c.events_per_hour = 40;
    }))
    .await?;
    let c = client();
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let source = "entra-sign-ins";
    let mut per_kind = HashMap::new();
    for kind in KINDS {
        let tr = truth_of(&c, &sim, source, Some(kind), None).await?;
        assert_eq!(tr["stream"], kind);
        assert!(
            tr["events"]
                .as_array()
                .is_some_and(|e| e.iter().all(|x| x["stream"] == kind))
        );
        per_kind.insert(kind, ids_of(&tr["ids"]));
    }
    // Volumes: non-interactive ~3x interactive, service principals ~0.5x, managed ~0.3x.
    let n = |k: &str| per_kind.get(k).map_or(0, Vec::len) as f64;
    let base = n("interactiveUser");
    assert!(base > 500.0, "{base}");
    for (kind, ratio) in [
        ("nonInteractiveUser", 3.0),
        ("servicePrincipal", 0.5),
        ("managedIdentity", 0.3),
    ] {
        let got = n(kind) / base;
        assert!((got / ratio - 1.0).abs() < 0.25, "{kind}: {got}");
    }
    let all = ids_of(&truth_of(&c, &sim, source, None, None).await?["ids"]);
    assert_eq!(
        all.len(),
        KINDS.iter().map(|k| n(k) as usize).sum::<usize>(),
        "no stream means all kinds"
    );
    // v1.0 and beta without the clause: interactive user sign-ins only.
    let (v1, _) = pull_all(&c, &url_with(&sim, SIGN_INS_V1, None, None), &token).await?;
    assert!(v1.iter().all(|r| r["isInteractive"] == true));
    assert_eq!(sorted(record_ids(&v1)), per_kind["interactiveUser"].clone());
    let (beta, _) = pull_all(&c, &url_with(&sim, SIGN_INS_BETA, None, None), &token).await?;
    assert_eq!(record_ids(&beta), record_ids(&v1));
    assert!(
        beta.iter()
            .all(|r| r["signInEventTypes"] == json!(["interactiveUser"]))
    );
    // Each kind through the clause, written in the ways clients write it.
    let since = "2026-07-15T00:00:00Z";
    let forms = [
        "signInEventTypes/any(t: t eq '{k}') and createdDateTime ge {s}",
        "createdDateTime ge {s} and signInEventTypes/any(t:t eq '{k}')",
        "createdDateTime   ge {s}  and  signInEventTypes/any( x : x eq '{k}' )",
        "(signInEventTypes/any(kind: kind eq '{k}')) and (createdDateTime ge {s})",
    ];
    for (i, kind) in KINDS.iter().enumerate() {
        let filter = forms[i].replace("{k}", kind).replace("{s}", since);
        let (records, _) = pull_all(
            &c,
            &url_with(&sim, SIGN_INS_BETA, Some(&filter), Some(1000)),
            &token,
        )
        .await?;
        assert_eq!(sorted(record_ids(&records)), per_kind[kind], "{filter}");
        for r in &records {
            assert_eq!(r["signInEventTypes"], json!([kind]), "{r}");
            assert_eq!(r["isInteractive"], *kind == "interactiveUser");
        }
    }
    // Time window plus clause, bounds in any order, against truth.
    let tr = truth_of(&c, &sim, source, Some("servicePrincipal"), None).await?;
    let (lo, hi) = ("2026-07-16T20:00:00Z", "2026-07-17T02:30:00Z");
    let filter = format!(
        "createdDateTime le {hi} and signInEventTypes/any(t: t eq 'servicePrincipal') and createdDateTime ge {lo}"
    );
    let (records, _) = pull_all(
        &c,
        &url_with(&sim, SIGN_INS_BETA, Some(&filter), Some(7)),
        &token,
    )
    .await?;
    assert!(!records.is_empty());
    assert_eq!(
        sorted(record_ids(&records)),
        truth_ids_in(&tr, t(lo), t(hi))
    );
    // Paging keeps the clause: the nextLink carries it.
    let first = url_with(
        &sim,
        SIGN_INS_BETA,
        Some("signInEventTypes/any(t: t eq 'managedIdentity')"),
        Some(25),
    );
    let (_, _, body) = graph_get(&c, &first, &token).await?;
    let next = body["@odata.nextLink"].as_str().unwrap_or_default();
    assert!(
        next.contains("signInEventTypes") && next.contains("$top=25"),
        "{next}"
    );
    assert_eq!(
        body["@odata.context"],
        format!("{}/beta/$metadata#auditLogs/signIns", sim.base_url())
    );
    let (records, pages) = pull_all(&c, &first, &token).await?;
    assert_eq!(pages, per_kind["managedIdentity"].len().div_ceil(25));
    let unique: HashSet<String> = record_ids(&records).into_iter().collect();
    assert_eq!(unique.len(), records.len());
    // The v1.0 default page is 1000; v1.0 refuses the clause; beta refuses unknown kinds.
    let (_, _, body) = graph_get(
        &c,
        &url_with(
            &sim,
            SIGN_INS_BETA,
            Some("signInEventTypes/any(t: t eq 'nonInteractiveUser')"),
            None,
        ),
        &token,
    )
    .await?;
    assert_eq!(body["value"].as_array().map(Vec::len), Some(1000));
    for (path, filter, code) in [
        (
            SIGN_INS_V1,
            "signInEventTypes/any(t: t eq 'nonInteractiveUser')",
            "BadRequest",
        ),
        (
            SIGN_INS_BETA,
            "signInEventTypes/any(t: t eq 'robot')",
            "BadRequest",
        ),
        (
            SIGN_INS_BETA,
            "signInEventTypes/any(t: t eq 'servicePrincipal' or t eq 'managedIdentity')",
            "Request_UnsupportedQuery",
        ),
        (
            SIGN_INS_BETA,
            "userPrincipalName eq 'adele.vance@contoso.onmicrosoft.com'",
            "Request_UnsupportedQuery",
        ),
    ] {
        let (status, _, body) =
            graph_get(&c, &url_with(&sim, path, Some(filter), None), &token).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {filter}: {body}");
        assert_eq!(body["error"]["code"], code, "{body}");
    }
    let resp = c
        .get(format!(
            "{}/_sim/truth/{source}?stream=robot",
            sim.base_url()
        ))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = c
        .get(format!(
            "{}/_sim/truth/intune-audit?stream=interactiveUser",
            sim.base_url()
        ))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // Without a token: 401 as everywhere.
    let resp = c
        .get(format!("{}{SIGN_INS_V1}", sim.base_url()))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn sign_ins_need_a_premium_licence() -> TestResult {
    let sim = start(config(|c| c.premium = false)).await?;
    let c = client();
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    for url in [
        url_with(&sim, SIGN_INS_V1, None, None),
        url_with(&sim, SIGN_INS_BETA, None, None),
        url_with(
            &sim,
            SIGN_INS_BETA,
            Some("signInEventTypes/any(t: t eq 'servicePrincipal')"),
            Some(5),
        ),
    ] {
        let (status, headers, body) = graph_get(&c, &url, &token).await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "{url}");
        assert_eq!(
            body["error"]["code"],
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
        );
        assert_eq!(
            body["error"]["message"],
            "Neither tenant is B2C or tenant doesn't have premium license"
        );
        assert!(body["error"]["innerError"]["request-id"].is_string());
        assert!(headers.get("request-id").is_some());
    }
    // Other collections do not need the licence.
    for path in [AUDITS, INTUNE] {
        let (status, _, _) = graph_get(&c, &url_with(&sim, path, None, Some(1)), &token).await?;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    sim.shutdown().await;
    Ok(())
}

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

// ---- Request budgets ----

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

// ---- Schema conformance of the other sources ----

fn violations(schema: &Schema, entity: &str, records: &[Value]) -> Vec<String> {
    let mut errors = Vec::new();
    for (i, r) in records.iter().enumerate() {
        schema.check_object(entity, r, &format!("{entity}[{i}]"), &mut errors);
    }
    errors.truncate(20);
    errors
}

#[tokio::test]
async fn every_source_conforms_to_its_graph_v1_schema() -> TestResult {
    let Some(schema) = load_schema() else {
        return Ok(());
    };
    let sim = start(config(|c| {
        c.days = 1;
        c.events_per_hour = 40;
    }))
    .await?;
    let c = client();
    let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
    let trace_window =
        "receivedDateTime ge 2026-07-16T00:00:00Z and receivedDateTime le 2026-07-17T12:00:00Z";
    for (entity, path, filter) in [
        ("signIn", SIGN_INS_V1, None),
        ("auditEvent", INTUNE, None),
        ("exchangeMessageTrace", TRACES, Some(trace_window)),
    ] {
        let (records, _) = pull_all(&c, &url_with(&sim, path, filter, Some(1000)), &token).await?;
        assert!(records.len() >= 300, "{entity}: {}", records.len());
        let errors = violations(&schema, entity, &records);
        assert!(
            errors.is_empty(),
            "{entity} schema violations:\n{}",
            errors.join("\n")
        );
    }
    // Beta sign-ins: the v1.0 properties, conforming, plus beta-only ones.
    let v1_props = schema.properties("signIn").unwrap_or_default();
    let beta_only = [
        "signInEventTypes",
        "userType",
        "managedServiceIdentity",
        "authenticationRequirement",
        "mfaDetail",
        "authenticationDetails",
        "authenticationProcessingDetails",
        "authenticationProtocol",
        "incomingTokenType",
        "tokenIssuerType",
        "tokenIssuerName",
        "uniqueTokenIdentifier",
        "originalRequestId",
        "crossTenantAccessType",
        "isTenantRestricted",
        "flaggedForReview",
        "processingTimeInMilliseconds",
        "networkLocationDetails",
        "autonomousSystemNumber",
        "appOwnerTenantId",
    ];
    for kind in KINDS {
        let filter = format!("signInEventTypes/any(t: t eq '{kind}')");
        let (records, _) = pull_all(
            &c,
            &url_with(&sim, SIGN_INS_BETA, Some(&filter), Some(1000)),
            &token,
        )
        .await?;
        assert!(!records.is_empty(), "{kind}");
        let mut v1_part = Vec::new();
        for r in &records {
            let mut obj = r.as_object().cloned().unwrap_or_default();
            for key in beta_only {
                assert!(obj.remove(key).is_some(), "{kind}: beta lacks {key}");
            }
            v1_part.push(Value::Object(obj));
            match kind {
                "servicePrincipal" | "managedIdentity" => {
                    assert!(
                        r["servicePrincipalId"]
                            .as_str()
                            .is_some_and(|s| !s.is_empty())
                    );
                    assert!(r["servicePrincipalName"].is_string());
                    assert_eq!(r["userId"], "");
                }
                _ => {
                    assert!(
                        r["userPrincipalName"]
                            .as_str()
                            .is_some_and(|s| s.contains('@'))
                    );
                }
            }
            let msi = r["managedServiceIdentity"]["msiType"]
                .as_str()
                .unwrap_or_default();
            assert_eq!(msi == "none", kind != "managedIdentity", "{r}");
        }
        let errors = violations(&schema, "signIn", &v1_part);
        assert!(
            errors.is_empty(),
            "beta {kind} v1.0 part:\n{}",
            errors.join("\n")
        );
    }
    // v1.0 records carry exactly the v1.0 properties (checked above) and none of beta's.
    let (v1, _) = pull_all(&c, &url_with(&sim, SIGN_INS_V1, None, Some(1000)), &token).await?;
    for r in &v1 {
        for key in beta_only {
            assert!(r.get(key).is_none(), "v1.0 record has beta-only {key}");
        }
        assert_eq!(r.as_object().map(|o| o.len()), Some(v1_props.len()));
    }
    // Sign-in realism: failures with real codes, CA results, home countries, devices.
    let codes: HashSet<i64> = v1
        .iter()
        .filter_map(|r| r["status"]["errorCode"].as_i64())
        .collect();
    for code in [0, 50126, 50074, 53003] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
    let home = v1
        .iter()
        .filter(|r| matches!(r["location"]["countryOrRegion"].as_str(), Some("US" | "GB")))
        .count();
    assert!(home * 10 > v1.len() * 8, "{home} of {}", v1.len());
    assert!(v1.iter().any(|r| r["conditionalAccessStatus"] == "failure"));
    assert!(v1.iter().any(|r| r["conditionalAccessStatus"] == "success"));
    assert!(v1.iter().any(|r| r["clientAppUsed"] == "IMAP4"
        || r["clientAppUsed"] == "Authenticated SMTP"
        || r["clientAppUsed"] == "Exchange ActiveSync"
        || r["clientAppUsed"] == "POP3"));
    assert!(v1.iter().any(|r| r["deviceDetail"]["isManaged"] == true));
    sim.shutdown().await;
    Ok(())
}

mod certificate_auth {
    //! Certificate credentials at the token endpoint (contract 1.2): client assertions signed
    //! with the test keys of `tests/fixtures/certs` (PS256 and RS256, v2 and v1), and each way an
    //! assertion is refused with Entra's code: wrong key, unregistered certificate, wrong `aud`,
    //! `iss` or `sub`, outside its time range on the virtual clock, replayed `jti`, unsupported
    //! `alg`, PS256 while the tenant refuses it; the secret keeps working beside a certificate;
    //! the binary's `--client-cert` and `--reject-ps256`.

    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaKeyPair};
    use m365_sim::auth::RegisteredCertificate;
    use m365_sim::wire::b64url_encode;
    use rustls_pki_types::PrivatePkcs8KeyDer;
    use rustls_pki_types::pem::PemObject;

    const KEY: &str = include_str!("../../fixtures/certs/client.key");
    const CERT: &str = include_str!("../../fixtures/certs/client.crt");
    const OTHER_KEY: &str = include_str!("../../fixtures/certs/other.key");
    const OTHER_CERT: &str = include_str!("../../fixtures/certs/other.crt");
    /// Thumbprints of client.crt and other.crt as openssl printed them (fixture README).
    const CLIENT_S256: &str = "hgkmyaQTzsbWWj-XIMEPscw92KoPWspyook3U1u12cQ";
    const CLIENT_SHA1: &str = "S1TEFeyDcdrr0Q9xplss19fTcSs";
    const OTHER_S256: &str = "8As1bC74XA_TNaNA4vgoh7xrn2OkC7msNsKj-YLB_jk";
    const OTHER_SHA256_HEX: &str =
        "F00B356C2EF85C0FD335A340E2F82887BC6B9F63A40BB9AC36C2A3F982C1FE39";

    type Res<T> = Result<T, Box<dyn std::error::Error>>;

    fn now_secs() -> i64 {
        t(NOW).timestamp()
    }

    /// Signs `claims` under `header` with a PKCS#8 PEM key, by the header's `alg`.
    fn sign(key_pem: &str, header: &Value, claims: &Value) -> Res<String> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(key_pem.as_bytes())?;
        let pair = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())?;
        let message = format!(
            "{}.{}",
            b64url_encode(&serde_json::to_vec(header)?),
            b64url_encode(&serde_json::to_vec(claims)?)
        );
        let encoding = if header["alg"] == "PS256" {
            &RSA_PSS_SHA256
        } else {
            &RSA_PKCS1_SHA256
        };
        let mut signature = vec![0; pair.public_modulus_len()];
        pair.sign(
            encoding,
            &SystemRandom::new(),
            message.as_bytes(),
            &mut signature,
        )?;
        Ok(format!("{message}.{}", b64url_encode(&signature)))
    }

    fn ps256(x5t_s256: &str) -> Value {
        json!({"alg": "PS256", "typ": "JWT", "x5t#S256": x5t_s256})
    }

    fn rs256(x5t: &str) -> Value {
        json!({"alg": "RS256", "typ": "JWT", "x5t": x5t})
    }

    fn v2_url(sim: &RunningSim) -> String {
        format!("{}/{TENANT}/oauth2/v2.0/token", sim.base_url())
    }

    /// The claims the collector sends, valid from the simulator's initial time.
    fn claims(aud: &str) -> Value {
        json!({
            "aud": aud, "iss": CLIENT_ID, "sub": CLIENT_ID,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now_secs(), "iat": now_secs(), "exp": now_secs() + 600,
        })
    }

    fn with_claim(mut claims: Value, name: &str, value: Value) -> Value {
        claims[name] = value;
        claims
    }

    fn registered(f: impl FnOnce(&mut SimConfig)) -> SimConfig {
        config(|c| {
            c.client_certificate_pem = Some(CERT.to_string());
            f(c);
        })
    }

    /// POSTs `form` to a token endpoint; returns the status and the JSON body.
    async fn post(c: &Client, url: &str, form: &[(&str, &str)]) -> Res<(u16, Value)> {
        let resp = c.post(url).form(form).send().await?;
        Ok((resp.status().as_u16(), resp.json().await?))
    }

    /// Asks the v2 endpoint for a Graph token with the assertion `jwt`.
    async fn assert_v2(c: &Client, sim: &RunningSim, jwt: &str) -> Res<(u16, Value)> {
        post(
            c,
            &v2_url(sim),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("scope", GRAPH_SCOPE),
                ("client_assertion_type", m365_sim::auth::ASSERTION_TYPE),
                ("client_assertion", jwt),
            ],
        )
        .await
    }

    fn code_of(body: &Value) -> u64 {
        body["error_codes"][0].as_u64().unwrap_or_default()
    }

    #[test]
    fn registered_certificate_thumbprints_match_openssl() -> TestResult {
        let c = RegisteredCertificate::from_pem(CERT)?;
        assert_eq!(
            (c.x5t_s256.as_str(), c.x5t.as_str()),
            (CLIENT_S256, CLIENT_SHA1)
        );
        // A file holding the key too is fine; the certificate block is what counts.
        let both = RegisteredCertificate::from_pem(&format!("{KEY}{CERT}"))?;
        assert_eq!(both, c);
        assert_eq!(
            RegisteredCertificate::from_pem(OTHER_CERT)?.x5t_s256,
            OTHER_S256
        );
        Ok(())
    }

    #[tokio::test]
    async fn an_unusable_registered_certificate_stops_the_simulator_at_start() -> TestResult {
        for (pem, why) in [
            (KEY, "no CERTIFICATE block"),
            ("junk", "no CERTIFICATE block"),
            (
                "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
                "not an X.509 certificate",
            ),
        ] {
            let err = start(config(|c| c.client_certificate_pem = Some(pem.to_string())))
                .await
                .err()
                .ok_or("started with a bad certificate")?;
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
            assert!(err.to_string().contains(why), "{err}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn valid_ps256_and_rs256_assertions_get_tokens_at_v2_and_v1() -> TestResult {
        let sim = start(registered(|_| {})).await?;
        let c = client();
        let v2 = v2_url(&sim);
        let v1 = format!("{}/{TENANT}/oauth2/token", sim.base_url());
        for header in [ps256(CLIENT_S256), rs256(CLIENT_SHA1)] {
            let jwt = sign(KEY, &header, &claims(&v2))?;
            let (status, body) = assert_v2(&c, &sim, &jwt).await?;
            assert_eq!(status, 200, "{header}: {body}");
            assert_eq!(body["token_type"], "Bearer");
            let token = body["access_token"].as_str().unwrap_or_default();
            let (status, _, _) =
                graph_get(&c, &format!("{}{AUDITS}?$top=1", sim.base_url()), token).await?;
            assert_eq!(status, StatusCode::OK);
        }
        // The legacy v1 endpoint takes its own URL or the v2 one as the audience.
        for aud in [&v1, &v2] {
            let jwt = sign(KEY, &rs256(CLIENT_SHA1), &claims(aud))?;
            let (status, body) = post(
                &c,
                &v1,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", CLIENT_ID),
                    ("resource", "https://manage.office.com"),
                    ("client_assertion_type", m365_sim::auth::ASSERTION_TYPE),
                    ("client_assertion", &jwt),
                ],
            )
            .await?;
            assert_eq!(status, 200, "{aud}: {body}");
            assert_eq!(body["resource"], "https://manage.office.com");
        }
        // Clock skew: five minutes either side are tolerated; the tenant id is case-blind.
        let skewed = with_claim(
            with_claim(claims(&v2.to_uppercase()), "nbf", json!(now_secs() + 299)),
            "exp",
            json!(now_secs() - 299),
        );
        let (status, body) = assert_v2(&c, &sim, &sign(KEY, &ps256(CLIENT_S256), &skewed)?).await?;
        assert_eq!(status, 200, "{body}");
        // The secret still works on an app with a certificate.
        token_for(&c, &sim, GRAPH_SCOPE).await?;
        assert_eq!(stats(&c, &sim).await?["tokens_issued"], 6);
        sim.shutdown().await;
        Ok(())
    }

    #[tokio::test]
    async fn refused_assertions_get_entras_codes() -> TestResult {
        let sim = start(registered(|_| {})).await?;
        let c = client();
        let v2 = v2_url(&sim);
        let good = || claims(&v2);
        let now = now_secs();
        // (what, assertion, HTTP status, error, AADSTS code, words of the description)
        let cases: Vec<(&str, String, u16, &str, u64, &str)> = vec![
            (
                "signed by another key under this certificate's thumbprint",
                sign(OTHER_KEY, &ps256(CLIENT_S256), &good())?,
                401,
                "invalid_client",
                700027,
                "invalid signature",
            ),
            (
                "a certificate the app does not have",
                sign(OTHER_KEY, &ps256(OTHER_S256), &good())?,
                401,
                "invalid_client",
                700027,
                OTHER_SHA256_HEX,
            ),
            (
                "no thumbprint",
                sign(KEY, &json!({"alg": "PS256", "typ": "JWT"}), &good())?,
                401,
                "invalid_client",
                700027,
                "The key was not found",
            ),
            (
                "an algorithm other than PS256 and RS256",
                sign(
                    KEY,
                    &json!({"alg": "HS256", "typ": "JWT", "x5t#S256": CLIENT_S256}),
                    &good(),
                )?,
                401,
                "invalid_client",
                700027,
                "'HS256' is not supported",
            ),
            (
                "audience of the real login host",
                sign(
                    KEY,
                    &ps256(CLIENT_S256),
                    &claims(&format!(
                        "https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
                    )),
                )?,
                401,
                "invalid_client",
                700023,
                "audience claim",
            ),
            (
                "the v1 audience at the v2 endpoint",
                sign(
                    KEY,
                    &ps256(CLIENT_S256),
                    &claims(&format!("{}/{TENANT}/oauth2/token", sim.base_url())),
                )?,
                401,
                "invalid_client",
                700023,
                "audience claim",
            ),
            (
                "issuer is another app",
                sign(
                    KEY,
                    &ps256(CLIENT_S256),
                    &with_claim(good(), "iss", json!("00000000-1111-2222-3333-444444444444")),
                )?,
                401,
                "invalid_client",
                700021,
                "doesn't match 'client_id'",
            ),
            (
                "subject is another app",
                sign(
                    KEY,
                    &rs256(CLIENT_SHA1),
                    &with_claim(good(), "sub", json!("someone")),
                )?,
                401,
                "invalid_client",
                700021,
                "doesn't match 'client_id'",
            ),
            (
                "expired beyond the skew",
                sign(
                    KEY,
                    &ps256(CLIENT_S256),
                    &with_claim(
                        with_claim(good(), "nbf", json!(now - 1200)),
                        "exp",
                        json!(now - 301),
                    ),
                )?,
                401,
                "invalid_client",
                700024,
                "not within its valid time range",
            ),
            (
                "not yet valid beyond the skew",
                sign(
                    KEY,
                    &ps256(CLIENT_S256),
                    &with_claim(
                        with_claim(good(), "nbf", json!(now + 301)),
                        "exp",
                        json!(now + 900),
                    ),
                )?,
                401,
                "invalid_client",
                700024,
                "not within its valid time range",
            ),
            (
                "no exp",
                sign(KEY, &ps256(CLIENT_S256), &{
                    let mut c = good();
                    if let Some(o) = c.as_object_mut() {
                        o.remove("exp");
                    }
                    c
                })?,
                400,
                "invalid_request",
                50027,
                "nbf and exp are required",
            ),
            (
                "not a JWT",
                "not-a-jwt".to_string(),
                400,
                "invalid_request",
                50027,
                "three dot-separated parts",
            ),
        ];
        let n = cases.len();
        for (what, jwt, status, error, code, words) in cases {
            let (got, body) = assert_v2(&c, &sim, &jwt).await?;
            assert_eq!(got, status, "{what}: {body}");
            assert_eq!(body["error"], error, "{what}: {body}");
            assert_eq!(code_of(&body), code, "{what}: {body}");
            let desc = body["error_description"].as_str().unwrap_or_default();
            assert!(
                desc.starts_with(&format!("AADSTS{code}: ")),
                "{what}: {desc}"
            );
            assert!(desc.contains(words), "{what}: {desc}");
        }
        // The form's own mistakes: both credentials, or an assertion without its type.
        let jwt = sign(KEY, &ps256(CLIENT_S256), &good())?;
        let base = [
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("scope", GRAPH_SCOPE),
            ("client_assertion", jwt.as_str()),
        ];
        let mut both = base.to_vec();
        both.push(("client_secret", SECRET));
        both.push(("client_assertion_type", m365_sim::auth::ASSERTION_TYPE));
        let (status, body) = post(&c, &v2, &both).await?;
        assert_eq!((status, code_of(&body)), (401, 7000218), "{body}");
        let (status, body) = post(&c, &v2, &base).await?;
        assert_eq!((status, code_of(&body)), (400, 900144), "{body}");
        assert_eq!(body["error"], "invalid_request");
        let mut wrong_type = base.to_vec();
        wrong_type.push(("client_assertion_type", "urn:example:saml"));
        let (status, body) = post(&c, &v2, &wrong_type).await?;
        assert_eq!((status, code_of(&body)), (400, 50027), "{body}");
        let s = stats(&c, &sim).await?;
        assert_eq!(s["token_failures"], n + 3);
        assert_eq!(s["tokens_issued"], 0);
        sim.shutdown().await;
        // An app without a certificate refuses every assertion as a key it does not have.
        let sim = start(config(|_| {})).await?;
        let jwt = sign(KEY, &ps256(CLIENT_S256), &claims(&v2_url(&sim)))?;
        let (status, body) = assert_v2(&c, &sim, &jwt).await?;
        assert_eq!((status, code_of(&body)), (401, 700027), "{body}");
        sim.shutdown().await;
        Ok(())
    }

    #[tokio::test]
    async fn a_replayed_jti_is_refused() -> TestResult {
        let sim = start(registered(|_| {})).await?;
        let c = client();
        let jwt = sign(KEY, &ps256(CLIENT_S256), &claims(&v2_url(&sim)))?;
        // Refused for its scope first: that does not spend the jti.
        let (status, body) = post(
            &c,
            &v2_url(&sim),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("scope", "https://graph.microsoft.com/AuditLog.Read.All"),
                ("client_assertion_type", m365_sim::auth::ASSERTION_TYPE),
                ("client_assertion", &jwt),
            ],
        )
        .await?;
        assert_eq!((status, code_of(&body)), (400, 1002012), "{body}");
        let (status, body) = assert_v2(&c, &sim, &jwt).await?;
        assert_eq!(status, 200, "{body}");
        let (status, body) = assert_v2(&c, &sim, &jwt).await?;
        assert_eq!((status, code_of(&body)), (401, 700027), "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| d.contains("already been used")),
            "{body}"
        );
        // A new jti is a new assertion.
        let fresh = sign(KEY, &ps256(CLIENT_S256), &claims(&v2_url(&sim)))?;
        assert_eq!(assert_v2(&c, &sim, &fresh).await?.0, 200);
        sim.shutdown().await;
        Ok(())
    }

    #[tokio::test]
    async fn assertion_lifetime_follows_the_virtual_clock() -> TestResult {
        let sim = start(registered(|_| {})).await?;
        let c = client();
        let made_at_start = || sign(KEY, &ps256(CLIENT_S256), &claims(&v2_url(&sim)));
        // exp is 10 minutes after NOW; with 5 minutes of skew it is good until NOW + 15 min.
        let (status, _) = set_clock(&c, &sim, json!({"advance_secs": 899})).await?;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(assert_v2(&c, &sim, &made_at_start()?).await?.0, 200);
        set_clock(&c, &sim, json!({"advance_secs": 1})).await?;
        let (status, body) = assert_v2(&c, &sim, &made_at_start()?).await?;
        assert_eq!((status, code_of(&body)), (401, 700024), "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| d.contains("Current time: 2026-07-17T12:15:00Z")),
            "{body}"
        );
        sim.shutdown().await;
        Ok(())
    }

    #[tokio::test]
    async fn reject_ps256_refuses_ps256_and_takes_rs256() -> TestResult {
        let sim = start(registered(|c| c.reject_ps256 = true)).await?;
        let c = client();
        let v2 = v2_url(&sim);
        let (status, body) =
            assert_v2(&c, &sim, &sign(KEY, &ps256(CLIENT_S256), &claims(&v2))?).await?;
        assert_eq!((status, code_of(&body)), (401, 700027), "{body}");
        assert_eq!(body["error"], "invalid_client");
        let (status, body) =
            assert_v2(&c, &sim, &sign(KEY, &rs256(CLIENT_SHA1), &claims(&v2))?).await?;
        assert_eq!(status, 200, "{body}");
        sim.shutdown().await;
        Ok(())
    }

    #[tokio::test]
    async fn binary_takes_client_cert_and_reject_ps256() -> TestResult {
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};
        let cert = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/certs/client.crt");
        let mut child = Command::new(env!("CARGO_BIN_EXE_m365-sim"))
            .args([
                "--port",
                "0",
                "--now",
                NOW,
                "--client-cert",
                cert,
                "--reject-ps256",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30));
        let base = line
            .as_deref()
            .unwrap_or_default()
            .trim()
            .strip_prefix("listening: ")
            .unwrap_or_default()
            .to_string();
        let url = format!("{base}/{TENANT}/oauth2/v2.0/token");
        let c = client();
        let mut results = Vec::new();
        for header in [ps256(CLIENT_S256), rs256(CLIENT_SHA1)] {
            let jwt = sign(KEY, &header, &claims(&url))?;
            let form = [
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("scope", GRAPH_SCOPE),
                ("client_assertion_type", m365_sim::auth::ASSERTION_TYPE),
                ("client_assertion", jwt.as_str()),
            ];
            results.push(post(&c, &url, &form).await.map(|(s, b)| (s, code_of(&b))));
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(base.starts_with("http://127.0.0.1:"), "{line:?}");
        let results: Vec<(u16, u64)> = results.into_iter().collect::<Res<_>>()?;
        assert_eq!(results, vec![(401, 700027), (200, 0)]);
        // A file that is not there stops the binary with clap's message.
        let out = Command::new(env!("CARGO_BIN_EXE_m365-sim"))
            .args(["--client-cert", "/nonexistent/cert.pem"])
            .output()?;
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/cert.pem"));
        Ok(())
    }
}
