//! DynamoDB adapters: the event table (a keys-only read of what a batch would re-write, then a
//! conditional put per new event = dedupe, or per later version of a record that changes;
//! presence markers and counters) and the state table (checkpoints with leases and versioned conditional writes, health records). Key
//! layouts come from [`domain::store::keys`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{ReturnConsumedCapacity, ReturnValue};
use chrono::{DateTime, NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt, stream};

use super::counters::{self, Meter};
use super::describe;
use super::items::{self, Item, get_s, n, s};
use domain::model::{AuditEvent, Source, fmt_time, parse_time};
use domain::store::{
    EventStore, Health, HealthUpdate, Lease, StateError, StateStore, StoreError, StoredEvent,
    StreamKey, keys,
};

/// An item's `(pk, sk)`.
type ItemKey = (String, String);

fn get_n(item: &Item, k: &str) -> Option<i64> {
    item.get(k)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

pub struct DynamoEventStore {
    client: Client,
    table: String,
    concurrency: usize,
    /// Presence markers this process has written (they never need writing twice).
    marked: Mutex<HashSet<(NaiveDate, Source)>>,
    /// Counters of new events, written at [`EventStore::flush`].
    pending: Mutex<counters::Pending>,
    meter: Arc<Meter>,
}

impl DynamoEventStore {
    pub fn new(client: Client, table: String, concurrency: usize) -> Self {
        DynamoEventStore {
            client,
            table,
            concurrency: concurrency.max(1),
            marked: Mutex::new(HashSet::new()),
            pending: Mutex::new(counters::Pending::default()),
            meter: Arc::new(Meter::default()),
        }
    }

    /// The capacity DynamoDB reported for this store's calls so far.
    pub fn meter(&self) -> Arc<Meter> {
        self.meter.clone()
    }

    /// The keys among `wanted` that are already stored: per hour bucket, one keys-only Query over
    /// the span of the batch's sort keys (paged). This is what makes a re-read cost no write: a
    /// window's overlap, a retried chunk or a backfill of stored events is recognised by a read
    /// (billed by the size of what it reads, 4 KB per half unit) instead of a failed conditional
    /// put (billed like a write of the whole item). The conditional put stays the dedupe; this only
    /// skips puts that would fail.
    ///
    /// Each key found comes with the stored item's version ([`items::VERSION`]), for the events
    /// whose records change: a later version is put, the same or an earlier one is not.
    async fn stored_keys(
        &self,
        wanted: &[(String, String)],
    ) -> Result<HashMap<ItemKey, Option<i64>>, StoreError> {
        // Owned strings: the futures below must not borrow from this call's locals.
        let mut spans: BTreeMap<String, (String, String)> = BTreeMap::new();
        for (pk, sk) in wanted {
            let span = spans
                .entry(pk.clone())
                .or_insert_with(|| (sk.clone(), sk.clone()));
            if *sk < span.0 {
                span.0 = sk.clone();
            }
            if *sk > span.1 {
                span.1 = sk.clone();
            }
        }
        let wanted: HashSet<&(String, String)> = wanted.iter().collect();
        let found: Vec<Vec<(ItemKey, Option<i64>)>> = stream::iter(spans)
            .map(|(pk, (lo, hi))| async move {
                let mut sks = Vec::new();
                let mut start: Option<Item> = None;
                loop {
                    let out = self
                        .client
                        .query()
                        .table_name(&self.table)
                        .key_condition_expression("pk = :p AND sk BETWEEN :lo AND :hi")
                        .expression_attribute_values(":p", s(&pk))
                        .expression_attribute_values(":lo", s(&lo))
                        .expression_attribute_values(":hi", s(&hi))
                        // Whole items, though only their keys are needed: a projection saves
                        // nothing (a Query is billed by the items it reads), and the sizes let
                        // the meter model the cost.
                        .set_exclusive_start_key(start.take())
                        .return_consumed_capacity(ReturnConsumedCapacity::Total)
                        .send()
                        .await
                        .map_err(|e| StoreError::backend("Query", &self.table, describe(&e)))?;
                    let bytes: usize = out.items().iter().map(crate::cost::item_size).sum();
                    self.meter
                        .read(out.consumed_capacity(), crate::cost::read_units(bytes));
                    sks.extend(out.items().iter().filter_map(|i| {
                        let sk = get_s(i, items::SK)?;
                        Some(((pk.clone(), sk.to_string()), get_n(i, items::VERSION)))
                    }));
                    match out.last_evaluated_key {
                        Some(k) if !k.is_empty() => start = Some(k),
                        _ => return Ok::<_, StoreError>(sks),
                    }
                }
            })
            .buffered(self.concurrency)
            .try_collect()
            .await?;
        Ok(found
            .into_iter()
            .flatten()
            .filter(|(key, _)| wanted.contains(key))
            .collect())
    }

    /// Conditional put: first write wins, except that a later version of an event whose record
    /// changes replaces the stored one ([`items::VERSION`]). `Ok(Put::Refused)` when the
    /// condition failed (the item exists, at this version or a later one).
    async fn put_one(&self, item: Item) -> Result<Put, StoreError> {
        let cost = crate::cost::event_cost(&item);
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        put = match item.get(items::VERSION).cloned() {
            Some(v) => put
                .condition_expression("attribute_not_exists(pk) OR #v < :v")
                .expression_attribute_names("#v", items::VERSION)
                .expression_attribute_values(":v", v)
                .return_values(ReturnValue::AllOld),
            None => put.condition_expression("attribute_not_exists(pk)"),
        };
        let res = put.set_item(Some(item)).send().await;
        match res {
            Ok(out) => {
                self.meter
                    .write(out.consumed_capacity(), cost.write_units() as f64);
                // Only a versioned put asks for the old item; an item that was there is an
                // update, not a new event.
                Ok(match out.attributes {
                    Some(old) if !old.is_empty() => Put::Replaced,
                    _ => Put::Inserted,
                })
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                // Billed too, like a write of the item (no index entry changes), though the
                // answer does not say so.
                self.meter.write(None, cost.base_write_units as f64);
                Ok(Put::Refused)
            }
            Err(e) => Err(StoreError::backend("PutItem", &self.table, describe(&e))),
        }
    }
}

/// What one conditional put did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Put {
    /// A new event.
    Inserted,
    /// A later version of a stored event took its place.
    Replaced,
    /// The item was there already (at this version or a later one).
    Refused,
}

