//! Logging and metrics: tracing to stderr (JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`, as Lambda's
//! advanced logging sets it), and one CloudWatch Embedded Metric Format line per run, so metrics
//! cost no PutMetricData calls.

use chrono::{DateTime, Utc};
use serde_json::json;
use tracing_subscriber::EnvFilter;

use domain::model::RunSummary;

/// Initialises tracing once. `json` selects JSON lines; the level comes from `RUST_LOG`
/// (default `info`). Callers (mains) decide from their environment.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.compact().try_init()
    };
}

/// The EMF line for one run summary: namespace `auditlake`, dimensions Source and Stream.
pub fn emf_line(s: &RunSummary, now: DateTime<Utc>) -> String {
    let metrics = [
        ("Pulled", "Count"),
        ("New", "Count"),
        ("Duplicates", "Count"),
        ("Quarantined", "Count"),
        ("RawBytes", "Bytes"),
        ("LagSeconds", "Seconds"),
        ("RunErrors", "Count"),
        ("Incomplete", "Count"),
        ("DurationMs", "Milliseconds"),
    ];
    json!({
        "_aws": {
            "Timestamp": now.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": "auditlake",
                "Dimensions": [["Source", "Stream"]],
                "Metrics": metrics.iter().map(|(n, u)| json!({"Name": n, "Unit": u})).collect::<Vec<_>>(),
            }]
        },
        "Source": s.source.name(),
        "Stream": s.stream.map_or("-", |st| st.name()),
        "Pulled": s.pulled,
        "New": s.new,
        "Duplicates": s.duplicates,
        "Quarantined": s.quarantined,
        "RawBytes": s.raw_bytes,
        "LagSeconds": s.lag_secs.unwrap_or(0),
        "RunErrors": u64::from(s.error.is_some()),
        "Incomplete": u64::from(!s.complete && s.skipped.is_none()),
        "DurationMs": s.duration_ms,
        "run_id": s.run_id,
        "error_code": s.error.as_ref().map(|e| e.code.clone()),
    })
    .to_string()
}
