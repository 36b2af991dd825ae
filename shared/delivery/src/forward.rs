//! [`ForwardApp`]: one batch of the events table's stream in, the new events that pass the
//! source and operation filters posted to the SIEM collector in requests of at most
//! `AUDITLAKE_FORWARD_BATCH` events, a partial batch response out.
//!
//! The events table's stream carries each event item's one INSERT (an event is written once),
//! so an overlap re-read, a retried chunk or a backfill of stored events forwards nothing; the
//! stream itself delivers at least once, so every forwarded event carries its `id` (stable,
//! DESIGN "Event JSON") for the receiver to drop a repeat, and each request carries an
//! `auditlake-delivery` id derived from the ids it holds. Bodies:
//! - `ndjson`: one AuditEvent JSON (with its `raw` record) per line, signed like a webhook
//!   (`auditlake-signature`);
//! - `splunk-hec`: HTTP Event Collector events, `{"time", "host", "source", "sourcetype",
//!   "event"}` one per line, with `Authorization: Splunk <token>`.

use std::sync::Arc;

use aws::stream_batch::{BatchResponse, ItemFailure, StreamEvent, raw_records};
use domain::clock::Clock;
use domain::config::{ForwardConfig, ForwardFormat};
use domain::delivery::{Channel, DeliveryLog, Outcome, delivery_id};
use domain::model::AuditEvent;
use domain::store::RawStore;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::webhook::{SendError, Sender, signed_headers};

/// What one batch did, for the log line.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ForwardReport {
    pub records: usize,
    /// New events that passed the filters.
    pub events: usize,
    pub filtered_out: usize,
    pub forwarded: usize,
    pub requests: usize,
    /// Requests a marker showed had already gone out.
    pub already_delivered: usize,
    pub unreadable: usize,
    pub failed: usize,
}

pub struct ForwardApp {
    config: ForwardConfig,
    secret: SecretString,
    raw: Arc<dyn RawStore>,
    log: Arc<dyn DeliveryLog>,
    sender: Sender,
    clock: Arc<dyn Clock>,
}

/// The forwarded form of an event: its AuditEvent JSON with the raw record inline.
fn event_json(event: &AuditEvent, raw: Option<&Value>) -> Value {
    let mut v = serde_json::to_value(event).unwrap_or(Value::Null);
    if let (Some(obj), Some(raw)) = (v.as_object_mut(), raw) {
        obj.insert("raw".into(), raw.clone());
        obj.remove("raw_ref");
    }
    v
}

/// One line of the body in `format`.
pub fn line(format: ForwardFormat, event: &AuditEvent, raw: Option<&Value>) -> Value {
    let doc = event_json(event, raw);
    match format {
        ForwardFormat::Ndjson => doc,
        ForwardFormat::SplunkHec => json!({
            "time": event.time.timestamp_millis() as f64 / 1000.0,
            "host": "auditlake",
            "source": format!("auditlake:{}", event.source.name()),
            "sourcetype": "auditlake:event",
            "event": doc,
        }),
    }
}

