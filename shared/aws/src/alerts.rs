//! The alerts table (`AUDITLAKE_ALERTS_TABLE`, on-demand, TTL on `expires_at`): alerts, stored
//! once by id, and the members of threshold windows.
//!
//! | item | pk | sk | other attributes |
//! |---|---|---|---|
//! | alert | `alert#<alert id>` | `alert` | `rule`, `sev`, `status`, `day` (`YYYY-MM-DD` of `created_at`), `month` (`YYYY-MM`, the listing index's partition), `ts` (`<created_at>#<id>`, its sort key), `doc` (the alert JSON), `expires_at`; once triaged `assignee`, `updated_at`, `updated_by` |
//! | window member | `win#<rule id>#<SHA-256 of the group, hex>` | `<event time>#<event id>` | `value`, `spent`, `expires_at` |
//!
//! An alert is put with `attribute_not_exists(pk)`: the first evaluation of an event stores it,
//! every later one (a stream retry, a replayed batch) finds it there and stores nothing. A window
//! member is put the same way, so a replayed event is one member; it expires a day after its
//! window closes. The query API's reads and triage writes are `triage.rs`. This table has no stream of its own yet: notifications will hang off an
//! INSERT stream here, one per alert.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};
use domain::alert::{Alert, AlertStore, Member, WindowStore};
use domain::model::fmt_time;
use domain::store::StoreError;
use sha2::{Digest, Sha256};

use super::describe;
use super::items::{PK, SK, get_s, n, s};

/// The listing index: partition `month` (`YYYY-MM` of `created_at`), sort key `ts`.
pub const LIST_INDEX: &str = "by_month";

/// An alert's listing partition: the month it was raised.
pub fn month_of(created_at: DateTime<Utc>) -> String {
    created_at.format("%Y-%m").to_string()
}

/// How long a window member outlives the latest window it can be in.
const WINDOW_GRACE_DAYS: i64 = 1;

/// Alerts in DynamoDB.
pub struct DynamoAlertStore {
    client: Client,
    table: String,
    /// Alerts expire this long after they are raised.
    retention: Duration,
}

impl DynamoAlertStore {
    pub fn new(client: Client, table: String, retention_days: u32) -> Self {
        DynamoAlertStore {
            client,
            table,
            retention: Duration::days(i64::from(retention_days)),
        }
    }
}

/// The alert item's key.
pub fn alert_key(id: &str) -> (String, String) {
    (format!("alert#{id}"), "alert".to_owned())
}

/// Whether a put failed only because its `attribute_not_exists` condition did.
fn conditional_failed(
    e: &aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::put_item::PutItemError>,
) -> bool {
    e.as_service_error()
        .is_some_and(|s| s.is_conditional_check_failed_exception())
}

#[async_trait]
impl AlertStore for DynamoAlertStore {
    async fn put_new(&self, alert: &Alert, created_at: DateTime<Utc>) -> Result<bool, StoreError> {
        let (pk, sk) = alert_key(&alert.id);
        let created = fmt_time(created_at);
        let mut doc = serde_json::to_value(alert)
            .map_err(|e| StoreError::backend("PutItem", &self.table, e))?;
        doc["status"] = "open".into();
        doc["assignee"] = serde_json::Value::Null;
        doc["created_at"] = created.clone().into();
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(pk))
            .item(SK, s(sk))
            .item("rule", s(&alert.rule_id))
            .item("sev", s(alert.severity.name()))
            .item("status", s("open"))
            .item("day", s(&created[..10]))
            .item("month", s(month_of(created_at)))
            .item("ts", s(domain::triage::alert_ts(created_at, &alert.id)))
            .item("doc", s(doc.to_string()))
            .item("expires_at", n((created_at + self.retention).timestamp()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(StoreError::backend("PutItem", &self.table, describe(&e))),
        }
    }
}

/// Threshold windows in DynamoDB (the alerts table's `win#` partitions).
pub struct DynamoWindowStore {
    client: Client,
    table: String,
    /// The longest window of the rule set: members expire this long (and a day) after their
    /// event.
    longest: Duration,
}

