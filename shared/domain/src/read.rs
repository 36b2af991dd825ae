//! The query side's narrow storage ports. [`EventReader`] answers the few reads the API is built
//! on: one hour bucket of one source on the time index, one actor's or IP's range on their
//! indexes, one event with its annotations, and the per-day aggregates kept on insert.
//! [`Annotator`] writes tags and comments, the only writes the API makes. The DynamoDB adapter is
//! `aws::DynamoQueryStore`; the in-memory one is the test kit's `MemoryEventStore` (`shared/testkit/src/memory_read.rs`).
//!
//! Ranges are over the sort key shared by every index, `ts = <time>#<id>`: `lo` inclusive, `hi`
//! exclusive, either a bare time (`2024-01-02T03:00:00.000Z`) or a full sort key; string order is
//! time order. Readers return events newest first and stop early at `limit` matches or
//! `max_requests` requests, saying where in [`ReadPage::resume`].

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{AuditEvent, EventResult, Source};
use crate::store::StoreError;

/// Days of presence markers one listing request reads at once (at most 5 x 92 small items, well
/// inside one 1 MB Query page).
pub const PRESENCE_DAYS: i64 = 92;

/// What an event must satisfy to be listed (everything but the time range, which is the read's).
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub source: Option<Source>,
    pub stream: Option<String>,
    pub service: Option<String>,
    /// Compared, ignoring case, with the actor's UPN, object id, display name and app id.
    pub actor: Option<String>,
    pub operation: Option<String>,
    pub result: Option<EventResult>,
    /// Compared, ignoring case, with `client_ip`.
    pub ip: Option<String>,
    /// Free text, lowercased: a substring of the event's JSON as the hot store keeps it (the
    /// normalized fields; the raw record only when it is inline, which the pipeline's events never
    /// are: they carry `raw_ref`).
    pub q: Option<String>,
    /// The pin: only events ingested at or before it.
    pub ingested_by: Option<DateTime<Utc>>,
}

impl EventFilter {
    /// True when `e` passes every filter. Adapters may push the exact-match parts into the
    /// database, but every event they return has passed this.
    pub fn matches(&self, e: &AuditEvent) -> bool {
        fn eq_ci(a: Option<&str>, b: &str) -> bool {
            a.is_some_and(|a| a.eq_ignore_ascii_case(b))
        }
        if self.source.is_some_and(|s| s != e.source)
            || self
                .stream
                .as_ref()
                .is_some_and(|s| e.stream.as_ref() != Some(s))
            || self
                .service
                .as_ref()
                .is_some_and(|s| e.service.as_ref() != Some(s))
            || self.operation.as_ref().is_some_and(|o| *o != e.operation)
            || self.result.is_some_and(|r| r != e.result)
            || self.ingested_by.is_some_and(|pin| e.ingested_at > pin)
        {
            return false;
        }
        if let Some(ip) = &self.ip
            && !eq_ci(e.client_ip.as_deref(), ip)
        {
            return false;
        }
        if let Some(a) = &self.actor {
            let actor = &e.actor;
            let hit = [&actor.upn, &actor.id, &actor.name, &actor.app_id]
                .into_iter()
                .any(|v| eq_ci(v.as_deref(), a));
            if !hit {
                return false;
            }
        }
        if let Some(q) = &self.q {
            let text = serde_json::to_string(e).unwrap_or_default().to_lowercase();
            if !text.contains(q.as_str()) {
                return false;
            }
        }
        true
    }
}

/// A sort-key range: `lo <= ts < hi`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsRange {
    pub lo: String,
    pub hi: String,
}

/// Which secondary index answers a lookup by value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// `by_actor`, keyed by the actor's UPN (else id, else app id), lowercased.
    Actor(String),
    /// `by_ip`, keyed by the client IP, lowercased.
    Ip(String),
}

