//! Graph's audit log query API (`/v1.0/security/auditLog/queries`) over HTTP: the records are the
//! Management Activity API's own (same ids) where both reach, and reach 180 days back where the
//! Management API does not; the status on the virtual clock; paging; the record limit that still
//! says `succeeded`; failed queries; the concurrency and daily submission limits with
//! `Retry-After`; filters; auth and permission; and `/_sim/truth/audit-search` against all of it.

use std::collections::BTreeSet;

use chrono::Duration;
use m365_sim::audit_search::AuditSearchSettings;
use m365_sim::{SimConfig, start};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::support::mgmt::{Api, TYPES, at, config as mgmt_config};
use crate::support::{GRAPH_SCOPE, NOW, Res, TestResult, client, rfc, set_clock, t, token_for};

const QUERIES: &str = "/v1.0/security/auditLog/queries";

fn config(f: impl FnOnce(&mut SimConfig)) -> SimConfig {
    mgmt_config(|c| {
        c.events_per_hour = 40;
        f(c)
    })
}

/// A simulator with a Graph token.
struct Search {
    c: Client,
    sim: m365_sim::RunningSim,
    token: String,
}

impl Search {
    async fn new(cfg: SimConfig) -> Res<Search> {
        let sim = start(cfg).await?;
        let c = client();
        let token = token_for(&c, &sim, GRAPH_SCOPE).await?;
        Ok(Search { c, sim, token })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{QUERIES}{path}", self.sim.base_url())
    }

    async fn create(&self, body: Value) -> Res<(StatusCode, reqwest::header::HeaderMap, Value)> {
        let resp = self
            .c
            .post(self.url(""))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        let (s, h) = (resp.status(), resp.headers().clone());
        Ok((s, h, resp.json().await?))
    }

    async fn get(&self, url: &str) -> Res<(StatusCode, Value)> {
        let resp = self.c.get(url).bearer_auth(&self.token).send().await?;
        Ok((resp.status(), resp.json().await?))
    }

    async fn advance(&self, secs: i64) -> TestResult {
        let (s, b) = set_clock(&self.c, &self.sim, json!({"advance_secs": secs})).await?;
        assert_eq!(s, StatusCode::OK, "{b}");
        Ok(())
    }

    /// Submits a query of `[start, end)` (plus `extra` filters), lets it end, and pages its
    /// records with `$top`; the query as it ended and its records.
    async fn run(
        &self,
        start: &str,
        end: &str,
        extra: Value,
        top: Option<usize>,
    ) -> Res<(Value, Vec<Value>)> {
        let mut body = json!({"displayName": "backfill", "filterStartDateTime": start,
            "filterEndDateTime": end});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let (s, _, q) = self.create(body).await?;
        assert_eq!(s, StatusCode::CREATED, "{q}");
        let id = q["id"].as_str().unwrap_or_default().to_string();
        self.advance(121).await?;
        let (s, q) = self.get(&self.url(&format!("/{id}"))).await?;
        assert_eq!(s, StatusCode::OK, "{q}");
        assert_eq!(q["status"], "succeeded", "{q}");
        let mut url = self.url(&format!("/{id}/records"));
        if let Some(n) = top {
            url.push_str(&format!("?$top={n}"));
        }
        let mut out = Vec::new();
        for _ in 0..10_000 {
            let (s, page) = self.get(&url).await?;
            assert_eq!(s, StatusCode::OK, "{page}");
            let items = page["value"].as_array().cloned().unwrap_or_default();
            if let Some(n) = top {
                assert!(items.len() <= n);
            }
            out.extend(items);
            match page["@odata.nextLink"].as_str() {
                Some(next) => url = next.to_string(),
                None => return Ok((q, out)),
            }
        }
        Err("records paging did not end".into())
    }

    async fn truth(&self, start: &str, end: &str) -> Res<Value> {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/_sim/truth/audit-search", self.sim.base_url()),
            &[("start", start), ("end", end)],
        )?;
        Ok(self.c.get(url).send().await?.json().await?)
    }
}

