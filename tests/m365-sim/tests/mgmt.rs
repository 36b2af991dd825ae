//! End-to-end tests of the simulator's Office 365 Management Activity API over HTTP:
//! subscriptions and their errors, every listing window rule, `NextPageUri` paging, blob fetch
//! and expiry on the virtual clock, auth, permissions and setup switches, faults, the request
//! budget, each quirk on and off, ground truth against what a client fetches, determinism and
//! the shape of the records.
//!
//! Request budgets are off (see [`config`]) except in the budget test.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use m365_sim::{RunningSim, SimConfig, start};
use reqwest::header::HeaderMap;
use reqwest::{Client, StatusCode};
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
