//! End-to-end tests of the simulator's Office 365 Management Activity API over HTTP:
//! subscriptions and their errors, every listing window rule, `NextPageUri` paging, blob fetch
//! and expiry on the virtual clock, auth, permissions and setup switches, faults, the request
//! budget, each quirk on and off, ground truth against what a client fetches, determinism and
//! the shape of the records.
//!
//! Request budgets are off (see [`config`]) except in the budget test.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use m365_sim::{RunningSim, SimConfig, start};
use reqwest::header::HeaderMap;
use reqwest::{Client, StatusCode};
use serde_json::value::RawValue;
use serde_json::{Value, json};

const TENANT: &str = "8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35";
const CLIENT_ID: &str = "5e7d9c1b-3a2f-4e6d-8c0b-1a9f7e5d3c21";
const SECRET: &str = "sim-client-secret";
const MGMT_SCOPE: &str = "https://manage.office.com/.default";
/// Slot-aligned: a blob of every content type is created at this very instant.
const NOW: &str = "2026-07-17T12:00:00Z";
const EXCHANGE: &str = "Audit.Exchange";
const TYPES: [&str; 5] = [
    "Audit.AzureActiveDirectory",
    "Audit.Exchange",
    "Audit.SharePoint",
    "Audit.General",
    "DLP.All",
];
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_default()
}

