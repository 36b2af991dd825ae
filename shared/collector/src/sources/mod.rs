//! One module per Microsoft source, all behind [`SourcePuller`]: given a stream and a window of
//! event time, a source yields pages of records exactly as Microsoft sent them. Sources know the
//! API; the pipeline knows checkpoints, storage and dedupe.

pub mod defender_alerts;
pub mod entra_directory_audits;
pub mod entra_provisioning;
pub mod entra_risk_detections;
pub mod entra_sign_ins;
pub mod exchange_message_trace;
pub mod graph;
pub mod intune_audit;
pub mod m365_activity;

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde_json::value::RawValue;

use crate::auth::TokenSource;
use crate::http::{ApiClient, ApiError, RequestBudget, RetryPolicy};
use domain::config::PullerConfig;
use domain::stream::Stream;
use runtime::clock::{Clock, Deadline};

use self::defender_alerts::DefenderAlerts;
use self::entra_directory_audits::EntraDirectoryAudits;
use self::entra_provisioning::EntraProvisioning;
use self::entra_risk_detections::EntraRiskDetections;
use self::entra_sign_ins::EntraSignIns;
use self::exchange_message_trace::ExchangeMessageTrace;
use self::graph::GraphCollection;
use self::intune_audit::IntuneAudit;
use self::m365_activity::M365Activity;
use domain::model::{ErrorInfo, Gap, Source, Window};
use domain::store::ledger::{ContentLedger, LedgerEntry};

/// One page of records, each kept byte for byte as received.
#[derive(Debug, Default)]
pub struct Page {
    pub records: Vec<Box<RawValue>>,
    /// A content blob this page completes: once the page is durable the pipeline hands it back
    /// through [`SourcePuller::committed`], so the blob is never fetched again.
    pub receipt: Option<LedgerEntry>,
    /// Content Microsoft no longer serves (an expired blob): recorded as gaps in health.
    pub lost: Vec<Gap>,
}

/// Why a source could not deliver a page.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("{0}")]
    Protocol(String),
    #[error(transparent)]
    Store(#[from] domain::store::StoreError),
}

impl SourceError {
    pub fn info(&self) -> ErrorInfo {
        match self {
            SourceError::Api(e) => e.info(),
            SourceError::Protocol(m) => ErrorInfo {
                code: "ProtocolError".into(),
                message: m.clone(),
            },
            SourceError::Store(e) => e.info(),
        }
    }

    /// True when the run merely ran out of time (not a failure of Microsoft or of auditlake).
    pub fn is_deadline(&self) -> bool {
        matches!(self, SourceError::Api(ApiError::Deadline { .. }))
    }
}

/// What a [`SourcePuller::probe`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub count: usize,
    /// What was counted, e.g. "record(s) in the first page".
    pub what: &'static str,
}

pub type PageStream<'a> = BoxStream<'a, Result<Page, SourceError>>;

/// A Microsoft audit source.
pub trait SourcePuller: Send + Sync {
    fn source(&self) -> Source;
    /// The streams this deployment pulls, each with its own checkpoint; `None` for a source
    /// without streams.
    fn streams(&self) -> Vec<Option<Stream>>;
    /// Largest window one query covers.
    fn chunk(&self) -> TimeDelta;
    /// How far back Microsoft keeps this source's data.
    fn history(&self) -> TimeDelta;
    /// The pages of one window. When the deadline passes, the stream stops asking Microsoft for
    /// more, yields what it already has in flight, and ends with [`ApiError::Deadline`].
    fn pages<'a>(
        &'a self,
        stream: Option<Stream>,
        window: Window,
        deadline: &'a Deadline,
    ) -> PageStream<'a>;
    /// Called once a page carrying a receipt is durable (the default keeps nothing).
    fn committed<'a>(
        &'a self,
        stream: Option<Stream>,
        receipt: &'a LedgerEntry,
    ) -> BoxFuture<'a, Result<(), SourceError>> {
        let _ = (stream, receipt);
        Box::pin(async { Ok(()) })
    }
    /// A preflight read of one window for the doctor: how many items Microsoft lists. The
    /// default reads the first page; a source whose pages consume something (a blob that must
    /// then be stored) overrides it with a read that does not.
    fn probe<'a>(
        &'a self,
        stream: Option<Stream>,
        window: Window,
        deadline: &'a Deadline,
    ) -> BoxFuture<'a, Result<Probe, SourceError>> {
        use futures::StreamExt;
        Box::pin(async move {
            match self.pages(stream, window, deadline).next().await {
                Some(Ok(page)) => Ok(Probe {
                    count: page.records.len(),
                    what: "record(s) in the first page",
                }),
                Some(Err(e)) => Err(e),
                None => Ok(Probe {
                    count: 0,
                    what: "record(s)",
                }),
            }
        })
    }
    /// Whether the source's streams may run at the same time (each has its own lease). Graph
    /// streams share one request budget, so they run one after another.
    fn concurrent_streams(&self) -> bool {
        false
    }
}

