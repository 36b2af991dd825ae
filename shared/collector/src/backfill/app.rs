//! What the CLI and the function run over the engine: [`BackfillRequest`] (a payload or flags
//! read into a start or a continue) and [`BackfillApp`] (clients built once; start, continue, or
//! trim a look-back to what a finished job has not covered; refuse outside the global cloud).

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;

use super::{Backfill, BackfillRunError, ProgressHook};
use crate::app::Ports;
use crate::auth::{ClientCredentials, TokenSource};
use crate::http::{ApiClient, RequestBudget, RetryPolicy};
use domain::backfill::{
    BackfillError, BackfillJob, BackfillProgress, BackfillSpec, BackfillStore, resolve_range,
};
use domain::cloud::Cloud;
use domain::config::BackfillConfig;
use runtime::clock::Deadline;

/// What one invocation of the backfill asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackfillRequest {
    /// Start `spec` (or continue it: the same spec names the same job). `since`: the range was
    /// a look-back from now, so an unfinished job with the same filters is continued instead of
    /// planning a range minutes apart. `retry_failed` puts failed windows back to pending.
    Start {
        spec: BackfillSpec,
        since: bool,
        retry_failed: bool,
    },
    /// Continue every unfinished job (the scheduled tick, or `auditlake backfill` alone).
    Continue,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    since: Option<String>,
    start: Option<String>,
    end: Option<String>,
    #[serde(default)]
    record_types: Vec<String>,
    #[serde(default)]
    services: Vec<String>,
    #[serde(default)]
    retry_failed: bool,
}

impl BackfillRequest {
    /// Reads an invocation payload: an EventBridge event or `{}` continues; otherwise
    /// `{"since": "180d"}` or `{"start": T, "end": T}` with optional `record_types`,
    /// `services` and `retry_failed`.
    pub fn from_payload(v: &serde_json::Value, now: DateTime<Utc>) -> Result<Self, BackfillError> {
        let obj = v.as_object();
        if obj.is_none_or(|o| o.is_empty() || o.contains_key("detail-type")) {
            return Ok(BackfillRequest::Continue);
        }
        let p: Payload = serde_json::from_value(v.clone())
            .map_err(|e| BackfillError::BadPayload(e.to_string()))?;
        BackfillRequest::new(
            p.since.as_deref(),
            p.start.as_deref(),
            p.end.as_deref(),
            p.record_types,
            p.services,
            p.retry_failed,
            now,
        )
    }

    /// The request the CLI's flags make (none of `since`, `start`, `end`: continue).
    pub fn new(
        since: Option<&str>,
        start: Option<&str>,
        end: Option<&str>,
        record_types: Vec<String>,
        services: Vec<String>,
        retry_failed: bool,
        now: DateTime<Utc>,
    ) -> Result<Self, BackfillError> {
        if since.is_none() && start.is_none() && end.is_none() {
            if !record_types.is_empty() || !services.is_empty() {
                return Err(BackfillError::NoRange);
            }
            return Ok(BackfillRequest::Continue);
        }
        let (start_at, end_at) = resolve_range(since, start, end, now)?;
        Ok(BackfillRequest::Start {
            spec: BackfillSpec::new(start_at, end_at, record_types, services)?,
            since: since.is_some(),
            retry_failed,
        })
    }
}

