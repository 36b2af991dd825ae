//! Lambda entry point of the `m365-activity` puller (every enabled Management API content type in one run, each its own stream): configuration and clients are built
//! once per container, then each invocation (an EventBridge tick, or `{"start","end"}` for a
//! backfill) runs the shared pipeline and returns its run summaries.

use auditlake::app::{Ports, PullerApp};
use auditlake::config::PullerConfig;
use auditlake::model::Source;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

const SOURCE: Source = Source::M365Activity;

#[tokio::main]
async fn main() -> Result<(), Error> {
    auditlake::telemetry::init(std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f == "JSON"));
    let config = PullerConfig::from_vars(std::env::vars())?;
    let sdk = aws_config::load_from_env().await;
    let app = PullerApp::new(SOURCE, &config, Ports::aws(&sdk, &config))?.with_metrics(true);
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = app.lambda_deadline(event.context.deadline);
        app.handle(&event.payload, deadline)
            .await
            .map_err(Error::from)
    }))
    .await
}
