//! Wiring: builds a source's pipeline from its configuration and ports once per container, and
//! handles one invocation (scheduled tick or backfill) from a Lambda payload. Function mains and
//! the CLI call this; tests call it with in-memory or moto-backed ports and a manual clock.

use std::sync::Arc;
use std::time::Duration;

use aws::SdkConfig;

use crate::auth::{ClientCredentials, TokenSource};
use crate::pipeline::{Invocation, InvocationError, Pipeline, Settings};
use crate::sources::{SourcePuller, source_for};
use aws::AwsStores;
use domain::config::PullerConfig;
use domain::model::{RunSummary, Source};
use domain::store::ledger::ContentLedger;
use domain::store::{EventStore, ParameterStore, RawStore, StateStore};
use domain::stream::Stream;
use runtime::clock::{Clock, Deadline, SystemClock};

/// Why a puller could not be built.
pub use crate::http::ClientBuildError as AppError;

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
        Self::aws_metered(sdk, config).0
    }

    /// [`Ports::aws`], and the meter of its event store's DynamoDB calls (for the benchmark).
    pub fn aws_metered(sdk: &SdkConfig, config: &PullerConfig) -> (Self, Arc<aws::Meter>) {
        let (ports, meter, _) = Self::aws_parts(sdk, config);
        (ports, meter)
    }

    /// [`Ports::aws`] and the backfill jobs' store (the state table).
    pub fn aws_with_backfills(
        sdk: &SdkConfig,
        config: &PullerConfig,
    ) -> (Self, Arc<dyn domain::backfill::BackfillStore>) {
        let (ports, _, state) = Self::aws_parts(sdk, config);
        (ports, state)
    }

    fn aws_parts(
        sdk: &SdkConfig,
        config: &PullerConfig,
    ) -> (Self, Arc<aws::Meter>, Arc<aws::DynamoStateStore>) {
        let s = AwsStores::new(
            sdk,
            &config.bucket,
            &config.events_table,
            &config.state_table,
            config.write_concurrency,
        );
        let meter = s.events.meter();
        // Analytics: every batch reaches the curated Parquet layer before DynamoDB marks it seen.
        let events = crate::curated::CuratingEventStore::wrap(s.events, s.raw.clone());
        let ports = Ports {
            raw: s.raw,
            events,
            state: s.state.clone(),
            ledger: s.ledger,
            params: s.params,
            clock: Arc::new(SystemClock),
        };
        (ports, meter, s.state)
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
    async fn findings(&self, stream: Option<Stream>) -> Vec<domain::store::Finding> {
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

impl PullerApp {
    pub fn new(source: Source, config: &PullerConfig, ports: Ports) -> Result<Self, AppError> {
        let http = reqwest::Client::builder()
            .timeout(config.http_timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("auditlake/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AppError(e.to_string()))?;
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
        );
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
                        .unwrap_or_else(|| domain::config::default_overlap(source)),
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
                println!("{}", runtime::telemetry::emf_line(s, chrono::Utc::now()));
            }
        }
        Ok(summaries)
    }
}
