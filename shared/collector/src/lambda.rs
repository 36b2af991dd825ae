//! The Lambda entry point every puller shares: configuration and clients are built once per
//! container, then each invocation (an EventBridge tick, or `{"start","end"}` for a backfill) runs
//! the pipeline and returns its run summaries. A function's `main` is one call to [`run_puller`]
//! (or, for the audit search backfill, [`run_backfill`]).

use domain::config::PullerConfig;
use domain::model::Source;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

use crate::app::{Ports, PullerApp};
use crate::backfill::{BackfillApp, BackfillRequest};

/// Runs the puller of `source` under the Lambda runtime until the container stops.
pub async fn run_puller(source: Source) -> Result<(), Error> {
    runtime::telemetry::init(std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f == "JSON"));
    let config = PullerConfig::from_vars(std::env::vars())?;
    let sdk = aws::load_sdk_config().await;
    let app = PullerApp::new(source, &config, Ports::aws(&sdk, &config))?.with_metrics(true);
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = app.lambda_deadline(event.context.deadline);
        app.handle(&event.payload, deadline)
            .await
            .map_err(Error::from)
    }))
    .await
}

/// Runs the audit search backfill under the Lambda runtime: each invocation's payload is a
/// [`BackfillRequest`]; the answer is the progress of each job it ran.
pub async fn run_backfill() -> Result<(), Error> {
    runtime::telemetry::init(std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f == "JSON"));
    let config = domain::config::BackfillConfig::from_vars(std::env::vars())?;
    let sdk = aws::load_sdk_config().await;
    let (ports, store) = Ports::aws_with_backfills(&sdk, &config.puller);
    let app = BackfillApp::new(&config, ports, store)?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = app.lambda_deadline(event.context.deadline);
        let request = BackfillRequest::from_payload(&event.payload, app.now())?;
        let jobs = app.handle(request, &deadline).await?;
        Ok::<_, Error>(serde_json::to_value(jobs)?)
    }))
    .await
}
