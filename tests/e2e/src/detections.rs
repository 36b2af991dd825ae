//! The detection function, locally: the events table's new items (through [`LocalStream`], as
//! the stack's stream would deliver them) evaluated by the same `alerting::DetectionApp` the
//! Lambda runs, over the local stack's raw layer and alerts table. The demo runs it after each
//! scheduled tick; the alert lines say what was raised.

use std::sync::Arc;

use alerting::DetectionApp;
use aws_config::SdkConfig;
use domain::clock::Clock;
use serde_json::Value;

use crate::StackNames;
use crate::stream::LocalStream;

/// Rules that match only beta-only fields of interactive sign-ins, which the collector reads from
/// Graph v1.0: their planted scenarios are collected but cannot raise (ARCHITECTURE.md,
/// "Detections").
pub const V1_BLIND: [&str; 2] = ["signin-ropc-no-mfa", "signin-device-code"];

/// Batch size of the detection function's event source mapping (template.yaml).
pub const BATCH_SIZE: usize = 100;

/// The detection function over the local stack, with the stream position it has read to.
pub struct LocalDetector {
    app: DetectionApp,
    stream: LocalStream,
    db: aws_sdk_dynamodb::Client,
    /// Rules that raise alerts.
    pub rules: usize,
}

/// What one pass over the stream did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    pub batches: usize,
    pub events: usize,
    pub alerts_new: usize,
    pub alerts_existing: usize,
    pub failed: usize,
}

impl LocalDetector {
    pub fn new(sdk: &SdkConfig, names: &StackNames, clock: Arc<dyn Clock>) -> Result<Self, String> {
        let rules = detect::pack::builtin().map_err(|e| {
            e.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        let (raw, alerts, windows) = aws::alerts::detection_stores(
            sdk,
            &names.bucket,
            &names.alerts_table,
            365,
            rules.longest_window().max(chrono::Duration::days(1)),
        );
        let detector = detect::Detector::new(&rules);
        let count = detector.rule_count();
        Ok(LocalDetector {
            app: DetectionApp::new(
                detector,
                Arc::new(raw),
                Arc::new(alerts),
                Arc::new(windows),
                clock,
            ),
            stream: LocalStream::new(&names.events_table, crate::stream::event_items),
            db: aws_sdk_dynamodb::Client::new(sdk),
            rules: count,
        })
    }

    /// Evaluates every event item stored since the last pass, batch by batch; a batch that
    /// reports failures is delivered again from its first failed record, as the stream would.
    pub async fn pass(&mut self) -> Result<Pass, String> {
        let mut pass = Pass::default();
        for batch in self.stream.read(&self.db, BATCH_SIZE).await {
            let mut payload = batch;
            for attempt in 0..10 {
                let (response, report) = self.app.handle(&payload).await;
                pass.batches += 1;
                pass.events += report.events;
                pass.alerts_new += report.alerts_new;
                pass.alerts_existing += report.alerts_existing;
                pass.failed += report.failed;
                let Some(first) = response.batch_item_failures.first() else {
                    break;
                };
                if attempt == 9 {
                    return Err(format!(
                        "a detection batch kept failing from record {}",
                        first.item_identifier
                    ));
                }
                payload = redeliver_from(&payload, &first.item_identifier);
            }
        }
        Ok(pass)
    }
}

/// The records of `batch` from the one with sequence number `from` on.
pub fn redeliver_from(batch: &Value, from: &str) -> Value {
    let records = batch["Records"].as_array().cloned().unwrap_or_default();
    let at = records
        .iter()
        .position(|r| r["dynamodb"]["SequenceNumber"] == from)
        .unwrap_or(0);
    serde_json::json!({ "Records": records[at..] })
}

/// Every alert in the local alerts table, oldest first.
pub async fn stored_alerts(
    sdk: &SdkConfig,
    names: &StackNames,
) -> Result<Vec<domain::triage::StoredAlert>, String> {
    let db = aws_sdk_dynamodb::Client::new(sdk);
    let mut out = Vec::new();
    for item in crate::scan_table(&db, &names.alerts_table).await {
        if crate::stream::alert_items(&item) {
            out.push(aws::triage::stored_alert(&item)?);
        }
    }
    out.sort_by(|a, b| {
        (a.created_at, &a.alert.summary.time, &a.alert.id).cmp(&(
            b.created_at,
            &b.alert.summary.time,
            &b.alert.id,
        ))
    });
    Ok(out)
}

/// Every alert id `GET /alerts` lists, following `next_cursor` to the end.
pub async fn list_alerts(api: &str, token: &str) -> Result<Vec<String>, String> {
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1_000 {
        let mut query = vec![("page_size", "500".to_string())];
        if let Some(c) = &cursor {
            query.push(("cursor", c.clone()));
        }
        let page: Value = http
            .get(format!("{api}/alerts"))
            .bearer_auth(token)
            .query(&query)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("GET /alerts: {e}"))?
            .json()
            .await
            .map_err(|e| format!("GET /alerts reply: {e}"))?;
        for a in page["alerts"].as_array().into_iter().flatten() {
            if let Some(id) = a["id"].as_str() {
                ids.push(id.to_string());
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return Ok(ids),
        }
    }
    Err("GET /alerts did not finish paging".into())
}
