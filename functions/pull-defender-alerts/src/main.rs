//! Lambda entry point of the `defender-alerts` puller: configuration and clients are built
//! once per container, then each invocation (an EventBridge tick, or `{"start","end"}` for a
//! backfill) runs the shared pipeline and returns its run summaries (`collector::lambda`).

use domain::model::Source;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    collector::lambda::run_puller(Source::DefenderAlerts).await
}
