//! Wiring: builds a source's pipeline from its configuration and ports once per container, and
//! handles one invocation (scheduled tick or backfill) from a Lambda payload. Function mains and
//! the CLI call this; tests call it with in-memory or moto-backed ports and a manual clock.

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;

use crate::auth::{ClientCredentials, TokenSource};
use crate::aws::AwsStores;
use crate::clock::{Clock, Deadline, SystemClock};
use crate::config::PullerConfig;
use crate::http::{ApiClient, RequestBudget, RetryPolicy};
use crate::model::{RunSummary, Source};
use crate::pipeline::{Invocation, InvocationError, Pipeline, Settings};
use crate::sources::SourcePuller;
use crate::sources::entra_directory_audits::EntraDirectoryAudits;
use crate::sources::entra_sign_ins::EntraSignIns;
use crate::sources::exchange_message_trace::ExchangeMessageTrace;
use crate::sources::graph::GraphCollection;
use crate::sources::intune_audit::IntuneAudit;
use crate::sources::m365_activity::{self, M365Activity};
use crate::store::ledger::ContentLedger;
use crate::store::{EventStore, ParameterStore, RawStore, StateStore};

/// Why a puller could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

/// The ports a pipeline runs on.
#[derive(Clone)]
pub struct Ports {
    pub raw: Arc<dyn RawStore>,
    pub events: Arc<dyn EventStore>,
    pub state: Arc<dyn StateStore>,
    /// Management API blobs already stored (the state table in AWS).
    pub ledger: Arc<dyn ContentLedger>,
    pub params: Arc<dyn ParameterStore>,
    pub clock: Arc<dyn Clock>,
}

impl Ports {
    /// The AWS adapters and the system clock.
    pub fn aws(sdk: &SdkConfig, config: &PullerConfig) -> Self {
        let s = AwsStores::new(
            sdk,
            &config.bucket,
            &config.events_table,
            &config.state_table,
            config.write_concurrency,
        );
        // Analytics: every batch reaches the curated Parquet layer before DynamoDB marks it seen.
        let events = crate::curated::CuratingEventStore::wrap(s.events, s.raw.clone());
        Ports {
            raw: s.raw,
            events,
            state: s.state,
            ledger: s.ledger,
            params: s.params,
            clock: Arc::new(SystemClock),
        }
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

/// The doctor, run at a stream's first scheduled run; its findings go to the stream's health.
struct DoctorCheck {
    config: PullerConfig,
    puller: Arc<dyn SourcePuller>,
    params: Arc<dyn ParameterStore>,
    clock: Arc<dyn Clock>,
}

#[async_trait::async_trait]
impl crate::pipeline::FirstRunCheck for DoctorCheck {
    async fn findings(&self, stream: Option<&str>) -> Vec<crate::doctor::Finding> {
        crate::doctor::check_stream(
            &self.config,
            self.puller.clone(),
            stream,
            self.params.clone(),
            self.clock.clone(),
        )
        .await
        .unwrap_or_default()
    }
}

/// A ready-to-run puller for one source.
pub struct PullerApp {
    pipeline: Pipeline,
    deadline_margin: Duration,
    emit_metrics: bool,
}

/// Builds the source module for `source` (the pipeline and the doctor share it).
pub fn source_for(
    source: Source,
    config: &PullerConfig,
    http: reqwest::Client,
    tokens: Arc<dyn TokenSource>,
    clock: Arc<dyn Clock>,
    ledger: Arc<dyn ContentLedger>,
) -> Result<Arc<dyn SourcePuller>, AppError> {
    let policy = RetryPolicy {
        max_retries: config.max_retries,
        ..RetryPolicy::default()
    };
    // Each puller's share of Microsoft's request budgets (DESIGN.md): Graph's audit-log budget is
    // 5 requests per 10 s per app, split 2 + 3 between directory audits and sign-ins; message
    // trace has 100 per 5 minutes; Intune documents none.
    let (n, secs) = config.request_budget.unwrap_or(match source {
        Source::EntraDirectoryAudits => (2, 10),
        Source::EntraSignIns => (3, 10),
        Source::ExchangeMessageTrace => (100, 300),
        // The Management API allows 2,000 requests a minute per tenant (contract 3.4); half
        // of it leaves room for other tools using the same PublisherIdentifier.
        Source::M365Activity => (1000, 60),
        Source::IntuneAudit => (10, 10),
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
    Ok(puller)
}

impl PullerApp {
    pub fn new(source: Source, config: &PullerConfig, ports: Ports) -> Result<Self, AppError> {
        let http = reqwest::Client::builder()
            .timeout(config.http_timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("auditlake/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AppError::Http(e.to_string()))?;
        let tokens: Arc<dyn TokenSource> = Arc::new(ClientCredentials::new(
            http.clone(),
            config.endpoints.token_url(&config.tenant_id),
            config.client_id.clone(),
            config.credential.clone(),
            ports.params.clone(),
            ports.clock.clone(),
        ));
        let puller = source_for(
            source,
            config,
            http,
            tokens,
            ports.clock.clone(),
            ports.ledger.clone(),
        )?;
        Ok(PullerApp {
            pipeline: Pipeline {
                tenant_id: config.tenant_id.clone(),
                source: puller.clone(),
                raw: ports.raw,
                events: ports.events,
                state: ports.state,
                clock: ports.clock.clone(),
                settings: Settings {
                    lag: config.lag,
                    overlap: config
                        .overlap
                        .unwrap_or_else(|| crate::config::default_overlap(source)),
                    initial_lookback: config.initial_lookback,
                    hot_retention: config.hot_retention,
                },
                first_run_check: Some(Arc::new(DoctorCheck {
                    config: config.clone(),
                    puller: puller.clone(),
                    params: ports.params.clone(),
                    clock: ports.clock.clone(),
                })),
            },
            deadline_margin: config.deadline_margin,
            emit_metrics: false,
        })
    }

    /// Print one CloudWatch Embedded Metric Format line per stream (Lambda).
    pub fn with_metrics(mut self, on: bool) -> Self {
        self.emit_metrics = on;
        self
    }

    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// The run's deadline from the Lambda's deadline (epoch milliseconds), less the margin.
    pub fn lambda_deadline(&self, deadline_epoch_ms: u64) -> Deadline {
        let now = chrono::Utc::now().timestamp_millis().max(0) as u64;
        let left = Duration::from_millis(deadline_epoch_ms.saturating_sub(now));
        Deadline::after(left.saturating_sub(self.deadline_margin))
    }

    /// Handles one invocation payload.
    pub async fn handle(
        &self,
        payload: &serde_json::Value,
        deadline: Deadline,
    ) -> Result<Vec<RunSummary>, InvocationError> {
        let invocation = Invocation::from_payload(payload)?;
        let summaries = self.pipeline.run(&invocation, deadline).await;
        if self.emit_metrics {
            for s in &summaries {
                println!("{}", crate::telemetry::emf_line(s, chrono::Utc::now()));
            }
        }
        Ok(summaries)
    }
}
