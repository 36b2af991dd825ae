//! AWS adapters for the ports in `domain::store`, `domain::read` and `domain::analytics`: S3
//! (raw, quarantine, curated), DynamoDB (events, checkpoints, health, the content ledger, the query
//! API's reads and annotations), SSM Parameter Store (secrets), the DynamoDB stream batches Lambda delivers ([`stream_batch`]) and, behind the `athena` feature,
//! Athena; and [`permissions`], the calls each deployed function makes. This is the only crate
//! that depends on the AWS SDK. Adapters receive an `SdkConfig` that a function's `main` or the
//! CLI loads once ([`load_sdk_config`]); local stacks are reached through the SDK's standard
//! `AWS_ENDPOINT_URL`.

pub mod alerts;
#[cfg(feature = "athena")]
mod athena;
pub mod backfill;
pub mod codec;
pub mod cost;
mod counters;
pub mod deliveries;
mod dynamodb;
pub mod items;
mod ledger;
pub mod permissions;
mod query;
mod s3;
mod sdk_http;
mod ssm;
pub mod stream_batch;
pub mod triage;

use std::sync::Arc;

pub use aws_config::SdkConfig;

#[cfg(feature = "athena")]
pub use athena::AthenaEngine;
pub use counters::{Consumed, Meter};
pub use dynamodb::{DynamoEventStore, DynamoStateStore};
pub use ledger::DynamoLedger;
pub use query::DynamoQueryStore;
pub use s3::S3RawStore;
pub use ssm::SsmParameters;

/// The SDK configuration from the environment (credentials, region, `AWS_ENDPOINT_URL` for a
/// local stack), as a function's `main` or the CLI loads it once, with one HTTPS client that
/// every service client built from it shares ([`sdk_http`]: the trust store is read at the first
/// request, once, instead of at each client's construction).
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(sdk_http::shared_https_client())
        .load()
        .await
}

/// Builds an S3 client; path-style addressing when an endpoint override points at a local stack.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let mut b = aws_sdk_s3::config::Builder::from(sdk);
    if sdk.endpoint_url().is_some() {
        b = b.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(b.build())
}

/// The adapters a pull function uses, built once per container.
pub struct AwsStores {
    pub raw: Arc<S3RawStore>,
    pub events: Arc<DynamoEventStore>,
    pub state: Arc<DynamoStateStore>,
    pub ledger: Arc<DynamoLedger>,
    pub params: Arc<SsmParameters>,
}

impl AwsStores {
    pub fn new(
        sdk: &SdkConfig,
        bucket: &str,
        events_table: &str,
        state_table: &str,
        write_concurrency: usize,
    ) -> Self {
        let ddb = aws_sdk_dynamodb::Client::new(sdk);
        AwsStores {
            raw: Arc::new(S3RawStore::new(s3_client(sdk), bucket.to_string())),
            events: Arc::new(DynamoEventStore::new(
                ddb.clone(),
                events_table.to_string(),
                write_concurrency,
            )),
            state: Arc::new(DynamoStateStore::new(ddb.clone(), state_table.to_string())),
            ledger: Arc::new(DynamoLedger::new(ddb, state_table.to_string())),
            params: Arc::new(SsmParameters::new(aws_sdk_ssm::Client::new(sdk))),
        }
    }
}

/// The raw store and event store alone (what `auditlake import` writes to).
pub fn lake_stores(
    sdk: &SdkConfig,
    bucket: &str,
    events_table: &str,
    write_concurrency: usize,
) -> (S3RawStore, DynamoEventStore) {
    (
        S3RawStore::new(s3_client(sdk), bucket.to_string()),
        DynamoEventStore::new(
            aws_sdk_dynamodb::Client::new(sdk),
            events_table.to_string(),
            write_concurrency,
        ),
    )
}

/// The adapters the query API reads and annotates through, built once per container.
pub struct AwsQueryStores {
    pub events: Arc<DynamoQueryStore>,
    pub state: Arc<DynamoStateStore>,
    pub params: Arc<SsmParameters>,
    /// The raw layer, read for events kept by reference; `None` without a bucket.
    pub raw: Option<Arc<S3RawStore>>,
    /// Hunting queries in Athena (`workgroup`, `database`); `None` when not configured.
    #[cfg(feature = "athena")]
    pub athena: Option<Arc<AthenaEngine>>,
    /// The alerts table (alerts, comments, the tenant's rules); `None` when not configured.
    pub alerts: Option<Arc<triage::DynamoTriageStore>>,
    /// The notifier's and forwarder's delivery health, in the alerts table.
    pub deliveries: Option<Arc<deliveries::DynamoDeliveries>>,
}

impl AwsQueryStores {
    pub fn new(
        sdk: &SdkConfig,
        events_table: &str,
        state_table: &str,
        bucket: Option<&str>,
        #[cfg_attr(not(feature = "athena"), allow(unused_variables))] athena: Option<(&str, &str)>,
        alerts_table: Option<&str>,
    ) -> Self {
        let ddb = aws_sdk_dynamodb::Client::new(sdk);
        AwsQueryStores {
            events: Arc::new(DynamoQueryStore::new(ddb.clone(), events_table.to_string())),
            state: Arc::new(DynamoStateStore::new(ddb.clone(), state_table.to_string())),
            params: Arc::new(SsmParameters::new(aws_sdk_ssm::Client::new(sdk))),
            raw: bucket.map(|b| Arc::new(S3RawStore::new(s3_client(sdk), b.to_string()))),
            #[cfg(feature = "athena")]
            athena: athena
                .map(|(workgroup, database)| Arc::new(AthenaEngine::new(sdk, workgroup, database))),
            alerts: alerts_table
                .map(|t| Arc::new(triage::DynamoTriageStore::new(ddb.clone(), t.to_string()))),
            deliveries: alerts_table
                .map(|t| Arc::new(deliveries::DynamoDeliveries::new(ddb, t.to_string(), 1))),
        }
    }
}

/// The full text of an SDK error (the service's code and message, not just "service error").
pub fn describe<E: std::error::Error>(e: &E) -> String {
    aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()
}