fn ids(records: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = records
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect();
    v.sort();
    v
}

fn truth_ids(truth: &Value) -> Vec<String> {
    truth["ids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_records_are_the_management_apis_own_where_both_reach() -> TestResult {
    let cfg = config(|_| {});
    // The Management API's side: every blob listed in the last day, fetched.
    let mgmt = Api::new(cfg.clone()).await?;
    mgmt.start_all().await?;
    let now = t(NOW);
    let (start, end) = (now - Duration::hours(20), now - Duration::hours(4));
    let mut from_mgmt = BTreeSet::new();
    for ct in TYPES {
        let (items, _) = mgmt.list_all(ct, &at(now, -86_400), &at(now, 0)).await?;
        for item in items {
            for rec in mgmt
                .fetch(item["contentUri"].as_str().unwrap_or_default())
                .await?
            {
                let created = t(&format!(
                    "{}Z",
                    rec["CreationTime"].as_str().unwrap_or_default()
                ));
                if created >= start && created < end {
                    from_mgmt.insert(rec["Id"].as_str().unwrap_or_default().to_string());
                }
            }
        }
    }
    assert!(
        from_mgmt.len() > 100,
        "too few records to compare: {}",
        from_mgmt.len()
    );
    // The same tenant through the audit log query API.
    let search = Search::new(cfg).await?;
    let (q, records) = search.run(&rfc(start), &rfc(end), json!({}), None).await?;
    let got = ids(&records);
    assert_eq!(got, from_mgmt.iter().cloned().collect::<Vec<_>>());
    assert_eq!(q["isRecordCountLimitExceeded"], false);
    assert_eq!(q["approximateReturnedRecordCount"], json!(got.len()));
    // Each record is Graph's auditLogRecord around the Management API record itself.
    let r = &records[0];
    assert_eq!(r["@odata.type"], "#microsoft.graph.security.auditLogRecord");
    assert_eq!(r["id"], r["auditData"]["Id"]);
    assert_eq!(r["operation"], r["auditData"]["Operation"]);
    assert!(
        r["createdDateTime"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z'))
    );
    assert_ne!(r["auditLogRecordType"], "unknownFutureValue", "{r}");
    // Records come oldest first.
    let times: Vec<&str> = records
        .iter()
        .filter_map(|r| r["createdDateTime"].as_str())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(got, truth_ids(&search.truth(&rfc(start), &rfc(end)).await?));
    Ok(())
}

#[tokio::test]
async fn the_log_reaches_back_180_days_where_the_management_api_has_nothing() -> TestResult {
    let search = Search::new(config(|_| {})).await?;
    let now = t(NOW);
    let (start, end) = (now - Duration::days(170), now - Duration::days(169));
    let truth = search.truth(&rfc(start), &rfc(end)).await?;
    assert!(
        truth["count"].as_u64().unwrap_or(0) > 100,
        "{}",
        truth["count"]
    );
    let (_, records) = search
        .run(&rfc(start), &rfc(end), json!({}), Some(250))
        .await?;
    assert_eq!(ids(&records), truth_ids(&truth));
    // Past the log's depth there is nothing.
    let old = (now - Duration::days(200), now - Duration::days(190));
    let (_, records) = search
        .run(&rfc(old.0), &rfc(old.1), json!({}), None)
        .await?;
    assert!(records.is_empty());
    // The Management API itself refuses a listing that old.
    let mgmt = Api::new(config(|_| {})).await?;
    mgmt.start_all().await?;
    let (s, _, body) = mgmt
        .get(&format!(
            "subscriptions/content?contentType=Audit.Exchange&startTime={}&endTime={}",
            at(now, -170 * 86_400),
            at(now, -170 * 86_400 + 3600)
        ))
        .await?;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    Ok(())
}

#[tokio::test]
async fn status_moves_on_the_virtual_clock_and_records_wait_for_the_end() -> TestResult {
    let search = Search::new(config(|_| {})).await?;
    let now = t(NOW);
    let (s, _, q) = search
        .create(json!({"filterStartDateTime": rfc(now - Duration::days(3)),
            "filterEndDateTime": rfc(now - Duration::days(2)), "displayName": "x"}))
        .await?;
    assert_eq!(s, StatusCode::CREATED, "{q}");
    assert_eq!(q["status"], "notStarted");
    assert_eq!(q["displayName"], "x");
    let id = q["id"].as_str().unwrap_or_default().to_string();
    let (s, body) = search.get(&search.url(&format!("/{id}/records"))).await?;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    search.advance(40).await?;
    let (_, q) = search.get(&search.url(&format!("/{id}"))).await?;
    assert_eq!(q["status"], "running");
    search.advance(90).await?;
    let (_, q) = search.get(&search.url(&format!("/{id}"))).await?;
    assert_eq!(q["status"], "succeeded");
    let (s, list) = search.get(&search.url("")).await?;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["value"].as_array().map(Vec::len), Some(1));
    let (s, body) = search.get(&search.url("/no-such-query")).await?;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    Ok(())
}

#[tokio::test]
async fn pages_follow_next_links_and_refuse_bad_tokens_and_sizes() -> TestResult {
    let search = Search::new(config(|_| {})).await?;
    let now = t(NOW);
    let (start, end) = (rfc(now - Duration::days(10)), rfc(now - Duration::days(9)));
    let (_, whole) = search.run(&start, &end, json!({}), None).await?;
    let (q, paged) = search.run(&start, &end, json!({}), Some(7)).await?;
    assert!(whole.len() > 14, "{}", whole.len());
    assert_eq!(ids(&paged), ids(&whole));
    assert_eq!(ids(&paged).len(), paged.len(), "a record served twice");
    let id = q["id"].as_str().unwrap_or_default();
    for bad in ["?$top=0", "?$top=1001", "?$skiptoken=bogus"] {
        let (s, body) = search
            .get(&search.url(&format!("/{id}/records{bad}")))
            .await?;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    Ok(())
}

#[tokio::test]
async fn a_query_over_the_record_limit_succeeds_cut_and_says_so_only_in_its_flag() -> TestResult {
    let search = Search::new(config(|c| {
        c.audit_search = AuditSearchSettings {
            record_limit: 25,
            ..AuditSearchSettings::default()
        }
    }))
    .await?;
    let now = t(NOW);
    let (start, end) = (rfc(now - Duration::days(30)), rfc(now - Duration::days(29)));
    let truth = search.truth(&start, &end).await?;
    assert!(truth["count"].as_u64().unwrap_or(0) > 25);
    let (q, records) = search.run(&start, &end, json!({}), None).await?;
    assert_eq!(q["status"], "succeeded");
    assert_eq!(q["isRecordCountLimitExceeded"], true);
    assert_eq!(records.len(), 25);
    // The first 25 by time: a split of the window finds the rest.
    let all = truth_ids(&truth);
    assert!(ids(&records).iter().all(|id| all.contains(id)));
    Ok(())
}

#[tokio::test]
async fn every_nth_query_fails_and_serves_no_records() -> TestResult {
    let search = Search::new(config(|c| {
        c.audit_search = AuditSearchSettings {
            fail_every: 2,
            ..AuditSearchSettings::default()
        }
    }))
    .await?;
    let now = t(NOW);
    let body = json!({"filterStartDateTime": rfc(now - Duration::days(2)),
        "filterEndDateTime": rfc(now - Duration::days(1))});
    let (_, _, first) = search.create(body.clone()).await?;
    let (_, _, second) = search.create(body).await?;
    search.advance(121).await?;
    for (q, want) in [(&first, "succeeded"), (&second, "failed")] {
        let id = q["id"].as_str().unwrap_or_default();
        let (_, now_q) = search.get(&search.url(&format!("/{id}"))).await?;
        assert_eq!(now_q["status"], want, "{now_q}");
    }
    let id = second["id"].as_str().unwrap_or_default();
    let (s, body) = search.get(&search.url(&format!("/{id}/records"))).await?;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    Ok(())
}

#[tokio::test]
async fn submissions_past_the_concurrency_and_daily_limits_get_429_with_retry_after() -> TestResult
{
    let mut search = Search::new(config(|c| {
        c.audit_search = AuditSearchSettings {
            max_concurrent: 2,
            daily_limit: 3,
            ..AuditSearchSettings::default()
        }
    }))
    .await?;
    let now = t(NOW);
    let body = json!({"filterStartDateTime": rfc(now - Duration::days(2)),
        "filterEndDateTime": rfc(now - Duration::days(1))});
    for _ in 0..2 {
        let (s, _, q) = search.create(body.clone()).await?;
        assert_eq!(s, StatusCode::CREATED, "{q}");
    }
    let (s, h, err) = search.create(body.clone()).await?;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{err}");
    assert_eq!(err["error"]["code"], "TooManyRequests");
    let retry: i64 = h["retry-after"].to_str()?.parse()?;
    assert!((1..=121).contains(&retry), "{retry}");
    search.advance(retry).await?;
    let (s, _, q) = search.create(body.clone()).await?;
    assert_eq!(s, StatusCode::CREATED, "{q}");
    // Three submissions in this virtual day: the fourth waits for the first to age out.
    search.advance(600).await?;
    let (s, h, err) = search.create(body.clone()).await?;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{err}");
    let retry: i64 = h["retry-after"].to_str()?.parse()?;
    assert!(retry > 80_000, "{retry}");
    search.advance(retry).await?;
    // A day later the first token has expired.
    search.token = token_for(&search.c, &search.sim, GRAPH_SCOPE).await?;
    let (s, _, q) = search.create(body).await?;
    assert_eq!(s, StatusCode::CREATED, "{q}");
    // The refused submissions created nothing.
    let (_, list) = search.get(&search.url("")).await?;
    assert_eq!(list["value"].as_array().map(Vec::len), Some(4));
    Ok(())
}

#[tokio::test]
async fn filters_narrow_the_records_and_bad_bodies_are_400() -> TestResult {
    let search = Search::new(config(|_| {})).await?;
    let now = t(NOW);
    let (start, end) = (rfc(now - Duration::days(5)), rfc(now - Duration::days(4)));
    let (_, all) = search.run(&start, &end, json!({}), None).await?;
    let want: Vec<String> = ids(&all
        .iter()
        .filter(|r| r["auditLogRecordType"] == "exchangeAdmin")
        .cloned()
        .collect::<Vec<_>>());
    assert!(!want.is_empty() && want.len() < all.len());
    let (_, some) = search
        .run(
            &start,
            &end,
            json!({"recordTypeFilters": ["exchangeAdmin"]}),
            None,
        )
        .await?;
    assert_eq!(ids(&some), want);
    let op = all[0]["operation"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    let (_, by_op) = search
        .run(
            &start,
            &end,
            json!({"operationFilters": [op.clone()]}),
            None,
        )
        .await?;
    assert!(!by_op.is_empty());
    assert!(by_op.iter().all(|r| {
        r["operation"]
            .as_str()
            .is_some_and(|o| o.eq_ignore_ascii_case(&op))
    }));
    for bad in [
        json!({"filterStartDateTime": start}),
        json!({"filterStartDateTime": end, "filterEndDateTime": start}),
        json!({"filterStartDateTime": start, "filterEndDateTime": end, "recordTypeFilters": ["nope"]}),
        json!({"filterStartDateTime": start, "filterEndDateTime": end, "operationFilters": "x"}),
        json!([1, 2]),
    ] {
        let (s, _, body) = search.create(bad.clone()).await?;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "BadRequest");
    }
    Ok(())
}

#[tokio::test]
async fn no_token_is_401_and_a_missing_permission_403() -> TestResult {
    let search = Search::new(config(|_| {})).await?;
    let resp = search.c.get(search.url("")).send().await?;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let denied = Search::new(config(|c| c.denied_sources = vec!["audit-search".into()])).await?;
    let (s, body) = denied.get(&denied.url("")).await?;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "Authorization_RequestDenied");
    Ok(())
}
