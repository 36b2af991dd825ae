//! Lambda entry point of the `m365-activity` puller (every enabled Management API content type in one run, each its own stream): configuration and clients are built
//! once per container, then each invocation (an EventBridge tick, or `{"start","end"}` for a
//! backfill) runs the shared pipeline and returns its run summaries (`collector::lambda`).

use domain::model::Source;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    collector::lambda::run_puller(Source::M365Activity).await
}
