//! Lambda entry point of the notifier: each invocation is one batch of the alerts table's stream
//! (new alerts only, by the event source mapping's filter), sent to the alert topic and every
//! configured webhook (`delivery::lambda`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    delivery::lambda::run_notifier().await
}
