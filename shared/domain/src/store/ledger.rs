//! The content ledger: which Management API content blobs a stream has already stored, kept
//! until each blob expires. Microsoft re-lists blobs (the listing overlap sees them again, and it
//! has re-delivered days-old blobs), so before fetching a blob the source asks the ledger, and
//! after the blob's records are durable the pipeline records it. An entry is written only after
//! its records are in S3 and DynamoDB, so a crash between the two costs one repeated fetch (and
//! dedupe absorbs the records), never a lost blob.
//!
//! The DynamoDB adapter keeps one item per blob in the state table (`pk` = the stream's state key,
//! `sk = blob#<contentId>`) with DynamoDB TTL at the blob's expiry; the memory adapter below is
//! its in-process twin for tests.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{StoreError, StreamKey};

/// One stored blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub id: String,
    /// When Microsoft stops serving the blob; the entry may be forgotten after that.
    pub expires: DateTime<Utc>,
}

#[async_trait]
pub trait ContentLedger: Send + Sync {
    /// The subset of `ids` already recorded for the stream.
    async fn seen(&self, key: &StreamKey, ids: &[String]) -> Result<HashSet<String>, StoreError>;
    /// Records a blob whose records are durable.
    async fn record(&self, key: &StreamKey, entry: &LedgerEntry) -> Result<(), StoreError>;
}

/// In-memory ledger (tests); entries are never forgotten.
#[derive(Default)]
pub struct MemoryLedger {
    entries: Mutex<HashMap<StreamKey, HashMap<String, DateTime<Utc>>>>,
}

impl MemoryLedger {
    /// How many blobs are recorded for `key`.
    pub fn len(&self, key: &StreamKey) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .map_or(0, HashMap::len)
    }
}

#[async_trait]
impl ContentLedger for MemoryLedger {
    async fn seen(&self, key: &StreamKey, ids: &[String]) -> Result<HashSet<String>, StoreError> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let Some(stream) = entries.get(key) else {
            return Ok(HashSet::new());
        };
        Ok(ids
            .iter()
            .filter(|id| stream.contains_key(*id))
            .cloned()
            .collect())
    }

    async fn record(&self, key: &StreamKey, entry: &LedgerEntry) -> Result<(), StoreError> {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.clone())
            .or_default()
            .insert(entry.id.clone(), entry.expires);
        Ok(())
    }
}