/// `YYYY-MM-DDTHH:MM:SS` (the form beats sends) of `now + secs`.
fn at(now: DateTime<Utc>, secs: i64) -> String {
    (now + chrono::Duration::seconds(secs))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// A configuration at [`NOW`] with request budgets off.
fn config(f: impl FnOnce(&mut SimConfig)) -> SimConfig {
    let mut c = SimConfig {
        now: Some(t(NOW)),
        enforce_budgets: false,
        days: 1,
        ..SimConfig::default()
    };
    f(&mut c);
    c
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

/// A running simulator with a Management API token.
struct Api {
    c: Client,
    sim: RunningSim,
    token: std::sync::Mutex<String>,
}

impl Api {
    async fn new(cfg: SimConfig) -> Res<Api> {
        let sim = start(cfg).await?;
        let c = Client::builder().timeout(Duration::from_secs(60)).build()?;
        let token = token(&c, &sim, MGMT_SCOPE).await?;
        Ok(Api {
            c,
            sim,
            token: std::sync::Mutex::new(token),
        })
    }

    fn base(&self) -> String {
        self.sim.base_url()
    }

    fn feed(&self) -> String {
        format!("{}/api/v1.0/{TENANT}/activity/feed", self.base())
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Res<(StatusCode, HeaderMap, String)> {
        let tok = self.token.lock().map(|t| t.clone()).unwrap_or_default();
        let resp = req.bearer_auth(tok).send().await?;
        Ok((resp.status(), resp.headers().clone(), resp.text().await?))
    }

    /// GET `url` (absolute, or relative to the feed).
    async fn get(&self, url: &str) -> Res<(StatusCode, HeaderMap, Value)> {
        let url = if url.starts_with("http") {
            url.to_string()
        } else {
            format!("{}/{url}", self.feed())
        };
        let (s, h, body) = self.send(self.c.get(url)).await?;
        Ok((s, h, serde_json::from_str(&body).unwrap_or(Value::Null)))
    }

    /// POST `path_query` relative to the feed; the body as text.
    async fn post(&self, path_query: &str) -> Res<(StatusCode, String)> {
        let (s, _, body) = self
            .send(self.c.post(format!("{}/{path_query}", self.feed())))
            .await?;
        Ok((s, body))
    }

    async fn start_sub(&self, ct: &str) -> Res<(StatusCode, Value)> {
        let (s, body) = self
            .post(&format!("subscriptions/start?contentType={ct}"))
            .await?;
        Ok((s, serde_json::from_str(&body).unwrap_or(Value::Null)))
    }

    async fn start_all(&self) -> TestResult {
        for ct in TYPES {
            let (s, b) = self.start_sub(ct).await?;
            assert_eq!(s, StatusCode::OK, "{b}");
        }
        Ok(())
    }

    /// Lists `[start, end)` of `ct` through every page; the items and the number of pages.
    async fn list_all(&self, ct: &str, start: &str, end: &str) -> Res<(Vec<Value>, usize)> {
        let mut url = format!(
            "{}/subscriptions/content?contentType={ct}&startTime={start}&endTime={end}",
            self.feed()
        );
        let mut items = Vec::new();
        let mut pages = 0;
        loop {
            let (s, h, body) = self.get(&url).await?;
            assert_eq!(s, StatusCode::OK, "{body}");
            pages += 1;
            items.extend(body.as_array().cloned().unwrap_or_default());
            match h.get("NextPageUri").and_then(|v| v.to_str().ok()) {
                Some(next) => url = next.to_string(),
                None => break,
            }
            assert!(pages < 10_000, "paging does not end");
        }
        Ok((items, pages))
    }

    /// Fetches a blob by its contentUri: status and body text.
    async fn fetch_text(&self, uri: &str) -> Res<(StatusCode, String)> {
        let (s, _, body) = self.send(self.c.get(uri)).await?;
        Ok((s, body))
    }

    /// `uri` (from another simulator) pointed at this one.
    fn rebase(&self, uri: &str) -> String {
        let path = uri.split_once("/api/").map(|x| x.1).unwrap_or_default();
        format!("{}/api/{path}", self.base())
    }

    async fn fetch(&self, uri: &str) -> Res<Vec<Value>> {
        let (s, body) = self.fetch_text(uri).await?;
        assert_eq!(s, StatusCode::OK, "{body}");
        Ok(serde_json::from_str(&body)?)
    }

    /// A blob's records as their exact bytes.
    async fn fetch_raw(&self, uri: &str) -> Res<Vec<String>> {
        let (s, body) = self.fetch_text(uri).await?;
        assert_eq!(s, StatusCode::OK, "{body}");
        let raw: Vec<Box<RawValue>> = serde_json::from_str(&body)?;
        Ok(raw.iter().map(|r| r.get().to_string()).collect())
    }

    /// Every blob of `ct` whose contentCreated lies in the `days` days before now, listed in
    /// 24 h windows, with its records.
    async fn pull(&self, ct: &str, days: i64) -> Res<Vec<(Value, Vec<Value>)>> {
        let now = self.now().await?;
        let mut out = Vec::new();
        for d in (1..=days).rev() {
            let (items, _) = self
                .list_all(ct, &at(now, -d * DAY), &at(now, -(d - 1) * DAY))
                .await?;
            for item in items {
                let records = self
                    .fetch(item["contentUri"].as_str().unwrap_or_default())
                    .await?;
                out.push((item, records));
            }
        }
        Ok(out)
    }

    async fn now(&self) -> Res<DateTime<Utc>> {
        let v: Value = self
            .c
            .get(format!("{}/_sim/clock", self.base()))
            .send()
            .await?
            .json()
            .await?;
        Ok(t(v["now"].as_str().unwrap_or_default()))
    }

    async fn advance(&self, secs: i64) -> TestResult {
        let resp = self
            .c
            .post(format!("{}/_sim/clock", self.base()))
            .json(&json!({"advance_secs": secs}))
            .send()
            .await?;
        assert_eq!(resp.status(), StatusCode::OK);
        // Tokens expire on the virtual clock too.
        let fresh = token(&self.c, &self.sim, MGMT_SCOPE).await?;
        if let Ok(mut t) = self.token.lock() {
            *t = fresh;
        }
        Ok(())
    }

    async fn truth(&self, query: &str) -> Res<Value> {
        let resp = self
            .c
            .get(format!("{}/_sim/truth/m365-activity?{query}", self.base()))
            .send()
            .await?;
        assert_eq!(resp.status(), StatusCode::OK);
        Ok(resp.json().await?)
    }

    async fn stats(&self) -> Res<Value> {
        Ok(self
            .c
            .get(format!("{}/_sim/stats", self.base()))
            .send()
            .await?
            .json()
            .await?)
    }
}

async fn token(c: &Client, sim: &RunningSim, scope: &str) -> Res<String> {
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

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn ids_of(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["Id"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn ms(s: &str) -> i64 {
    t(s).timestamp_millis()
}

#[tokio::test]
async fn subscription_lifecycle_and_its_errors() -> TestResult {
    let api = Api::new(config(|_| {})).await?;
    let (s, _, body) = api.get("subscriptions/list").await?;
    assert_eq!((s, body), (StatusCode::OK, json!([])));
    let (s, _, body) = api
        .get(&format!("subscriptions/content?contentType={EXCHANGE}"))
        .await?;
    assert_eq!((s, code(&body)), (StatusCode::BAD_REQUEST, "AF20022"));

    let (s, body) = api.start_sub(EXCHANGE).await?;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        body,
        json!({"contentType": EXCHANGE, "status": "enabled", "webhook": null})
    );
    let (s, body) = api.start_sub(EXCHANGE).await?;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": {"code": "AF20024", "message": "The subscription is already enabled. No property change."}})
    );
    let (s, _, body) = api.get("subscriptions/list").await?;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        body,
        json!([{"contentType": EXCHANGE, "status": "enabled", "webhook": null}])
    );
    let (s, _, _) = api
        .get(&format!("subscriptions/content?contentType={EXCHANGE}"))
        .await?;
    assert_eq!(s, StatusCode::OK);

    let (s, body) = api
        .post(&format!("subscriptions/stop?contentType={EXCHANGE}"))
        .await?;
    assert_eq!((s, body.as_str()), (StatusCode::OK, ""));
    let (_, _, body) = api.get("subscriptions/list").await?;
    assert_eq!(body[0]["status"], "disabled");
    let (s, _, body) = api
        .get(&format!("subscriptions/content?contentType={EXCHANGE}"))
        .await?;
    assert_eq!((s, code(&body)), (StatusCode::BAD_REQUEST, "AF20023"));
    let (s, _) = api.start_sub(EXCHANGE).await?;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = api
        .get(&format!("subscriptions/content?contentType={EXCHANGE}"))
        .await?;
    assert_eq!(s, StatusCode::OK);

    // Content type errors.
    let (s, body) = api.start_sub("Audit.Nonsense").await?;
    assert_eq!((s, code(&body)), (StatusCode::BAD_REQUEST, "AF20020"));
    let (s, body) = api.post("subscriptions/start").await?;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("AF20001"), "{body}");
    let (s, body) = api
        .post("subscriptions/stop?contentType=Audit.General")
        .await?;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("AF20022"), "{body}");
    // DLP.All and a second type, listed in content type order.
    let (s, _) = api.start_sub("DLP.All").await?;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = api.start_sub("Audit.AzureActiveDirectory").await?;
    assert_eq!(s, StatusCode::OK);
    let (_, _, body) = api.get("subscriptions/list").await?;
    let listed: Vec<&str> = body
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["contentType"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(listed, ["Audit.AzureActiveDirectory", EXCHANGE, "DLP.All"]);

    let stats = api.stats().await?;
    assert_eq!(
        stats["mgmt"]["subscription_starts"],
        json!({"Audit.AzureActiveDirectory": 1, "Audit.Exchange": 2, "DLP.All": 1})
    );
    // No request carried a PublisherIdentifier.
    assert!(stats["mgmt"]["missing_publisher"].as_u64().unwrap_or(0) >= 12);
    Ok(())
}

#[tokio::test]
async fn auth_tenant_permissions_and_audit_switches() -> TestResult {
    let api = Api::new(config(|c| {
        c.mgmt_denied_content_types = vec!["DLP.All".to_string()];
    }))
    .await?;
    let url = format!("{}/subscriptions/list", api.feed());
    // No token, a Graph token, a junk token: 401 with an AF error body.
    let graph = token(&api.c, &api.sim, "https://graph.microsoft.com/.default").await?;
    for auth in [None, Some(graph.as_str()), Some("junk")] {
        let mut req = api.c.get(&url);
        if let Some(tok) = auth {
            req = req.bearer_auth(tok);
        }
        let resp = req.send().await?;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let body: Value = resp.json().await?;
        assert_eq!(code(&body), "AF10000", "{body}");
    }
    // Another tenant in the URL.
    let other = format!(
        "{}/api/v1.0/00000000-1111-2222-3333-444444444444/activity/feed/subscriptions/list",
        api.base()
    );
    let (s, _, body) = api.get(&other).await?;
    assert_eq!((s, code(&body)), (StatusCode::UNAUTHORIZED, "AF20010"));
    // A denied content type: start and listing answer AF10001 naming the permission.
    let (s, body) = api.start_sub("DLP.All").await?;
    assert_eq!((s, code(&body)), (StatusCode::UNAUTHORIZED, "AF10001"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("ActivityFeed.ReadDlp"),
        "{body}"
    );
    let (s, _, body) = api.get("subscriptions/content?contentType=DLP.All").await?;
    assert_eq!((s, code(&body)), (StatusCode::UNAUTHORIZED, "AF10001"));
    // Other types are fine.
    let (s, _) = api.start_sub(EXCHANGE).await?;
    assert_eq!(s, StatusCode::OK);

    let off = Api::new(config(|c| c.mgmt_audit_disabled = true)).await?;
    let (s, body) = off.start_sub(EXCHANGE).await?;
    assert_eq!((s, code(&body)), (StatusCode::BAD_REQUEST, "AF20012"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("audit logging is not enabled"),
        "{body}"
    );
    let (_, _, body) = off.get("subscriptions/list").await?;
    assert_eq!(body, json!([]));
    Ok(())
}

#[tokio::test]
async fn every_window_rule_and_its_error_code() -> TestResult {
    let api = Api::new(config(|c| c.days = 8)).await?;
    api.start_all().await?;
    let now = t(NOW);
    let q = |extra: &str| format!("subscriptions/content?contentType={EXCHANGE}{extra}");
    let cases: Vec<(String, StatusCode, &str)> = vec![
        // Both or neither.
        (
            format!("&startTime={}", at(now, -HOUR)),
            StatusCode::BAD_REQUEST,
            "AF20030",
        ),
        (
            format!("&endTime={}", at(now, -HOUR)),
            StatusCode::BAD_REQUEST,
            "AF20030",
        ),
        // Start before end.
        (
            format!("&startTime={0}&endTime={0}", at(now, -HOUR)),
            StatusCode::BAD_REQUEST,
            "AF20030",
        ),
        (
            format!(
                "&startTime={}&endTime={}",
                at(now, -HOUR),
                at(now, -2 * HOUR)
            ),
            StatusCode::BAD_REQUEST,
            "AF20030",
        ),
        // At most 24 h.
        (
            format!("&startTime={}&endTime={}", at(now, -DAY - 1), at(now, 0)),
            StatusCode::BAD_REQUEST,
            "AF20030",
        ),
        (
            format!("&startTime={}&endTime={}", at(now, -DAY), at(now, 0)),
            StatusCode::OK,
            "",
        ),
        // Start at most 7 days ago, and not in the future.
        (
            format!(
                "&startTime={}&endTime={}",
                at(now, -7 * DAY - 1),
                at(now, -6 * DAY - 1)
            ),
            StatusCode::BAD_REQUEST,
            "AF20055",
        ),
        (
            format!(
                "&startTime={}&endTime={}",
                at(now, -7 * DAY),
                at(now, -6 * DAY)
            ),
            StatusCode::OK,
            "",
        ),
        (
            format!("&startTime={}&endTime={}", at(now, HOUR), at(now, 2 * HOUR)),
            StatusCode::BAD_REQUEST,
            "AF20055",
        ),
        // The end may lie in the future.
        (
            format!("&startTime={}&endTime={}", at(now, -HOUR), at(now, HOUR)),
            StatusCode::OK,
            "",
        ),
        // Formats.
        (
            "&startTime=2026-07-17&endTime=2026-07-17T11:00".to_string(),
            StatusCode::OK,
            "",
        ),
        (
            "&startTime=2026-07-16T12:00:00.000Z&endTime=2026-07-17T11:59:59Z".to_string(),
            StatusCode::OK,
            "",
        ),
        (
            "&startTime=2026-07-17T10&endTime=2026-07-17T11:00".to_string(),
            StatusCode::BAD_REQUEST,
            "AF20002",
        ),
        (
            "&startTime=yesterday&endTime=today".to_string(),
            StatusCode::BAD_REQUEST,
            "AF20002",
        ),
        // Extreme but well-formed times are refused, not overflowed.
        (
            "&startTime=1700-01-01&endTime=2260-01-01".to_string(),
            StatusCode::BAD_REQUEST,
            "AF20030",
        ),
        (
            "&startTime=1500-01-01&endTime=1500-01-02".to_string(),
            StatusCode::BAD_REQUEST,
            "AF20002",
        ),
        (
            "&startTime=2026-07-17T10:00:00%2B02:00&endTime=2026-07-17T11:00".to_string(),
            StatusCode::BAD_REQUEST,
            "AF20002",
        ),
        // Paging tokens.
        (
            format!(
                "&startTime={}&endTime={}&nextPage=bogus",
                at(now, -HOUR),
                at(now, 0)
            ),
            StatusCode::BAD_REQUEST,
            "AF20031",
        ),
    ];
    for (extra, status, want) in cases {
        let (s, _, body) = api.get(&q(&extra)).await?;
        assert_eq!(s, status, "{extra}: {body}");
        if status == StatusCode::OK {
            assert!(body.is_array(), "{extra}: {body}");
        } else {
            assert_eq!(code(&body), want, "{extra}: {body}");
        }
    }
    // Neither bound: the last 24 h.
    let (s, h, body) = api.get(&q("")).await?;
    assert_eq!(s, StatusCode::OK);
    assert!(
        h.get("NextPageUri").is_some(),
        "144 blobs need two pages of 100"
    );
    let mut items = body.as_array().cloned().unwrap_or_default();
    let next = h
        .get("NextPageUri")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let (_, _, rest) = api.get(&next).await?;
    items.extend(rest.as_array().cloned().unwrap_or_default());
    let (explicit, _) = api.list_all(EXCHANGE, &at(now, -DAY), &at(now, 0)).await?;
    assert_eq!(items, explicit);
    assert_eq!(items.len(), 144);
    // The window is over contentCreated: [start, end).
    let (one, _) = api
        .list_all(EXCHANGE, "2026-07-17T10:00", "2026-07-17T10:20")
        .await?;
    let created: Vec<&str> = one
        .iter()
        .filter_map(|i| i["contentCreated"].as_str())
        .collect();
    assert_eq!(
        created,
        ["2026-07-17T10:00:00.000Z", "2026-07-17T10:10:00.000Z"]
    );
    Ok(())
}

#[tokio::test]
async fn paging_a_day_at_page_size_ten_lists_every_blob_once_in_order() -> TestResult {
    let api = Api::new(config(|c| c.mgmt_page_size = 10)).await?;
    api.start_all().await?;
    let now = t(NOW);
    let (start_s, end_s) = (at(now, -DAY), at(now, 0));
    // The first page's header: same contentType, start and end, plus nextPage.
    let first = format!(
        "subscriptions/content?contentType={EXCHANGE}&startTime={start_s}&endTime={end_s}&PublisherIdentifier={TENANT}"
    );
    let (s, h, body) = api.get(&first).await?;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body.as_array().map(Vec::len), Some(10));
    let next = h
        .get("NextPageUri")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let prefix = format!(
        "{}/subscriptions/content?contentType={EXCHANGE}&startTime={start_s}&endTime={end_s}&PublisherIdentifier={TENANT}&nextPage=",
        api.feed()
    );
    assert!(next.starts_with(&prefix), "{next}");
    assert!(next.len() > prefix.len());

    let (items, pages) = api.list_all(EXCHANGE, &start_s, &end_s).await?;
    assert_eq!(items.len(), 144);
    assert_eq!(pages, 15, "144 items at 10 per page");
    let ids: Vec<&str> = items
        .iter()
        .filter_map(|i| i["contentId"].as_str())
        .collect();
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        144,
        "every blob once"
    );
    let created: Vec<i64> = items
        .iter()
        .map(|i| ms(i["contentCreated"].as_str().unwrap_or_default()))
        .collect();
    assert!(created.windows(2).all(|w| w[0] < w[1]), "in order");
    assert_eq!(
        created.first(),
        Some(&(now.timestamp_millis() - DAY * 1000))
    );
    for item in &items {
        let id = item["contentId"].as_str().unwrap_or_default();
        assert_eq!(item["contentType"], EXCHANGE);
        assert_eq!(
            item["contentUri"],
            json!(format!("{}/audit/{id}", api.feed()))
        );
        let c = item["contentCreated"].as_str().unwrap_or_default();
        let e = item["contentExpiration"].as_str().unwrap_or_default();
        assert_eq!(c.len(), 24, "{c}");
        assert!(c.ends_with(".000Z"), "{c}");
        assert_eq!(ms(e) - ms(c), 7 * DAY * 1000);
        let parts: Vec<&str> = id.split('$').collect();
        assert_eq!(parts.len(), 5, "{id}");
        assert_eq!(&parts[2..4], ["audit_exchange", "Audit_Exchange"]);
        assert_eq!(parts[0].len(), 23);
        assert_eq!(
            &parts[0][..14],
            t(c).format("%Y%m%d%H%M%S").to_string().as_str()
        );
    }
    // The same listing matches the truth's blobs of that window.
    let truth = api
        .truth(&format!("until={NOW}&stream={EXCHANGE}&detail=true"))
        .await?;
    let lo = ms(&format!("{start_s}Z"));
    let hi = ms(&format!("{end_s}Z"));
    let expected: Vec<&str> = truth["blobs"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|b| {
                    let c = ms(b["content_created"].as_str().unwrap_or_default());
                    c >= lo && c < hi
                })
                .filter_map(|b| b["content_id"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(ids, expected);
    let stats = api.stats().await?;
    assert_eq!(stats["mgmt"]["listings"], json!(16));
    Ok(())
}

#[tokio::test]
async fn blobs_fetch_and_expire_on_the_virtual_clock() -> TestResult {
    let api = Api::new(config(|_| {})).await?;
    api.start_all().await?;
    let now = t(NOW);
    let (items, _) = api
        .list_all(EXCHANGE, &at(now, -2 * HOUR), &at(now, 0))
        .await?;
    assert_eq!(items.len(), 12);
    let uri = items[0]["contentUri"].as_str().unwrap_or_default();
    let id = items[0]["contentId"].as_str().unwrap_or_default();
    let (s, text) = api.fetch_text(uri).await?;
    assert_eq!(s, StatusCode::OK);
    let records: Vec<Value> = serde_json::from_str(&text)?;
    assert!(!records.is_empty());
    // The same blob with `$` percent-encoded.
    let encoded = format!("{}/audit/{}", api.feed(), id.replace('$', "%24"));
    let (s, again) = api.fetch_text(&encoded).await?;
    assert_eq!((s, &again), (StatusCode::OK, &text));
    // The truth counts its records.
    let truth = api.truth(&format!("stream={EXCHANGE}&detail=true")).await?;
    let blob = truth["blobs"]
        .as_array()
        .and_then(|a| a.iter().find(|b| b["content_id"] == json!(id)))
        .cloned()
        .unwrap_or_default();
    assert_eq!(blob["records"], json!(records.len()));
    assert_eq!(blob["fetches"], json!(2));

    // Unknown and malformed ids.
    let forged = id
        .rsplit_once('$')
        .map(|(a, _)| format!("{a}$zz9999"))
        .unwrap_or_default();
    let (s, body) = api
        .fetch_text(&format!("{}/audit/{forged}", api.feed()))
        .await?;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(code(&serde_json::from_str(&body)?), "AF20050");
    let (s, body) = api
        .fetch_text(&format!("{}/audit/not-a-blob", api.feed()))
        .await?;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(code(&serde_json::from_str(&body)?), "AF20052");
    // A stamp at the end of representable time is simply unknown.
    let far = format!(
        "22620411234700000000000$22620411235700000000000$audit_exchange$Audit_Exchange${}",
        id.rsplit('$').next().unwrap_or_default()
    );
    let (s, body) = api
        .fetch_text(&format!("{}/audit/{far}", api.feed()))
        .await?;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    // A blob that is not listed yet does not exist.
    let future = id.replacen(
        &id[..14],
        &(now + chrono::Duration::hours(1))
            .format("%Y%m%d%H%M%S")
            .to_string(),
        1,
    );
    let (s, body) = api
        .fetch_text(&format!("{}/audit/{future}", api.feed()))
        .await?;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(code(&serde_json::from_str(&body)?), "AF20050");

    // Seven days after contentCreated it has expired; a later blob has not.
    let created = t(items[0]["contentCreated"].as_str().unwrap_or_default());
    let to_expiry = (created + chrono::Duration::days(7) - now).num_seconds();
    api.advance(to_expiry - 1).await?;
    let (s, _) = api.fetch_text(uri).await?;
    assert_eq!(s, StatusCode::OK, "one second before expiry");
    api.advance(1).await?;
    let (s, body) = api.fetch_text(uri).await?;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        serde_json::from_str::<Value>(&body)?,
        json!({"error": {"code": "AF20051", "message": format!("Content requested with the key {id} has already expired. Content older than 7 days cannot be retrieved.")}})
    );
    let (s, _) = api
        .fetch_text(items[1]["contentUri"].as_str().unwrap_or_default())
        .await?;
    assert_eq!(s, StatusCode::OK);
    let stats = api.stats().await?;
    assert_eq!(stats["mgmt"]["blob_fetches"], json!(4));
    assert_eq!(stats["mgmt"]["blobs_fetched_twice"], json!(1));
    assert_eq!(stats["mgmt"]["expired_fetches"], json!(1));
    Ok(())
}

/// Not slot-aligned: a one-day history's first blob is at 12:10 yesterday and its last at 12:00
/// today, all inside the listing window `[now - 24 h, now)`.
const NOW_OFF: &str = "2026-07-17T12:05:00Z";

#[tokio::test]
async fn truth_ids_are_the_union_of_every_fetched_record() -> TestResult {
    let api = Api::new(config(|c| c.now = Some(t(NOW_OFF)))).await?;
    api.start_all().await?;
    let mut all = BTreeSet::new();
    for ct in TYPES {
        let blobs = api.pull(ct, 1).await?;
        assert_eq!(blobs.len(), 144, "{ct}");
        let mut mine = BTreeSet::new();
        for (_, records) in &blobs {
            mine.extend(ids_of(records));
        }
        let truth = api.truth(&format!("until={NOW_OFF}&stream={ct}")).await?;
        assert_eq!(truth["stream"], json!(ct));
        assert_eq!(
            strs(&truth["ids"]).into_iter().collect::<BTreeSet<_>>(),
            mine,
            "{ct}"
        );
        all.extend(mine);
    }
    let truth = api.truth(&format!("until={NOW_OFF}")).await?;
    assert_eq!(truth["source"], "m365-activity");
    assert_eq!(truth["as_of"], NOW_OFF);
    let ids = strs(&truth["ids"]);
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), all);
    assert_eq!(ids.len(), all.len(), "ids are distinct");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids are sorted");
    assert_eq!(truth["expired_ids"], json!([]));
    // An earlier `until` holds fewer; an unknown stream is refused.
    let earlier = api.truth("until=2026-07-17T00:00:00Z").await?;
    assert!(strs(&earlier["ids"]).len() < ids.len());
    let resp = api
        .c
        .get(format!(
            "{}/_sim/truth/m365-activity?stream=Audit.Nope",
            api.base()
        ))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let sources: Value = api
        .c
        .get(format!("{}/_sim/sources", api.base()))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        sources.as_array().and_then(|a| a.last()),
        Some(&json!("m365-activity"))
    );
    Ok(())
}

