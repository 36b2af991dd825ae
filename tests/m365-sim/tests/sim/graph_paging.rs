//! Graph's directory audits as a client pages them: `$filter` windows against `/_sim/truth`,
//! `$top` and `nextLink` paging newest first, pages pinned while the clock moves, the ingestion
//! delay, determinism by seed, Graph's errors for bad queries, the `/_sim` endpoints, and a
//! hundred thousand events paged out quickly.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use m365_sim::{RunningSim, start};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

const SOURCE: &str = "entra-directory-audits";

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

fn filter_url(sim: &RunningSim, filter: &str, top: Option<usize>) -> String {
    let mut params = vec![("$filter", filter.to_string())];
    if let Some(n) = top {
        params.push(("$top", n.to_string()));
    }
    reqwest::Url::parse_with_params(&format!("{}{AUDITS}", sim.base_url()), &params)
        .map(|u| u.to_string())
        .unwrap_or_default()
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
            "entra-risk-detections",
            "entra-provisioning",
            "defender-alerts",
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
