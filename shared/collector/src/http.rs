//! The HTTP client for Microsoft's APIs: bearer tokens from a [`TokenSource`], retries with
//! exponential backoff and jitter on 5xx, timeouts and connection errors, `Retry-After` honoured
//! on 429, one token refresh on 401, and Microsoft's own error code and message kept in errors.
//! Waiting goes through the clock port and never runs past the run's [`Deadline`].

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::auth::{AuthError, TokenSource};
use domain::model::ErrorInfo;
use runtime::clock::{Clock, Deadline};

/// The HTTP client could not be built (its TLS setup failed).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ClientBuildError(pub String);

/// How hard to try one request.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// Longest `Retry-After` honoured as given; longer ones are capped.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 8,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

/// A client-side request budget: at most `limit` requests per `window`, paced on the clock
/// port. Each request is given the earliest slot the window allows and waits for it; slots are
/// computed, not polled, so a frozen test clock cannot make it spin. Pullers of one app share
/// Microsoft's budget by a static split (ARCHITECTURE.md, "Sources"): each Lambda paces itself to its share.
#[derive(Debug)]
pub struct RequestBudget {
    limit: usize,
    window: chrono::TimeDelta,
    slots: std::sync::Mutex<std::collections::VecDeque<chrono::DateTime<chrono::Utc>>>,
}

impl RequestBudget {
    pub fn new(limit: u32, window: Duration) -> Self {
        RequestBudget {
            limit: limit.max(1) as usize,
            window: chrono::TimeDelta::from_std(window).unwrap_or(chrono::TimeDelta::seconds(10)),
            slots: std::sync::Mutex::new(std::collections::VecDeque::new()),
        }
    }

    /// Parses `N/SECS` (e.g. `2/10`: two requests per ten seconds).
    pub fn parse(s: &str) -> Option<RequestBudget> {
        let (n, secs) = s.trim().split_once('/')?;
        let n: u32 = n.trim().parse().ok().filter(|n| *n > 0)?;
        let secs: u64 = secs.trim().parse().ok().filter(|s| *s > 0)?;
        Some(RequestBudget::new(n, Duration::from_secs(secs)))
    }

    /// How long to wait before the next request may go, reserving its slot.
    pub fn reserve(&self, now: chrono::DateTime<chrono::Utc>) -> Duration {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let slot = if slots.len() < self.limit {
            now
        } else {
            // The request `limit` places back must have left the window.
            let earliest = slots[slots.len() - self.limit] + self.window;
            earliest.max(now)
        };
        slots.push_back(slot);
        while slots.len() > self.limit {
            slots.pop_front();
        }
        (slot - now).to_std().unwrap_or(Duration::ZERO)
    }
}

/// A failed request to Microsoft.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{service} answered HTTP {status} {code}: {message}{hint}{request_id}")]
    Api {
        service: &'static str,
        status: u16,
        code: String,
        message: String,
        /// What the operator should do, for the errors met when setting up.
        hint: &'static str,
        request_id: String,
    },
    /// A 429 from a call made with [`ApiClient::post_json`], which leaves throttling to its
    /// caller (the backfill pauses its submissions for `retry_after` instead of waiting here).
    #[error("{service} refused the request for now (HTTP 429 {code}): {message}")]
    Throttled {
        service: &'static str,
        code: String,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("{service} could not be reached at {path}: {message}")]
    Transport {
        service: &'static str,
        path: String,
        message: String,
    },
    #[error("the run's time budget ran out while waiting to retry ({waiting_for})")]
    Deadline { waiting_for: String },
    #[error("{service} returned a response auditlake cannot read: {message}")]
    Protocol {
        service: &'static str,
        message: String,
    },
}

impl ApiError {
    pub fn info(&self) -> ErrorInfo {
        match self {
            ApiError::Api { code, .. } => ErrorInfo {
                code: code.clone(),
                message: self.to_string(),
            },
            ApiError::Throttled { code, .. } => ErrorInfo {
                code: code.clone(),
                message: self.to_string(),
            },
            ApiError::Auth(a) => a.info(),
            ApiError::Transport { .. } => ErrorInfo {
                code: "Unreachable".into(),
                message: self.to_string(),
            },
            ApiError::Deadline { .. } => ErrorInfo {
                code: "DeadlineExceeded".into(),
                message: self.to_string(),
            },
            ApiError::Protocol { .. } => ErrorInfo {
                code: "ProtocolError".into(),
                message: self.to_string(),
            },
        }
    }

    /// The HTTP status Microsoft answered with, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Api { status, .. } => Some(*status),
            ApiError::Throttled { .. } => Some(429),
            _ => None,
        }
    }
}