#[tokio::test]
async fn expired_ids_are_lost_records_that_no_fetched_or_fetchable_blob_holds() -> TestResult {
    // Quirk 3 makes neighbouring blobs share a record, which is what the rule is about.
    let cfg = || {
        config(|c| {
            c.now = Some(t(NOW_OFF));
            c.mgmt_repeat_last = true;
        })
    };
    // A reference simulator tells what every blob holds.
    let reference = Api::new(cfg()).await?;
    reference.start_all().await?;
    let blobs = reference.pull(EXCHANGE, 1).await?;
    assert_eq!(blobs.len(), 144);
    // The simulator under test: only every other blob is fetched.
    let api = Api::new(cfg()).await?;
    api.start_all().await?;
    let mut fetched = HashSet::new();
    let mut lost = HashSet::new();
    for (i, (item, records)) in blobs.iter().enumerate() {
        if i % 2 == 0 {
            let got = api
                .fetch(&api.rebase(item["contentUri"].as_str().unwrap_or_default()))
                .await?;
            assert_eq!(&got, records, "same seed, same records");
            fetched.extend(ids_of(records));
        } else {
            lost.extend(ids_of(records));
        }
    }
    // The first blob after that day repeats the day's last record and stays fetchable.
    reference.advance(HOUR).await?;
    let (after, _) = reference
        .list_all(EXCHANGE, "2026-07-17T12:05", "2026-07-17T13:05")
        .await?;
    let next = reference
        .fetch(after[0]["contentUri"].as_str().unwrap_or_default())
        .await?;
    assert_eq!(next.first(), blobs.last().and_then(|b| b.1.last()));
    let kept: HashSet<String> = fetched
        .union(&ids_of(&next).into_iter().collect())
        .cloned()
        .collect();
    let mut expected: Vec<String> = lost.difference(&kept).cloned().collect();
    expected.sort();
    assert!(
        lost.len() > expected.len(),
        "some records of unfetched blobs are repeated in fetched ones"
    );
    // Nothing has expired yet.
    let truth = api.truth(&format!("stream={EXCHANGE}")).await?;
    assert_eq!(truth["expired_ids"], json!([]));
    // Seven days on, every blob of the first day has expired; the unfetched ones are lost.
    api.advance(7 * DAY).await?;
    let until = "2026-07-24T12:05:00Z";
    let truth = api
        .truth(&format!("until={until}&stream={EXCHANGE}&detail=true"))
        .await?;
    assert_eq!(strs(&truth["expired_ids"]), expected);
    let expired_blobs = strs(&truth["expired_content_ids"]);
    let mut odd: Vec<String> = blobs
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, (item, _))| item["contentId"].as_str().unwrap_or_default().to_string())
        .collect();
    odd.sort();
    assert_eq!(expired_blobs, odd);
    // The detail carries each blob's fetch count and record count.
    let detail = truth["blobs"].as_array().cloned().unwrap_or_default();
    let first = blobs[0].0["contentId"].clone();
    let d = detail
        .iter()
        .find(|b| b["content_id"] == first)
        .cloned()
        .unwrap_or_default();
    assert_eq!(d["fetches"], json!(1));
    assert_eq!(d["records"], json!(blobs[0].1.len()));
    assert_eq!(d["content_type"], EXCHANGE);
    assert_eq!(d["content_created"], blobs[0].0["contentCreated"]);
    assert_eq!(d["listed_at"], blobs[0].0["contentCreated"]);
    assert_eq!(d["expiration"], blobs[0].0["contentExpiration"]);
    // Blobs listed after the first day are still fetchable: none of their ids is lost.
    let all = strs(&truth["ids"]);
    assert!(all.len() > fetched.len() + expected.len());
    Ok(())
}

