//! [`NotifyApp`]: one batch of the alerts table's stream in, each new alert sent to every
//! channel once, a partial batch response out.
//!
//! An alert item is written once (a conditional put by its id), so its one INSERT reaches this
//! function once, at least once: the stream redelivers a batch that failed, and a function that
//! crashed after a send and before its marker sends again. Each channel's delivery has an id
//! derived from the channel and the alert (`domain::delivery::delivery_id`), carried in the
//! `auditlake-delivery` header; a marker per delivery id is written after the receiver accepted
//! it and read before sending, so a redelivered record sends nothing that went out, and the one
//! case the marker cannot cover (a crash between the send and the marker) repeats the same id,
//! which a receiver recognises.
//!
//! A channel that keeps failing (after the sender's retries) stops the batch at that record:
//! it and every later record are reported back, and the event source mapping tries them again
//! and, after its retries, sets the range aside in the dead-letter queue. A refused destination
//! (allow-list, private address) is counted in health and not retried: no retry can fix it.

use std::sync::Arc;

use async_trait::async_trait;
use aws::stream_batch::{BatchResponse, ItemFailure, StreamEvent};
use domain::alert::Severity;
use domain::clock::Clock;
use domain::config::Webhook;
use domain::delivery::{Channel, DeliveryLog, Outcome, delivery_id};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::webhook::{SendError, Sender, signed_headers};

/// The stack's alert topic, as the notifier sees it.
#[async_trait]
pub trait Topic: Send + Sync {
    /// Publishes the alert JSON; `Err` carries a description without secrets.
    async fn publish(&self, alert: &Value, subject: &str) -> Result<(), String>;
}

/// What one batch did, for the log line.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NotifyReport {
    pub records: usize,
    pub alerts: usize,
    /// Alerts below the configured severity: stored, not sent.
    pub below_severity: usize,
    pub delivered: usize,
    /// Deliveries a marker showed had already gone out (a redelivered record).
    pub already_delivered: usize,
    pub refused: usize,
    pub unreadable: usize,
    /// Records reported back for redelivery.
    pub failed: usize,
}

pub struct NotifyApp {
    webhooks: Vec<Webhook>,
    secret: Option<SecretString>,
    topic: Option<Arc<dyn Topic>>,
    log: Arc<dyn DeliveryLog>,
    sender: Sender,
    min_severity: Severity,
    clock: Arc<dyn Clock>,
}

/// An SNS subject: printable ASCII, one line, at most 100 characters.
pub fn subject(alert: &Value) -> String {
    let sev = alert["severity"].as_str().unwrap_or("unknown");
    let title = alert["title"].as_str().unwrap_or("alert");
    let text = format!("auditlake {sev} alert: {title}");
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(100)
        .collect()
}

impl NotifyApp {
    pub fn new(
        webhooks: Vec<Webhook>,
        secret: Option<SecretString>,
        topic: Option<Arc<dyn Topic>>,
        log: Arc<dyn DeliveryLog>,
        sender: Sender,
        min_severity: Severity,
        clock: Arc<dyn Clock>,
    ) -> Self {
        NotifyApp {
            webhooks,
            secret,
            topic,
            log,
            sender,
            min_severity,
            clock,
        }
    }

    /// The same notifier keeping its markers and health in `log` (a test's faulty store).
    pub fn with_log(mut self, log: Arc<dyn DeliveryLog>) -> Self {
        self.log = log;
        self
    }

    /// Every channel an alert goes to, in order.
    pub fn channels(&self) -> Vec<Channel> {
        let mut out = Vec::new();
        if self.topic.is_some() {
            out.push(Channel::Topic);
        }
        out.extend(
            self.webhooks
                .iter()
                .map(|w| Channel::Webhook(w.name.clone())),
        );
        out
    }

