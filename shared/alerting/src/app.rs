//! [`DetectionApp`]: one stream batch in, alerts stored, a partial batch response out.
//!
//! Per batch: the event items' documents are decoded; each raw object the events name is read
//! once (a page of up to a thousand records is usually one object) and the events' lines taken
//! from it; then, in stream order, each event is evaluated, its detection alerts put, its
//! threshold observations counted. The first record that cannot be finished (a store that did
//! not answer) and every record after it are reported as failures, so the stream delivers them
//! again, in order; what was done before them is idempotent to redo.

use std::sync::Arc;

use detect::Detector;
use domain::alert::{Alert, AlertStore, WindowStore};
use domain::clock::Clock;
use domain::model::AuditEvent;
use domain::store::{RawStore, StoreError};
use serde_json::Value;

use aws::stream_batch::{BatchResponse, ItemFailure, StreamEvent};

/// What one batch did, for the log line and the metrics.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BatchReport {
    pub records: usize,
    /// Event items evaluated.
    pub events: usize,
    /// Alerts this batch stored.
    pub alerts_new: usize,
    /// Alerts that were already stored (a redelivered record).
    pub alerts_existing: usize,
    /// Event items whose document could not be read (logged with their keys; not retried).
    pub unreadable: usize,
    /// Events evaluated on their normalized fields only: their raw object or line was missing.
    pub without_raw: usize,
    /// Records reported back for redelivery.
    pub failed: usize,
}

pub struct DetectionApp {
    /// Replaced when the tenant's rules change (`crate::rules`); each batch takes the current
    /// one.
    detector: std::sync::RwLock<Arc<Detector>>,
    raw: Arc<dyn RawStore>,
    alerts: Arc<dyn AlertStore>,
    windows: Arc<dyn WindowStore>,
    clock: Arc<dyn Clock>,
}

impl DetectionApp {
    pub fn new(
        detector: Detector,
        raw: Arc<dyn RawStore>,
        alerts: Arc<dyn AlertStore>,
        windows: Arc<dyn WindowStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        DetectionApp {
            detector: std::sync::RwLock::new(Arc::new(detector)),
            raw,
            alerts,
            windows,
            clock,
        }
    }

    /// Evaluates later batches with `detector` (the tenant's rules changed).
    pub fn replace_detector(&self, detector: Detector) {
        let mut d = self
            .detector
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *d = Arc::new(detector);
    }

    fn detector(&self) -> Arc<Detector> {
        self.detector
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Handles one Lambda stream batch (its JSON payload).
    pub async fn handle(&self, payload: &Value) -> (BatchResponse, BatchReport) {
        let mut report = BatchReport::default();
        let batch: StreamEvent = match serde_json::from_value(payload.clone()) {
            Ok(b) => b,
            Err(e) => {
                // Not a stream batch at all: nothing to redeliver.
                tracing::error!(error = %e, "The payload is not a DynamoDB stream batch.");
                return (BatchResponse::default(), report);
            }
        };
        report.records = batch.records.len();
        // (record index, event) for every event item.
        let mut events: Vec<(usize, AuditEvent)> = Vec::new();
        for (i, r) in batch.records.iter().enumerate() {
            match r.new_event() {
                Ok(Some(item)) => match aws::codec::decode(&item.doc) {
                    Ok(e) => events.push((i, e)),
                    Err(e) => {
                        report.unreadable += 1;
                        tracing::error!(pk = %item.pk, sk = %item.sk, error = %e, "An event item's document cannot be read; it is not evaluated.");
                    }
                },
                Ok(None) => {}
                Err(e) => {
                    report.unreadable += 1;
                    tracing::error!(sequence = %r.dynamodb.sequence_number, error = %e, "A stream record cannot be read; it is not evaluated.");
                }
            }
        }
        let raws = match aws::stream_batch::raw_records(self.raw.as_ref(), &events).await {
            Ok(r) => r,
            Err((first, e)) => {
                tracing::error!(error = %e, "Reading raw records failed; the batch is redelivered from the first event that needs them.");
                return self.fail_from(&batch, first, report);
            }
        };
        for (i, event) in &events {
            let raw = event
                .raw_ref
                .as_ref()
                .and_then(|r| raws.get(&(r.key.clone(), r.line)));
            if raw.is_none() {
                report.without_raw += 1;
            }
            if let Err(e) = self.evaluate(event, raw, &mut report).await {
                tracing::error!(event = %event.id, error = %e, "Storing what an event raised failed; the batch is redelivered from it.");
                return self.fail_from(&batch, *i, report);
            }
            report.events += 1;
        }
        (BatchResponse::default(), report)
    }

    fn fail_from(
        &self,
        batch: &StreamEvent,
        first: usize,
        mut report: BatchReport,
    ) -> (BatchResponse, BatchReport) {
        let failures: Vec<ItemFailure> = batch.records[first..]
            .iter()
            .map(|r| ItemFailure {
                item_identifier: r.dynamodb.sequence_number.clone(),
            })
            .collect();
        report.failed = failures.len();
        (
            BatchResponse {
                batch_item_failures: failures,
            },
            report,
        )
    }

    async fn evaluate(
        &self,
        event: &AuditEvent,
        raw: Option<&Value>,
        report: &mut BatchReport,
    ) -> Result<(), StoreError> {
        let found = self.detector().evaluate(event, raw);
        for a in &found.alerts {
            self.store(a, report).await?;
        }
        for o in &found.observations {
            // The alert is stored before its window is spent (`detect::threshold::count`).
            if let Some(a) = detect::threshold::count(self.windows.as_ref(), o).await? {
                self.store(&a, report).await?;
                detect::threshold::settle(self.windows.as_ref(), o).await?;
            }
        }
        Ok(())
    }

    async fn store(&self, a: &Alert, report: &mut BatchReport) -> Result<(), StoreError> {
        if self.alerts.put_new(a, self.clock.now()).await? {
            report.alerts_new += 1;
            tracing::info!(alert = %a.id, rule = %a.rule_id, severity = %a.severity, event = %a.event_id, "Alert raised.");
        } else {
            report.alerts_existing += 1;
        }
        Ok(())
    }
}
