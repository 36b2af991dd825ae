//! DynamoDB adapters: the event table (conditional put = dedupe, time/actor/IP indexes) and the
//! state table (checkpoints with leases and versioned conditional writes, health records). Key
//! layouts come from [`domain::store::keys`].

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream};

use super::describe;
use domain::model::{AuditEvent, Source, fmt_time, parse_time};
use domain::store::{
    EventStore, Health, HealthUpdate, Lease, StateError, StateStore, StoreError, StoredEvent,
    StreamKey, keys,
};

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn get_s<'a>(item: &'a Item, k: &str) -> Option<&'a str> {
    item.get(k).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn get_n(item: &Item, k: &str) -> Option<i64> {
    item.get(k)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

pub struct DynamoEventStore {
    client: Client,
    table: String,
    concurrency: usize,
}

impl DynamoEventStore {
    pub fn new(client: Client, table: String, concurrency: usize) -> Self {
        DynamoEventStore {
            client,
            table,
            concurrency: concurrency.max(1),
        }
    }

    fn item(&self, e: &StoredEvent) -> Result<Item, StoreError> {
        let ev = &e.event;
        let doc = serde_json::to_string(ev).map_err(|err| StoreError::Corrupt {
            resource: ev.id.clone(),
            message: err.to_string(),
        })?;
        let mut item = Item::new();
        item.insert("pk".into(), s(keys::event_pk(ev.source, &ev.dedupe_key)));
        item.insert("sk".into(), s(keys::EVENT_SK));
        item.insert("tpk".into(), s(keys::time_pk(ev.source, ev.time)));
        item.insert("ts".into(), s(keys::time_sk(ev.time, &ev.id)));
        if let Some(a) = ev.actor.index_value() {
            item.insert("apk".into(), s(a));
        }
        if let Some(ip) = &ev.client_ip {
            item.insert("ipk".into(), s(ip.to_lowercase()));
        }
        item.insert("source".into(), s(ev.source.name()));
        if let Some(st) = &ev.stream {
            item.insert("stream".into(), s(st.clone()));
        }
        item.insert("time".into(), s(fmt_time(ev.time)));
        item.insert("operation".into(), s(ev.operation.clone()));
        item.insert("result".into(), s(ev.result.as_str()));
        if let Some(svc) = &ev.service {
            item.insert("service".into(), s(svc.clone()));
        }
        item.insert("doc".into(), s(doc));
        item.insert("expires_at".into(), n(e.expires_at));
        Ok(item)
    }

    fn event_of(&self, item: &Item) -> Result<AuditEvent, StoreError> {
        let doc = get_s(item, "doc").ok_or_else(|| StoreError::Corrupt {
            resource: format!("{} item {:?}", self.table, get_s(item, "pk")),
            message: "no doc attribute".into(),
        })?;
        serde_json::from_str(doc).map_err(|e| StoreError::Corrupt {
            resource: format!("{} item {:?}", self.table, get_s(item, "pk")),
            message: e.to_string(),
        })
    }

    async fn put_one(&self, item: Item) -> Result<bool, StoreError> {
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
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
            Err(e) => Err(StoreError::backend("PutItem", &self.table, describe(&e))),
        }
    }
}

#[async_trait]
impl EventStore for DynamoEventStore {
    async fn put_new(&self, events: Vec<StoredEvent>) -> Result<Vec<bool>, StoreError> {
        let items = events
            .iter()
            .map(|e| self.item(e))
            .collect::<Result<Vec<_>, _>>()?;
        // Presence markers first: a listing may skip a day without one.
        super::query::mark_present(&self.client, &self.table, &events).await?;
        let outcomes: Vec<bool> = stream::iter(items)
            .map(|item| self.put_one(item))
            .buffered(self.concurrency)
            .try_collect()
            .await?;
        // Only events whose conditional put succeeded count in the query API's aggregates.
        let inserted: Vec<&StoredEvent> = events
            .iter()
            .zip(&outcomes)
            .filter_map(|(e, new)| new.then_some(e))
            .collect();
        super::query::bump_aggregates(&self.client, &self.table, &inserted, self.concurrency).await;
        Ok(outcomes)
    }

    async fn get(&self, id: &str) -> Result<Option<AuditEvent>, StoreError> {
        let Some((source, key)) = keys::parse_event_id(id) else {
            return Ok(None);
        };
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::event_pk(source, key)))
            .key("sk", s(keys::EVENT_SK))
            .send()
            .await
            .map_err(|e| StoreError::backend("GetItem", &self.table, describe(&e)))?;
        out.item().map(|i| self.event_of(i)).transpose()
    }

    async fn list_by_time(
        &self,
        source: Source,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut out = Vec::new();
        let mut hour = start;
        while hour < end {
            let mut pages = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::TIME_INDEX)
                .key_condition_expression("tpk = :p AND ts BETWEEN :a AND :b")
                .expression_attribute_values(":p", s(keys::time_pk(source, hour)))
                .expression_attribute_values(":a", s(fmt_time(start)))
                .expression_attribute_values(":b", s(fmt_time(end)))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page =
                    page.map_err(|e| StoreError::backend("Query", &self.table, describe(&e)))?;
                for item in page.items() {
                    out.push(self.event_of(item)?);
                }
            }
            hour = next_hour(hour);
        }
        Ok(out)
    }
}

