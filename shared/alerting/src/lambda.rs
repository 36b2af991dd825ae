//! The detection function's Lambda loop: configuration, clients and the compiled built-in pack
//! are built once per container, with the tenant's rules (read again every five minutes,
//! `crate::rules`); each invocation is one stream batch, answered with Lambda's partial batch
//! response, and logs one summary line.

use std::sync::Arc;

use domain::config::DetectConfig;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

use crate::DetectionApp;

/// Runs the detection function until the runtime stops it.
pub async fn run_detector() -> Result<(), Error> {
    runtime::telemetry::init(std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f == "JSON"));
    let config = DetectConfig::from_vars(std::env::vars())?;
    let rules = detect::pack::builtin().map_err(|errors| {
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        Error::from(format!(
            "the built-in rules do not load:\n{}",
            text.join("\n")
        ))
    })?;
    let sdk = aws::load_sdk_config().await;
    // Tenant thresholds count over at most a day (the query API refuses longer ones).
    let longest = rules.longest_window().max(chrono::Duration::days(1));
    let (raw, alerts, windows) = aws::alerts::detection_stores(
        &sdk,
        &config.bucket,
        &config.alerts_table,
        config.alert_retention_days,
        longest,
    );
    let tenant_store = aws::triage::DynamoTriageStore::from_sdk(&sdk, &config.alerts_table);
    let tenant = tokio::sync::Mutex::new(crate::rules::TenantRules::new(rules.clone()));
    let app = DetectionApp::new(
        detect::Detector::new(&rules),
        Arc::new(raw),
        Arc::new(alerts),
        Arc::new(windows),
        Arc::new(runtime::clock::SystemClock),
    );
    let (app, tenant, tenant_store) = (&app, &tenant, &tenant_store);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        refresh_rules(app, tenant, tenant_store).await;
        let (response, report) = app.handle(&event.payload).await;
        tracing::info!(
            records = report.records,
            events = report.events,
            alerts_new = report.alerts_new,
            alerts_existing = report.alerts_existing,
            unreadable = report.unreadable,
            without_raw = report.without_raw,
            failed = report.failed,
            "Detection batch done."
        );
        serde_json::to_value(response).map_err(Error::from)
    }))
    .await
}

/// Reads the tenant's rules when they are due and swaps the detector when they changed. A
/// failed read keeps the rules in use (and is tried again at the next batch).
async fn refresh_rules(
    app: &DetectionApp,
    tenant: &tokio::sync::Mutex<crate::rules::TenantRules>,
    store: &aws::triage::DynamoTriageStore,
) {
    use domain::triage::RuleStore;
    let mut t = tenant.lock().await;
    let now = std::time::Instant::now();
    if !t.due(now) {
        return;
    }
    match store.list_rules().await {
        Ok(rules) => {
            if let Some(d) = t.update(now, &rules) {
                app.replace_detector(d);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "The tenant's rules could not be read; the rules in use stay.")
        }
    }
}
