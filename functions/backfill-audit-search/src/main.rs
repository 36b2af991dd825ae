//! Lambda entry point of the audit search backfill: configuration and clients are built once per
//! container; each invocation (the hourly tick continues every unfinished job; `{"since": "180d"}`
//! or `{"start","end"}` starts one) runs until its deadline and returns each job's progress
//! (`collector::lambda::run_backfill`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    collector::lambda::run_backfill().await
}
