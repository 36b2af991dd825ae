//! The content ledger in DynamoDB (see [`domain::store::ledger`]): one item per stored blob in the
//! state table, `pk` = the stream's state key, `sk = blob#<contentId>`, `expires_at` (epoch
//! seconds) = the blob's expiry, which the table's TTL uses to forget it. Lookups are strongly
//! consistent `BatchGetItem`s of at most 100 keys, retried for unprocessed keys.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::describe;
use domain::store::ledger::{ContentLedger, LedgerEntry};
use domain::store::{StoreError, StreamKey, keys};

/// Sort-key prefix of ledger items.
pub const BLOB_SK_PREFIX: &str = "blob#";
/// DynamoDB's `BatchGetItem` limit.
const BATCH: usize = 100;
/// Rounds of unprocessed keys tried before giving up.
const MAX_ROUNDS: usize = 8;

pub struct DynamoLedger {
    client: Client,
    table: String,
}

impl DynamoLedger {
    pub fn new(client: Client, table: String) -> Self {
        DynamoLedger { client, table }
    }
}

fn key_of(pk: &str, id: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(pk.to_string())),
        (
            "sk".to_string(),
            AttributeValue::S(format!("{BLOB_SK_PREFIX}{id}")),
        ),
    ])
}

#[async_trait]
impl ContentLedger for DynamoLedger {
    async fn seen(&self, key: &StreamKey, ids: &[String]) -> Result<HashSet<String>, StoreError> {
        let pk = keys::state_pk(key);
        let mut found = HashSet::new();
        let unique: HashSet<&String> = ids.iter().collect();
        let unique: Vec<&String> = unique.into_iter().collect();
        for chunk in unique.chunks(BATCH) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.iter().map(|id| key_of(&pk, id)).collect()))
                    .projection_expression("sk")
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::backend("BatchGetItem", &self.table, e))?,
            );
            let mut rounds = 0;
            while let Some(request) = pending.take() {
                rounds += 1;
                if rounds > MAX_ROUNDS {
                    return Err(StoreError::backend(
                        "BatchGetItem",
                        &self.table,
                        "keys stayed unprocessed after repeated retries",
                    ));
                }
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| StoreError::backend("BatchGetItem", &self.table, describe(&e)))?;
                for item in out
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    if let Some(id) = item
                        .get("sk")
                        .and_then(|v| v.as_s().ok())
                        .and_then(|sk| sk.strip_prefix(BLOB_SK_PREFIX))
                    {
                        found.insert(id.to_string());
                    }
                }
                pending = out
                    .unprocessed_keys
                    .unwrap_or_default()
                    .remove(&self.table)
                    .filter(|k| !k.keys().is_empty());
                if pending.is_some() {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << rounds.min(6))).await;
                }
            }
        }
        Ok(found)
    }

    async fn record(&self, key: &StreamKey, entry: &LedgerEntry) -> Result<(), StoreError> {
        let mut item = key_of(&keys::state_pk(key), &entry.id);
        item.insert(
            "expires_at".into(),
            AttributeValue::N(entry.expires.timestamp().to_string()),
        );
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| StoreError::backend("PutItem", &self.table, describe(&e)))?;
        Ok(())
    }
}
