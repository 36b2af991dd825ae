//! Running hunting queries for the API: bind the caller's parameters against the catalog
//! (`domain::analytics`), then run the bound query on an engine within a time limit.

use std::time::Duration;

use domain::analytics::{AnalyticsError, BoundQuery, EngineError, QueryEngine, Table, bind};
use serde_json::Value;

/// Runs hunting query `name` with `params` on `engine`, within `limit`.
pub async fn run_hunting_query(
    engine: &dyn QueryEngine,
    name: &str,
    params: &serde_json::Map<String, Value>,
    limit: Duration,
) -> Result<Table, AnalyticsError> {
    let bound = bind(name, params)?;
    run_bound(engine, &bound, limit).await
}

/// Runs an already bound query on `engine`, within `limit`. Engines stop their own query at the
/// limit (Athena's StopQueryExecution, the local runner's kill); the timeout around them, a little
/// later, is a backstop that never cuts an engine off while it is stopping its query.
pub async fn run_bound(
    engine: &dyn QueryEngine,
    bound: &BoundQuery,
    limit: Duration,
) -> Result<Table, AnalyticsError> {
    let backstop = limit + (limit / 5).min(Duration::from_secs(2));
    match tokio::time::timeout(backstop, engine.run(bound, limit)).await {
        Err(_) | Ok(Err(EngineError::Timeout(_))) => Err(AnalyticsError::Timeout(limit)),
        Ok(Err(e)) => Err(AnalyticsError::Engine(e.to_string())),
        Ok(Ok(table)) => Ok(table),
    }
}
