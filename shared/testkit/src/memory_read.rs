//! The query ports over the in-memory event store, with the DynamoDB adapter's semantics: the
//! same sort keys and ranges, newest first, `limit` and `max_requests` honoured (one "request"
//! per 100 items examined), annotations kept apart from events.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use crate::memory::{MemoryEventStore, lock};
use domain::model::{AuditEvent, Source};
use domain::read::{
    AggregateRow, Aggregates, Annotator, Comment, EventFilter, EventReader, EventRecord, Lookup,
    ReadPage, TagUpdate, TsRange,
};
use domain::store::{StoreError, keys};

/// Items one simulated request reads.
const ITEMS_PER_REQUEST: usize = 100;

/// Reads `candidates` (already newest first) the way a paged Query would.
fn read(
    candidates: Vec<(String, AuditEvent)>,
    filter: &EventFilter,
    limit: usize,
    max_requests: u32,
) -> ReadPage {
    let mut page = ReadPage::default();
    for (i, (sk, e)) in candidates.iter().enumerate() {
        if i % ITEMS_PER_REQUEST == 0 {
            if page.requests >= max_requests.max(1) {
                return page;
            }
            page.requests += 1;
        }
        page.examined += 1;
        if filter.matches(e) {
            page.events.push(e.clone());
        }
        page.resume = Some(sk.clone());
        if page.events.len() >= limit {
            return page;
        }
    }
    if page.requests == 0 {
        page.requests = 1;
    }
    page.resume = None;
    page
}

impl MemoryEventStore {
    /// Events with `lo <= ts < hi` that `keep` accepts, newest first.
    fn in_range(
        &self,
        lo: &str,
        hi: &str,
        keep: impl Fn(&AuditEvent) -> bool,
    ) -> Vec<(String, AuditEvent)> {
        if lo >= hi {
            return Vec::new();
        }
        // Same lock order as `put_new`: events, then the sort-key index.
        let events = lock(&self.events);
        let by_ts = lock(&self.by_ts);
        by_ts
            .range((lo.to_string(), String::new())..(hi.to_string(), String::new()))
            .rev()
            .filter_map(|(ts, id)| events.get(id).map(|e| (ts, e)))
            .filter(|(_, e)| keep(e))
            .map(|(ts, e)| (ts.clone(), e.clone()))
            .collect()
    }
}

#[async_trait]
impl EventReader for MemoryEventStore {
    async fn time_bucket(
        &self,
        source: Source,
        hour: DateTime<Utc>,
        range: &TsRange,
        filter: &EventFilter,
        limit: usize,
        max_requests: u32,
    ) -> Result<ReadPage, StoreError> {
        let hour_lo = domain::model::fmt_time(hour);
        let hour_hi = domain::model::fmt_time(hour + chrono::TimeDelta::hours(1));
        let lo = range.lo.clone().max(hour_lo);
        let hi = range.hi.clone().min(hour_hi);
        let items = self.in_range(&lo, &hi, |e| e.source == source);
        Ok(read(items, filter, limit, max_requests))
    }

    async fn lookup(
        &self,
        lookup: &Lookup,
        range: &TsRange,
        filter: &EventFilter,
        limit: usize,
        max_requests: u32,
    ) -> Result<ReadPage, StoreError> {
        let items = self.in_range(&range.lo, &range.hi, |e| match lookup {
            Lookup::Actor(a) => e.actor.index_value().as_deref() == Some(a.to_lowercase().as_str()),
            Lookup::Ip(ip) => {
                e.client_ip.as_ref().map(|i| i.to_lowercase()) == Some(ip.to_lowercase())
            }
        });
        Ok(read(items, filter, limit, max_requests))
    }

    async fn record(&self, id: &str) -> Result<Option<EventRecord>, StoreError> {
        if keys::parse_event_id(id).is_none() {
            return Ok(None);
        }
        let pk = id.to_string();
        let Some(event) = lock(&self.events).get(&pk).cloned() else {
            return Ok(None);
        };
        let tags = lock(&self.tags)
            .get(&pk)
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default();
        let comments = lock(&self.comments).get(&pk).cloned().unwrap_or_default();
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
        let found = lock(&self.present)
            .iter()
            .filter(|(d, _)| (first..=last).contains(d))
            .copied()
            .collect();
        Ok((found, 1))
    }

    /// One request per day, as a day's counters fit one Query page here.
    async fn aggregates(
        &self,
        days: &[NaiveDate],
        max_requests: u32,
    ) -> Result<Aggregates, StoreError> {
        let read = &days[..days.len().min(max_requests as usize)];
        Ok(Aggregates {
            rows: lock(&self.aggregates)
                .iter()
                .filter(|((day, _, _), _)| read.contains(day))
                .map(|((day, dim, value), n)| AggregateRow {
                    day: *day,
                    dim: dim.clone(),
                    value: value.clone(),
                    count: *n,
                })
                .collect(),
            days_read: read.len(),
            requests: read.len() as u32,
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait]
impl Annotator for MemoryEventStore {
    async fn update_tags(
        &self,
        id: &str,
        add: &[String],
        remove: &[String],
        max: usize,
    ) -> Result<TagUpdate, StoreError> {
        if keys::parse_event_id(id).is_none() {
            return Ok(TagUpdate::NoEvent);
        }
        let pk = id.to_string();
        if !lock(&self.events).contains_key(&pk) {
            return Ok(TagUpdate::NoEvent);
        }
        let mut tags = lock(&self.tags);
        let set = tags.entry(pk).or_default();
        for t in remove {
            set.remove(t);
        }
        let after = set
            .iter()
            .chain(add)
            .collect::<std::collections::BTreeSet<_>>();
        if after.len() > max {
            return Ok(TagUpdate::TooMany { limit: max });
        }
        set.extend(add.iter().cloned());
        Ok(TagUpdate::Done(set.iter().cloned().collect()))
    }

    async fn add_comment(&self, id: &str, comment: &Comment) -> Result<bool, StoreError> {
        if keys::parse_event_id(id).is_none() {
            return Ok(false);
        }
        let pk = id.to_string();
        if !lock(&self.events).contains_key(&pk) {
            return Ok(false);
        }
        lock(&self.comments)
            .entry(pk)
            .or_default()
            .push(comment.clone());
        Ok(true)
    }
}