/// What one read returned.
#[derive(Debug, Clone, Default)]
pub struct ReadPage {
    /// Matching events, newest first.
    pub events: Vec<AuditEvent>,
    /// Requests sent to the database.
    pub requests: u32,
    /// Items read (matching or not).
    pub examined: u64,
    /// Set when the read stopped before the end of its range: every item with `ts >= resume`
    /// was examined, nothing below it was.
    pub resume: Option<String>,
}

/// A comment on an event. (Its OpenAPI schema is declared beside the routes, in
/// `shared/query/src/handlers.rs`: the core does not depend on utoipa.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    pub id: String,
    /// The token's subject (object id).
    pub author: String,
    /// The token's display name or UPN, when it carries one.
    pub author_name: Option<String>,
    pub text: String,
    pub created_at: String,
}

/// One event with its annotations.
#[derive(Debug, Clone)]
pub struct EventRecord {
    pub event: AuditEvent,
    pub tags: Vec<String>,
    /// Oldest first.
    pub comments: Vec<Comment>,
}

/// One per-day counter kept on insert: events of `day` (event time, UTC) whose `dim` was `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateRow {
    pub day: NaiveDate,
    pub dim: String,
    pub value: String,
    pub count: u64,
}

/// The counters of a prefix of the days asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aggregates {
    pub rows: Vec<AggregateRow>,
    /// How many of the days asked for (from the first) the rows cover completely.
    pub days_read: usize,
    /// Requests sent.
    pub requests: u32,
}

/// The API's reads.
#[async_trait]
pub trait EventReader: Send + Sync {
    /// Events of `source` in the hour bucket starting at `hour`, within `range`, matching
    /// `filter`, newest first; at most `limit` of them and `max_requests` requests.
    async fn time_bucket(
        &self,
        source: Source,
        hour: DateTime<Utc>,
        range: &TsRange,
        filter: &EventFilter,
        limit: usize,
        max_requests: u32,
    ) -> Result<ReadPage, StoreError>;
    /// Events with the looked-up value within `range`, matching `filter`, newest first.
    async fn lookup(
        &self,
        lookup: &Lookup,
        range: &TsRange,
        filter: &EventFilter,
        limit: usize,
        max_requests: u32,
    ) -> Result<ReadPage, StoreError>;
    /// One event with its tags and comments; `None` when there is no such event.
    async fn record(&self, id: &str) -> Result<Option<EventRecord>, StoreError>;
    /// The `(day, source)` pairs with events from `first` to `last` (both included), from the
    /// presence markers written before inserts, with the requests sent (one for up to
    /// [`PRESENCE_DAYS`] days).
    async fn presence(
        &self,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<(Vec<(NaiveDate, Source)>, u32), StoreError>;
    /// Every counter of the given days, read in the order given, within `max_requests`
    /// requests: the answer holds the first [`Aggregates::days_read`] days whole and nothing of
    /// the rest.
    async fn aggregates(
        &self,
        days: &[NaiveDate],
        max_requests: u32,
    ) -> Result<Aggregates, StoreError>;
    /// One cheap read, to tell whether the store answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// What a tag update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagUpdate {
    /// Applied; the event's tags afterwards, sorted.
    Done(Vec<String>),
    /// There is no such event.
    NoEvent,
    /// Applying it would give the event more than the limit; nothing was added (removals,
    /// applied first, stand).
    TooMany { limit: usize },
}

/// The API's writes: annotations, which ingestion never touches.
#[async_trait]
pub trait Annotator: Send + Sync {
    /// Removes `remove`, then adds `add` unless the event would then carry more than `max` tags
    /// (checked atomically with the write: two concurrent requests cannot together pass it).
    /// `add` and `remove` are each free of duplicates and disjoint (the caller checks).
    async fn update_tags(
        &self,
        id: &str,
        add: &[String],
        remove: &[String],
        max: usize,
    ) -> Result<TagUpdate, StoreError>;
    /// Adds a comment to an existing event; `false` when there is no such event.
    async fn add_comment(&self, id: &str, comment: &Comment) -> Result<bool, StoreError>;
}
