//! One HTTPS POST to a user-configured destination, made safely: the URL passes the allow-list
//! (`domain::destination`), its host is resolved here and every address vetted (public only;
//! loopback too on a local stack), and the connection goes to those vetted addresses only
//! (reqwest's resolver override), so a DNS answer that changes between the check and the
//! connection cannot send it elsewhere. Redirects are never followed (a 3xx is a failure that
//! names its status), proxies from the environment are ignored, and a request is retried with
//! backoff on a connection error, a timeout, 408, 429 or a 5xx, never on a refusal.
//!
//! Errors name the destination's host and the status or error kind: never the body, a secret
//! or a header value.

use std::net::SocketAddr;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use domain::config::Outbound;
use domain::destination::{Refused, is_public};

/// Why a POST did not deliver.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Refused before any request: retrying cannot help.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The local CA file could not be read (a local stack's setup).
    #[error("the destinations' CA file {path} cannot be used: {reason}")]
    CaFile { path: String, reason: String },
    /// Every try failed; the last failure.
    #[error("{host}: {reason} (after {tries} tries)")]
    Failed {
        host: String,
        reason: String,
        tries: u32,
    },
}

/// How a request is retried.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub tries: u32,
    pub first_delay: Duration,
    pub timeout: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            tries: 4,
            first_delay: Duration::from_millis(500),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Posts to allow-listed destinations.
pub struct Sender {
    outbound: Outbound,
    ca: Option<reqwest::Certificate>,
    retry: Retry,
}

impl Sender {
    pub fn new(outbound: Outbound, retry: Retry) -> Result<Self, SendError> {
        let ca = match &outbound.ca_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| SendError::CaFile {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                Some(
                    reqwest::Certificate::from_pem(&pem).map_err(|e| SendError::CaFile {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?,
                )
            }
            None => None,
        };
        Ok(Sender {
            outbound,
            ca,
            retry,
        })
    }

    /// Checks `url` and resolves its host to vetted addresses.
    pub async fn vet(&self, url: &str) -> Result<(String, Vec<SocketAddr>), Refused> {
        let (host, port) = self.outbound.allowlist.check(url)?;
        let looked_up: Option<Vec<SocketAddr>> = tokio::net::lookup_host((host.clone(), port))
            .await
            .ok()
            .map(Iterator::collect);
        let Some(addrs) = looked_up else {
            return Err(Refused::Unresolved(host));
        };
        if addrs.is_empty() {
            return Err(Refused::Unresolved(host));
        }
        for a in &addrs {
            let ok = is_public(a.ip()) || (self.outbound.allow_loopback && a.ip().is_loopback());
            if !ok {
                return Err(Refused::PrivateAddress { host, addr: a.ip() });
            }
        }
        Ok((host, addrs))
    }

    fn client(&self, host: &str, addrs: &[SocketAddr]) -> Result<reqwest::Client, String> {
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(self.retry.timeout)
            .resolve_to_addrs(host, addrs);
        if let Some(ca) = &self.ca {
            b = b.tls_certs_only([ca.clone()]);
        }
        b.build().map_err(|e| format!("client: {e}"))
    }

    /// POSTs `body` (of `content_type`) to `url` with `headers`, retrying transient failures;
    /// the status on success.
    pub async fn post(
        &self,
        url: &str,
        content_type: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<u16, SendError> {
        let (host, addrs) = self.vet(url).await?;
        let client = self
            .client(&host, &addrs)
            .map_err(|reason| SendError::Failed {
                host: host.clone(),
                reason,
                tries: 0,
            })?;
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(self.retry.first_delay)
            .with_max_times(self.retry.tries.saturating_sub(1) as usize)
            .with_jitter()
            .build();
        let mut tries = 0;
        loop {
            tries += 1;
            let mut req = client
                .post(url)
                .header("content-type", content_type)
                .body(body.clone());
            for (k, v) in headers {
                req = req.header(*k, v.as_str());
            }
            let (reason, retry) = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    if status.is_success() {
                        return Ok(status.as_u16());
                    }
                    let code = status.as_u16();
                    let retry = code == 408 || code == 429 || status.is_server_error();
                    let what = if status.is_redirection() {
                        format!("status {code} (redirects are not followed)")
                    } else {
                        format!("status {code}")
                    };
                    (what, retry)
                }
                Err(e) if e.is_timeout() => ("timed out".to_owned(), true),
                Err(e) if e.is_connect() => ("connection failed".to_owned(), true),
                Err(_) => ("request failed".to_owned(), true),
            };
            match (retry, delays.next()) {
                (true, Some(delay)) => tokio::time::sleep(delay).await,
                _ => {
                    return Err(SendError::Failed {
                        host,
                        reason,
                        tries,
                    });
                }
            }
        }
    }
}

impl Sender {
    /// One POST to `url` over the same vetted, pinned connection as [`Sender::post`], without
    /// retries (the caller keeps its own time budget): the status and at most `max_bytes` of the
    /// response body (more is a failure). For a request whose answer matters (the questions'
    /// chat-completions client in `shared/mcp`).
    pub async fn exchange(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
        max_bytes: usize,
    ) -> Result<(u16, Vec<u8>), SendError> {
        let (host, addrs) = self.vet(url).await?;
        let failed = |reason: String| SendError::Failed {
            host: host.clone(),
            reason,
            tries: 1,
        };
        let client = self.client(&host, &addrs).map_err(&failed)?;
        let mut req = client
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        let mut resp = req.send().await.map_err(|e| {
            failed(
                if e.is_timeout() {
                    "timed out"
                } else if e.is_connect() {
                    "connection failed"
                } else {
                    "request failed"
                }
                .to_owned(),
            )
        })?;
        let status = resp.status().as_u16();
        let mut out = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|_| failed("the answer could not be read".to_owned()))?
        {
            if out.len() + chunk.len() > max_bytes {
                return Err(failed(format!(
                    "the answer is larger than {max_bytes} bytes"
                )));
            }
            out.extend_from_slice(&chunk);
        }
        Ok((status, out))
    }
}

/// The headers of a signed delivery: `auditlake-signature` (DESIGN "Webhook signature") and
/// `auditlake-delivery`.
pub fn signed_headers(
    secret: &[u8],
    unix_time: i64,
    delivery_id: &str,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    vec![
        (
            "auditlake-signature",
            domain::destination::signature(secret, unix_time, body),
        ),
        ("auditlake-delivery", delivery_id.to_owned()),
    ]
}