#[tokio::test]
async fn same_seed_same_blobs_and_records() -> TestResult {
    let a = Api::new(config(|c| c.mgmt_quirks = true)).await?;
    let b = Api::new(config(|c| c.mgmt_quirks = true)).await?;
    let other = Api::new(config(|c| {
        c.mgmt_quirks = true;
        c.seed = 2;
    }))
    .await?;
    let ta = a.truth("detail=true").await?;
    let tb = b.truth("detail=true").await?;
    let to = other.truth("detail=true").await?;
    assert_eq!(ta, tb);
    assert!(!strs(&ta["ids"]).is_empty());
    let ids_other: HashSet<String> = strs(&to["ids"]).into_iter().collect();
    assert!(strs(&ta["ids"]).iter().all(|id| !ids_other.contains(id)));
    for api in [&a, &b] {
        api.start_all().await?;
    }
    for ct in TYPES {
        let now = t(NOW);
        let (la, _) = a.list_all(ct, &at(now, -6 * HOUR), &at(now, 0)).await?;
        let (lb, _) = b.list_all(ct, &at(now, -6 * HOUR), &at(now, 0)).await?;
        let strip = |items: &[Value]| -> Vec<Value> {
            items
                .iter()
                .map(|i| {
                    let mut i = i.clone();
                    i["contentUri"] = json!(
                        i["contentUri"]
                            .as_str()
                            .and_then(|u| u.split_once("/api/"))
                            .map(|x| x.1)
                    );
                    i
                })
                .collect()
        };
        assert!(strip(&la) == strip(&lb), "{ct}: listings differ");
        assert!(!la.is_empty());
        for item in la.iter().take(5) {
            let uri = item["contentUri"].as_str().unwrap_or_default();
            let (sa, ra) = a.fetch_text(uri).await?;
            let (sb, rb) = b.fetch_text(&b.rebase(uri)).await?;
            assert!(sa == sb && ra == rb, "{ct}: blob bodies differ");
        }
    }
    Ok(())
}

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

