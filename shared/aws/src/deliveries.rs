//! Delivery markers and delivery health in the alerts table (see [`domain::delivery`]), and,
//! behind the `sns` feature, the alert topic.
//!
//! | item | pk | sk | other attributes |
//! |---|---|---|---|
//! | delivery marker | `dlv#<delivery id>` | `sent` | `at`, `expires_at` (as long as alerts are kept) |
//! | channel health | `delivery` | `<channel key>` | `last_success`, `last_failure`, `last_error`, `delivered`, `failed`, `refused`, `consecutive_failures` |
//!
//! The delivery functions write only those partitions (IAM `dynamodb:LeadingKeys` in
//! template.yaml); the query API reads the one health partition with a Query to show every
//! channel in `GET /sources`.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};
use domain::delivery::{Channel, DeliveryHealth, DeliveryHealthReader, DeliveryLog, Outcome};
use domain::model::fmt_time;
use domain::store::StoreError;

use super::describe;
use super::items::{PK, SK, get_s, n, s};

/// The partition of channel health items (one item per channel).
pub const HEALTH_PK: &str = "delivery";
/// Partition prefix of delivery markers.
pub const MARKER_PREFIX: &str = "dlv#";
/// Errors kept in health are cut to this many characters.
const MAX_ERROR: usize = 300;

/// Delivery markers and health in the alerts table.
pub struct DynamoDeliveries {
    client: Client,
    table: String,
    /// How long a marker is kept (as long as the alert it is about).
    retention: Duration,
}

impl DynamoDeliveries {
    pub fn new(client: Client, table: String, retention_days: u32) -> Self {
        DynamoDeliveries {
            client,
            table,
            retention: Duration::days(i64::from(retention_days)),
        }
    }

    /// Markers kept `retention_days`.
    pub fn from_sdk(sdk: &aws_config::SdkConfig, table: &str, retention_days: u32) -> Self {
        DynamoDeliveries::new(Client::new(sdk), table.to_owned(), retention_days)
    }

    fn fail<E: std::error::Error>(&self, op: &'static str, e: &E) -> StoreError {
        StoreError::backend(op, &self.table, describe(e))
    }
}

fn number(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    k: &str,
) -> u64 {
    item.get(k)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[async_trait]
impl DeliveryLog for DynamoDeliveries {
    async fn delivered(&self, id: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(format!("{MARKER_PREFIX}{id}")))
            .key(SK, s("sent"))
            .consistent_read(true)
            .projection_expression("pk")
            .send()
            .await
            .map_err(|e| self.fail("GetItem", &e))?;
        Ok(out.item.is_some())
    }

    async fn mark_delivered(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(format!("{MARKER_PREFIX}{id}")))
            .item(SK, s("sent"))
            .item("at", s(fmt_time(at)))
            .item("expires_at", n((at + self.retention).timestamp()))
            .send()
            .await
            .map_err(|e| self.fail("PutItem", &e))?;
        Ok(())
    }

    async fn record(
        &self,
        channel: &Channel,
        outcome: &Outcome,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(HEALTH_PK))
            .key(SK, s(channel.key()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":at", s(fmt_time(at)));
        let update = match outcome {
            Outcome::Delivered => update
                .update_expression(
                    "SET last_success = :at, consecutive_failures = :zero ADD delivered :one",
                )
                .expression_attribute_values(":zero", n(0)),
            Outcome::Failed(e) | Outcome::Refused(e) => {
                let counter = if matches!(outcome, Outcome::Failed(_)) {
                    "failed"
                } else {
                    "refused"
                };
                let text: String = e.chars().take(MAX_ERROR).collect();
                update
                    .update_expression(format!(
                        "SET last_failure = :at, last_error = :err ADD {counter} :one, consecutive_failures :one"
                    ))
                    .expression_attribute_values(":err", s(text))
            }
        };
        update
            .send()
            .await
            .map_err(|e| self.fail("UpdateItem", &e))?;
        Ok(())
    }
}

#[async_trait]
impl DeliveryHealthReader for DynamoDeliveries {
    async fn deliveries(&self) -> Result<Vec<DeliveryHealth>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(HEALTH_PK))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| self.fail("Query", &e))?;
            for item in page.items() {
                let time = |k: &str| get_s(item, k).and_then(domain::model::parse_time);
                out.push(DeliveryHealth {
                    channel: get_s(item, SK).unwrap_or_default().to_owned(),
                    last_success: time("last_success"),
                    last_failure: time("last_failure"),
                    last_error: get_s(item, "last_error").map(str::to_owned),
                    delivered: number(item, "delivered"),
                    failed: number(item, "failed"),
                    refused: number(item, "refused"),
                    consecutive_failures: number(item, "consecutive_failures"),
                });
            }
            match page.last_evaluated_key {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        Ok(out)
    }
}

/// The stack's alert topic.
#[cfg(feature = "sns")]
pub struct SnsTopic {
    client: aws_sdk_sns::Client,
    arn: String,
}

#[cfg(feature = "sns")]
impl SnsTopic {
    pub fn from_sdk(sdk: &aws_config::SdkConfig, arn: &str) -> Self {
        SnsTopic {
            client: aws_sdk_sns::Client::new(sdk),
            arn: arn.to_owned(),
        }
    }

    /// Publishes `message` (the alert JSON) with `subject`, and the alert's severity and rule as
    /// message attributes, so a subscription's filter policy can pick alerts by either.
    pub async fn publish(
        &self,
        subject: &str,
        message: &str,
        severity: &str,
        rule_id: &str,
    ) -> Result<String, String> {
        use aws_sdk_sns::types::MessageAttributeValue;
        let attr = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| e.to_string())
        };
        let out = self
            .client
            .publish()
            .topic_arn(&self.arn)
            .subject(subject)
            .message(message)
            .message_attributes("severity", attr(severity)?)
            .message_attributes("rule_id", attr(rule_id)?)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        Ok(out.message_id.unwrap_or_default())
    }
}
