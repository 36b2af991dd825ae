//! The query API's side of the alerts table: listing, one alert with its comments, status and
//! assignee changes, comments, and the tenant's own rules. (The detection path's side, storing
//! an alert once and the threshold windows, is `alerts.rs`.)
//!
//! | item | pk | sk | other attributes |
//! |---|---|---|---|
//! | comment | `acomment#<alert id>` | `<created_at>#<comment id>` | `doc` (the comment JSON), `expires_at` (the alert's) |
//! | tenant rule | `rules` | `<rule id>` | `yaml`, `updated_at`, `updated_by` |
//!
//! Listing reads the `by_month` index (`month` = `YYYY-MM` of `created_at`, sort key `ts` =
//! `<created_at>#<id>`, every attribute projected: alerts are few and small), newest month
//! first, descending, so a page is one Query in the common case and the empty months of a
//! year's retention cost one request each. Status, severity and rule go into the Query's
//! FilterExpression and are checked again in code. Comments have a partition per alert beside
//! it (`GET /alerts/{id}` is a GetItem and a Query, sent together), so IAM can let the query API
//! put comments and rules (`acomment#*`, `rules`) and update alert items (`alert#*`) without
//! letting it put an alert; all tenant rules share one partition, so the detection function
//! reads them in one Query.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use domain::read::Comment;
use domain::store::StoreError;
use domain::triage::{
    AlertChange, AlertFilter, AlertPage, AlertReader, RuleStore, StoredAlert, TenantRule,
};

use super::alerts::{LIST_INDEX, alert_key};
use super::describe;
use super::items::{EXPIRES_AT, Item, PK, SK, get_s, s};

/// The partition of an alert's comments (apart from the alert, so IAM can let the query API
/// add comments without letting it put alert items).
pub fn comments_pk(alert_id: &str) -> String {
    format!("acomment#{alert_id}")
}

/// The partition of the tenant's rules.
pub const RULES_PK: &str = "rules";

/// The alerts table as the query API reads and triages it.
pub struct DynamoTriageStore {
    client: Client,
    table: String,
}

impl DynamoTriageStore {
    pub fn new(client: Client, table: String) -> Self {
        DynamoTriageStore { client, table }
    }

    /// Over the alerts table `table` (the detection function reads the tenant's rules with it).
    pub fn from_sdk(sdk: &aws_config::SdkConfig, table: &str) -> Self {
        DynamoTriageStore::new(Client::new(sdk), table.to_owned())
    }

    fn fail<E: std::error::Error>(&self, op: &'static str, e: &E) -> StoreError {
        StoreError::backend(op, &self.table, describe(e))
    }
}

/// The stored alert of an alert item: its document, with the item's triage attributes.
pub fn stored_alert(item: &Item) -> Result<StoredAlert, String> {
    let doc = get_s(item, "doc").ok_or("the alert item has no document")?;
    let mut alert: StoredAlert =
        serde_json::from_str(doc).map_err(|e| format!("the alert document is not valid: {e}"))?;
    if let Some(status) = get_s(item, "status") {
        alert.status = status.parse()?;
    }
    alert.assignee = get_s(item, "assignee").map(str::to_owned);
    alert.updated_at = get_s(item, "updated_at").map(str::to_owned);
    alert.updated_by = get_s(item, "updated_by").map(str::to_owned);
    Ok(alert)
}

