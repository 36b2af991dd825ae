//! The end-to-end harness shared by the e2e tests and the local demo: a moto server process
//! (S3, DynamoDB, SSM) reached through the real AWS SDK, the bucket, tables and secret the
//! pullers need, a client for the tenant simulator's control endpoints (virtual clock, truth),
//! and the `AUDITLAKE_*` variables that point a puller at both.

pub mod analytics;
pub mod detections;
pub mod notifications;
pub mod stream;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Deserialize;
use testkit::provision;

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A free loopback port.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A moto server child process, killed when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts moto from the project's virtual environment through `tests/e2e/moto_server_atomic.py`
    /// (moto_server with DynamoDB's conditional writes made atomic, as DynamoDB's are), or the
    /// `moto_server` named by `AUDITLAKE_MOTO_SERVER`.
    pub async fn start() -> Result<Moto, String> {
        let mut cmd = match std::env::var_os("AUDITLAKE_MOTO_SERVER") {
            Some(bin) => Command::new(bin),
            None => {
                let python = repo_root().join(".venv/bin/python");
                if !python.exists() {
                    return Err(format!(
                        "no Python tools at {}: run scripts/test or scripts/demo, which install the pinned Python tools (moto) into .venv",
                        python.display()
                    ));
                }
                let mut c = Command::new(python);
                c.arg(repo_root().join("tests/e2e/moto_server_atomic.py"));
                c
            }
        };
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let child = cmd
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start moto: {e}"))?;
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        for _ in 0..300 {
            if http
                .get(format!("{}/moto-api/", moto.endpoint))
                .send()
                .await
                .is_ok()
            {
                return Ok(moto);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!(
            "moto_server did not answer on {} within 15 s",
            moto.endpoint
        ))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An `SdkConfig` for a local endpoint with static test credentials.
pub async fn local_sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .load()
        .await
}

/// Names of the local resources.
#[derive(Debug, Clone)]
pub struct StackNames {
    pub bucket: String,
    pub events_table: String,
    pub state_table: String,
    pub alerts_table: String,
    pub secret_param: String,
}

impl Default for StackNames {
    fn default() -> Self {
        StackNames {
            bucket: "auditlake-local".into(),
            events_table: "auditlake-events".into(),
            state_table: "auditlake-state".into(),
            alerts_table: "auditlake-alerts".into(),
            secret_param: "/auditlake/client-secret".into(),
        }
    }
}

/// Creates the bucket, tables and client-secret parameter.
pub async fn provision(
    sdk: &SdkConfig,
    names: &StackNames,
    client_secret: &str,
) -> Result<(), String> {
    provision::ensure_bucket(sdk, &names.bucket)
        .await
        .map_err(|e| e.to_string())?;
    provision::ensure_events_table(sdk, &names.events_table)
        .await
        .map_err(|e| e.to_string())?;
    provision::ensure_state_table(sdk, &names.state_table)
        .await
        .map_err(|e| e.to_string())?;
    provision::ensure_alerts_table(sdk, &names.alerts_table)
        .await
        .map_err(|e| e.to_string())?;
    provision::put_secure_parameter(
        sdk,
        &names.secret_param,
        &SecretString::from(client_secret.to_string()),
    )
    .await
    .map_err(|e| e.to_string())
}

/// The puller configuration that points at the simulator and the local stack.
pub fn puller_vars(
    sim_base: &str,
    tenant: &str,
    client_id: &str,
    names: &StackNames,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = [
        ("AUDITLAKE_TENANT_ID", tenant),
        ("AUDITLAKE_CLIENT_ID", client_id),
        ("AUDITLAKE_CLIENT_SECRET_PARAM", names.secret_param.as_str()),
        ("AUDITLAKE_LOGIN_URL", sim_base),
        ("AUDITLAKE_GRAPH_URL", sim_base),
        ("AUDITLAKE_MANAGEMENT_URL", sim_base),
        ("AUDITLAKE_BUCKET", names.bucket.as_str()),
        ("AUDITLAKE_EVENTS_TABLE", names.events_table.as_str()),
        ("AUDITLAKE_STATE_TABLE", names.state_table.as_str()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        vars.retain(|(name, _)| name != k);
        vars.push((k.to_string(), v.to_string()));
    }
    vars
}

/// `/_sim/truth/{source}`.
#[derive(Debug, Deserialize)]
pub struct Truth {
    pub source: String,
    pub as_of: String,
    pub ids: Vec<String>,
    #[serde(default)]
    pub expired_ids: Vec<String>,
}

#[derive(Deserialize)]
struct ClockReply {
    now: String,
}

/// One audit log query as the simulator saw it submitted.
#[derive(Debug, Clone, Deserialize)]
pub struct SimAuditQuery {
    pub seq: u64,
    pub submitted: DateTime<Utc>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub status: String,
}

/// Client for the simulator's control endpoints.
#[derive(Clone)]
pub struct SimControl {
    http: reqwest::Client,
    pub base: String,
}

impl SimControl {
    pub fn new(base: impl Into<String>) -> Self {
        SimControl {
            http: reqwest::Client::new(),
            base: base.into(),
        }
    }

    pub async fn clock(&self, body: serde_json::Value) -> Result<DateTime<Utc>, String> {
        let reply: ClockReply = self
            .http
            .post(format!("{}/_sim/clock", self.base))
            .json(&body)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("POST /_sim/clock: {e}"))?
            .json()
            .await
            .map_err(|e| format!("POST /_sim/clock reply: {e}"))?;
        domain::model::parse_time(&reply.now)
            .ok_or_else(|| format!("bad clock reply {}", reply.now))
    }

    /// The simulator's current virtual time.
    pub async fn now(&self) -> Result<DateTime<Utc>, String> {
        let reply: ClockReply = self
            .http
            .get(format!("{}/_sim/clock", self.base))
            .send()
            .await
            .map_err(|e| format!("GET /_sim/clock: {e}"))?
            .json()
            .await
            .map_err(|e| format!("GET /_sim/clock reply: {e}"))?;
        domain::model::parse_time(&reply.now)
            .ok_or_else(|| format!("bad clock reply {}", reply.now))
    }

    /// Moves the virtual clock forward.
    pub async fn advance(&self, secs: u64) -> Result<DateTime<Utc>, String> {
        self.clock(serde_json::json!({ "advance_secs": secs }))
            .await
    }

    /// Record ids visible by `until`.
    pub async fn truth(&self, source: &str, until: DateTime<Utc>) -> Result<Truth, String> {
        self.truth_of(source, None, until).await
    }

    /// Record ids of one stream (e.g. a sign-in kind) visible by `until`.
    pub async fn truth_of(
        &self,
        source: &str,
        stream: Option<&str>,
        until: DateTime<Utc>,
    ) -> Result<Truth, String> {
        let mut query = vec![("until", domain::model::fmt_time(until))];
        if let Some(s) = stream {
            query.push(("stream", s.to_string()));
        }
        self.http
            .get(format!("{}/_sim/truth/{source}", self.base))
            .query(&query)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("GET /_sim/truth: {e}"))?
            .json()
            .await
            .map_err(|e| format!("GET /_sim/truth reply: {e}"))
    }

    /// Record ids of a ranged truth (`/_sim/truth/audit-search`): records with a time in
    /// `[start, end)` visible by `until`.
    pub async fn truth_range(
        &self,
        source: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Truth, String> {
        let query = [
            ("start", domain::model::fmt_time(start)),
            ("end", domain::model::fmt_time(end)),
            ("until", domain::model::fmt_time(until)),
        ];
        self.http
            .get(format!("{}/_sim/truth/{source}", self.base))
            .query(&query)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("GET /_sim/truth/{source}: {e}"))?
            .json()
            .await
            .map_err(|e| format!("GET /_sim/truth/{source} reply: {e}"))
    }

    /// Every audit log query submitted to the simulator, in order (`/_sim/audit-search/queries`).
    pub async fn audit_queries(&self) -> Result<Vec<SimAuditQuery>, String> {
        #[derive(Deserialize)]
        struct Reply {
            queries: Vec<SimAuditQuery>,
        }
        let reply: Reply = self
            .http
            .get(format!("{}/_sim/audit-search/queries", self.base))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("GET /_sim/audit-search/queries: {e}"))?
            .json()
            .await
            .map_err(|e| format!("GET /_sim/audit-search/queries reply: {e}"))?;
        Ok(reply.queries)
    }

    /// How many records of the source (of one stream, when given) are visible by `until`: the
    /// truth's size without its ids (`count=true`), which a benchmark of a million events reads
    /// without holding the list.
    pub async fn truth_count(
        &self,
        source: &str,
        stream: Option<&str>,
        until: DateTime<Utc>,
    ) -> Result<u64, String> {
        let mut query = vec![
            ("until", domain::model::fmt_time(until)),
            ("count", "true".to_string()),
        ];
        if let Some(s) = stream {
            query.push(("stream", s.to_string()));
        }
        let reply: serde_json::Value = self
            .http
            .get(format!("{}/_sim/truth/{source}", self.base))
            .query(&query)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("GET /_sim/truth?count=true: {e}"))?
            .json()
            .await
            .map_err(|e| format!("GET /_sim/truth?count=true reply: {e}"))?;
        reply["count"]
            .as_u64()
            .ok_or_else(|| format!("GET /_sim/truth?count=true: no count in {reply}"))
    }

    /// `/_sim/truth/attacks` as of `until`: the planted attack scenarios whose records are all
    /// served by then, each with the rule it must raise and its record ids.
    pub async fn attacks(&self, until: DateTime<Utc>) -> Result<Vec<serde_json::Value>, String> {
        let reply: serde_json::Value = self
            .http
            .get(format!("{}/_sim/truth/attacks", self.base))
            .query(&[("until", domain::model::fmt_time(until))])
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("GET /_sim/truth/attacks: {e}"))?
            .json()
            .await
            .map_err(|e| format!("GET /_sim/truth/attacks reply: {e}"))?;
        reply["attacks"]
            .as_array()
            .cloned()
            .ok_or_else(|| format!("GET /_sim/truth/attacks: no attacks in {reply}"))
    }

    /// `/_sim/truth/{source}?detail=true` as JSON (the Management API's blobs and
    /// `expired_content_ids`).
    pub async fn truth_detail(
        &self,
        source: &str,
        until: DateTime<Utc>,
    ) -> Result<serde_json::Value, String> {
        self.http
            .get(format!("{}/_sim/truth/{source}", self.base))
            .query(&[
                ("until", domain::model::fmt_time(until)),
                ("detail", "true".to_string()),
            ])
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("GET /_sim/truth: {e}"))?
            .json()
            .await
            .map_err(|e| format!("GET /_sim/truth reply: {e}"))
    }

    /// Changes the simulator's fault probabilities.
    pub async fn set_faults(&self, fault_429: f64, fault_5xx: f64) -> Result<(), String> {
        self.faults(serde_json::json!({"fault_429": fault_429, "fault_5xx": fault_5xx}))
            .await
    }

    /// Changes the fault probabilities and the delay of every data response.
    pub async fn set_faults_and_latency(
        &self,
        fault_429: f64,
        fault_5xx: f64,
        latency_ms: u64,
    ) -> Result<(), String> {
        self.faults(serde_json::json!({"fault_429": fault_429, "fault_5xx": fault_5xx, "latency_ms": latency_ms}))
            .await
    }

    async fn faults(&self, body: serde_json::Value) -> Result<(), String> {
        self.http
            .post(format!("{}/_sim/faults", self.base))
            .json(&body)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("POST /_sim/faults: {e}"))?;
        Ok(())
    }

    /// Points next-page links (Graph's `@odata.nextLink`, the Management API's `NextPageUri`)
    /// at `base`, or back at the simulator with `None`.
    pub async fn set_paging_base(&self, base: Option<&str>) -> Result<(), String> {
        self.http
            .post(format!("{}/_sim/paging-base", self.base))
            .json(&serde_json::json!({ "base": base }))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("POST /_sim/paging-base: {e}"))?;
        Ok(())
    }

    /// The simulator's request counters.
    pub async fn stats(&self) -> Result<serde_json::Value, String> {
        self.http
            .get(format!("{}/_sim/stats", self.base))
            .send()
            .await
            .map_err(|e| format!("GET /_sim/stats: {e}"))?
            .json()
            .await
            .map_err(|e| format!("GET /_sim/stats reply: {e}"))
    }
}