/// Graph's error body: `{"error":{"code","message",...}}`; the Management API uses the same.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// Plain-language advice for the errors Microsoft gives a collector that is not set up yet.
pub fn hint(status: u16, code: &str, path: &str) -> &'static str {
    match (status, code) {
        // Identity Protection answers a missing permission and a missing licence alike with 403.
        (403, _) if path.contains("/identityProtection/") => {
            " (risk detections need the application permission IdentityRiskEvent.Read.All with admin consent and a Microsoft Entra ID P2 licence in the tenant)"
        }
        (403, _) if path.contains("/security/alerts_v2") => {
            " (Defender alerts need the application permission SecurityAlert.Read.All with admin consent, and Microsoft Defender XDR in the tenant)"
        }
        (403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant") => {
            " (sign-in logs through Graph need a Microsoft Entra ID P1 or P2 licence in the tenant; data appears up to 3 days after an upgrade)"
        }
        (
            403,
            "Authorization_RequestDenied" | "Authentication_MSGraphPermissionMissing" | "Forbidden",
        ) => {
            " (the app registration lacks this source's application permission or admin consent; see the README's permission table)"
        }
        (_, "AF10001") => {
            " (the app registration lacks the Office 365 Management APIs application permission ActivityFeed.Read, and ActivityFeed.ReadDlp for DLP.All, or admin consent)"
        }
        (_, "AF20022" | "AF20023") => {
            " (the content type has no enabled subscription; auditlake starts it and retries)"
        }
        (401, _) if path.contains("/admin/exchange/tracing/") => {
            " (message trace through Graph needs ExchangeMessageTrace.Read.All and the tenant's message-trace service principal, app id 8bd644d1-64a1-4d4b-ae52-2e0cbf64e373, provisioned; it can take hours to propagate)"
        }
        _ => "",
    }
}

/// Parses `Retry-After` given in (possibly fractional) seconds.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let secs: f64 = v.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// A response body and its headers.
#[derive(Debug)]
pub struct Response {
    pub body: Vec<u8>,
    pub headers: HeaderMap,
}

/// A retrying, authenticated client for one Microsoft API (one token scope).
pub struct ApiClient {
    service: &'static str,
    http: reqwest::Client,
    tokens: Arc<dyn TokenSource>,
    scope: String,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
    budget: Option<RequestBudget>,
}

enum Step {
    Done(Response),
    Retry {
        delay: Option<Duration>,
        why: String,
    },
    Fail(ApiError),
}

impl ApiClient {
    pub fn new(
        service: &'static str,
        http: reqwest::Client,
        tokens: Arc<dyn TokenSource>,
        scope: String,
        clock: Arc<dyn Clock>,
        policy: RetryPolicy,
    ) -> Self {
        ApiClient {
            service,
            http,
            tokens,
            scope,
            clock,
            policy,
            budget: None,
        }
    }

    /// Paces every request (retries included) to `budget`.
    pub fn with_budget(mut self, budget: Option<RequestBudget>) -> Self {
        self.budget = budget;
        self
    }

    /// GETs `url`, retrying as the policy allows.
    pub async fn get(&self, url: &str, deadline: &Deadline) -> Result<Response, ApiError> {
        self.send(reqwest::Method::GET, url, None, deadline).await
    }