/// The months from `end`'s down to `start`'s, newest first (`end` exclusive).
fn months_down(start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<String> {
    let last = end - chrono::TimeDelta::milliseconds(1);
    let first = NaiveDate::from_ymd_opt(start.year(), start.month(), 1);
    let mut at = NaiveDate::from_ymd_opt(last.year(), last.month(), 1);
    let mut out = Vec::new();
    while let (Some(m), Some(f)) = (at, first) {
        if m < f {
            break;
        }
        out.push(m.format("%Y-%m").to_string());
        at = m.checked_sub_months(Months::new(1));
    }
    out
}

#[async_trait]
impl AlertReader for DynamoTriageStore {
    async fn list(
        &self,
        filter: &AlertFilter,
        before: Option<&str>,
        pin: DateTime<Utc>,
        limit: usize,
        budget: u32,
    ) -> Result<AlertPage, StoreError> {
        let mut page = AlertPage::default();
        let end = filter.end.min(pin + chrono::TimeDelta::milliseconds(1));
        if end <= filter.start {
            return Ok(page);
        }
        // `ts` strictly below the cursor and the end; at or above the start.
        let top = domain::triage::alert_ts(end, "");
        let hi = match before {
            Some(b) if b < top.as_str() => b.to_owned(),
            _ => top,
        };
        let lo = domain::triage::alert_ts(filter.start, "");
        if hi <= lo {
            return Ok(page);
        }
        let mut filters = Vec::new();
        let mut values: Vec<(&str, AttributeValue)> = vec![(":lo", s(&lo)), (":hi", s(&hi))];
        if let Some(r) = &filter.rule {
            filters.push("#rule = :rule");
            values.push((":rule", s(r)));
        }
        if let Some(sev) = filter.severity {
            filters.push("sev = :sev");
            values.push((":sev", s(sev.name())));
        }
        if let Some(st) = filter.status {
            filters.push("#status = :status");
            values.push((":status", s(st.name())));
        }
        for month in months_down(filter.start, end) {
            if month.as_str() > &hi[..7] {
                continue;
            }
            let mut start_key: Option<Item> = None;
            loop {
                if page.requests >= budget {
                    return Ok(page);
                }
                let mut q = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(LIST_INDEX)
                    .key_condition_expression("#month = :m AND ts BETWEEN :lo AND :hi")
                    .expression_attribute_names("#month", "month")
                    .expression_attribute_values(":m", s(&month))
                    .scan_index_forward(false)
                    .limit(((limit - page.alerts.len()) * 2).clamp(10, 500) as i32)
                    .set_exclusive_start_key(start_key.take());
                for (k, v) in &values {
                    q = q.expression_attribute_values(*k, v.clone());
                }
                if !filters.is_empty() {
                    q = q.filter_expression(filters.join(" AND "));
                }
                // DynamoDB refuses a name the expressions do not use.
                if filter.rule.is_some() {
                    q = q.expression_attribute_names("#rule", "rule");
                }
                if filter.status.is_some() {
                    q = q.expression_attribute_names("#status", "status");
                }
                let out = q.send().await.map_err(|e| self.fail("Query", &e))?;
                page.requests += 1;
                page.examined += out.scanned_count() as u64;
                for item in out.items() {
                    let ts = get_s(item, "ts").unwrap_or_default();
                    // BETWEEN is inclusive: the cursor's own alert was on the last page.
                    if ts >= hi.as_str() {
                        continue;
                    }
                    let alert = stored_alert(item).map_err(|e| StoreError::Corrupt {
                        resource: format!("alert item {ts}"),
                        message: e,
                    })?;
                    if filter.matches(&alert) && alert.created_at <= pin {
                        page.alerts.push(alert);
                        if page.alerts.len() >= limit {
                            page.resume = Some(ts.to_owned());
                            return Ok(page);
                        }
                    }
                }
                match out.last_evaluated_key() {
                    Some(k) => {
                        page.resume = get_s(k, "ts").map(str::to_owned);
                        start_key = Some(k.clone());
                    }
                    None => break,
                }
            }
        }
        page.resume = None;
        Ok(page)
    }

    async fn get(&self, id: &str) -> Result<Option<(StoredAlert, Vec<Comment>)>, StoreError> {
        let (pk, sk) = alert_key(id);
        let corrupt = |message: String| StoreError::Corrupt {
            resource: format!("alert {id}"),
            message,
        };
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .send();
        let comments = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(comments_pk(id)))
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>();
        let (item, comment_items) = futures::join!(item, comments);
        let item = item.map_err(|e| self.fail("GetItem", &e))?;
        let Some(item) = item.item() else {
            return Ok(None);
        };
        let alert = stored_alert(item).map_err(corrupt)?;
        let mut comments = Vec::new();
        for c in comment_items {
            let c = c.map_err(|e| self.fail("Query", &e))?;
            let doc = get_s(&c, "doc").ok_or_else(|| corrupt("a comment without text".into()))?;
            comments
                .push(serde_json::from_str(doc).map_err(|e| corrupt(format!("a comment: {e}")))?);
        }
        Ok(Some((alert, comments)))
    }

    async fn update(
        &self,
        id: &str,
        change: &AlertChange,
    ) -> Result<Option<StoredAlert>, StoreError> {
        let (pk, sk) = alert_key(id);
        let mut set = vec!["updated_at = :at", "updated_by = :by"];
        let mut remove = Vec::new();
        let mut u = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":at", s(domain::model::fmt_time(change.at)))
            .expression_attribute_values(":by", s(&change.by))
            .return_values(ReturnValue::AllNew);
        if let Some(st) = change.status {
            set.push("#status = :status");
            u = u
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(st.name()));
        }
        match &change.assignee {
            Some(Some(who)) => {
                set.push("assignee = :who");
                u = u.expression_attribute_values(":who", s(who));
            }
            Some(None) => remove.push("assignee"),
            None => {}
        }
        let mut expr = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expr.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        match u.update_expression(expr).send().await {
            Ok(out) => {
                let item = out.attributes().cloned().unwrap_or_default();
                stored_alert(&item)
                    .map(Some)
                    .map_err(|message| StoreError::Corrupt {
                        resource: format!("alert {id}"),
                        message,
                    })
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.fail("UpdateItem", &e)),
        }
    }

    async fn add_comment(&self, id: &str, comment: &Comment) -> Result<bool, StoreError> {
        let (pk, sk) = alert_key(id);
        let found = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(&pk))
            .key(SK, s(sk))
            .projection_expression("pk, expires_at")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.fail("GetItem", &e))?;
        let Some(item) = found.item() else {
            return Ok(false);
        };
        let doc = serde_json::to_string(comment)
            .map_err(|e| StoreError::backend("PutItem", &self.table, e))?;
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(comments_pk(id)))
            .item(SK, s(format!("{}#{}", comment.created_at, comment.id)))
            .item("doc", s(doc));
        if let Some(exp) = item.get(EXPIRES_AT) {
            put = put.item(EXPIRES_AT, exp.clone());
        }
        put.send().await.map_err(|e| self.fail("PutItem", &e))?;
        Ok(true)
    }
}

