//! AWS adapters for the ports in [`crate::store`]: S3 (raw, quarantine), DynamoDB (events,
//! checkpoints, health) and SSM Parameter Store (secrets). This is the only module that imports
//! the AWS SDK. It receives an `SdkConfig` built by a function's `main` or the CLI and never loads
//! one itself; local stacks are reached through the SDK's standard `AWS_ENDPOINT_URL`.

mod athena;
mod dynamodb;
mod ledger;
pub mod provision;
mod query;
mod s3;
mod ssm;

use std::sync::Arc;

use aws_config::SdkConfig;

pub use athena::AthenaEngine;
pub use dynamodb::{DynamoEventStore, DynamoStateStore};
pub use ledger::DynamoLedger;
pub use query::{DynamoQueryStore, query_app, query_app_with_clock};
pub use s3::S3RawStore;
pub use ssm::SsmParameters;

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

/// The full text of an SDK error (the service's code and message, not just "service error").
pub(crate) fn describe<E: std::error::Error>(e: &E) -> String {
    aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()
}