/// Reads every raw object under `prefix` and returns the records' `id` fields.
pub async fn raw_record_ids(
    raw: &dyn domain::store::RawStore,
    prefix: &str,
) -> Result<Vec<String>, String> {
    Ok(raw_records(raw, prefix)
        .await?
        .iter()
        // Graph records carry `id`, Management API records `Id`.
        .filter_map(|v| v.get("id").or_else(|| v.get("Id")).and_then(|i| i.as_str()))
        .map(str::to_string)
        .collect())
}

/// Every record of every raw object under `prefix` (gzipped NDJSON), in key order.
pub async fn raw_records(
    raw: &dyn domain::store::RawStore,
    prefix: &str,
) -> Result<Vec<serde_json::Value>, String> {
    use std::io::Read;
    let mut out = Vec::new();
    for key in raw.list(prefix).await.map_err(|e| e.to_string())? {
        let body = raw.get(&key).await.map_err(|e| e.to_string())?;
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .map_err(|e| format!("{key}: {e}"))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            out.push(serde_json::from_str(line).map_err(|e| format!("{key}: {e}"))?);
        }
    }
    Ok(out)
}

/// A clock that reads the simulator's virtual time and waits by moving it: `sleep(d)` advances
/// the simulator's clock by `d`, as real time would pass while a real collector waits. Request
/// budgets and `Retry-After` then behave as they would against Microsoft, in no real time.
pub struct SimClock {
    ctl: SimControl,
    now: std::sync::Mutex<DateTime<Utc>>,
    slept: std::sync::Mutex<Vec<Duration>>,
}

