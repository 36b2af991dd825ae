//! Lambda entry point of the forwarder: each invocation is one batch of the events table's stream
//! (new events only), posted to the configured SIEM collector (`delivery::lambda`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    delivery::lambda::run_forwarder().await
}
