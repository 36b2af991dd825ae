//! Stores that count what they are given and keep almost none of it, so that a benchmark of the
//! puller over a million events measures the puller's memory, not a fake's: [`CountingRawStore`]
//! keeps objects and bytes per top-level prefix (`raw/`, `quarantine/`, `curated/`), and
//! [`CountingEventStore`] keeps the counts of new and duplicate events plus the one piece of state
//! `EventStore::put_new` cannot answer without, which events it has seen: a 64-bit fingerprint per
//! event key, 8 bytes an event ([`Fingerprints`]), instead of the event. (The memory stores in
//! [`crate::memory`] keep every object and event, which is what unit tests want.)
//!
//! Nothing stored can be read back: `get` finds nothing and listings are empty. A fingerprint
//! collision (probability about n²/2⁶⁵, 3·10⁻⁸ at a million events) would count a new event as a
//! duplicate; a benchmark that checks the new count against the simulator's truth sees it.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use domain::model::{AuditEvent, Source};
use domain::store::{EventStore, RawStore, StoreError, StoredEvent};

use crate::memory::lock;

/// Objects and bytes written under one prefix.
#[derive(Debug, Default)]
pub struct PrefixCount {
    objects: AtomicU64,
    bytes: AtomicU64,
}

impl PrefixCount {
    fn add(&self, bytes: usize) {
        self.objects.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub fn objects(&self) -> u64 {
        self.objects.load(Ordering::Relaxed)
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// A raw store that counts objects and bytes by prefix and drops the bodies.
#[derive(Debug, Default)]
pub struct CountingRawStore {
    pub raw: PrefixCount,
    pub quarantine: PrefixCount,
    pub curated: PrefixCount,
    /// Any other key.
    pub other: PrefixCount,
}

#[async_trait]
impl RawStore for CountingRawStore {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        let count = match key.split_once('/').map(|(top, _)| top) {
            Some("raw") => &self.raw,
            Some("quarantine") => &self.quarantine,
            Some("curated") => &self.curated,
            _ => &self.other,
        };
        count.add(body.len());
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        Err(StoreError::NotFound {
            resource: format!("{key} (a counting store keeps no object)"),
        })
    }

    async fn list(&self, _prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }
}

/// Fingerprints of the events seen so far: a sorted vector (8 bytes an event) and a small hash
/// set of the latest ones, merged into the vector in place when it fills, so memory is the
/// vector plus a constant.
#[derive(Debug, Default)]
pub struct Fingerprints {
    sorted: Vec<u64>,
    recent: HashSet<u64>,
}

/// Fingerprints held in the hash set before they are merged into the sorted vector.
const RECENT_MAX: usize = 1 << 16;

impl Fingerprints {
    /// Records `fp`; false when it was already there.
    pub fn insert(&mut self, fp: u64) -> bool {
        if self.sorted.binary_search(&fp).is_ok() || !self.recent.insert(fp) {
            return false;
        }
        if self.recent.len() >= RECENT_MAX {
            self.merge();
        }
        true
    }

    /// Moves the recent fingerprints into the sorted vector: it grows by exactly their number
    /// (a large block is moved by the allocator without a copy) and the two sorted runs are
    /// merged from the back, so no second copy of the vector is ever made.
    fn merge(&mut self) {
        let mut add: Vec<u64> = self.recent.drain().collect();
        add.sort_unstable();
        let n = self.sorted.len();
        self.sorted.reserve_exact(add.len());
        self.sorted.resize(n + add.len(), 0);
        let (mut i, mut j) = (n, add.len());
        for k in (0..n + add.len()).rev() {
            if j == 0 {
                break;
            }
            if i > 0 && self.sorted[i - 1] > add[j - 1] {
                self.sorted[k] = self.sorted[i - 1];
                i -= 1;
            } else {
                self.sorted[k] = add[j - 1];
                j -= 1;
            }
        }
    }

    pub fn len(&self) -> usize {
        self.sorted.len() + self.recent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes held (vector capacity, and the hash set's buckets at one control byte each).
    pub fn heap_bytes(&self) -> usize {
        self.sorted.capacity() * 8 + self.recent.capacity() * 9
    }
}

/// The fingerprint of an event's identity: its id (source, second and dedupe key, as its
/// DynamoDB item key).
pub fn fingerprint(event_id: &str) -> u64 {
    let mut h = DefaultHasher::new();
    event_id.hash(&mut h);
    h.finish()
}

/// An event store that answers `put_new` as a deduplicating store does (first write wins) and
/// keeps only counts and [`Fingerprints`].
#[derive(Debug, Default)]
pub struct CountingEventStore {
    seen: Mutex<Fingerprints>,
    new: AtomicU64,
    duplicates: AtomicU64,
    batches: AtomicU64,
}

impl CountingEventStore {
    /// Events stored (first writes).
    pub fn new_events(&self) -> u64 {
        self.new.load(Ordering::Relaxed)
    }

    /// Events refused as already stored.
    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }

    /// `put_new` calls.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Heap bytes of the dedupe state.
    pub fn state_bytes(&self) -> usize {
        lock(&self.seen).heap_bytes()
    }
}

#[async_trait]
impl EventStore for CountingEventStore {
    async fn put_new(&self, events: Vec<StoredEvent>) -> Result<Vec<bool>, StoreError> {
        let mut seen = lock(&self.seen);
        let outcomes: Vec<bool> = events
            .iter()
            .map(|e| seen.insert(fingerprint(&e.event.id)))
            .collect();
        let new = outcomes.iter().filter(|n| **n).count() as u64;
        self.new.fetch_add(new, Ordering::Relaxed);
        self.duplicates
            .fetch_add(outcomes.len() as u64 - new, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        Ok(outcomes)
    }

    async fn get(&self, _id: &str) -> Result<Option<AuditEvent>, StoreError> {
        Ok(None)
    }

    async fn list_by_time(
        &self,
        _source: Source,
        _start: DateTime<Utc>,
        _end: DateTime<Utc>,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_answer_first_write_wins_across_merges() {
        let mut f = Fingerprints::default();
        // Three merges' worth, inserted out of order, each value once; then all again.
        let n = 3 * RECENT_MAX as u64 + 17;
        let value = |i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for i in 0..n {
            assert!(f.insert(value(i)), "{i} is new");
            assert!(!f.insert(value(i)), "{i} again is a duplicate");
        }
        assert_eq!(f.len() as u64, n);
        assert!(
            f.sorted.windows(2).all(|w| w[0] < w[1]),
            "the vector stays sorted"
        );
        assert_eq!(f.sorted.len(), 3 * RECENT_MAX);
        for i in (0..n).rev() {
            assert!(!f.insert(value(i)), "{i} is remembered");
        }
        assert_eq!(f.len() as u64, n);
        // Memory: 8 bytes a merged fingerprint (exact growth), plus the bounded recent set.
        assert_eq!(f.sorted.capacity(), f.sorted.len());
        assert!(f.heap_bytes() <= 8 * f.sorted.len() + 9 * 2 * RECENT_MAX);
    }

    /// Directory-audit events with these record ids.
    fn events(ids: &[&str]) -> Vec<StoredEvent> {
        let ctx = domain::normalize::Context {
            tenant_id: "t",
            stream: None,
            ingested_at: Utc::now(),
        };
        ids.iter()
            .map(|id| {
                let text = format!(
                    r#"{{"id":"{id}","category":"UserManagement","activityDisplayName":"Update user","activityDateTime":"2025-06-01T10:00:00Z","loggedByService":"Core Directory","result":"success","initiatedBy":{{}},"targetResources":[]}}"#
                );
                let raw = serde_json::value::RawValue::from_string(text).unwrap();
                let event =
                    domain::normalize::normalize(Source::EntraDirectoryAudits, &raw, ctx).unwrap();
                StoredEvent {
                    event,
                    expires_at: 0,
                }
            })
            .collect()
    }

    #[tokio::test]
    async fn the_event_store_counts_new_and_duplicate_events() {
        let store = CountingEventStore::default();
        let first = store.put_new(events(&["a", "b"])).await.unwrap();
        assert_eq!(first, vec![true, true]);
        let again = store.put_new(events(&["a", "b", "c", "c"])).await.unwrap();
        assert_eq!(again, vec![false, false, true, false]);
        assert_eq!(
            (store.new_events(), store.duplicates(), store.batches()),
            (3, 3, 2)
        );
        let id = &events(&["a"])[0].event.id;
        assert!(store.get(id).await.unwrap().is_none(), "nothing is kept");
    }

    #[tokio::test]
    async fn the_raw_store_counts_by_prefix_and_keeps_nothing() {
        let raw = CountingRawStore::default();
        for (key, len) in [
            ("raw/source=x/a.json.gz", 10),
            ("raw/source=x/b.json.gz", 5),
            ("curated/source=x/c.parquet", 7),
            ("quarantine/source=x/d.json.gz", 3),
            ("elsewhere", 1),
        ] {
            raw.put(key, vec![0; len]).await.unwrap();
        }
        assert_eq!((raw.raw.objects(), raw.raw.bytes()), (2, 15));
        assert_eq!((raw.curated.objects(), raw.curated.bytes()), (1, 7));
        assert_eq!((raw.quarantine.objects(), raw.quarantine.bytes()), (1, 3));
        assert_eq!((raw.other.objects(), raw.other.bytes()), (1, 1));
        assert!(raw.get("raw/source=x/a.json.gz").await.is_err());
        assert!(raw.list("raw/").await.unwrap().is_empty());
    }
}
