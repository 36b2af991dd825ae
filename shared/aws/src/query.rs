//! DynamoDB adapter of the query ports ([`domain::read`]): hour buckets of the events table
//! itself (keyed by time: one Query request per page of items), the `by_actor` and `by_ip`
//! indexes (keys only: a Query, then BatchGetItem of the base items), one event (a GetItem of the
//! item its id names) with its annotations (one Query on its `note#` partition), the per-day
//! aggregates (one Query per day) and the annotation writes, which touch `note#` items only.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnValue};
use chrono::{DateTime, NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt, stream};

use super::counters;
use super::describe;
use super::items::{self, Item, get_s, s};
use domain::model::{AuditEvent, Source};
use domain::read::{
    AggregateRow, Aggregates, Annotator, Comment, EventFilter, EventReader, EventRecord, Lookup,
    ReadPage, TagUpdate, TsRange,
};
use domain::store::{StoreError, keys};

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
        items::event_of(&self.table, item)
    }

    /// Reads base items by key (BatchGetItem, 100 per call, unprocessed keys retried); returns
    /// them by `(pk, sk)` and the number of requests sent.
    async fn batch_get(
        &self,
        wanted: &[(String, String)],
    ) -> Result<(HashMap<(String, String), Item>, u32), StoreError> {
        let mut out = HashMap::new();
        let mut requests = 0;
        for chunk in wanted.chunks(100) {
            let mut keys: Vec<Item> = chunk
                .iter()
                .map(|(pk, sk)| items::key_map(pk, sk))
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
                    if let Some(key) = items::key_of(&item) {
                        out.insert(key, item);
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

    async fn event_exists(&self, key: &keys::EventKey<'_>) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(items::key_map(&key.pk(), &key.sk())))
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
        // Every filter is applied after decoding (`filter.matches`): the items carry no filter
        // attributes (aws::items), and DynamoDB bills a Query by what it reads either way.
        let values = HashMap::from([
            (":p".to_string(), s(keys::event_pk(source, hour))),
            (":lo".to_string(), s(range.lo.clone())),
            (":hi".to_string(), s(range.hi.clone())),
        ]);
        let mut page = ReadPage::default();
        let mut start_key: Option<Item> = None;
        loop {
            let q = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :p AND sk BETWEEN :lo AND :hi")
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(false)
                .set_limit(page_limit(limit, filter))
                .set_exclusive_start_key(start_key.take());
            let out = q.send().await.map_err(|e| self.err("Query", e))?;
            page.requests += 1;
            page.examined += out.scanned_count as u64;
            for item in out.items() {
                let ts = get_s(item, items::SK).unwrap_or_default().to_string();
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
                    page.resume = get_s(&lek, items::SK).map(String::from);
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
            Lookup::Actor(a) => (keys::ACTOR_INDEX, items::ACTOR, a.to_lowercase()),
            Lookup::Ip(ip) => (keys::IP_INDEX, items::IP, ip.to_lowercase()),
        };
        let mut page = ReadPage::default();
        let mut start_key: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression(format!("{attr} = :v AND sk BETWEEN :lo AND :hi"))
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
                .filter_map(items::key_of)
                .filter(|(_, sk)| *sk < range.hi)
                .collect();
            let (found, requests) = self.batch_get(&rows).await?;
            page.requests += requests;
            for key in rows {
                page.examined += 1;
                // An item deleted (TTL) between the index read and the get is skipped.
                let Some(item) = found.get(&key) else {
                    continue;
                };
                let ts = key.1;
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
                    page.resume = get_s(&lek, items::SK).map(String::from);
                    if page.requests >= max_requests {
                        return Ok(page);
                    }
                    start_key = Some(lek);
                }
            }
        }
    }

    async fn record(&self, id: &str) -> Result<Option<EventRecord>, StoreError> {
        let Some(event) = items::get_event(&self.client, &self.table, id).await? else {
            return Ok(None);
        };
        // The annotations: the event's `note#` partition, which ingestion never writes.
        let notes: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(keys::note_pk(id)))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.err("Query", e))?;
        let mut tags = Vec::new();
        let mut comments = Vec::new();
        for item in &notes {
            match get_s(item, "sk").unwrap_or_default() {
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
        Ok(Some(EventRecord {
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
                        for i in out.items() {
                            if counters::is_top_list(i) {
                                // One actor top list per source and stream: an actor in several
                                // shows up as several rows, which the API adds up.
                                let (list, _) = counters::read_top_list(i);
                                rows.extend(list.counts.into_iter().map(|(value, count)| {
                                    AggregateRow {
                                        day,
                                        dim: "actor".to_string(),
                                        value,
                                        count,
                                    }
                                }));
                                continue;
                            }
                            rows.extend((|| {
                                Some(AggregateRow {
                                    day,
                                    dim: get_s(i, "dim")?.to_string(),
                                    value: get_s(i, "value")?.to_string(),
                                    count: i.get("n")?.as_n().ok()?.parse().ok()?,
                                })
                            })());
                        }
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
        let key = keys::EventKey {
            source: Source::EntraDirectoryAudits,
            second: chrono::DateTime::UNIX_EPOCH,
            dedupe_key: "ping",
        };
        self.event_exists(&key).await.map(|_| ())
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
        let Some(key) = keys::parse_event_id(id) else {
            return Ok(TagUpdate::NoEvent);
        };
        if !self.event_exists(&key).await? {
            return Ok(TagUpdate::NoEvent);
        }
        let pk = keys::note_pk(id);
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
        let Some(key) = keys::parse_event_id(id) else {
            return Ok(false);
        };
        if !self.event_exists(&key).await? {
            return Ok(false);
        }
        let pk = keys::note_pk(id);
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