/// Every quirk off (the default): blobs are listed at contentCreated and expire 7 days later,
/// records lie 60-90 minutes before the blob and are time-ordered, no record is in two blobs,
/// no blob is listed twice, and no subscription is ever disabled.
#[tokio::test]
async fn no_quirk_happens_when_off() -> TestResult {
    let api = Api::new(config(|c| {
        c.now = Some(t(NOW_OFF));
        c.days = 4;
    }))
    .await?;
    api.start_all().await?;
    let mut seen: HashMap<String, String> = HashMap::new();
    for ct in TYPES {
        let blobs = api.pull(ct, 4).await?;
        assert_eq!(blobs.len(), 4 * 144, "{ct}: every blob once, none twice");
        for (item, records) in &blobs {
            let created = ms(item["contentCreated"].as_str().unwrap_or_default());
            let expires = ms(item["contentExpiration"].as_str().unwrap_or_default());
            assert_eq!(expires - created, 7 * DAY * 1000);
            let id = item["contentId"].as_str().unwrap_or_default();
            let times: Vec<i64> = records
                .iter()
                .map(|r| {
                    ms(&format!(
                        "{}Z",
                        r["CreationTime"].as_str().unwrap_or_default()
                    ))
                })
                .collect();
            assert!(times.windows(2).all(|w| w[0] <= w[1]), "{id}: ordered");
            for time in times {
                let before = created - time;
                assert!(
                    (3600 * 1000..=5400 * 1000).contains(&before),
                    "{id}: a record {before} ms before its blob"
                );
            }
            for rid in ids_of(records) {
                assert!(
                    seen.insert(rid.clone(), id.to_string()).is_none(),
                    "{rid} in two blobs"
                );
            }
        }
    }
    let truth = api.truth("detail=true").await?;
    for b in truth["blobs"].as_array().cloned().unwrap_or_default() {
        assert_eq!(b["listed_at"], b["content_created"]);
    }
    for _ in 0..25 {
        let (s, _, body) = api
            .get(&format!("subscriptions/content?contentType={EXCHANGE}"))
            .await?;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    let stats = api.stats().await?;
    assert_eq!(stats["mgmt"]["disabled"], json!({}));
    Ok(())
}

#[tokio::test]
async fn quirk_listing_delay_lists_blobs_after_their_creation() -> TestResult {
    let api = Api::new(config(|c| c.mgmt_listing_delay_secs = 5400)).await?;
    api.start_all().await?;
    let now = t(NOW);
    // The truth two hours ahead knows when each blob of the last two hours gets listed.
    let ahead = api
        .truth(&format!(
            "until={}&stream={EXCHANGE}&detail=true",
            (now + chrono::Duration::hours(2)).to_rfc3339_opts(SecondsFormat::Secs, true)
        ))
        .await?;
    let mut delays = Vec::new();
    let mut pending = BTreeSet::new();
    let mut listed = BTreeSet::new();
    for b in ahead["blobs"].as_array().cloned().unwrap_or_default() {
        let created = ms(b["content_created"].as_str().unwrap_or_default());
        let at_ms = ms(b["listed_at"].as_str().unwrap_or_default());
        delays.push(at_ms - created);
        let id = b["content_id"].as_str().unwrap_or_default().to_string();
        if created >= now.timestamp_millis() - 2 * HOUR * 1000 && created < now.timestamp_millis() {
            if at_ms > now.timestamp_millis() {
                pending.insert(id);
            } else {
                listed.insert(id);
            }
        }
    }
    assert!(delays.iter().all(|d| (0..=5400 * 1000).contains(d)));
    assert!(delays.iter().any(|d| *d > 3600 * 1000));
    assert!(!pending.is_empty(), "some recent blobs are not listed yet");
    let window = (at(now, -2 * HOUR), at(now, 0));
    let (items, _) = api.list_all(EXCHANGE, &window.0, &window.1).await?;
    let got: BTreeSet<String> = items
        .iter()
        .filter_map(|i| i["contentId"].as_str().map(str::to_string))
        .collect();
    assert_eq!(got, listed);
    // Sorted by when they became available, not by contentCreated.
    let created: Vec<i64> = items
        .iter()
        .map(|i| ms(i["contentCreated"].as_str().unwrap_or_default()))
        .collect();
    assert!(created.windows(2).any(|w| w[0] > w[1]), "{created:?}");
    // Two hours later the same window also lists the late ones.
    api.advance(2 * HOUR).await?;
    let (items, _) = api.list_all(EXCHANGE, &window.0, &window.1).await?;
    let got: BTreeSet<String> = items
        .iter()
        .filter_map(|i| i["contentId"].as_str().map(str::to_string))
        .collect();
    assert_eq!(got, listed.union(&pending).cloned().collect());
    Ok(())
}

#[tokio::test]
async fn quirk_late_records_are_days_old_and_unordered() -> TestResult {
    let api = Api::new(config(|c| c.mgmt_late_records = true)).await?;
    api.start_all().await?;
    let mut late_blobs = 0;
    let mut unordered = 0;
    let mut blobs_total = 0;
    for ct in [EXCHANGE, "Audit.SharePoint", "Audit.AzureActiveDirectory"] {
        for (item, records) in api.pull(ct, 1).await? {
            blobs_total += 1;
            let created = ms(item["contentCreated"].as_str().unwrap_or_default());
            let times: Vec<i64> = records
                .iter()
                .map(|r| {
                    ms(&format!(
                        "{}Z",
                        r["CreationTime"].as_str().unwrap_or_default()
                    ))
                })
                .collect();
            let late = times
                .iter()
                .filter(|t| created - **t >= 3 * DAY * 1000)
                .count();
            assert!(
                times
                    .iter()
                    .all(|t| (3600 * 1000..=5 * DAY * 1000).contains(&(created - t))),
                "{times:?}"
            );
            if late > 0 {
                late_blobs += 1;
            }
            if times.windows(2).any(|w| w[0] > w[1]) {
                unordered += 1;
            }
        }
    }
    // About 5% of 432 blobs.
    assert!(
        (8..=45).contains(&late_blobs),
        "{late_blobs} of {blobs_total}"
    );
    assert!(unordered > blobs_total / 2, "{unordered} of {blobs_total}");
    Ok(())
}

#[tokio::test]
async fn quirk_repeat_last_repeats_the_previous_blobs_last_record() -> TestResult {
    let api = Api::new(config(|c| c.mgmt_repeat_last = true)).await?;
    api.start_all().await?;
    let now = t(NOW);
    for ct in [EXCHANGE, "Audit.General"] {
        let (items, _) = api.list_all(ct, &at(now, -6 * HOUR), &at(now, 0)).await?;
        assert_eq!(items.len(), 36);
        let mut raw = Vec::new();
        for item in &items {
            raw.push(
                api.fetch_raw(item["contentUri"].as_str().unwrap_or_default())
                    .await?,
            );
        }
        let mut repeats = 0;
        for pair in raw.windows(2) {
            if let (Some(last), Some(first)) = (pair[0].last(), pair[1].first())
                && pair[0].len() > 1
            {
                assert_eq!(first, last, "{ct}: same record, same bytes");
                repeats += 1;
            }
        }
        assert!(repeats >= 20, "{ct}: {repeats}");
    }
    Ok(())
}

#[tokio::test]
async fn quirk_relist_lists_a_blob_again_days_later() -> TestResult {
    let api = Api::new(config(|c| {
        c.mgmt_relist = true;
        c.days = 7;
    }))
    .await?;
    api.start_all().await?;
    let now = t(NOW);
    let mut by_id: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for d in (1..=6).rev() {
        let (items, _) = api
            .list_all(EXCHANGE, &at(now, -d * DAY), &at(now, -(d - 1) * DAY))
            .await?;
        for item in items {
            by_id
                .entry(item["contentId"].as_str().unwrap_or_default().to_string())
                .or_default()
                .push(item);
        }
    }
    let twice: Vec<&Vec<Value>> = by_id.values().filter(|v| v.len() > 1).collect();
    // About 3% of the blobs whose second listing falls inside the six days.
    assert!((3..=40).contains(&twice.len()), "{}", twice.len());
    for pair in twice {
        assert_eq!(pair.len(), 2);
        let (a, b) = (&pair[0], &pair[1]);
        assert_eq!(a["contentUri"], b["contentUri"]);
        assert_eq!(a["contentExpiration"], b["contentExpiration"]);
        let gap = ms(b["contentCreated"].as_str().unwrap_or_default())
            - ms(a["contentCreated"].as_str().unwrap_or_default());
        assert!((DAY * 1000..=3 * DAY * 1000).contains(&gap), "{gap}");
        let uri = a["contentUri"].as_str().unwrap_or_default();
        let first = api.fetch_text(uri).await?;
        let second = api.fetch_text(uri).await?;
        assert_eq!(first, second);
    }
    Ok(())
}

#[tokio::test]
async fn quirk_early_expiry_expires_blobs_twenty_minutes_after_listing() -> TestResult {
    let api = Api::new(config(|c| {
        c.mgmt_early_expiry = true;
        c.days = 3;
    }))
    .await?;
    api.start_all().await?;
    let now = t(NOW);
    let mut early = Vec::new();
    let mut normal = Vec::new();
    for d in (1..=3).rev() {
        let (items, _) = api
            .list_all(EXCHANGE, &at(now, -d * DAY), &at(now, -(d - 1) * DAY))
            .await?;
        for item in items {
            let life = ms(item["contentExpiration"].as_str().unwrap_or_default())
                - ms(item["contentCreated"].as_str().unwrap_or_default());
            if life == 20 * 60 * 1000 {
                early.push(item);
            } else {
                assert_eq!(life, 7 * DAY * 1000);
                normal.push(item);
            }
        }
    }
    assert!((3..=35).contains(&early.len()), "{}", early.len());
    let gone = &early[0];
    let (s, body) = api
        .fetch_text(gone["contentUri"].as_str().unwrap_or_default())
        .await?;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("AF20051"), "{body}");
    let (s, _) = api
        .fetch_text(normal[0]["contentUri"].as_str().unwrap_or_default())
        .await?;
    assert_eq!(s, StatusCode::OK);
    let truth = api.truth(&format!("stream={EXCHANGE}&detail=true")).await?;
    let expired = strs(&truth["expired_content_ids"]);
    assert_eq!(expired.len(), early.len());
    assert!(expired.contains(&gone["contentId"].as_str().unwrap_or_default().to_string()));
    assert!(!strs(&truth["expired_ids"]).is_empty());
    Ok(())
}

