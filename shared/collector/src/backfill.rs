//! The audit search backfill engine over `domain::backfill`. One call of [`Backfill::run_job`]
//! takes the job's lease, then loops until the deadline: polls submitted queries, pages succeeded
//! ones into the events table through the m365-activity path (`PageWriter`, stream =
//! `content_type_of(record)`), splits windows over the record limit, resubmits failed queries,
//! submits pending windows up to the concurrency limit (pausing until `not_before` after a 429),
//! saves the job after every step, and sleeps `poll` on the clock port when nothing moved.

use std::sync::Arc;

use chrono::TimeDelta;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::http::{ApiClient, ApiError};
use crate::pipeline::{PageCounts, PageWriter};
use crate::sources::graph::checked_next_link;
use domain::backfill::{BackfillJob, BackfillStore, JobLease, WindowState, content_type_of};
use domain::config::BackfillSettings;
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

mod app;
pub use app::{BackfillApp, BackfillAppError, BackfillRequest};
