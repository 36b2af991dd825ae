//! In-memory implementations of the ports, with the same semantics as the AWS adapters
//! (first write wins, conditional checkpoint writes, leases that expire). Unit tests of the
//! pipeline use them; the AWS adapters are tested against moto with the same scenarios.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;

use domain::model::{AuditEvent, Source};
use domain::store::{
    EventStore, Health, HealthUpdate, Lease, ParameterStore, RawStore, StateError, StateStore,
    StoreError, StoredEvent, StreamKey, keys,
};

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Default)]
pub struct MemoryRawStore {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
}

#[async_trait]
impl RawStore for MemoryRawStore {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        lock(&self.objects).insert(key.to_string(), body);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        lock(&self.objects)
            .get(key)
            .cloned()
            .ok_or_else(|| StoreError::NotFound {
                resource: key.to_string(),
            })
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(lock(&self.objects)
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
}

#[derive(Default)]
pub struct MemoryEventStore {
    /// Events by id (an id names one item: source, hour bucket and sort key).
    pub(crate) events: Mutex<BTreeMap<String, AuditEvent>>,
    /// `(sort key, event id)` of every event, for range reads in sort-key order.
    pub(crate) by_ts: Mutex<std::collections::BTreeSet<(String, String)>>,
    /// `(day, source)` pairs that have events (presence markers).
    pub(crate) present: Mutex<std::collections::BTreeSet<(chrono::NaiveDate, Source)>>,
    /// Per-day counters bumped on insert: `(day, dimension, value) -> count`.
    pub(crate) aggregates: Mutex<BTreeMap<(chrono::NaiveDate, String, String), u64>>,
    /// Annotations by event id; ingestion never writes them.
    pub(crate) tags: Mutex<HashMap<String, std::collections::BTreeSet<String>>>,
    pub(crate) comments: Mutex<HashMap<String, Vec<domain::read::Comment>>>,
}

impl MemoryEventStore {
    pub fn len(&self) -> usize {
        lock(&self.events).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl EventStore for MemoryEventStore {
    async fn put_new(&self, events: Vec<StoredEvent>) -> Result<Vec<bool>, StoreError> {
        lock(&self.present).extend(keys::source_days(events.iter().map(|e| &e.event)));
        let mut map = lock(&self.events);
        let mut inserted = Vec::new();
        let outcomes = events
            .into_iter()
            .map(|mut e| match map.entry(e.event.id.clone()) {
                // As the DynamoDB store: a later version of a changing record replaces the
                // stored one (not a new event: no counter moves), anything else is a duplicate.
                std::collections::btree_map::Entry::Occupied(mut slot) => {
                    let (have, got) = (
                        keys::event_version(slot.get()),
                        keys::event_version(&e.event),
                    );
                    if got.is_some_and(|v| have.is_none_or(|have| have < v)) {
                        if e.event.raw_ref.is_some() {
                            e.event.raw = None;
                        }
                        slot.insert(e.event);
                    }
                    false
                }
                std::collections::btree_map::Entry::Vacant(slot) => {
                    lock(&self.by_ts).insert((keys::sort_key(&e.event), slot.key().clone()));
                    // As the DynamoDB store keeps it: the raw record by reference when there is
                    // one (aws::codec).
                    if e.event.raw_ref.is_some() {
                        e.event.raw = None;
                    }
                    inserted.push(e.event.clone());
                    slot.insert(e.event);
                    true
                }
            })
            .collect();
        let mut aggregates = lock(&self.aggregates);
        for ((day, dim, value), n) in keys::aggregate_counts(&inserted) {
            *aggregates.entry((day, dim.to_string(), value)).or_insert(0) += n;
        }
        // Exact here; DynamoDB keeps bounded top lists (aws::counters), the same for the values
        // a test stores.
        for ((day, _, _), counts) in keys::actor_counts(&inserted) {
            for (value, n) in counts {
                *aggregates
                    .entry((day, "actor".to_string(), value))
                    .or_insert(0) += n;
            }
        }
        Ok(outcomes)
    }

    async fn get(&self, id: &str) -> Result<Option<AuditEvent>, StoreError> {
        if keys::parse_event_id(id).is_none() {
            return Ok(None);
        }
        Ok(lock(&self.events).get(id).cloned())
    }

    async fn list_by_time(
        &self,
        source: Source,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut out: Vec<AuditEvent> = lock(&self.events)
            .values()
            .filter(|e| e.source == source && e.time >= start && e.time < end)
            .cloned()
            .collect();
        out.sort_by(|a, b| (a.time, &a.id).cmp(&(b.time, &b.id)));
        Ok(out)
    }
}

#[derive(Debug, Clone, Default)]
struct Checkpoint {
    watermark: Option<DateTime<Utc>>,
    version: u64,
    lease: Option<(String, DateTime<Utc>)>,
}

#[derive(Default)]
pub struct MemoryStateStore {
    checkpoints: Mutex<HashMap<String, Checkpoint>>,
    health: Mutex<HashMap<String, Health>>,
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn acquire(
        &self,
        key: &StreamKey,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Lease, StateError> {
        let mut map = lock(&self.checkpoints);
        let cp = map.entry(keys::state_pk(key)).or_default();
        if let Some((holder, held_until)) = &cp.lease
            && holder != owner
            && *held_until >= now
        {
            return Err(StateError::Locked {
                owner: holder.clone(),
                until: domain::model::fmt_time(*held_until),
            });
        }
        cp.lease = Some((owner.to_string(), until));
        cp.version += 1;
        Ok(Lease {
            owner: owner.to_string(),
            version: cp.version,
            watermark: cp.watermark,
        })
    }

    async fn advance(
        &self,
        key: &StreamKey,
        lease: &Lease,
        watermark: DateTime<Utc>,
    ) -> Result<Lease, StateError> {
        let mut map = lock(&self.checkpoints);
        let cp = map.entry(keys::state_pk(key)).or_default();
        let holds = cp.version == lease.version
            && cp.lease.as_ref().is_some_and(|(o, _)| *o == lease.owner);
        if !holds {
            return Err(StateError::LeaseLost {
                expected: lease.version,
            });
        }
        cp.watermark = Some(cp.watermark.map_or(watermark, |w| w.max(watermark)));
        cp.version += 1;
        Ok(Lease {
            owner: lease.owner.clone(),
            version: cp.version,
            watermark: cp.watermark,
        })
    }

    async fn release(&self, key: &StreamKey, lease: &Lease) -> Result<(), StateError> {
        let mut map = lock(&self.checkpoints);
        if let Some(cp) = map.get_mut(&keys::state_pk(key))
            && cp.lease.as_ref().is_some_and(|(o, _)| *o == lease.owner)
        {
            cp.lease = None;
        }
        Ok(())
    }

    async fn watermark(&self, key: &StreamKey) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(lock(&self.checkpoints)
            .get(&keys::state_pk(key))
            .and_then(|c| c.watermark))
    }

    async fn record_health(&self, key: &StreamKey, update: HealthUpdate) -> Result<(), StoreError> {
        lock(&self.health)
            .entry(keys::state_pk(key))
            .or_default()
            .apply(&update);
        Ok(())
    }

    async fn health(&self, key: &StreamKey) -> Result<Option<Health>, StoreError> {
        Ok(lock(&self.health).get(&keys::state_pk(key)).cloned())
    }
}

/// Parameters held in memory (tests).
#[derive(Default)]
pub struct MemoryParameters {
    values: HashMap<String, String>,
}

impl MemoryParameters {
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.values.insert(name.to_string(), value.to_string());
        self
    }
}

#[async_trait]
impl ParameterStore for MemoryParameters {
    async fn get_secure(
        &self,
        names: &[String],
    ) -> Result<HashMap<String, SecretString>, StoreError> {
        names
            .iter()
            .map(|n| {
                self.values
                    .get(n)
                    .map(|v| (n.clone(), SecretString::from(v.clone())))
                    .ok_or_else(|| StoreError::NotFound {
                        resource: format!("SSM parameter {n}"),
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod versions {
    use super::*;
    use chrono::TimeZone;
    use domain::normalize::{Context, normalize};

    /// A Defender alert at one `lastUpdateDateTime`, with `status`.
    fn alert(updated: &str, status: &str) -> StoredEvent {
        let raw = serde_json::json!({
            "id": "da1", "title": "Suspicious inbox forwarding rule", "status": status,
            "createdDateTime": "2024-05-21T13:05:44Z", "lastUpdateDateTime": updated,
        })
        .to_string();
        let raw = serde_json::value::RawValue::from_string(raw).unwrap();
        let ctx = Context {
            tenant_id: "t",
            stream: None,
            ingested_at: Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap(),
        };
        StoredEvent {
            event: normalize(Source::DefenderAlerts, &raw, ctx).unwrap(),
            expires_at: 0,
        }
    }

    #[tokio::test]
    async fn a_later_version_replaces_an_earlier_one_and_is_no_new_event() {
        let store = MemoryEventStore::default();
        let first = alert("2024-05-21T13:05:44Z", "new");
        let id = first.event.id.clone();
        assert_eq!(store.put_new(vec![first.clone()]).await.unwrap(), [true]);
        let later = alert("2024-05-21T15:00:00Z", "resolved");
        assert_eq!(store.put_new(vec![later]).await.unwrap(), [false]);
        let status = |e: Option<AuditEvent>| e.map(|e| e.details["status"].clone());
        assert_eq!(
            status(store.get(&id).await.unwrap()),
            Some("resolved".into())
        );
        // An older version read late, or the same one again, changes nothing.
        assert_eq!(store.put_new(vec![first]).await.unwrap(), [false]);
        assert_eq!(
            status(store.get(&id).await.unwrap()),
            Some("resolved".into())
        );
        assert_eq!(store.len(), 1);
        let counted: u64 = lock(&store.aggregates)
            .iter()
            .filter(|((_, dim, _), _)| dim == "source")
            .map(|(_, n)| *n)
            .sum();
        assert_eq!(counted, 1, "counted once");
    }
}
