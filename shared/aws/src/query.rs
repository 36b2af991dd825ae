//! DynamoDB adapter of the query ports ([`domain::read`]): hour buckets of the `by_time`
//! index (projection ALL: one Query request per page of items), the `by_actor` and `by_ip`
//! indexes (keys only: a Query, then BatchGetItem of the base items), one event's item
//! collection (event, tags, comments: one Query on `pk`), the per-day aggregate counters (one
//! Query per day) and the annotation writes. Also the counter bumps the event store makes after a
//! successful first insert ([`bump_aggregates`]).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnValue};
use chrono::{DateTime, NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt, stream};

use super::describe;
use domain::model::{AuditEvent, Source};
use domain::read::{
    AggregateRow, Aggregates, Annotator, Comment, EventFilter, EventReader, EventRecord, Lookup,
    ReadPage, TagUpdate, TsRange,
};
use domain::store::{StoreError, StoredEvent, keys};

type Item = HashMap<String, AttributeValue>;

/// Days of counters read at once by [`EventReader::aggregates`].
const AGGREGATE_CONCURRENCY: usize = 8;

/// The condition a tags `ADD` is written on.
#[derive(Debug, Clone, Copy)]
enum TagCondition {
    /// The set holds at most this many tags (or does not exist).
    Room(usize),
    /// The set holds exactly this many (0: does not exist).
    Size(usize),
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn get_s<'a>(item: &'a Item, k: &str) -> Option<&'a str> {
    item.get(k).and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// Items per request when nothing filters them (a page of events, not a megabyte).
fn page_limit(limit: usize, filter: &EventFilter) -> Option<i32> {
    let unfiltered = filter.stream.is_none()
        && filter.service.is_none()
        && filter.operation.is_none()
        && filter.result.is_none()
        && filter.actor.is_none()
        && filter.ip.is_none()
        && filter.q.is_none();
    unfiltered.then(|| limit.clamp(10, 1000) as i32)
}

pub struct DynamoQueryStore {
    client: Client,
    table: String,
}

impl DynamoQueryStore {
    pub fn new(client: Client, table: String) -> Self {
        DynamoQueryStore { client, table }
    }

    fn err(&self, op: &'static str, e: impl std::error::Error) -> StoreError {
        StoreError::backend(op, &self.table, describe(&e))
    }

    fn event_of(&self, item: &Item) -> Result<AuditEvent, StoreError> {
        let corrupt = |message: String| StoreError::Corrupt {
            resource: format!("{} item {:?}", self.table, get_s(item, "pk")),
            message,
        };
        let doc = get_s(item, "doc").ok_or_else(|| corrupt("no doc attribute".into()))?;
        serde_json::from_str(doc).map_err(|e| corrupt(e.to_string()))
    }