/// A request's subject for its delivery id: the SHA-256 of its event ids.
fn batch_subject(ids: &[&str]) -> String {
    let mut h = Sha256::new();
    for id in ids {
        h.update((id.len() as u64).to_be_bytes());
        h.update(id.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl ForwardApp {
    pub fn new(
        config: ForwardConfig,
        secret: SecretString,
        raw: Arc<dyn RawStore>,
        log: Arc<dyn DeliveryLog>,
        sender: Sender,
        clock: Arc<dyn Clock>,
    ) -> Self {
        ForwardApp {
            config,
            secret,
            raw,
            log,
            sender,
            clock,
        }
    }

    fn fail_from(
        batch: &StreamEvent,
        first: usize,
        mut report: ForwardReport,
    ) -> (BatchResponse, ForwardReport) {
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

    /// Handles one Lambda stream batch (its JSON payload).
    pub async fn handle(&self, payload: &Value) -> (BatchResponse, ForwardReport) {
        let mut report = ForwardReport::default();
        let batch: StreamEvent = match serde_json::from_value(payload.clone()) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "The payload is not a DynamoDB stream batch.");
                return (BatchResponse::default(), report);
            }
        };
        report.records = batch.records.len();
        let mut events: Vec<(usize, AuditEvent)> = Vec::new();
        for (i, r) in batch.records.iter().enumerate() {
            match r.new_event() {
                Ok(Some(item)) => match aws::codec::decode(&item.doc) {
                    Ok(e) if self.config.wants(e.source, &e.operation) => events.push((i, e)),
                    Ok(_) => report.filtered_out += 1,
                    Err(e) => {
                        report.unreadable += 1;
                        tracing::error!(pk = %item.pk, sk = %item.sk, error = %e, "An event item's document cannot be read; it is not forwarded.");
                    }
                },
                Ok(None) => {}
                Err(e) => {
                    report.unreadable += 1;
                    tracing::error!(sequence = %r.dynamodb.sequence_number, error = %e, "A stream record cannot be read; it is not forwarded.");
                }
            }
        }
        report.events = events.len();
        let raws = match raw_records(self.raw.as_ref(), &events).await {
            Ok(r) => r,
            Err((first, e)) => {
                tracing::error!(error = %e, "Reading raw records failed; the batch is redelivered from the first event that needs them.");
                return Self::fail_from(&batch, first, report);
            }
        };
        for chunk in events.chunks(self.config.batch.max(1)) {
            let mut body = Vec::new();
            for (_, e) in chunk {
                let raw = e
                    .raw_ref
                    .as_ref()
                    .and_then(|r| raws.get(&(r.key.clone(), r.line)));
                serde_json::to_writer(&mut body, &line(self.config.format, e, raw))
                    .expect("JSON values serialize");
                body.push(b'\n');
            }
            let ids: Vec<&str> = chunk.iter().map(|(_, e)| e.id.as_str()).collect();
            let id = delivery_id(&Channel::Forward, &batch_subject(&ids));
            match self.log.delivered(&id).await {
                Ok(true) => {
                    report.already_delivered += 1;
                    continue;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, "The delivery markers could not be read; the batch is redelivered.");
                    return Self::fail_from(&batch, chunk[0].0, report);
                }
            }
            let outcome = self.send(&id, body).await;
            let now = self.clock.now();
            if let Err(e) = self.log.record(&Channel::Forward, &outcome, now).await {
                tracing::error!(error = %e, "Forwarding health could not be recorded.");
            }
            match outcome {
                Outcome::Delivered => {
                    report.requests += 1;
                    report.forwarded += chunk.len();
                    if let Err(e) = self.log.mark_delivered(&id, now).await {
                        tracing::error!(error = %e, "A delivery marker could not be written; a redelivery repeats the request (same delivery id).");
                    }
                }
                Outcome::Refused(why) => {
                    // A configuration problem: retrying cannot help, and collection goes on.
                    tracing::error!(reason = %why, events = chunk.len(), "The forwarding destination was refused; these events are not forwarded.");
                }
                Outcome::Failed(why) => {
                    tracing::error!(reason = %why, "Forwarding failed; the batch is redelivered from this request's first event.");
                    return Self::fail_from(&batch, chunk[0].0, report);
                }
            }
        }
        (BatchResponse::default(), report)
    }

    async fn send(&self, id: &str, body: Vec<u8>) -> Outcome {
        let secret = self.secret.expose_secret();
        let (content_type, headers) = match self.config.format {
            ForwardFormat::Ndjson => (
                "application/x-ndjson",
                signed_headers(secret.as_bytes(), self.clock.now().timestamp(), id, &body),
            ),
            ForwardFormat::SplunkHec => (
                "application/json",
                vec![
                    ("authorization", format!("Splunk {secret}")),
                    ("auditlake-delivery", id.to_owned()),
                ],
            ),
        };
        match self
            .sender
            .post(&self.config.url, content_type, &headers, body)
            .await
        {
            Ok(_) => Outcome::Delivered,
            Err(SendError::Refused(r)) => Outcome::Refused(r.to_string()),
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }
}
