//! The audit search backfill engine over `domain::backfill`. One call of [`Backfill::run_job`]
//! takes the job's lease, then loops until the deadline: polls submitted queries, pages succeeded
//! ones into the events table through the m365-activity path (`PageWriter`, stream =
//! `content_type_of(record)`), splits windows over the record limit, resubmits failed queries,
//! submits pending windows up to the concurrency limit (pausing until `not_before` after a 429),
//! saves the job after every step, and sleeps `poll` on the clock port when nothing moved.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::app::Ports;
use crate::auth::{ClientCredentials, TokenSource};
use crate::http::{ApiClient, ApiError, RequestBudget, RetryPolicy};
use crate::pipeline::{PageCounts, PageWriter};
use crate::sources::graph::checked_next_link;
use domain::backfill::{
    BackfillError, BackfillJob, BackfillProgress, BackfillSpec, BackfillStore, JobLease,
    WindowState, content_type_of, resolve_range,
};
use domain::cloud::Cloud;
use domain::config::{BackfillConfig, BackfillSettings};
use domain::model::{ErrorInfo, Source, fmt_time};
use domain::store::{EventStore, RawStore, StateError};
use domain::stream::{ContentType, Stream};
use runtime::clock::{Clock, Deadline};

const QUERIES: &str = "v1.0/security/auditLog/queries";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryStatus {
    id: String,
    status: String,
    #[serde(default)]
    is_record_count_limit_exceeded: bool,
}