    /// POSTs a JSON body (a Graph create), retrying server errors, timeouts and a 401 as `get`
    /// does, but not a 429: that comes back as [`ApiError::Throttled`] with its `Retry-After`,
    /// because a refused create is a limit on the caller's pace (queries a day, queries at once)
    /// that the caller schedules around, not a blip to wait out here.
    pub async fn post_json(
        &self,
        url: &str,
        body: &serde_json::Value,
        deadline: &Deadline,
    ) -> Result<Response, ApiError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ApiError::Protocol {
            service: self.service,
            message: format!("the request body could not be written: {e}"),
        })?;
        self.send(reqwest::Method::POST, url, Some(&bytes), deadline)
            .await
    }

    /// POSTs an empty body to `url` (Management API subscription calls), retrying as the policy
    /// allows. Only idempotent operations are sent this way.
    pub async fn post(&self, url: &str, deadline: &Deadline) -> Result<Response, ApiError> {
        self.send(reqwest::Method::POST, url, None, deadline).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&[u8]>,
        deadline: &Deadline,
    ) -> Result<Response, ApiError> {
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(self.policy.min_delay)
            .with_max_delay(self.policy.max_delay)
            .with_max_times(self.policy.max_retries)
            .with_jitter()
            .build();
        let mut refreshed = false;
        let mut last: Option<ApiError> = None;
        loop {
            if let Some(budget) = &self.budget {
                let wait = budget.reserve(self.clock.now());
                if !wait.is_zero() {
                    if deadline.remaining().is_some_and(|left| left <= wait) {
                        return Err(ApiError::Deadline {
                            waiting_for: "the request budget".into(),
                        });
                    }
                    self.clock.sleep(wait).await;
                }
            }
            let token = self.tokens.token(&self.scope).await?;
            let mut request = self.http.request(method.clone(), url);
            match body {
                Some(b) => {
                    request = request
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(b.to_vec());
                }
                None if method == reqwest::Method::POST => {
                    request = request.header(reqwest::header::CONTENT_LENGTH, "0");
                }
                None => {}
            }
            let sent = request
                .bearer_auth(token.expose_secret())
                .header("client-request-id", uuid::Uuid::new_v4().to_string())
                .send()
                .await;
            let step = match sent {
                Err(e) => {
                    let err = ApiError::Transport {
                        service: self.service,
                        path: path_of(url),
                        message: e.without_url().to_string(),
                    };
                    let why = err.to_string();
                    last = Some(err);
                    Step::Retry { delay: None, why }
                }
                Ok(resp) => {
                    self.classify(url, resp, body.is_none(), &mut refreshed, &mut last)
                        .await
                }
            };
            match step {
                Step::Done(r) => return Ok(r),
                Step::Fail(e) => return Err(e),
                Step::Retry { delay, why } => {
                    let Some(backoff_delay) = backoff.next() else {
                        return Err(last.unwrap_or(ApiError::Protocol {
                            service: self.service,
                            message: why,
                        }));
                    };
                    let delay = delay
                        .map(|d| d.min(self.policy.max_retry_after))
                        .unwrap_or(backoff_delay);
                    if deadline.remaining().is_some_and(|left| left <= delay) {
                        return Err(ApiError::Deadline { waiting_for: why });
                    }
                    tracing::debug!(service = self.service, delay_ms = delay.as_millis() as u64, %why, "Retrying request.");
                    self.clock.sleep(delay).await;
                }
            }
        }
    }

    async fn classify(
        &self,
        url: &str,
        resp: reqwest::Response,
        retry_throttled: bool,
        refreshed: &mut bool,
        last: &mut Option<ApiError>,
    ) -> Step {
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = match resp.bytes().await {
            Ok(b) => b.to_vec(),
            Err(e) => {
                let err = ApiError::Transport {
                    service: self.service,
                    path: String::new(),
                    message: format!("reading the body failed: {}", e.without_url()),
                };
                let why = err.to_string();
                *last = Some(err);
                return Step::Retry { delay: None, why };
            }
        };
        if status.is_success() {
            return Step::Done(Response { body, headers });
        }
        let err = self.api_error(url, status, &headers, &body);
        // The Management API throttles with AF429, sent as 429 or as 403 (Microsoft's Management
        // Activity API reference, "Throttling"); its
        // internal errors (AF50000, AF50005, AF50006) are retried whatever their status.
        let code = match &err {
            ApiError::Api { code, .. } => code.as_str(),
            _ => "",
        };
        let throttled = status == StatusCode::TOO_MANY_REQUESTS || code == "AF429";
        let internal = matches!(code, "AF50000" | "AF50005" | "AF50006");
        match status {
            _ if throttled && !retry_throttled => {
                let (code, message) = match err {
                    ApiError::Api { code, message, .. } => (code, message),
                    other => ("TooManyRequests".into(), other.to_string()),
                };
                Step::Fail(ApiError::Throttled {
                    service: self.service,
                    code,
                    message,
                    retry_after: retry_after(&headers),
                })
            }
            _ if throttled => {
                let why = err.to_string();
                *last = Some(err);
                Step::Retry {
                    delay: retry_after(&headers),
                    why,
                }
            }
            StatusCode::UNAUTHORIZED if !*refreshed => {
                *refreshed = true;
                self.tokens.invalidate(&self.scope);
                let why = err.to_string();
                *last = Some(err);
                Step::Retry {
                    delay: Some(Duration::ZERO),
                    why,
                }
            }
            s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT || internal => {
                let why = err.to_string();
                *last = Some(err);
                Step::Retry { delay: None, why }
            }
            _ => Step::Fail(err),
        }
    }

    fn api_error(
        &self,
        url: &str,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> ApiError {
        let (code, message) = match serde_json::from_slice::<ErrorBody>(body) {
            Ok(b) => (b.error.code, b.error.message),
            Err(_) => (
                status
                    .canonical_reason()
                    .unwrap_or("Error")
                    .replace(' ', ""),
                String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
            ),
        };
        let request_id = headers
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .map(|v| format!(" (request-id {v})"))
            .unwrap_or_default();
        ApiError::Api {
            service: self.service,
            status: status.as_u16(),
            hint: hint(status.as_u16(), &code, &path_of(url)),
            code,
            message,
            request_id,
        }
    }
}

fn path_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|u| u.path().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn a_budget_gives_each_request_the_earliest_slot_its_window_allows() {
        let b = RequestBudget::parse("2/10").unwrap();
        let t0 = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        // A frozen clock: waits are computed from reserved slots, never by polling.
        let waits: Vec<u64> = (0..5).map(|_| b.reserve(t0).as_secs()).collect();
        assert_eq!(waits, vec![0, 0, 10, 10, 20]);
        // Time that really passed frees slots.
        let later = t0 + chrono::TimeDelta::seconds(60);
        assert_eq!(b.reserve(later), Duration::ZERO);
        assert!(RequestBudget::parse("0/10").is_none());
        assert!(RequestBudget::parse("5").is_none());
        assert!(RequestBudget::parse("a/b").is_none());
    }
}
