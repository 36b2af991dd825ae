//! The notifier, locally: the alerts table's new alert items (through [`LocalStream`], as the
//! stack's stream would deliver them) sent by the same `delivery::notify::NotifyApp` the Lambda
//! runs, built from the same configuration parser, to the SNS topic of the local stack (moto,
//! which posts each message to a plain-HTTP subscriber) and to a webhook receiver over HTTPS on
//! loopback (testkit's, reached with the local-only switches). The demo and the end-to-end
//! detection test read what both received.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_config::SdkConfig;
use delivery::notify::NotifyApp;
use domain::clock::Clock;
use domain::config::NotifyConfig;
use domain::delivery::DeliveryLog;
use serde_json::Value;
use testkit::receiver::Receiver;

use crate::StackNames;
use crate::stream::LocalStream;

/// Batch size of the notifier's event source mapping (template.yaml).
pub const BATCH_SIZE: usize = 25;
/// The webhook's name in `AUDITLAKE_WEBHOOKS`.
pub const WEBHOOK: &str = "soc";
/// The local signing key (a test value, stored in the local SSM).
pub const SIGNING_KEY: &str = "local-webhook-signing-key";
const SIGNING_KEY_PARAM: &str = "/auditlake/webhook-signing-key";

pub struct LocalNotifier {
    app: NotifyApp,
    stream: LocalStream,
    table: String,
    db: aws_sdk_dynamodb::Client,
    pub webhook: Receiver,
    pub subscriber: Receiver,
    pub topic_arn: String,
}

/// What one pass over the stream did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    pub batches: usize,
    /// Alert records the stream carried.
    pub alerts: usize,
    pub delivered: usize,
    pub already_delivered: usize,
    pub redeliveries: usize,
}

impl LocalNotifier {
    /// Starts both receivers, creates the topic with its subscriber and the signing key, and
    /// builds the notifier from `AUDITLAKE_*` variables as the Lambda would (plus the local-only
    /// switches); `log` replaces its delivery store (a test's faulty one).
    pub async fn start(
        sdk: &SdkConfig,
        names: &StackNames,
        clock: Arc<dyn Clock>,
        log: Option<Arc<dyn DeliveryLog>>,
    ) -> Result<Self, String> {
        let webhook = Receiver::start().await;
        let subscriber = Receiver::start_plain().await;
        let topic_arn = testkit::provision::ensure_alert_topic(
            sdk,
            "auditlake-alerts",
            Some(&subscriber.url("/sns")),
        )
        .await
        .map_err(|e| e.to_string())?;
        testkit::provision::put_secure_parameter(
            sdk,
            SIGNING_KEY_PARAM,
            &secrecy::SecretString::from(SIGNING_KEY),
        )
        .await
        .map_err(|e| e.to_string())?;
        let vars = [
            ("AUDITLAKE_ALERTS_TABLE", names.alerts_table.clone()),
            ("AUDITLAKE_ALERT_TOPIC_ARN", topic_arn.clone()),
            (
                "AUDITLAKE_WEBHOOKS",
                format!("{WEBHOOK}={}", webhook.url("/auditlake")),
            ),
            ("AUDITLAKE_WEBHOOK_SECRET_PARAM", SIGNING_KEY_PARAM.into()),
            ("AUDITLAKE_NOTIFY_MIN_SEVERITY", "informational".into()),
            ("AUDITLAKE_DESTINATION_ALLOWLIST", webhook.allow_entry()),
            ("AUDITLAKE_DESTINATIONS_ALLOW_LOOPBACK", "1".into()),
            (
                "AUDITLAKE_DESTINATIONS_CA_FILE",
                testkit::receiver::ca_file().display().to_string(),
            ),
        ]
        .map(|(k, v)| (k.to_owned(), v));
        let config = NotifyConfig::from_vars(vars).map_err(|e| e.to_string())?;
        let mut app = delivery::lambda::notifier(&config, sdk, clock)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(log) = log {
            app = app.with_log(log);
        }
        Ok(LocalNotifier {
            app,
            stream: LocalStream::new(&names.alerts_table, crate::stream::alert_items),
            table: names.alerts_table.clone(),
            db: aws_sdk_dynamodb::Client::new(sdk),
            webhook,
            subscriber,
            topic_arn,
        })
    }

    /// Sends every alert stored since the last pass, batch by batch; a batch that reports
    /// failures is delivered again from its first failed record, as the stream would.
    pub async fn pass(&mut self) -> Result<Pass, String> {
        let mut pass = Pass::default();
        for batch in self.stream.read(&self.db, BATCH_SIZE).await {
            // The mapping's filter passes alert items only: every record is one alert.
            pass.alerts += batch["Records"].as_array().map_or(0, Vec::len);
            let mut payload = batch;
            for attempt in 0..20 {
                let (response, report) = self.app.handle(&payload).await;
                pass.batches += 1;
                pass.delivered += report.delivered;
                pass.already_delivered += report.already_delivered;
                let Some(first) = response.batch_item_failures.first() else {
                    break;
                };
                if attempt == 19 {
                    return Err(format!(
                        "a notification batch kept failing from record {}",
                        first.item_identifier
                    ));
                }
                pass.redeliveries += 1;
                payload = crate::detections::redeliver_from(&payload, &first.item_identifier);
            }
        }
        Ok(pass)
    }

    /// Reads the stream from its start again at the next pass (the mapping replaying it).
    pub fn rewind(&mut self) {
        self.stream = LocalStream::new(&self.table, crate::stream::alert_items);
    }

    /// Every webhook request the receiver accepted, by delivery id: the alert bodies under it.
    pub fn webhook_deliveries(&self) -> BTreeMap<String, Vec<Value>> {
        let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for r in self.webhook.received() {
            let body = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            out.entry(r.delivery.unwrap_or_default())
                .or_default()
                .push(body);
        }
        out
    }

    /// Whether every accepted webhook request carries a valid signature over its body.
    pub fn signatures_valid(&self) -> bool {
        self.webhook.received().iter().all(|r| {
            let Some(sig) = r.signature.as_deref() else {
                return false;
            };
            let t = sig
                .strip_prefix("t=")
                .and_then(|rest| rest.split(',').next())
                .and_then(|t| t.parse::<i64>().ok());
            t.is_some_and(|t| {
                sig == domain::destination::signature(SIGNING_KEY.as_bytes(), t, &r.body)
            })
        })
    }

    /// The alert of each message the topic's subscriber received (moto's HTTP notification,
    /// whose `Message` is the alert JSON).
    pub fn topic_messages(&self) -> Vec<Value> {
        self.subscriber
            .received()
            .iter()
            .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
            .filter(|n| n["Type"] == "Notification")
            .filter_map(|n| serde_json::from_str(n["Message"].as_str()?).ok())
            .collect()
    }
}