    /// Reads base items by key (BatchGetItem, 100 per call, unprocessed keys retried); returns
    /// them by `pk` and the number of requests sent.
    async fn batch_get(&self, pks: &[String]) -> Result<(HashMap<String, Item>, u32), StoreError> {
        let mut out = HashMap::new();
        let mut requests = 0;
        for chunk in pks.chunks(100) {
            let mut keys: Vec<Item> = chunk
                .iter()
                .map(|pk| {
                    HashMap::from([
                        ("pk".to_string(), s(pk)),
                        ("sk".to_string(), s(keys::EVENT_SK)),
                    ])
                })
                .collect();
            for attempt in 0..8 {
                if keys.is_empty() {
                    break;
                }
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                }
                let ka = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut keys)))
                    .build()
                    .map_err(|e| self.err("BatchGetItem", e))?;
                let res = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, ka)
                    .send()
                    .await
                    .map_err(|e| self.err("BatchGetItem", e))?;
                requests += 1;
                for item in res
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    if let Some(pk) = get_s(&item, "pk") {
                        out.insert(pk.to_string(), item);
                    }
                }
                keys = res
                    .unprocessed_keys
                    .unwrap_or_default()
                    .remove(&self.table)
                    .map(|k| k.keys)
                    .unwrap_or_default();
            }
            if !keys.is_empty() {
                return Err(StoreError::backend(
                    "BatchGetItem",
                    &self.table,
                    "keys left unprocessed after retries",
                ));
            }
        }
        Ok((out, requests))
    }

    /// `ADD` or `DELETE` of tags on the event's tags item, on a condition; the tags afterwards,
    /// or `None` when the condition failed.
    async fn tag_update(
        &self,
        pk: &str,
        verb: &str,
        list: &[String],
        condition: Option<TagCondition>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(keys::TAGS_SK))
            .update_expression(format!("{verb} tags :t"))
            .expression_attribute_values(":t", AttributeValue::Ss(list.to_vec()))
            .return_values(ReturnValue::AllNew);
        match condition {
            None => {}
            Some(TagCondition::Room(room)) => {
                req = req
                    .condition_expression("attribute_not_exists(tags) OR size(tags) <= :room")
                    .expression_attribute_values(":room", AttributeValue::N(room.to_string()));
            }
            Some(TagCondition::Size(0)) => {
                req = req.condition_expression("attribute_not_exists(tags)");
            }
            Some(TagCondition::Size(n)) => {
                req = req
                    .condition_expression("size(tags) = :n")
                    .expression_attribute_values(":n", AttributeValue::N(n.to_string()));
            }
        }
        match req.send().await {
            Ok(out) => Ok(Some(
                out.attributes
                    .and_then(|a| a.get("tags").and_then(|v| v.as_ss().ok()).cloned())
                    .unwrap_or_default(),
            )),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.err("UpdateItem", e)),
        }
    }

    /// The event's tags, read consistently.
    async fn current_tags(&self, pk: &str) -> Result<Vec<String>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(keys::TAGS_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.err("GetItem", e))?;
        Ok(out
            .item
            .and_then(|i| i.get("tags").and_then(|v| v.as_ss().ok()).cloned())
            .unwrap_or_default())
    }

    async fn event_exists(&self, pk: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(keys::EVENT_SK))
            .projection_expression("pk")
            .send()
            .await
            .map_err(|e| self.err("GetItem", e))?;
        Ok(out.item.is_some())
    }
}