#[derive(Deserialize)]
struct RecordsPage {
    value: Vec<Box<RawValue>>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct RecordHead<'a> {
    #[serde(rename = "auditData", borrow, default)]
    audit_data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct DataHead {
    #[serde(rename = "RecordType", default)]
    record_type: Option<u64>,
    #[serde(rename = "Workload", default)]
    workload: Option<String>,
}

pub struct Backfill {
    pub tenant_id: String,
    pub graph_root: String,
    pub api: Arc<ApiClient>,
    pub store: Arc<dyn BackfillStore>,
    pub raw: Arc<dyn RawStore>,
    pub events: Arc<dyn EventStore>,
    pub clock: Arc<dyn Clock>,
    pub settings: BackfillSettings,
    pub hot_retention: TimeDelta,
    /// Called with the job after every save (the CLI's progress line).
    pub on_save: Option<ProgressHook>,
}

/// See [`Backfill::on_save`].
pub type ProgressHook = Arc<dyn Fn(&BackfillJob) + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum BackfillRunError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl Backfill {
    fn url(&self, rest: &str) -> String {
        format!("{}/{QUERIES}{rest}", self.graph_root.trim_end_matches('/'))
    }

    async fn save(&self, job: &mut BackfillJob, version: &mut u64) -> Result<(), StateError> {
        job.updated_at = fmt_time(self.clock.now());
        *version = self.store.save(&self.tenant_id, job, *version).await?;
        if let Some(hook) = &self.on_save {
            hook(job);
        }
        Ok(())
    }

    /// Runs `job` until it finishes or the deadline nears; returns it as last saved.
    pub async fn run_job(
        &self,
        mut job: BackfillJob,
        mut version: u64,
        run_id: &str,
        deadline: &Deadline,
    ) -> Result<BackfillJob, BackfillRunError> {
        let now = self.clock.now();
        if let Some(l) = &job.lease
            && l.owner != run_id
            && l.until > now
        {
            return Err(StateError::Locked {
                owner: l.owner.clone(),
                until: fmt_time(l.until),
            }
            .into());
        }
        let budget = deadline
            .remaining()
            .and_then(|d| TimeDelta::from_std(d).ok())
            .unwrap_or(TimeDelta::minutes(30));
        job.lease = Some(JobLease {
            owner: run_id.to_string(),
            until: now + budget + TimeDelta::minutes(2),
        });
        self.save(&mut job, &mut version).await?;
        let mut seq = 0u64;
        let result = self
            .drive(&mut job, &mut version, run_id, &mut seq, deadline)
            .await;
        if let Err(e) = &result {
            job.last_error = Some(ErrorInfo {
                code: "BackfillStopped".into(),
                message: e.to_string(),
            });
        }
        job.lease = None;
        if job.is_finished() && job.finished_at.is_none() {
            job.finished_at = Some(fmt_time(self.clock.now()));
        }
        // A lost lease means another run owns the job now: leave its item alone.
        if !matches!(
            result,
            Err(BackfillRunError::State(StateError::LeaseLost { .. }))
        ) {
            self.save(&mut job, &mut version).await?;
        }
        result.map(|()| job)
    }

    async fn drive(
        &self,
        job: &mut BackfillJob,
        version: &mut u64,
        run_id: &str,
        seq: &mut u64,
        deadline: &Deadline,
    ) -> Result<(), BackfillRunError> {
        loop {
            if job.is_finished() {
                return Ok(());
            }
            if deadline
                .remaining()
                .is_some_and(|left| left <= self.settings.poll)
            {
                return Ok(());
            }
            let mut moved = false;
            // 1. Queries open at Microsoft.
            let mut idx = 0;
            while idx < job.windows.len() {
                let w = job.windows[idx].clone();
                match w.state {
                    WindowState::Submitted { query, .. } => {
                        moved |= self
                            .check(job, version, idx, &query, run_id, seq, deadline)
                            .await?;
                    }
                    WindowState::Paging {
                        query,
                        next,
                        records,
                    } => {
                        self.page(
                            job, version, idx, &query, next, records, run_id, seq, deadline,
                        )
                        .await?;
                        moved = true;
                    }
                    _ => {}
                }
                idx += 1;
            }
            // 2. Submissions, within the concurrency limit and after any pause.
            let now = self.clock.now();
            if job.not_before.is_none_or(|t| t <= now) {
                job.not_before = None;
                while job.windows.iter().filter(|w| w.is_open()).count() < self.settings.concurrency
                {
                    let Some(idx) = job
                        .windows
                        .iter()
                        .position(|w| matches!(w.state, WindowState::Pending))
                    else {
                        break;
                    };
                    match self.submit(job, idx, deadline).await {
                        Ok(id) => {
                            job.windows[idx].state = WindowState::Submitted {
                                query: id,
                                submitted_at: fmt_time(self.clock.now()),
                            };
                            job.queries_submitted += 1;
                            self.save(job, version).await?;
                            moved = true;
                        }
                        Err(ApiError::Throttled { retry_after, .. }) => {
                            job.throttled += 1;
                            let wait = retry_after.unwrap_or(std::time::Duration::from_secs(60));
                            job.not_before = Some(
                                self.clock.now()
                                    + TimeDelta::from_std(wait).unwrap_or(TimeDelta::minutes(1)),
                            );
                            self.save(job, version).await?;
                            break;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            if !moved {
                let mut wait = self.settings.poll;
                if let Some(t) = job.not_before
                    && !job.windows.iter().any(|w| w.is_open())
                {
                    wait = (t - self.clock.now())
                        .to_std()
                        .unwrap_or(wait)
                        .max(std::time::Duration::from_secs(1));
                }
                if deadline.remaining().is_some_and(|left| left <= wait) {
                    return Ok(());
                }
                // The lease must outlive the sleep (a pause until a 429's Retry-After can be
                // hours), or another run would take the job while this one waits.
                let until = self.clock.now()
                    + TimeDelta::from_std(wait).unwrap_or(TimeDelta::hours(1))
                    + TimeDelta::minutes(2);
                if let Some(l) = job.lease.as_mut()
                    && l.until < until
                {
                    l.until = until;
                    self.save(job, version).await?;
                }
                self.clock.sleep(wait).await;
            }
        }
    }

    async fn submit(
        &self,
        job: &BackfillJob,
        idx: usize,
        deadline: &Deadline,
    ) -> Result<String, ApiError> {
        let w = &job.windows[idx];
        let body = serde_json::json!({
            "displayName": format!("auditlake {} {}", job.id, fmt_time(w.start)),
            "filterStartDateTime": fmt_time(w.start),
            "filterEndDateTime": fmt_time(w.end),
            "recordTypeFilters": job.spec.record_types,
            "serviceFilters": job.spec.services,
        });
        let resp = self.api.post_json(&self.url(""), &body, deadline).await?;
        let q: QueryStatus =
            serde_json::from_slice(&resp.body).map_err(|e| ApiError::Protocol {
                service: "Microsoft Graph",
                message: format!("an audit log query answer is not a query: {e}"),
            })?;
        Ok(q.id)
    }

    /// Looks at a submitted query; true when its window moved on.
    #[allow(clippy::too_many_arguments)]
    async fn check(
        &self,
        job: &mut BackfillJob,
        version: &mut u64,
        idx: usize,
        query: &str,
        run_id: &str,
        seq: &mut u64,
        deadline: &Deadline,
    ) -> Result<bool, BackfillRunError> {
        let resp = match self
            .api
            .get(&self.url(&format!("/{query}")), deadline)
            .await
        {
            Ok(r) => r,
            // The query is gone (expired at Microsoft): ask again.
            Err(ApiError::Api { status: 404, .. }) => {
                job.windows[idx].state = WindowState::Pending;
                self.save(job, version).await?;
                return Ok(true);
            }
            Err(e) => return Err(e.into()),
        };
        let q: QueryStatus =
            serde_json::from_slice(&resp.body).map_err(|e| ApiError::Protocol {
                service: "Microsoft Graph",
                message: format!("an audit log query answer is not a query: {e}"),
            })?;
        match q.status.as_str() {
            "notStarted" | "running" => Ok(false),
            "succeeded" if q.is_record_count_limit_exceeded && job.split(idx) => {
                self.save(job, version).await?;
                Ok(true)
            }
            "succeeded" => {
                job.windows[idx].state = WindowState::Paging {
                    query: q.id.clone(),
                    next: None,
                    records: 0,
                };
                self.save(job, version).await?;
                self.page(job, version, idx, &q.id, None, 0, run_id, seq, deadline)
                    .await?;
                if q.is_record_count_limit_exceeded
                    && let WindowState::Done { records } = job.windows[idx].state.clone()
                {
                    // A minute that holds more than a query returns: stored what came, said so.
                    job.windows_done -= 1;
                    job.windows[idx].state = WindowState::Failed {
                        reason: ErrorInfo {
                            code: "RecordLimitExceeded".into(),
                            message: "this minute holds more records than one audit log query returns; the rest is missing".into(),
                        },
                        records,
                    };
                    self.save(job, version).await?;
                }
                Ok(true)
            }
            other => {
                job.queries_failed += 1;
                let w = &mut job.windows[idx];
                w.attempts += 1;
                w.state = if w.attempts >= self.settings.max_attempts {
                    WindowState::Failed {
                        reason: ErrorInfo {
                            code: "QueryFailed".into(),
                            message: format!(
                                "the audit log query ended `{other}` {} times",
                                w.attempts
                            ),
                        },
                        records: 0,
                    }
                } else {
                    WindowState::Pending
                };
                self.save(job, version).await?;
                Ok(true)
            }
        }
    }

    /// Reads a succeeded query's records from `next` (or the first page) to the end, saving
    /// the next link after each stored page; marks the window done.
    #[allow(clippy::too_many_arguments)]
    async fn page(
        &self,
        job: &mut BackfillJob,
        version: &mut u64,
        idx: usize,
        query: &str,
        mut next: Option<String>,
        mut records: u64,
        run_id: &str,
        seq: &mut u64,
        deadline: &Deadline,
    ) -> Result<(), BackfillRunError> {
        let root = reqwest::Url::parse(&self.graph_root).map_err(|e| ApiError::Protocol {
            service: "Microsoft Graph",
            message: format!("bad Graph root: {e}"),
        })?;
        loop {
            let url = next
                .clone()
                .unwrap_or_else(|| self.url(&format!("/{query}/records?$top=1000")));
            let resp = self.api.get(&url, deadline).await?;
            let page: RecordsPage =
                serde_json::from_slice(&resp.body).map_err(|e| ApiError::Protocol {
                    service: "Microsoft Graph",
                    message: format!("a records page is not a Graph collection: {e}"),
                })?;
            let counts = self.store_page(&page.value, run_id, seq).await?;
            records += page.value.len() as u64;
            job.records += page.value.len() as u64;
            job.new += counts.new;
            job.duplicates += counts.duplicates;
            job.quarantined += counts.quarantined;
            next = match page.next_link {
                Some(n) => Some(
                    checked_next_link(&root, &n).map_err(|e| ApiError::Protocol {
                        service: "Microsoft Graph",
                        message: e.to_string(),
                    })?,
                ),
                None => None,
            };
            if next.is_none() {
                job.finish_window(idx, records);
                self.save(job, version).await?;
                return Ok(());
            }
            job.windows[idx].state = WindowState::Paging {
                query: query.to_string(),
                next: next.clone(),
                records,
            };
            self.save(job, version).await?;
        }
    }

    /// Stores one page: each record's `auditData` (the Management API's record, byte for byte)
    /// under its content type; a record without one is stored whole, and quarantined by the
    /// normalizer with its reason.
    async fn store_page(
        &self,
        value: &[Box<RawValue>],
        run_id: &str,
        seq: &mut u64,
    ) -> Result<PageCounts, BackfillRunError> {
        let mut groups: Vec<(ContentType, Vec<Box<RawValue>>)> = Vec::new();
        for rec in value {
            let (ct, raw) = match serde_json::from_str::<RecordHead>(rec.get())
                .ok()
                .and_then(|h| h.audit_data)
            {
                Some(data) => {
                    let head: Option<DataHead> = serde_json::from_str(data.get()).ok();
                    let ct = content_type_of(
                        head.as_ref().and_then(|h| h.record_type),
                        head.as_ref().and_then(|h| h.workload.as_deref()),
                    );
                    (ct, data.to_owned())
                }
                None => (ContentType::General, rec.clone()),
            };
            match groups.iter_mut().find(|(c, _)| *c == ct) {
                Some((_, v)) => v.push(raw),
                None => groups.push((ct, vec![raw])),
            }
        }
        let mut counts = PageCounts::default();
        for (ct, records) in groups {
            let writer = PageWriter {
                tenant_id: &self.tenant_id,
                source: Source::M365Activity,
                stream: Some(Stream::Content(ct)),
                run_id,
                raw: self.raw.as_ref(),
                events: self.events.as_ref(),
                clock: self.clock.as_ref(),
                hot_retention: self.hot_retention,
                envelope: false,
            };
            writer
                .store(seq, records, &mut counts)
                .await
                .map_err(|e| BackfillRunError::State(StateError::Store(e)))?;
        }
        self.events.flush().await;
        Ok(counts)
    }
}

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
