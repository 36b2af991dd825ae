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

/// Capacity units of the calls a store made: what DynamoDB reported (`ReturnConsumedCapacity =
/// TOTAL` on every call) and what the cost model ([`crate::cost`]) says each call costs, side by
/// side for the benchmark. (moto reports a constant per call, whatever the item's size or
/// indexes: 1 unit a write, 0.5 or 1 a read; BENCHMARKS.md says so beside its figures.)
#[derive(Debug, Default)]
pub struct Meter {
    inner: Mutex<Consumed>,
}

/// Read and write units, reported and modelled, and the calls that reported none.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Consumed {
    pub read_units: f64,
    pub write_units: f64,
    pub model_read_units: f64,
    pub model_write_units: f64,
    pub reads: u64,
    pub writes: u64,
    /// Calls whose answer carried no consumed capacity (a failed conditional write, or an
    /// emulator that does not report it).
    pub unreported: u64,
}

impl Consumed {
    /// What was consumed between `earlier` and `self`.
    pub fn since(&self, earlier: &Consumed) -> Consumed {
        Consumed {
            read_units: self.read_units - earlier.read_units,
            write_units: self.write_units - earlier.write_units,
            model_read_units: self.model_read_units - earlier.model_read_units,
            model_write_units: self.model_write_units - earlier.model_write_units,
            reads: self.reads - earlier.reads,
            writes: self.writes - earlier.writes,
            unreported: self.unreported - earlier.unreported,
        }
    }
}

impl Meter {
    pub(crate) fn read(&self, cc: Option<&ConsumedCapacity>, model: f64) {
        self.add(cc, false, model);
    }
    pub(crate) fn write(&self, cc: Option<&ConsumedCapacity>, model: f64) {
        self.add(cc, true, model);
    }
    fn add(&self, cc: Option<&ConsumedCapacity>, write: bool, model: f64) {
        let units = cc.and_then(|c| c.capacity_units());
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match (units, write) {
            (None, _) => m.unreported += 1,
            (Some(u), true) => m.write_units += u,
            (Some(u), false) => m.read_units += u,
        }
        if write {
            m.writes += 1;
            m.model_write_units += model;
        } else {
            m.reads += 1;
            m.model_read_units += model;
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
        // A marker is well under 1 KB.
        meter.write(out.consumed_capacity(), 1.0);
    }
    marked
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend(todo);
    Ok(())
}

/// Counters of new events not yet written: the store adds each batch's and writes them at
/// [`Pending::take`] (the end of a chunk, or past [`FLUSH_EVENTS`] events).
#[derive(Debug, Default)]
pub(crate) struct Pending {
    counts: BTreeMap<(NaiveDate, &'static str, String), u64>,
    actors: BTreeMap<keys::TopListKey, BTreeMap<String, u64>>,
    events: u64,
    expires_at: i64,
}

/// Events whose counters a store holds at most before writing them.
pub(crate) const FLUSH_EVENTS: u64 = 20_000;

impl Pending {
    /// Adds the counts of `inserted`; true when the pending counters should be written now.
    pub(crate) fn add(&mut self, inserted: &[&StoredEvent]) -> bool {
        for (k, n) in keys::aggregate_counts(inserted.iter().map(|e| &e.event)) {
            *self.counts.entry(k).or_insert(0) += n;
        }
        for (k, add) in keys::actor_counts(inserted.iter().map(|e| &e.event)) {
            let list = self.actors.entry(k).or_default();
            for (v, n) in add {
                *list.entry(v).or_insert(0) += n;
            }
        }
        self.events += inserted.len() as u64;
        self.expires_at = inserted
            .iter()
            .map(|e| e.expires_at)
            .fold(self.expires_at, i64::max);
        self.events >= FLUSH_EVENTS
    }

    /// The pending counters, leaving none.
    pub(crate) fn take(&mut self) -> Pending {
        std::mem::take(self)
    }
}

/// Writes pending counters: one UpdateItem (`ADD n`) per distinct (day, dimension, value), and
/// one rewrite of each actor top list touched. Why pending and not per batch: a scheduled run's
/// batches are small (a few dozen events in a quiet five minutes), and a counter write per batch
/// and value would cost more than the events. A failure is logged and not returned: the events
/// are stored, and the counters are documented as approximate; so is a crash before the flush.
pub(crate) async fn write_pending(
    client: &Client,
    table: &str,
    pending: Pending,
    concurrency: usize,
    meter: &Meter,
) {
    if pending.events == 0 {
        return;
    }
    let expires_at = pending.expires_at;
    let counts: Vec<_> = pending.counts.into_iter().collect();
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
                // A counter (keys, count, dimension, a value of at most 200 characters, expiry)
                // is well under 1 KB, before and after.
                Ok(out) => meter.write(out.consumed_capacity(), 1.0),
                Err(e) => failures.push(describe(&e)),
            }
        }
    }
    for (key, add) in pending.actors {
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
        // A consistent read: one unit per started 4 KB.
        let read = 2.0 * crate::cost::read_units(got.item().map_or(0, crate::cost::item_size));
        meter.read(got.consumed_capacity(), read);
        let before = got.item().map_or(0, crate::cost::item_size);
        let (list, version) = match got.item() {
            Some(item) => read_top_list(item),
            None => (keys::TopList::default(), 0),
        };
        let list = keys::merge_top(list, add, keys::TOP_LIST_LEN);
        let counts: Item = list.counts.iter().map(|(v, c)| (v.clone(), n(c))).collect();
        let item: Item = [
            ("pk".to_string(), s(&pk)),
            ("sk".to_string(), s(&sk)),
            ("top".to_string(), AttributeValue::M(counts)),
            ("other".to_string(), n(list.other)),
            ("v".to_string(), n(version + 1)),
            (EXPIRES_AT.to_string(), n(expires_at)),
        ]
        .into_iter()
        .collect();
        // An overwrite is billed by the larger of the old and the new item.
        let units = crate::cost::write_units(crate::cost::item_size(&item).max(before)) as f64;
        let mut put = client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        put = if version == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("v = :v")
                .expression_attribute_values(":v", n(version))
        };
        match put.send().await {
            Ok(out) => {
                meter.write(out.consumed_capacity(), units);
                return Ok(());
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                meter.write(None, units);
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