fn next_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{DurationRound, TimeDelta};
    t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t) + TimeDelta::hours(1)
}

pub struct DynamoStateStore {
    client: Client,
    table: String,
}

impl DynamoStateStore {
    pub fn new(client: Client, table: String) -> Self {
        DynamoStateStore { client, table }
    }

    async fn get_item(&self, key: &StreamKey, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::state_pk(key)))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::backend("GetItem", &self.table, describe(&e)))?;
        Ok(out.item)
    }

    /// A conditional update of a stream's checkpoint item.
    fn checkpoint_update(&self, key: &StreamKey) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::state_pk(key)))
            .key("sk", s(keys::CHECKPOINT_SK))
    }

    /// Sends a checkpoint update: `Ok(Some(new item))`, or `Ok(None)` when its condition failed.
    async fn send_conditional(
        &self,
        update: UpdateItemFluentBuilder,
    ) -> Result<Option<Item>, StoreError> {
        match update.return_values(ReturnValue::AllNew).send().await {
            Ok(out) => Ok(Some(out.attributes.unwrap_or_default())),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(StoreError::backend("UpdateItem", &self.table, describe(&e))),
        }
    }

    fn lease_of(item: &Item, owner: &str) -> Lease {
        Lease {
            owner: owner.to_string(),
            version: get_n(item, "version").unwrap_or(0) as u64,
            watermark: get_s(item, "watermark").and_then(parse_time),
        }
    }
}

#[async_trait]
impl StateStore for DynamoStateStore {
    async fn acquire(
        &self,
        key: &StreamKey,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Lease, StateError> {
        let update = self
            .checkpoint_update(key)
            .update_expression("SET lease_owner = :o, lease_until = :u, version = if_not_exists(version, :zero) + :one")
            .condition_expression("attribute_not_exists(lease_until) OR lease_until < :now OR lease_owner = :o")
            .expression_attribute_values(":o", s(owner))
            .expression_attribute_values(":u", n(until.timestamp_millis()))
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1));
        if let Some(item) = self.send_conditional(update).await? {
            return Ok(Self::lease_of(&item, owner));
        }
        let current = self
            .get_item(key, keys::CHECKPOINT_SK)
            .await?
            .unwrap_or_default();
        Err(StateError::Locked {
            owner: get_s(&current, "lease_owner").unwrap_or("?").to_string(),
            until: get_n(&current, "lease_until")
                .and_then(DateTime::from_timestamp_millis)
                .map(fmt_time)
                .unwrap_or_default(),
        })
    }

    async fn advance(
        &self,
        key: &StreamKey,
        lease: &Lease,
        watermark: DateTime<Utc>,
    ) -> Result<Lease, StateError> {
        let update = self
            .checkpoint_update(key)
            .update_expression("SET watermark = :w, version = version + :one, updated_at = :t")
            .condition_expression("lease_owner = :o AND version = :v")
            .expression_attribute_values(":w", s(fmt_time(watermark)))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":t", s(fmt_time(Utc::now())))
            .expression_attribute_values(":o", s(&lease.owner))
            .expression_attribute_values(":v", n(lease.version));
        match self.send_conditional(update).await? {
            Some(item) => Ok(Self::lease_of(&item, &lease.owner)),
            None => Err(StateError::LeaseLost {
                expected: lease.version,
            }),
        }
    }

    async fn release(&self, key: &StreamKey, lease: &Lease) -> Result<(), StateError> {
        let update = self
            .checkpoint_update(key)
            .update_expression("REMOVE lease_owner, lease_until")
            .condition_expression("lease_owner = :o")
            .expression_attribute_values(":o", s(&lease.owner));
        // A lease already taken over after expiry is no longer ours to release.
        self.send_conditional(update).await?;
        Ok(())
    }

    async fn watermark(&self, key: &StreamKey) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self
            .get_item(key, keys::CHECKPOINT_SK)
            .await?
            .and_then(|i| get_s(&i, "watermark").and_then(parse_time)))
    }

    async fn record_health(&self, key: &StreamKey, update: HealthUpdate) -> Result<(), StoreError> {
        let mut health = self.health(key).await?.unwrap_or_default();
        health.apply(&update);
        let doc = serde_json::to_string(&health).map_err(|e| StoreError::Corrupt {
            resource: keys::state_pk(key),
            message: e.to_string(),
        })?;
        let mut item = Item::new();
        item.insert("pk".into(), s(keys::state_pk(key)));
        item.insert("sk".into(), s(keys::HEALTH_SK));
        item.insert("doc".into(), s(doc));
        item.insert("source".into(), s(key.source.name()));
        if let Some(code) = health.last_error.as_ref().map(|e| e.code.clone()) {
            item.insert("last_error_code".into(), s(code));
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| StoreError::backend("PutItem", &self.table, describe(&e)))?;
        Ok(())
    }

    async fn health(&self, key: &StreamKey) -> Result<Option<Health>, StoreError> {
        let Some(item) = self.get_item(key, keys::HEALTH_SK).await? else {
            return Ok(None);
        };
        let doc = get_s(&item, "doc").unwrap_or("{}");
        serde_json::from_str(doc)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                resource: keys::state_pk(key),
                message: e.to_string(),
            })
    }
}