#[tokio::test]
async fn quirk_disable_after_disables_exchange_once() -> TestResult {
    let api = Api::new(config(|c| c.mgmt_disable_after = Some(3))).await?;
    api.start_all().await?;
    let url = |ct: &str| format!("subscriptions/content?contentType={ct}");
    for ct in [EXCHANGE, "Audit.General", EXCHANGE] {
        let (s, _, _) = api.get(&url(ct)).await?;
        assert_eq!(s, StatusCode::OK);
    }
    let (s, _, body) = api.get(&url(EXCHANGE)).await?;
    assert_eq!((s, code(&body)), (StatusCode::BAD_REQUEST, "AF20023"));
    let (s, _, _) = api.get(&url("Audit.General")).await?;
    assert_eq!(s, StatusCode::OK, "other types stay enabled");
    let (_, _, list) = api.get("subscriptions/list").await?;
    assert_eq!(
        list[1],
        json!({"contentType": EXCHANGE, "status": "disabled", "webhook": null})
    );
    let stats = api.stats().await?;
    assert_eq!(stats["mgmt"]["disabled"], json!({EXCHANGE: 1}));
    // Starting it again works (no AF20024), and it is not disabled a second time.
    let (s, _) = api.start_sub(EXCHANGE).await?;
    assert_eq!(s, StatusCode::OK);
    for _ in 0..10 {
        let (s, _, _) = api.get(&url(EXCHANGE)).await?;
        assert_eq!(s, StatusCode::OK);
    }
    let stats = api.stats().await?;
    assert_eq!(stats["mgmt"]["disabled"], json!({EXCHANGE: 1}));
    assert_eq!(stats["mgmt"]["subscription_starts"][EXCHANGE], json!(2));
    Ok(())
}