#[async_trait]
impl EventReader for DynamoQueryStore {
    async fn time_bucket(
        &self,
        source: Source,
        hour: DateTime<Utc>,
        range: &TsRange,
        filter: &EventFilter,
        limit: usize,
        max_requests: u32,
    ) -> Result<ReadPage, StoreError> {
        // Exact-match filters run in DynamoDB; everything is checked again by `filter.matches`.
        let mut conds = Vec::new();
        let mut names = HashMap::new();
        let mut values = HashMap::from([
            (":p".to_string(), s(keys::time_pk(source, hour))),
            (":lo".to_string(), s(range.lo.clone())),
            (":hi".to_string(), s(range.hi.clone())),
        ]);
        let exact = [
            ("stream", filter.stream.clone()),
            ("service", filter.service.clone()),
            ("operation", filter.operation.clone()),
            ("result", filter.result.map(|r| r.as_str().to_string())),
        ];
        for (attr, v) in exact {
            if let Some(v) = v {
                conds.push(format!("#{attr} = :{attr}"));
                names.insert(format!("#{attr}"), attr.to_string());
                values.insert(format!(":{attr}"), s(v));
            }
        }
        let mut page = ReadPage::default();
        let mut start_key: Option<Item> = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::TIME_INDEX)
                .key_condition_expression("tpk = :p AND ts BETWEEN :lo AND :hi")
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(false)
                .set_limit(page_limit(limit, filter))
                .set_exclusive_start_key(start_key.take());
            if !conds.is_empty() {
                q = q
                    .filter_expression(conds.join(" AND "))
                    .set_expression_attribute_names(Some(names.clone()));
            }
            let out = q.send().await.map_err(|e| self.err("Query", e))?;
            page.requests += 1;
            page.examined += out.scanned_count as u64;
            for item in out.items() {
                let ts = get_s(item, "ts").unwrap_or_default().to_string();
                if ts >= range.hi {
                    continue;
                }
                let e = self.event_of(item)?;
                if filter.matches(&e) {
                    page.events.push(e);
                }
                if page.events.len() >= limit {
                    page.resume = Some(ts);
                    return Ok(page);
                }
            }
            match out.last_evaluated_key {
                None => {
                    page.resume = None;
                    return Ok(page);
                }
                Some(lek) => {
                    page.resume = get_s(&lek, "ts").map(String::from);
                    if page.requests >= max_requests {
                        return Ok(page);
                    }
                    start_key = Some(lek);
                }
            }
        }
    }

    async fn lookup(
        &self,
        lookup: &Lookup,
        range: &TsRange,
        filter: &EventFilter,
        limit: usize,
        max_requests: u32,
    ) -> Result<ReadPage, StoreError> {
        let (index, attr, value) = match lookup {
            Lookup::Actor(a) => (keys::ACTOR_INDEX, "apk", a.to_lowercase()),
            Lookup::Ip(ip) => (keys::IP_INDEX, "ipk", ip.to_lowercase()),
        };
        let mut page = ReadPage::default();
        let mut start_key: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression(format!("{attr} = :v AND ts BETWEEN :lo AND :hi"))
                .expression_attribute_values(":v", s(value.clone()))
                .expression_attribute_values(":lo", s(range.lo.clone()))
                .expression_attribute_values(":hi", s(range.hi.clone()))
                .scan_index_forward(false)
                .limit(100)
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(|e| self.err("Query", e))?;
            page.requests += 1;
            let rows: Vec<(String, String)> = out
                .items()
                .iter()
                .filter_map(|i| Some((get_s(i, "ts")?.to_string(), get_s(i, "pk")?.to_string())))
                .filter(|(ts, _)| *ts < range.hi)
                .collect();
            let pks: Vec<String> = rows.iter().map(|(_, pk)| pk.clone()).collect();
            let (items, requests) = self.batch_get(&pks).await?;
            page.requests += requests;
            for (ts, pk) in rows {
                page.examined += 1;
                // An item deleted (TTL) between the index read and the get is skipped.
                let Some(item) = items.get(&pk) else { continue };
                let e = self.event_of(item)?;
                if filter.matches(&e) {
                    page.events.push(e);
                }
                if page.events.len() >= limit {
                    page.resume = Some(ts);
                    return Ok(page);
                }
            }
            match out.last_evaluated_key {
                None => {
                    page.resume = None;
                    return Ok(page);
                }
                Some(lek) => {
                    page.resume = get_s(&lek, "ts").map(String::from);
                    if page.requests >= max_requests {
                        return Ok(page);
                    }
                    start_key = Some(lek);
                }
            }
        }
    }

    async fn record(&self, id: &str) -> Result<Option<EventRecord>, StoreError> {
        let Some((source, key)) = keys::parse_event_id(id) else {
            return Ok(None);
        };
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(keys::event_pk(source, key)))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.err("Query", e))?;
        let mut event = None;
        let mut tags = Vec::new();
        let mut comments = Vec::new();
        for item in &items {
            match get_s(item, "sk").unwrap_or_default() {
                keys::EVENT_SK => event = Some(self.event_of(item)?),
                keys::TAGS_SK => {
                    tags = item
                        .get("tags")
                        .and_then(|v| v.as_ss().ok())
                        .cloned()
                        .unwrap_or_default();
                }
                sk if sk.starts_with("comment#") => comments.push(Comment {
                    id: get_s(item, "comment_id").unwrap_or_default().to_string(),
                    author: get_s(item, "author").unwrap_or_default().to_string(),
                    author_name: get_s(item, "author_name").map(String::from),
                    text: get_s(item, "text").unwrap_or_default().to_string(),
                    created_at: get_s(item, "created_at").unwrap_or_default().to_string(),
                }),
                _ => {}
            }
        }
        tags.sort();
        Ok(event.map(|event| EventRecord {
            event,
            tags,
            comments,
        }))
    }

    async fn presence(
        &self,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<(Vec<(NaiveDate, Source)>, u32), StoreError> {
        // `<first>` sorts before every marker of that day and `<last>#~` after every one of
        // `last` (source names are lowercase letters and dashes).
        let pages: Vec<_> = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", s(keys::PRESENCE_PK))
            .expression_attribute_values(":lo", s(first.format("%Y-%m-%d").to_string()))
            .expression_attribute_values(":hi", s(format!("{}#~", last.format("%Y-%m-%d"))))
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.err("Query", e))?;
        let requests = pages.len().max(1) as u32;
        let found = pages
            .iter()
            .flat_map(|p| p.items())
            .filter_map(|i| keys::parse_presence_sk(get_s(i, "sk")?))
            .collect();
        Ok((found, requests))
    }

    async fn aggregates(
        &self,
        days: &[NaiveDate],
        max_requests: u32,
    ) -> Result<Aggregates, StoreError> {
        // Days are read AGGREGATE_CONCURRENCY at a time, each page taking one request from the
        // budget; a day whose pages the budget cannot finish is dropped, and so is every day
        // after it, so the answer is exact for the days it names.
        let budget = std::sync::atomic::AtomicU32::new(max_requests);
        let take = || {
            budget
                .fetch_update(
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                    |left| left.checked_sub(1),
                )
                .is_ok()
        };
        let per_day: Vec<Option<Vec<AggregateRow>>> = stream::iter(days.iter().copied())
            .map(|day| {
                let take = &take;
                async move {
                    let mut rows = Vec::new();
                    let mut start: Option<Item> = None;
                    loop {
                        if !take() {
                            return Ok::<_, StoreError>(None);
                        }
                        let out = self
                            .client
                            .query()
                            .table_name(&self.table)
                            .key_condition_expression("pk = :pk")
                            .expression_attribute_values(":pk", s(keys::aggregate_pk(day)))
                            .set_exclusive_start_key(start.take())
                            .send()
                            .await
                            .map_err(|e| self.err("Query", e))?;
                        rows.extend(out.items().iter().filter_map(|i| {
                            Some(AggregateRow {
                                day,
                                dim: get_s(i, "dim")?.to_string(),
                                value: get_s(i, "value")?.to_string(),
                                count: i.get("n")?.as_n().ok()?.parse().ok()?,
                            })
                        }));
                        match out.last_evaluated_key {
                            Some(k) if !k.is_empty() => start = Some(k),
                            _ => return Ok(Some(rows)),
                        }
                    }
                }
            })
            .buffered(AGGREGATE_CONCURRENCY)
            .try_collect()
            .await?;
        let requests = max_requests - budget.load(std::sync::atomic::Ordering::SeqCst);
        let mut out = Aggregates {
            requests,
            ..Aggregates::default()
        };
        for day in per_day {
            let Some(rows) = day else { break };
            out.rows.extend(rows);
            out.days_read += 1;
        }
        Ok(out)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.event_exists("ping#").await.map(|_| ())
    }
}