impl DynamoWindowStore {
    pub fn new(client: Client, table: String, longest_window: Duration) -> Self {
        DynamoWindowStore {
            client,
            table,
            longest: longest_window,
        }
    }

    fn pk(rule_id: &str, group: &str) -> String {
        let digest = Sha256::digest(group.as_bytes());
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("win#{rule_id}#{hex}")
    }

    /// The group's members with sort keys up to `until` (and from `since`, when given).
    async fn members(
        &self,
        pk: &str,
        since: Option<DateTime<Utc>>,
        until: DateTime<Utc>,
    ) -> Result<Vec<(String, Member, bool)>, StoreError> {
        let upper = format!("{}#\u{10ffff}", fmt_time(until));
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":hi", s(upper));
        let q = match since {
            Some(t) => q
                .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
                .expression_attribute_values(":lo", s(fmt_time(t))),
            None => q.key_condition_expression("pk = :pk AND sk <= :hi"),
        };
        let mut out = Vec::new();
        let mut pages = q.into_paginator().items().send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| StoreError::backend("Query", &self.table, describe(&e)))?;
            let Some(sk) = get_s(&item, SK) else { continue };
            let Some((time, event_id)) = sk.split_once('#') else {
                continue;
            };
            let Some(time) = domain::model::parse_time(time) else {
                continue;
            };
            let spent = item.get("spent").and_then(|v| v.as_bool().ok()).copied() == Some(true);
            let member = Member {
                event_id: event_id.to_owned(),
                time,
                value: get_s(&item, "value").map(str::to_owned),
            };
            out.push((sk.to_owned(), member, spent));
        }
        Ok(out)
    }
}

#[async_trait]
impl WindowStore for DynamoWindowStore {
    async fn add_and_read(
        &self,
        rule_id: &str,
        group: &str,
        member: Member,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<Member>, StoreError> {
        let pk = Self::pk(rule_id, group);
        let sk = format!("{}#{}", fmt_time(member.time), member.event_id);
        let expires = member.time + self.longest + Duration::days(WINDOW_GRACE_DAYS);
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(&pk))
            .item(SK, s(sk))
            .item("expires_at", n(expires.timestamp()))
            .condition_expression("attribute_not_exists(pk)");
        if let Some(v) = &member.value {
            put = put.item("value", s(v));
        }
        match put.send().await {
            Ok(_) => {}
            Err(e) if conditional_failed(&e) => {}
            Err(e) => return Err(StoreError::backend("PutItem", &self.table, describe(&e))),
        }
        Ok(self
            .members(&pk, Some(since), until)
            .await?
            .into_iter()
            .filter(|(_, _, spent)| !spent)
            .map(|(_, m, _)| m)
            .collect())
    }

    async fn spend(
        &self,
        rule_id: &str,
        group: &str,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let pk = Self::pk(rule_id, group);
        for (sk, _, spent) in self.members(&pk, None, until).await? {
            if spent {
                continue;
            }
            self.client
                .update_item()
                .table_name(&self.table)
                .key(PK, s(&pk))
                .key(SK, s(sk))
                .update_expression("SET spent = :t")
                .expression_attribute_values(
                    ":t",
                    aws_sdk_dynamodb::types::AttributeValue::Bool(true),
                )
                .send()
                .await
                .map_err(|e| StoreError::backend("UpdateItem", &self.table, describe(&e)))?;
        }
        Ok(())
    }
}

/// The stores of the detection function, built once per container: the raw layer (rules read
/// the raw record), the alerts and the threshold windows.
pub fn detection_stores(
    sdk: &aws_config::SdkConfig,
    bucket: &str,
    alerts_table: &str,
    alert_retention_days: u32,
    longest_window: Duration,
) -> (crate::S3RawStore, DynamoAlertStore, DynamoWindowStore) {
    let db = Client::new(sdk);
    (
        crate::S3RawStore::new(crate::s3_client(sdk), bucket.to_owned()),
        DynamoAlertStore::new(db.clone(), alerts_table.to_owned(), alert_retention_days),
        DynamoWindowStore::new(db, alerts_table.to_owned(), longest_window),
    )
}