/// Why a backfill invocation could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum BackfillAppError {
    #[error(
        "the unified audit log's search API (Graph security/auditLog/queries) exists only in \
         Microsoft's global cloud, and AUDITLAKE_CLOUD is `{0}`: a backfill cannot run here \
         (load exports from Search-UnifiedAuditLog with `auditlake import` instead)"
    )]
    WrongCloud(&'static str),
    #[error(transparent)]
    Request(#[from] BackfillError),
    #[error("backfill {id}: {source}")]
    Run {
        id: String,
        #[source]
        source: Box<BackfillRunError>,
    },
    #[error("the backfill jobs could not be read: {0}")]
    Store(#[from] domain::store::StoreError),
    #[error("the HTTP client could not be built: {0}")]
    Http(String),
}

/// The backfill as the CLI and the function run it: configuration and clients built once.
pub struct BackfillApp {
    engine: Backfill,
    cloud: Cloud,
    deadline_margin: std::time::Duration,
}

impl BackfillApp {
    pub fn new(
        config: &BackfillConfig,
        ports: Ports,
        store: Arc<dyn BackfillStore>,
    ) -> Result<Self, BackfillAppError> {
        let c = &config.puller;
        let http = reqwest::Client::builder()
            .timeout(c.http_timeout)
            .connect_timeout(std::time::Duration::from_secs(10))
            .user_agent(concat!("auditlake/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| BackfillAppError::Http(e.to_string()))?;
        let tokens: Arc<dyn TokenSource> = Arc::new(ClientCredentials::new(
            http.clone(),
            c.endpoints.token_url(&c.tenant_id),
            c.client_id.clone(),
            c.credential.clone(),
            ports.params.clone(),
            ports.clock.clone(),
        ));
        // The query API has no published request budget of its own; four requests per 10 s
        // keeps a months-long backfill well clear of Graph's per-app limits.
        let (n, secs) = c.request_budget.unwrap_or((4, 10));
        let api = ApiClient::new(
            "Microsoft Graph",
            http,
            tokens,
            c.endpoints.graph_scope.clone(),
            ports.clock.clone(),
            RetryPolicy {
                max_retries: c.max_retries,
                ..RetryPolicy::default()
            },
        )
        .with_budget(Some(RequestBudget::new(
            n,
            std::time::Duration::from_secs(secs),
        )));
        Ok(BackfillApp {
            engine: Backfill {
                tenant_id: c.tenant_id.clone(),
                graph_root: c.endpoints.graph.clone(),
                api: Arc::new(api),
                store,
                raw: ports.raw,
                events: ports.events,
                clock: ports.clock,
                settings: config.settings.clone(),
                hot_retention: c.hot_retention,
                on_save: None,
            },
            cloud: c.cloud,
            deadline_margin: c.deadline_margin,
        })
    }

    /// Calls `hook` with the job after every save.
    pub fn with_progress(mut self, hook: ProgressHook) -> Self {
        self.engine.on_save = Some(hook);
        self
    }

    /// The run's deadline from the Lambda's deadline (epoch milliseconds), less the margin.
    pub fn lambda_deadline(&self, deadline_epoch_ms: u64) -> Deadline {
        let now = Utc::now().timestamp_millis().max(0) as u64;
        let left = std::time::Duration::from_millis(deadline_epoch_ms.saturating_sub(now));
        Deadline::after(left.saturating_sub(self.deadline_margin))
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.engine.clock.now()
    }

    /// Every job of the tenant, oldest first, as health shows them.
    pub async fn jobs(&self) -> Result<Vec<BackfillProgress>, BackfillAppError> {
        let jobs = self.engine.store.list(&self.engine.tenant_id).await?;
        Ok(jobs.iter().map(BackfillJob::progress).collect())
    }

    /// Handles one request; returns the progress of each job it ran, as saved.
    pub async fn handle(
        &self,
        request: BackfillRequest,
        deadline: &Deadline,
    ) -> Result<Vec<BackfillProgress>, BackfillAppError> {
        if self.cloud != Cloud::Commercial {
            return Err(BackfillAppError::WrongCloud(self.cloud.name()));
        }
        let tenant = &self.engine.tenant_id;
        let run_id = uuid::Uuid::new_v4().simple().to_string();
        let mut todo: Vec<(BackfillJob, u64)> = Vec::new();
        let mut out = Vec::new();
        match request {
            BackfillRequest::Start {
                mut spec,
                since,
                retry_failed,
            } => {
                let mut found = self.engine.store.load(tenant, &spec.id()).await?;
                if found.is_none() && since {
                    let same: Vec<BackfillJob> = self
                        .engine
                        .store
                        .list(tenant)
                        .await?
                        .into_iter()
                        .filter(|j| {
                            j.spec.record_types == spec.record_types
                                && j.spec.services == spec.services
                        })
                        .collect();
                    if let Some(job) = same.iter().find(|j| !j.is_finished()) {
                        tracing::info!(job = %job.id, "continuing the unfinished backfill with the same filters");
                        found = self.engine.store.load(tenant, &job.id).await?;
                    } else if let Some(done) = same
                        .iter()
                        .filter(|j| j.spec.end > spec.start && j.spec.start <= spec.start)
                        .max_by_key(|j| j.spec.end)
                    {
                        // A look-back asked again after a finished one: only what came since
                        // is new, and a finished window is never downloaded again.
                        if spec.end - done.spec.end < TimeDelta::minutes(1) {
                            out.push(done.progress());
                            return Ok(out);
                        }
                        tracing::info!(job = %done.id, "a finished backfill covers the range up to its end: backfilling only what came after");
                        spec = BackfillSpec::new(
                            done.spec.end,
                            spec.end,
                            spec.record_types.clone(),
                            spec.services.clone(),
                        )?;
                        found = self.engine.store.load(tenant, &spec.id()).await?;
                    }
                }
                let (mut job, version) = found.unwrap_or_else(|| {
                    (
                        BackfillJob::plan(spec, self.engine.settings.window, self.now()),
                        0,
                    )
                });
                if retry_failed {
                    job.retry_failed();
                }
                todo.push((job, version));
            }
            BackfillRequest::Continue => {
                for job in self.engine.store.list(tenant).await? {
                    if !job.is_finished()
                        && let Some(found) = self.engine.store.load(tenant, &job.id).await?
                    {
                        todo.push(found);
                    }
                }
            }
        }
        for (job, version) in todo {
            if deadline.passed() {
                break;
            }
            let id = job.id.clone();
            let job = self
                .engine
                .run_job(job, version, &run_id, deadline)
                .await
                .map_err(|source| BackfillAppError::Run {
                    id,
                    source: Box::new(source),
                })?;
            out.push(job.progress());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn a_scheduled_tick_or_nothing_continues_unfinished_jobs() {
        let tick = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
        for p in [tick, json!({}), json!(null)] {
            assert_eq!(
                BackfillRequest::from_payload(&p, now()).unwrap(),
                BackfillRequest::Continue
            );
        }
        let none = BackfillRequest::new(None, None, None, vec![], vec![], false, now());
        assert_eq!(none.unwrap(), BackfillRequest::Continue);
    }

    #[test]
    fn since_and_ranges_read_into_a_spec() {
        let p = json!({"since": "180d", "services": ["Exchange"], "retry_failed": true});
        let BackfillRequest::Start {
            spec,
            since,
            retry_failed,
        } = BackfillRequest::from_payload(&p, now()).unwrap()
        else {
            panic!("a start");
        };
        assert!(since && retry_failed);
        assert_eq!(spec.end - spec.start, TimeDelta::days(180));
        assert_eq!(spec.services, vec!["Exchange".to_string()]);
        let p = json!({"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"});
        let BackfillRequest::Start { spec, since, .. } =
            BackfillRequest::from_payload(&p, now()).unwrap()
        else {
            panic!("a start");
        };
        assert!(!since);
        assert_eq!(spec.end - spec.start, TimeDelta::days(1));
    }

    #[test]
    fn a_bad_request_says_what_is_wrong() {
        let typo = json!({"sinse": "180d"});
        assert!(matches!(
            BackfillRequest::from_payload(&typo, now()),
            Err(BackfillError::BadPayload(m)) if m.contains("sinse")
        ));
        let bad = json!({"since": "forever"});
        assert!(matches!(
            BackfillRequest::from_payload(&bad, now()),
            Err(BackfillError::BadDuration(_))
        ));
        let filters_only = BackfillRequest::new(
            None,
            None,
            None,
            vec!["exchangeAdmin".into()],
            vec![],
            false,
            now(),
        );
        assert_eq!(filters_only, Err(BackfillError::NoRange));
        let backwards = json!({"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"});
        assert!(matches!(
            BackfillRequest::from_payload(&backwards, now()),
            Err(BackfillError::Empty { .. })
        ));
    }
}