#[async_trait]
impl Annotator for DynamoQueryStore {
    async fn update_tags(
        &self,
        id: &str,
        add: &[String],
        remove: &[String],
        max: usize,
    ) -> Result<TagUpdate, StoreError> {
        let Some((source, key)) = keys::parse_event_id(id) else {
            return Ok(TagUpdate::NoEvent);
        };
        let pk = keys::event_pk(source, key);
        if !self.event_exists(&pk).await? {
            return Ok(TagUpdate::NoEvent);
        }
        if add.len() > max {
            return Ok(TagUpdate::TooMany { limit: max });
        }
        // ADD and DELETE of one attribute cannot share an update expression: two calls, the
        // removal first so that it makes room.
        let mut tags = None;
        if !remove.is_empty() {
            tags = Some(
                self.tag_update(&pk, "DELETE", remove, None)
                    .await?
                    .unwrap_or_default(),
            );
        }
        if !add.is_empty() {
            // The limit is a condition of the write itself. First the cheap bound (room for all
            // of `add` even if none is there yet); when that fails, read the set and, if the
            // union still fits, write on the condition that the set's size has not changed.
            let mut condition = TagCondition::Room(max - add.len());
            let mut attempts = 0;
            loop {
                match self.tag_update(&pk, "ADD", add, Some(condition)).await? {
                    Some(after) => {
                        tags = Some(after);
                        break;
                    }
                    None => {
                        attempts += 1;
                        let current = self.current_tags(&pk).await?;
                        let union = current
                            .iter()
                            .chain(add)
                            .collect::<std::collections::BTreeSet<_>>()
                            .len();
                        if union > max {
                            return Ok(TagUpdate::TooMany { limit: max });
                        }
                        if attempts > 4 {
                            return Err(StoreError::backend(
                                "UpdateItem",
                                &self.table,
                                "the tags kept changing under concurrent updates",
                            ));
                        }
                        condition = TagCondition::Size(current.len());
                    }
                }
            }
        }
        let mut tags = tags.unwrap_or_default();
        tags.sort();
        Ok(TagUpdate::Done(tags))
    }