#[async_trait]
impl RuleStore for DynamoTriageStore {
    async fn list_rules(&self) -> Result<Vec<TenantRule>, StoreError> {
        list_rules(&self.client, &self.table).await
    }

    async fn put_rule(&self, rule: &TenantRule, create: bool) -> Result<bool, StoreError> {
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(RULES_PK))
            .item(SK, s(&rule.id))
            .item("yaml", s(&rule.yaml))
            .item("updated_at", s(&rule.updated_at))
            .item("updated_by", s(&rule.updated_by))
            .condition_expression(if create {
                "attribute_not_exists(pk)"
            } else {
                "attribute_exists(pk)"
            })
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(self.fail("PutItem", &e)),
        }
    }

    async fn delete_rule(&self, id: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(RULES_PK))
            .key(SK, s(id))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| self.fail("DeleteItem", &e))?;
        Ok(out.attributes().is_some_and(|a| !a.is_empty()))
    }
}

/// Every tenant rule, in one Query of the `rules` partition (the detection function reads them
/// at start and again every few minutes).
pub async fn list_rules(client: &Client, table: &str) -> Result<Vec<TenantRule>, StoreError> {
    let mut pages = client
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", s(RULES_PK))
        .into_paginator()
        .items()
        .send();
    let mut out = Vec::new();
    while let Some(item) = pages.next().await {
        let item = item.map_err(|e| StoreError::backend("Query", table, describe(&e)))?;
        let field = |k: &str| get_s(&item, k).unwrap_or_default().to_owned();
        out.push(TenantRule {
            id: field(SK),
            yaml: field("yaml"),
            updated_at: field("updated_at"),
            updated_by: field("updated_by"),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_walked_newest_first_and_end_is_exclusive() {
        let t = |s| domain::model::parse_time(s).unwrap();
        assert_eq!(
            months_down(t("2025-11-20T00:00:00Z"), t("2026-02-01T00:00:00Z")),
            ["2026-01", "2025-12", "2025-11"]
        );
        assert_eq!(
            months_down(t("2026-01-01T00:00:00Z"), t("2026-01-01T00:00:01Z")),
            ["2026-01"]
        );
    }
}
