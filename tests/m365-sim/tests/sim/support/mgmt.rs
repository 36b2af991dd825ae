//! The Office 365 Management Activity API's test client: [`Api`], a running simulator with a
//! Management API token that lists content through every page, fetches blobs and moves the
//! virtual clock; a configuration with request budgets off and one day of history; the content
//! types and times the tests list by.

use std::time::Duration;

use chrono::{DateTime, Utc};
use m365_sim::{RunningSim, SimConfig, start};
use reqwest::header::HeaderMap;
use reqwest::{Client, StatusCode};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::{NOW, Res, TENANT, TestResult, t, token_for};

pub const MGMT_SCOPE: &str = "https://manage.office.com/.default";
pub const EXCHANGE: &str = "Audit.Exchange";
pub const TYPES: [&str; 5] = [
    "Audit.AzureActiveDirectory",
    "Audit.Exchange",
    "Audit.SharePoint",
    "Audit.General",
    "DLP.All",
];
pub const HOUR: i64 = 3600;
pub const DAY: i64 = 86_400;

/// `YYYY-MM-DDTHH:MM:SS` (the form beats sends) of `now + secs`.
pub fn at(now: DateTime<Utc>, secs: i64) -> String {
    (now + chrono::Duration::seconds(secs))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// A configuration at [`NOW`] with request budgets off.
pub fn config(f: impl FnOnce(&mut SimConfig)) -> SimConfig {
    let mut c = SimConfig {
        now: Some(t(NOW)),
        enforce_budgets: false,
        days: 1,
        ..SimConfig::default()
    };
    f(&mut c);
    c
}

pub fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

/// A running simulator with a Management API token.
pub struct Api {
    pub c: Client,
    pub sim: RunningSim,
    pub token: std::sync::Mutex<String>,
}

impl Api {
    pub async fn new(cfg: SimConfig) -> Res<Api> {
        let sim = start(cfg).await?;
        let c = Client::builder().timeout(Duration::from_secs(60)).build()?;
        let token = token_for(&c, &sim, MGMT_SCOPE).await?;
        Ok(Api {
            c,
            sim,
            token: std::sync::Mutex::new(token),
        })
    }

    pub fn base(&self) -> String {
        self.sim.base_url()
    }

    pub fn feed(&self) -> String {
        format!("{}/api/v1.0/{TENANT}/activity/feed", self.base())
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Res<(StatusCode, HeaderMap, String)> {
        let tok = self.token.lock().map(|t| t.clone()).unwrap_or_default();
        let resp = req.bearer_auth(tok).send().await?;
        Ok((resp.status(), resp.headers().clone(), resp.text().await?))
    }

    /// GET `url` (absolute, or relative to the feed).
    pub async fn get(&self, url: &str) -> Res<(StatusCode, HeaderMap, Value)> {
        let url = if url.starts_with("http") {
            url.to_string()
        } else {
            format!("{}/{url}", self.feed())
        };
        let (s, h, body) = self.send(self.c.get(url)).await?;
        Ok((s, h, serde_json::from_str(&body).unwrap_or(Value::Null)))
    }

    /// POST `path_query` relative to the feed; the body as text.
    pub async fn post(&self, path_query: &str) -> Res<(StatusCode, String)> {
        let (s, _, body) = self
            .send(self.c.post(format!("{}/{path_query}", self.feed())))
            .await?;
        Ok((s, body))
    }

    pub async fn start_sub(&self, ct: &str) -> Res<(StatusCode, Value)> {
        let (s, body) = self
            .post(&format!("subscriptions/start?contentType={ct}"))
            .await?;
        Ok((s, serde_json::from_str(&body).unwrap_or(Value::Null)))
    }

    pub async fn start_all(&self) -> TestResult {
        for ct in TYPES {
            let (s, b) = self.start_sub(ct).await?;
            assert_eq!(s, StatusCode::OK, "{b}");
        }
        Ok(())
    }

    /// Lists `[start, end)` of `ct` through every page; the items and the number of pages.
    pub async fn list_all(&self, ct: &str, start: &str, end: &str) -> Res<(Vec<Value>, usize)> {
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
    pub async fn fetch_text(&self, uri: &str) -> Res<(StatusCode, String)> {
        let (s, _, body) = self.send(self.c.get(uri)).await?;
        Ok((s, body))
    }

    /// `uri` (from another simulator) pointed at this one.
    pub fn rebase(&self, uri: &str) -> String {
        let path = uri.split_once("/api/").map(|x| x.1).unwrap_or_default();
        format!("{}/api/{path}", self.base())
    }

    pub async fn fetch(&self, uri: &str) -> Res<Vec<Value>> {
        let (s, body) = self.fetch_text(uri).await?;
        assert_eq!(s, StatusCode::OK, "{body}");
        Ok(serde_json::from_str(&body)?)
    }

    /// A blob's records as their exact bytes.
    pub async fn fetch_raw(&self, uri: &str) -> Res<Vec<String>> {
        let (s, body) = self.fetch_text(uri).await?;
        assert_eq!(s, StatusCode::OK, "{body}");
        let raw: Vec<Box<RawValue>> = serde_json::from_str(&body)?;
        Ok(raw.iter().map(|r| r.get().to_string()).collect())
    }

    /// Every blob of `ct` whose contentCreated lies in the `days` days before now, listed in
    /// 24 h windows, with its records.
    pub async fn pull(&self, ct: &str, days: i64) -> Res<Vec<(Value, Vec<Value>)>> {
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

    pub async fn now(&self) -> Res<DateTime<Utc>> {
        let v: Value = self
            .c
            .get(format!("{}/_sim/clock", self.base()))
            .send()
            .await?
            .json()
            .await?;
        Ok(t(v["now"].as_str().unwrap_or_default()))
    }

    pub async fn advance(&self, secs: i64) -> TestResult {
        let resp = self
            .c
            .post(format!("{}/_sim/clock", self.base()))
            .json(&json!({"advance_secs": secs}))
            .send()
            .await?;
        assert_eq!(resp.status(), StatusCode::OK);
        // Tokens expire on the virtual clock too.
        let fresh = token_for(&self.c, &self.sim, MGMT_SCOPE).await?;
        if let Ok(mut t) = self.token.lock() {
            *t = fresh;
        }
        Ok(())
    }

    pub async fn truth(&self, query: &str) -> Res<Value> {
        let resp = self
            .c
            .get(format!("{}/_sim/truth/m365-activity?{query}", self.base()))
            .send()
            .await?;
        assert_eq!(resp.status(), StatusCode::OK);
        Ok(resp.json().await?)
    }

    pub async fn stats(&self) -> Res<Value> {
        Ok(self
            .c
            .get(format!("{}/_sim/stats", self.base()))
            .send()
            .await?
            .json()
            .await?)
    }
}

pub fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn ids_of(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["Id"].as_str().unwrap_or_default().to_string())
        .collect()
}

pub fn ms(s: &str) -> i64 {
    t(s).timestamp_millis()
}

/// Not slot-aligned: a one-day history's first blob is at 12:10 yesterday and its last at 12:00
/// today, all inside the listing window `[now - 24 h, now)`.
pub const NOW_OFF: &str = "2026-07-17T12:05:00Z";