    async fn add_comment(&self, id: &str, c: &Comment) -> Result<bool, StoreError> {
        let Some((source, key)) = keys::parse_event_id(id) else {
            return Ok(false);
        };
        let pk = keys::event_pk(source, key);
        if !self.event_exists(&pk).await? {
            return Ok(false);
        }
        let mut item = Item::from([
            ("pk".to_string(), s(&pk)),
            (
                "sk".to_string(),
                s(format!("comment#{}#{}", c.created_at, c.id)),
            ),
            ("comment_id".to_string(), s(&c.id)),
            ("author".to_string(), s(&c.author)),
            ("text".to_string(), s(&c.text)),
            ("created_at".to_string(), s(&c.created_at)),
        ]);
        if let Some(n) = &c.author_name {
            item.insert("author_name".into(), s(n));
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| self.err("PutItem", e))?;
        Ok(true)
    }
}

/// Writes the presence marker of every (day, source) of a batch, before its events are put.
pub(crate) async fn mark_present(
    client: &Client,
    table: &str,
    events: &[StoredEvent],
) -> Result<(), StoreError> {
    let expires_at = events.iter().map(|e| e.expires_at).max().unwrap_or(0);
    let mut calls = Vec::new();
    for (day, source) in keys::source_days(events.iter().map(|e| &e.event)) {
        calls.push(
            client
                .put_item()
                .table_name(table)
                .item("pk", s(keys::PRESENCE_PK))
                .item("sk", s(keys::presence_sk(day, source)))
                .item("expires_at", AttributeValue::N(expires_at.to_string()))
                .send(),
        );
    }
    for r in futures::future::join_all(calls).await {
        r.map_err(|e| StoreError::backend("PutItem", table, describe(&e)))?;
    }
    Ok(())
}

/// Bumps the per-day counters for events that were just inserted for the first time: one
/// UpdateItem (`ADD n`) per distinct (day, dimension, value) of the batch, `concurrency` at a
/// time. A failure is logged and not returned: the events are stored, and the counters are
/// documented as approximate.
pub(crate) async fn bump_aggregates(
    client: &Client,
    table: &str,
    inserted: &[&StoredEvent],
    concurrency: usize,
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
        for ((day, dim, value), n) in chunk {
            calls.push(
                client
                    .update_item()
                    .table_name(table)
                    .key("pk", s(keys::aggregate_pk(*day)))
                    .key("sk", s(keys::aggregate_sk(dim, value)))
                    .update_expression("ADD n :n SET dim = :d, #v = :v, expires_at = :x")
                    .expression_attribute_names("#v", "value")
                    .expression_attribute_values(":n", AttributeValue::N(n.to_string()))
                    .expression_attribute_values(":d", s(*dim))
                    .expression_attribute_values(":v", s(value.clone()))
                    .expression_attribute_values(":x", AttributeValue::N(expires_at.to_string()))
                    .send(),
            );
        }
        for r in futures::future::join_all(calls).await {
            if let Err(e) = r {
                failures.push(describe(&e));
            }
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
