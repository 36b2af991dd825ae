//! Lambda entry point of the detection function: each invocation is one batch of the events
//! table's stream (new event items only, by the event source mapping's filter), evaluated
//! against the built-in rules (`alerting::lambda`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    alerting::lambda::run_detector().await
}