#[async_trait]
impl EventStore for DynamoEventStore {
    async fn put_new(&self, events: Vec<StoredEvent>) -> Result<Vec<bool>, StoreError> {
        let keys_of: Vec<(String, String)> =
            events.iter().map(|e| items::event_key(&e.event)).collect();
        let stored = self.stored_keys(&keys_of).await?;
        let todo: Vec<usize> = (0..events.len())
            .filter(|i| match stored.get(&keys_of[*i]) {
                None => true,
                // A stored event is put again only as a later version of a changing record.
                Some(have) => keys::event_version(&events[*i].event)
                    .is_some_and(|v| have.is_none_or(|have| have < v)),
            })
            .collect();
        let fresh: Vec<StoredEvent> = todo.iter().map(|i| events[*i].clone()).collect();
        // Presence markers first: a listing may skip a day without one.
        counters::mark_present(&self.client, &self.table, &fresh, &self.marked, &self.meter)
            .await?;
        let puts = fresh
            .iter()
            .map(items::event_item)
            .collect::<Result<Vec<_>, _>>()?;
        let put_outcomes: Vec<Put> = stream::iter(puts)
            .map(|item| self.put_one(item))
            .buffered(self.concurrency)
            .try_collect()
            .await?;
        let mut outcomes = vec![false; events.len()];
        for (i, put) in todo.iter().zip(&put_outcomes) {
            outcomes[*i] = *put == Put::Inserted;
        }
        // Only events whose conditional put succeeded count in the query API's aggregates.
        let inserted: Vec<&StoredEvent> = fresh
            .iter()
            .zip(&put_outcomes)
            .filter_map(|(e, put)| (*put == Put::Inserted).then_some(e))
            .collect();
        let full = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .add(&inserted);
        if full {
            self.flush().await;
        }
        Ok(outcomes)
    }

    async fn flush(&self) {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        counters::write_pending(
            &self.client,
            &self.table,
            pending,
            self.concurrency,
            &self.meter,
        )
        .await;
    }

    async fn get(&self, id: &str) -> Result<Option<AuditEvent>, StoreError> {
        items::get_event(&self.client, &self.table, id).await
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
                .key_condition_expression("pk = :p AND sk BETWEEN :a AND :b")
                .expression_attribute_values(":p", s(keys::event_pk(source, hour)))
                .expression_attribute_values(":a", s(fmt_time(keys::key_second(start))))
                .expression_attribute_values(":b", s(fmt_time(end)))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page =
                    page.map_err(|e| StoreError::backend("Query", &self.table, describe(&e)))?;
                for item in page.items() {
                    let e = items::event_of(&self.table, item)?;
                    if e.time >= start && e.time < end {
                        out.push(e);
                    }
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
    pub(crate) client: Client,
    pub(crate) table: String,
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