/// Builds the source module for `source` (the pipeline and the doctor share it).
pub fn source_for(
    source: Source,
    config: &PullerConfig,
    http: reqwest::Client,
    tokens: Arc<dyn TokenSource>,
    clock: Arc<dyn Clock>,
    ledger: Arc<dyn ContentLedger>,
) -> Arc<dyn SourcePuller> {
    let policy = RetryPolicy {
        max_retries: config.max_retries,
        ..RetryPolicy::default()
    };
    // Each puller's share of Microsoft's request budgets (ARCHITECTURE.md, Sources): Graph's audit-log budget is
    // 5 requests per 10 s per app, split 2 + 3 between directory audits and sign-ins; message
    // trace has 100 per 5 minutes; Intune documents none.
    let (n, secs) = config.request_budget.unwrap_or(match source {
        Source::EntraDirectoryAudits => (2, 10),
        Source::EntraSignIns => (3, 10),
        Source::ExchangeMessageTrace => (100, 300),
        // The Management API allows 2,000 requests a minute per tenant (its documented
        // throttling limit); half
        // of it leaves room for other tools using the same PublisherIdentifier.
        Source::M365Activity => (1000, 60),
        Source::IntuneAudit => (10, 10),
        // Identity Protection allows 1 request per second per tenant for all apps together
        // (Microsoft Graph's service-specific throttling limits) and its 429s carry no
        // Retry-After, so a hammering client is throttled for everyone: one request per 10 s
        // leaves the rest to the tenant's other tools (Sentinel's connector, scripts). Risk
        // detections are few, so one page of 500 per 10 s is far above their rate.
        Source::EntraRiskDetections => (1, 10),
        // Provisioning logs are part of Graph's audit logs (auditLogRoot), whose 5 requests per
        // 10 s directory audits and sign-ins already take; it paces itself apart at one per 10 s.
        Source::EntraProvisioning => (1, 10),
        // Graph's throttling limits give the security API no budget of its own to rely on;
        // alerts are few, so one request per 5 s is far above their rate and leaves the app's
        // Graph budget to the audit log pullers.
        Source::DefenderAlerts => (2, 10),
    });
    let graph = || {
        Arc::new(
            ApiClient::new(
                "Microsoft Graph",
                http.clone(),
                tokens.clone(),
                config.endpoints.graph_scope.clone(),
                clock.clone(),
                policy.clone(),
            )
            .with_budget(Some(RequestBudget::new(n, Duration::from_secs(secs)))),
        )
    };
    let root = config.endpoints.graph.clone();
    let (size, history) = (config.page_size, config.history);
    let puller: Arc<dyn SourcePuller> = match source {
        Source::EntraDirectoryAudits => Arc::new(GraphCollection::new(
            EntraDirectoryAudits,
            graph(),
            root,
            size,
            history,
        )),
        Source::EntraSignIns => Arc::new(GraphCollection::new(
            EntraSignIns::new(config.signin_kinds.clone()),
            graph(),
            root,
            size,
            history,
        )),
        Source::IntuneAudit => Arc::new(GraphCollection::new(
            IntuneAudit,
            graph(),
            root,
            size,
            history,
        )),
        Source::ExchangeMessageTrace => Arc::new(GraphCollection::new(
            ExchangeMessageTrace,
            graph(),
            root,
            size,
            history,
        )),
        Source::EntraRiskDetections => Arc::new(GraphCollection::new(
            EntraRiskDetections,
            graph(),
            root,
            size,
            history,
        )),
        Source::EntraProvisioning => Arc::new(GraphCollection::new(
            EntraProvisioning,
            graph(),
            root,
            size,
            history,
        )),
        Source::DefenderAlerts => Arc::new(GraphCollection::new(
            DefenderAlerts,
            graph(),
            root,
            size,
            history,
        )),
        Source::M365Activity => {
            let api = ApiClient::new(
                "Office 365 Management Activity API",
                http.clone(),
                tokens.clone(),
                config.endpoints.management_scope.clone(),
                clock.clone(),
                policy.clone(),
            )
            .with_budget(Some(RequestBudget::new(n, Duration::from_secs(secs))));
            Arc::new(M365Activity::new(
                Arc::new(api),
                m365_activity::Settings {
                    root: config.endpoints.management.clone(),
                    tenant_id: config.tenant_id.clone(),
                    publisher_id: config.publisher_id.clone(),
                    content_types: config.content_types.clone(),
                    concurrency: config.blob_concurrency,
                },
                ledger,
                clock.clone(),
            ))
        }
    };
    puller
}