impl SimClock {
    pub async fn new(ctl: SimControl) -> Result<SimClock, String> {
        let now = ctl.now().await?;
        Ok(SimClock {
            ctl,
            now: std::sync::Mutex::new(now),
            slept: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Moves the simulator's clock forward and follows it.
    pub async fn advance(&self, secs: u64) -> Result<DateTime<Utc>, String> {
        let now = self.ctl.advance(secs).await?;
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) = now;
        Ok(now)
    }

    /// Every wait requested, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.slept.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[domain::async_trait]
impl runtime::clock::Clock for SimClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn sleep(&self, d: Duration) {
        self.slept.lock().unwrap_or_else(|p| p.into_inner()).push(d);
        // Whole milliseconds; the simulator takes fractional seconds.
        let body = serde_json::json!({ "advance_secs": d.as_millis() as f64 / 1000.0 });
        match self.ctl.clock(body).await {
            Ok(now) => *self.now.lock().unwrap_or_else(|p| p.into_inner()) = now,
            Err(e) => eprintln!("SimClock: could not advance the simulator: {e}"),
        }
    }
}

/// Every item of a DynamoDB table (paged Scan), for tests that look at what was written.
pub async fn scan_table(
    db: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    db.scan()
        .table_name(table)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(|r| r.expect("scan"))
        .collect()
}