    /// Handles one Lambda stream batch (its JSON payload).
    pub async fn handle(&self, payload: &Value) -> (BatchResponse, NotifyReport) {
        let mut report = NotifyReport::default();
        let batch: StreamEvent = match serde_json::from_value(payload.clone()) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "The payload is not a DynamoDB stream batch.");
                return (BatchResponse::default(), report);
            }
        };
        report.records = batch.records.len();
        for (i, record) in batch.records.iter().enumerate() {
            let alert = match record.new_alert() {
                Ok(Some(a)) => a,
                Ok(None) => continue,
                Err(e) => {
                    report.unreadable += 1;
                    tracing::error!(sequence = %record.dynamodb.sequence_number, error = %e, "An alert record cannot be read; it is not sent.");
                    continue;
                }
            };
            report.alerts += 1;
            let severity = alert["severity"]
                .as_str()
                .and_then(|s| s.parse::<Severity>().ok());
            if severity.is_some_and(|s| s < self.min_severity) {
                report.below_severity += 1;
                continue;
            }
            if let Err(e) = self.send_everywhere(&alert, &mut report).await {
                tracing::error!(alert = %alert["id"], error = %e, "A notification failed; the batch is redelivered from this alert.");
                let failures: Vec<ItemFailure> = batch.records[i..]
                    .iter()
                    .map(|r| ItemFailure {
                        item_identifier: r.dynamodb.sequence_number.clone(),
                    })
                    .collect();
                report.failed = failures.len();
                return (
                    BatchResponse {
                        batch_item_failures: failures,
                    },
                    report,
                );
            }
        }
        (BatchResponse::default(), report)
    }

    /// Sends `alert` to each channel it has not reached yet. `Err` when a channel failed (the
    /// record is to be redelivered); a store that did not answer is a failure too.
    async fn send_everywhere(
        &self,
        alert: &Value,
        report: &mut NotifyReport,
    ) -> Result<(), String> {
        let alert_id = alert["id"].as_str().unwrap_or_default();
        let body = serde_json::to_vec(alert).map_err(|e| e.to_string())?;
        let mut failed = None;
        for channel in self.channels() {
            let id = delivery_id(&channel, alert_id);
            if self.log.delivered(&id).await.map_err(|e| e.to_string())? {
                report.already_delivered += 1;
                continue;
            }
            let outcome = self.send(&channel, &id, alert, &body).await;
            let now = self.clock.now();
            if let Err(e) = self.log.record(&channel, &outcome, now).await {
                tracing::error!(channel = %channel, error = %e, "Delivery health could not be recorded.");
            }
            match outcome {
                Outcome::Delivered => {
                    report.delivered += 1;
                    tracing::info!(alert = alert_id, channel = %channel, delivery = %id, "Alert delivered.");
                    self.log
                        .mark_delivered(&id, now)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Outcome::Refused(why) => {
                    report.refused += 1;
                    tracing::error!(alert = alert_id, channel = %channel, reason = %why, "A destination was refused; the alert is not sent there.");
                }
                Outcome::Failed(why) => {
                    // Go on with the other channels: each is marked on its own.
                    failed.get_or_insert(format!("{channel}: {why}"));
                }
            }
        }
        match failed {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }

    async fn send(&self, channel: &Channel, id: &str, alert: &Value, body: &[u8]) -> Outcome {
        match channel {
            Channel::Topic => match &self.topic {
                Some(t) => match t.publish(alert, &subject(alert)).await {
                    Ok(()) => Outcome::Delivered,
                    Err(e) => Outcome::Failed(e),
                },
                None => Outcome::Refused("no topic is configured".into()),
            },
            Channel::Webhook(name) => {
                let Some(hook) = self.webhooks.iter().find(|w| &w.name == name) else {
                    return Outcome::Refused(format!("no webhook is named {name}"));
                };
                let Some(secret) = &self.secret else {
                    return Outcome::Refused("no webhook secret is configured".into());
                };
                let t = self.clock.now().timestamp();
                let headers = signed_headers(secret.expose_secret().as_bytes(), t, id, body);
                match self
                    .sender
                    .post(&hook.url, "application/json", &headers, body.to_vec())
                    .await
                {
                    Ok(_) => Outcome::Delivered,
                    Err(SendError::Refused(r)) => Outcome::Refused(r.to_string()),
                    Err(e) => Outcome::Failed(e.to_string()),
                }
            }
            Channel::Forward => Outcome::Refused("alerts are not forwarded".into()),
        }
    }
}
