//! [`DetectionApp`]: one stream batch in, alerts stored, a partial batch response out.
//!
//! Per batch: the event items' documents are decoded; each raw object the events name is read
//! once (a page of up to a thousand records is usually one object) and the events' lines taken
//! from it; then, in stream order, each event is evaluated, its detection alerts put, its
//! threshold observations counted. The first record that cannot be finished (a store that did
//! not answer) and every record after it are reported as failures, so the stream delivers them
//! again, in order; what was done before them is idempotent to redo.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::sync::Arc;

use detect::Detector;
use domain::alert::{Alert, AlertStore, WindowStore};
use domain::clock::Clock;
use domain::model::AuditEvent;
use domain::store::{RawStore, StoreError};
use serde_json::Value;

use crate::stream::{BatchResponse, ItemFailure, StreamEvent};

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

/// Line `line` (1-based) of each wanted reference, read from one gzip NDJSON object.
fn lines_of(body: &[u8], wanted: &[u64]) -> HashMap<u64, Value> {
    let mut out = HashMap::new();
    let Some(&last) = wanted.iter().max() else {
        return out;
    };
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(body));
    for (i, line) in reader.lines().enumerate() {
        let n = i as u64 + 1;
        if n > last {
            break;
        }
        let Ok(line) = line else { break };
        if wanted.contains(&n)
            && let Ok(v) = serde_json::from_str(&line)
        {
            out.insert(n, v);
        }
    }
    out
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
        let raws = match self.raw_records(&events).await {
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

    /// The raw record of every event that names one, each object read once. A missing object
    /// is logged and its events go on without raw; any other read error fails from the first
    /// event that needed the object.
    async fn raw_records(
        &self,
        events: &[(usize, AuditEvent)],
    ) -> Result<HashMap<(String, u64), Value>, (usize, StoreError)> {
        let mut wanted: BTreeMap<&str, (usize, Vec<u64>)> = BTreeMap::new();
        for (i, e) in events {
            if let Some(r) = &e.raw_ref {
                let entry = wanted.entry(r.key.as_str()).or_insert((*i, Vec::new()));
                entry.1.push(r.line);
            }
        }
        let mut out = HashMap::new();
        for (key, (first, lines)) in wanted {
            match self.raw.get(key).await {
                Ok(body) => {
                    for (n, v) in lines_of(&body, &lines) {
                        out.insert((key.to_owned(), n), v);
                    }
                }
                Err(StoreError::NotFound { .. }) => {
                    tracing::warn!(
                        key,
                        "A raw object the events name is missing; they are evaluated on their normalized fields."
                    );
                }
                Err(e) => return Err((first, e)),
            }
        }
        Ok(out)
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
