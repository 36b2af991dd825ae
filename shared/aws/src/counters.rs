//! What the event store writes besides events: presence markers (before a batch's events) and the
//! per-day aggregates (after, for the events that were new): one counter per (day, dimension,
//! value) for the small dimensions, and one bounded actor top list per day, source and stream,
//! rewritten once per batch. Also the [`Meter`] that adds up the capacity DynamoDB reports.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ConsumedCapacity, ReturnConsumedCapacity};
use chrono::NaiveDate;

use super::describe;
use super::items::{EXPIRES_AT, Item, get_s, n, s};
use domain::model::Source;
use domain::store::{StoreError, StoredEvent, keys};

/// Capacity units DynamoDB reported for the calls a store made (`ReturnConsumedCapacity =
/// TOTAL` on every call), so the benchmark can set them beside the cost model.
#[derive(Debug, Default)]
pub struct Meter {
    inner: Mutex<Consumed>,
}

/// Read and write units reported, and the calls that reported none.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Consumed {
    pub read_units: f64,
    pub write_units: f64,
    pub reads: u64,
    pub writes: u64,
    /// Calls whose answer carried no consumed capacity (an emulator may not report it).
    pub unreported: u64,
}

impl Meter {
    pub(crate) fn read(&self, cc: Option<&ConsumedCapacity>) {
        self.add(cc, false);
    }
    pub(crate) fn write(&self, cc: Option<&ConsumedCapacity>) {
        self.add(cc, true);
    }
    fn add(&self, cc: Option<&ConsumedCapacity>, write: bool) {
        let units = cc.and_then(|c| c.capacity_units());
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match (units, write) {
            (None, _) => m.unreported += 1,
            (Some(u), true) => m.write_units += u,
            (Some(u), false) => m.read_units += u,
        }
        if write {
            m.writes += 1;
        } else {
            m.reads += 1;
        }
    }
    pub fn consumed(&self) -> Consumed {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Writes the presence marker of every (day, source) of a batch not yet marked by this process,
/// before its events are put. A marker is idempotent; the set only saves repeating it.
pub(crate) async fn mark_present(
    client: &Client,
    table: &str,
    events: &[StoredEvent],
    marked: &Mutex<HashSet<(NaiveDate, Source)>>,
    meter: &Meter,
) -> Result<(), StoreError> {
    let expires_at = events.iter().map(|e| e.expires_at).max().unwrap_or(0);
    let todo: Vec<(NaiveDate, Source)> = {
        let done = marked.lock().unwrap_or_else(|p| p.into_inner());
        keys::source_days(events.iter().map(|e| &e.event))
            .into_iter()
            .filter(|k| !done.contains(k))
            .collect()
    };
    let mut calls = Vec::new();
    for (day, source) in &todo {
        calls.push(
            client
                .put_item()
                .table_name(table)
                .item("pk", s(keys::PRESENCE_PK))
                .item("sk", s(keys::presence_sk(*day, *source)))
                // Markers outlive the events of their day by a day at most: the latest expiry
                // of the batch that wrote them.
                .item(EXPIRES_AT, n(expires_at))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send(),
        );
    }
    for r in futures::future::join_all(calls).await {
        let out = r.map_err(|e| StoreError::backend("PutItem", table, describe(&e)))?;
        meter.write(out.consumed_capacity());
    }
    marked
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend(todo);
    Ok(())
}

/// Bumps the per-day counters for events that were just inserted for the first time: one
/// UpdateItem (`ADD n`) per distinct (day, dimension, value) of the batch, and one rewrite of each
/// actor top list the batch touches. A failure is logged and not returned: the events are stored,
/// and the counters are documented as approximate.
pub(crate) async fn bump_aggregates(
    client: &Client,
    table: &str,
    inserted: &[&StoredEvent],
    concurrency: usize,
    meter: &Meter,
) {
    if inserted.is_empty() {
        return;
    }
    let expires_at = inserted.iter().map(|e| e.expires_at).max().unwrap_or(0);
    let counts: Vec<_> = keys::aggregate_counts(inserted.iter().map(|e| &e.event))
        .into_iter()
        .collect();
    let mut failures = Vec::new();
    for chunk in counts.chunks(concurrency.max(1)) {
        let mut calls = Vec::new();
        for ((day, dim, value), count) in chunk {
            calls.push(
                client
                    .update_item()
                    .table_name(table)
                    .key("pk", s(keys::aggregate_pk(*day)))
                    .key("sk", s(keys::aggregate_sk(dim, value)))
                    .update_expression("ADD n :n SET dim = :d, #v = :v, expires_at = :x")
                    .expression_attribute_names("#v", "value")
                    .expression_attribute_values(":n", n(count))
                    .expression_attribute_values(":d", s(*dim))
                    .expression_attribute_values(":v", s(value.clone()))
                    .expression_attribute_values(":x", n(expires_at))
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send(),
            );
        }
        for r in futures::future::join_all(calls).await {
            match r {
                Ok(out) => meter.write(out.consumed_capacity()),
                Err(e) => failures.push(describe(&e)),
            }
        }
    }
    for (key, add) in keys::actor_counts(inserted.iter().map(|e| &e.event)) {
        if let Err(e) = bump_top_list(client, table, &key, &add, expires_at, meter).await {
            failures.push(e);
        }
    }
    if let Some(first) = failures.first() {
        tracing::warn!(
            table,
            failed = failures.len(),
            error = %first,
            "Aggregate counters not all bumped; filter options and summaries undercount."
        );
    }
}

/// Attempts at a top list's versioned rewrite before giving up (each retry re-reads it).
const TOP_LIST_ATTEMPTS: usize = 4;

/// Merges a batch's actor counts into one top list: read it, merge, write it back on the
/// condition that its version has not moved (a stream's batches are written by the one run that
/// holds its lease, so a conflict is rare: an import or backfill beside a scheduled run).
async fn bump_top_list(
    client: &Client,
    table: &str,
    (day, source, stream): &keys::TopListKey,
    add: &BTreeMap<String, u64>,
    expires_at: i64,
    meter: &Meter,
) -> Result<(), String> {
    let pk = keys::aggregate_pk(*day);
    let sk = keys::top_list_sk(*source, stream.as_deref());
    for _ in 0..TOP_LIST_ATTEMPTS {
        let got = client
            .get_item()
            .table_name(table)
            .key("pk", s(&pk))
            .key("sk", s(&sk))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        meter.read(got.consumed_capacity());
        let (list, version) = match got.item() {
            Some(item) => read_top_list(item),
            None => (keys::TopList::default(), 0),
        };
        let list = keys::merge_top(list, add, keys::TOP_LIST_LEN);
        let counts: Item = list.counts.iter().map(|(v, c)| (v.clone(), n(c))).collect();
        let mut put = client
            .put_item()
            .table_name(table)
            .item("pk", s(&pk))
            .item("sk", s(&sk))
            .item("top", AttributeValue::M(counts))
            .item("other", n(list.other))
            .item("v", n(version + 1))
            .item(EXPIRES_AT, n(expires_at))
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        put = if version == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("v = :v")
                .expression_attribute_values(":v", n(version))
        };
        match put.send().await {
            Ok(out) => {
                meter.write(out.consumed_capacity());
                return Ok(());
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                continue;
            }
            Err(e) => return Err(describe(&e)),
        }
    }
    Err(format!(
        "top list {pk} {sk} kept changing under concurrent writers"
    ))
}

/// A stored top list and its version.
pub(crate) fn read_top_list(item: &Item) -> (keys::TopList, u64) {
    let num = |v: &AttributeValue| v.as_n().ok().and_then(|n| n.parse::<u64>().ok());
    let counts = item
        .get("top")
        .and_then(|v| v.as_m().ok())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), num(v)?)))
                .collect()
        })
        .unwrap_or_default();
    let other = item.get("other").and_then(num).unwrap_or(0);
    let version = item.get("v").and_then(num).unwrap_or(0);
    (keys::TopList { counts, other }, version)
}

/// True when a counter partition's item is a top list.
pub(crate) fn is_top_list(item: &Item) -> bool {
    get_s(item, "sk").is_some_and(|sk| sk.starts_with("top#"))
}