#[tokio::test]
async fn quirks_switch_turns_on_next_page_url_and_403() -> TestResult {
    let api = Api::new(config(|c| {
        c.mgmt_quirks = true;
        c.mgmt_page_size = 5;
    }))
    .await?;
    api.start_all().await?;
    let (s, h, _) = api
        .get(&format!("subscriptions/content?contentType={EXCHANGE}"))
        .await?;
    assert_eq!(s, StatusCode::OK);
    assert!(h.get("NextPageUri").is_none());
    let next = h
        .get("NextPageUrl")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(next.contains("&nextPage="), "{next}");
    let (s, _, body) = api.get(&next).await?;
    assert_eq!(s, StatusCode::OK, "{body}");
    api.c
        .post(format!("{}/_sim/faults", api.base()))
        .json(&json!({"fault_429": 1.0, "fault_5xx": 0.0}))
        .send()
        .await?;
    let (s, _, body) = api.get(&next).await?;
    assert_eq!((s, code(&body)), (StatusCode::FORBIDDEN, "AF429"));
    Ok(())
}

fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

fn has(r: &Value, fields: &[&str]) -> bool {
    fields.iter().all(|f| !r[*f].is_null())
}

fn props(r: &Value, key: &str) -> Vec<String> {
    r[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p["Name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn blob_records_parse_and_carry_each_workloads_fields() -> TestResult {
    let api = Api::new(config(|c| {
        c.now = Some(t(NOW_OFF));
        c.events_per_hour = 240;
    }))
    .await?;
    api.start_all().await?;
    let mut ids = HashSet::new();
    let mut ops: BTreeMap<&str, BTreeSet<(u64, String)>> = BTreeMap::new();
    let mut ip_kinds = BTreeSet::new();
    let mut text = String::new();
    let mut upns = HashSet::new();
    for ct in TYPES {
        let blobs = api.pull(ct, 1).await?;
        let volume = match ct {
            "Audit.AzureActiveDirectory" => 0.8,
            "Audit.General" => 0.3,
            "DLP.All" => 0.1,
            _ => 1.0,
        };
        let mean = 240.0 * volume * 600.0 / 3600.0;
        let total: usize = blobs.iter().map(|b| b.1.len()).sum();
        let avg = total as f64 / blobs.len() as f64;
        assert!(
            (avg - mean).abs() <= mean * 0.15 + 0.2,
            "{ct}: {avg} vs {mean}"
        );
        for (_, records) in &blobs {
            assert!(
                (records.len() as f64) >= (mean * 0.5).floor()
                    && (records.len() as f64) <= (mean * 1.5).ceil(),
                "{ct}: {} records",
                records.len()
            );
            for r in records {
                text.push_str(&r.to_string());
                let id = r["Id"].as_str().unwrap_or_default();
                assert!(is_guid(id), "{r}");
                assert!(ids.insert(id.to_string()), "duplicate Id {id}");
                assert!(r["RecordType"].is_u64(), "{r}");
                assert!(r["UserType"].is_u64(), "{r}");
                let created = r["CreationTime"].as_str().unwrap_or_default();
                assert_eq!(created.len(), 19, "{created}");
                assert!(DateTime::parse_from_rfc3339(&format!("{created}Z")).is_ok());
                assert_eq!(r["OrganizationId"], TENANT);
                assert!(
                    has(r, &["Operation", "UserKey", "Workload", "UserId"]),
                    "{r}"
                );
                if let Some(ip) = r["ClientIP"].as_str() {
                    ip_kinds.insert(if ip.is_empty() {
                        "empty"
                    } else if ip.starts_with('[') && ip.contains("]:") {
                        "[v6]:port"
                    } else if ip.contains('.') && ip.contains(':') {
                        "v4:port"
                    } else if ip.contains(':') {
                        "v6"
                    } else {
                        "v4"
                    });
                }
                let user = r["UserId"].as_str().unwrap_or_default();
                if user.contains('@') {
                    upns.insert(user.to_string());
                }
                let op = r["Operation"].as_str().unwrap_or_default().to_string();
                let rt = r["RecordType"].as_u64().unwrap_or_default();
                ops.entry(ct).or_default().insert((rt, op.clone()));
                match (rt, op.as_str()) {
                    (15, "UserLoggedIn" | "UserLoginFailed") => {
                        assert!(
                            has(
                                r,
                                &[
                                    "ResultStatus",
                                    "ErrorCode",
                                    "LogonError",
                                    "DeviceProperties",
                                    "ActorIpAddress",
                                    "ApplicationId"
                                ]
                            ),
                            "{r}"
                        );
                        assert!(props(r, "ExtendedProperties").contains(&"UserAgent".to_string()));
                        let want = if op == "UserLoggedIn" {
                            "Success"
                        } else {
                            "Failure"
                        };
                        assert_eq!(r["ResultStatus"], want);
                    }
                    (8, _) => {
                        assert!(has(r, &["Actor", "Target", "ModifiedProperties"]), "{r}");
                        assert!(
                            r["ModifiedProperties"]
                                .as_array()
                                .is_some_and(|a| !a.is_empty())
                        );
                    }
                    (1, "New-InboxRule") => {
                        let p = props(r, "Parameters");
                        assert!(
                            ["ForwardTo", "DeleteMessage", "MoveToFolder"]
                                .iter()
                                .any(|k| p.contains(&k.to_string())),
                            "{r}"
                        );
                        assert!(matches!(r["ResultStatus"].as_str(), Some("True" | "False")));
                    }
                    (1, "Set-Mailbox") => {
                        assert!(
                            props(r, "Parameters").contains(&"ForwardingSmtpAddress".to_string())
                        );
                    }
                    (2, "Send" | "HardDelete") => {
                        assert!(
                            has(r, &["MailboxOwnerUPN", "LogonType", "MailboxGuid"]),
                            "{r}"
                        );
                    }
                    (50, "MailItemsAccessed") => {
                        assert!(
                            has(
                                r,
                                &[
                                    "OperationCount",
                                    "ClientInfoString",
                                    "MailboxOwnerUPN",
                                    "LogonType"
                                ]
                            ),
                            "{r}"
                        );
                    }
                    (6, "FileAccessed" | "FileDownloaded" | "FileUploaded") => {
                        assert!(
                            has(
                                r,
                                &[
                                    "SiteUrl",
                                    "SourceFileName",
                                    "SourceFileExtension",
                                    "UserAgent"
                                ]
                            ),
                            "{r}"
                        );
                    }
                    (14, "SharingSet" | "AnonymousLinkCreated" | "SharingInvitationCreated") => {
                        assert!(has(r, &["TargetUserOrGroupName", "SiteUrl"]), "{r}");
                        assert!(matches!(
                            r["TargetUserOrGroupType"].as_str(),
                            Some("Guest" | "Member")
                        ));
                    }
                    (25, "TeamCreated" | "MemberAdded") => {
                        assert_eq!(r["Workload"], "MicrosoftTeams");
                        assert!(r["Members"].as_array().is_some_and(
                            |m| !m.is_empty() && m.iter().all(|x| has(x, &["UPN", "Role"]))
                        ));
                    }
                    (40, "AlertTriggered") => {
                        assert!(
                            has(
                                r,
                                &[
                                    "AlertId",
                                    "AlertType",
                                    "Name",
                                    "Severity",
                                    "Category",
                                    "Status"
                                ]
                            ),
                            "{r}"
                        );
                        assert_eq!(r["UserKey"], "SecurityComplianceAlerts");
                        let data: Value =
                            serde_json::from_str(r["Data"].as_str().unwrap_or_default())?;
                        assert!(data.is_object());
                    }
                    (11 | 13, "DlpRuleMatch") => {
                        assert_eq!(r["SensitiveInfoDetectionIsIncluded"], true);
                        let rule = &r["PolicyDetails"][0]["Rules"][0];
                        assert!(has(&r["PolicyDetails"][0], &["PolicyId", "PolicyName"]));
                        assert!(has(rule, &["RuleName", "Severity", "Actions"]), "{r}");
                        assert!(has(
                            &rule["ConditionsMatched"]["SensitiveInformation"][0],
                            &["SensitiveType", "Count", "Confidence"]
                        ));
                        let meta = if rt == 11 {
                            "SharePointMetaData"
                        } else {
                            "ExchangeMetaData"
                        };
                        assert!(r[meta].is_object(), "{r}");
                    }
                    other => panic!("{ct}: unexpected record {other:?}"),
                }
            }
        }
    }
    let seen = |ct: &str| -> BTreeSet<String> {
        ops.get(ct)
            .map(|s| s.iter().map(|(rt, op)| format!("{rt} {op}")).collect())
            .unwrap_or_default()
    };
    let want = |v: &[&str]| -> BTreeSet<String> { v.iter().map(|s| s.to_string()).collect() };
    assert_eq!(
        seen("Audit.AzureActiveDirectory"),
        want(&[
            "15 UserLoggedIn",
            "15 UserLoginFailed",
            "8 Add member to role.",
            "8 Consent to application.",
            "8 Update user."
        ])
    );
    assert_eq!(
        seen(EXCHANGE),
        want(&[
            "1 New-InboxRule",
            "1 Set-Mailbox",
            "2 Send",
            "2 HardDelete",
            "50 MailItemsAccessed"
        ])
    );
    assert_eq!(
        seen("Audit.SharePoint"),
        want(&[
            "6 FileAccessed",
            "6 FileDownloaded",
            "6 FileUploaded",
            "14 SharingSet",
            "14 AnonymousLinkCreated",
            "14 SharingInvitationCreated"
        ])
    );
    assert_eq!(
        seen("Audit.General"),
        want(&["25 TeamCreated", "25 MemberAdded", "40 AlertTriggered"])
    );
    assert_eq!(
        seen("DLP.All"),
        want(&["11 DlpRuleMatch", "13 DlpRuleMatch"])
    );
    assert_eq!(
        ip_kinds,
        ["empty", "[v6]:port", "v4:port", "v4", "v6"]
            .into_iter()
            .collect()
    );
    for needle in [
        "\"Not Available\"",
        "\"__NULL__\"",
        "\"OneDrive\"",
        "\"SharePoint\"",
    ] {
        assert!(text.contains(needle), "{needle} never appears");
    }
    // Users come from the simulated directory.
    assert!(
        upns.iter().all(|u| u.ends_with("@contoso.onmicrosoft.com")),
        "{upns:?}"
    );
    assert!(upns.len() >= 20);
    Ok(())
}

#[tokio::test]
async fn no_events_means_empty_blobs() -> TestResult {
    let api = Api::new(config(|c| c.events_per_hour = 0)).await?;
    api.start_all().await?;
    let now = t(NOW);
    let (items, _) = api.list_all(EXCHANGE, &at(now, -HOUR), &at(now, 0)).await?;
    assert_eq!(items.len(), 6);
    for item in items {
        let records = api
            .fetch(item["contentUri"].as_str().unwrap_or_default())
            .await?;
        assert!(records.is_empty());
    }
    let truth = api.truth("").await?;
    assert_eq!(truth["ids"], json!([]));
    Ok(())
}

#[test]
fn the_binary_takes_the_management_api_flags() -> TestResult {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let help = Command::new(env!("CARGO_BIN_EXE_m365-sim"))
        .arg("--help")
        .output()?;
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    for flag in [
        "--mgmt-blob-interval-secs",
        "--mgmt-page-size",
        "--mgmt-af429-status",
        "--mgmt-next-page-header",
        "--mgmt-deny-content-type",
        "--mgmt-audit-disabled",
        "--mgmt-listing-delay-secs",
        "--mgmt-late-records",
        "--mgmt-repeat-last",
        "--mgmt-relist",
        "--mgmt-early-expiry",
        "--mgmt-disable-after",
        "--mgmt-quirks",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_m365-sim"))
        .args(["--mgmt-af429-status", "500"])
        .output()?;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("mgmt_af429_status"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_m365-sim"))
        .args([
            "--port",
            "0",
            "--now",
            NOW,
            "--mgmt-page-size",
            "5",
            "--mgmt-next-page-header",
            "NextPageUrl",
            "--mgmt-deny-content-type",
            "DLP.All",
            "--mgmt-disable-after",
            "2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let base = line
        .trim()
        .strip_prefix("listening: ")
        .unwrap_or_default()
        .to_string();
    let rt = tokio::runtime::Runtime::new()?;
    let result: Res<Vec<(u16, String)>> = rt.block_on(async {
        let c = Client::new();
        let tok: Value = c
            .post(format!("{base}/{TENANT}/oauth2/v2.0/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("client_secret", SECRET),
                ("scope", MGMT_SCOPE),
            ])
            .send()
            .await?
            .json()
            .await?;
        let tok = tok["access_token"].as_str().unwrap_or_default().to_string();
        let feed = format!("{base}/api/v1.0/{TENANT}/activity/feed");
        let mut out = Vec::new();
        for (post, path) in [
            (true, "subscriptions/start?contentType=DLP.All"),
            (true, "subscriptions/start?contentType=Audit.Exchange"),
            (false, "subscriptions/content?contentType=Audit.Exchange"),
            (false, "subscriptions/content?contentType=Audit.Exchange"),
            (false, "subscriptions/content?contentType=Audit.Exchange"),
        ] {
            let url = format!("{feed}/{path}");
            let req = if post { c.post(url) } else { c.get(url) };
            let resp = req.bearer_auth(&tok).send().await?;
            let status = resp.status().as_u16();
            let paged = resp.headers().contains_key("NextPageUrl");
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            let what = if paged { "paged" } else { code(&body) };
            out.push((status, what.to_string()));
        }
        Ok(out)
    });
    let _ = child.kill();
    let _ = child.wait();
    let got = result?;
    let want: Vec<(u16, String)> = [
        (401, "AF10001"),
        (200, ""),
        (200, "paged"),
        (200, "paged"),
        (400, "AF20023"),
    ]
    .into_iter()
    .map(|(s, w)| (s, w.to_string()))
    .collect();
    assert_eq!(got, want);
    Ok(())
}
