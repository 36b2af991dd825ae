//! A DynamoDB stream, locally: moto has no streams, so the demo and the end-to-end tests read a
//! table's new items as the stack's event source mapping would deliver them: INSERT records of
//! NEW_IMAGE, ordered by key (a shard's order), in batches of Lambda's `{"Records": [...]}` shape,
//! each item once (the stream sees an item's first write; the tables' items are written once),
//! except that an event item whose version (`uv`, a record that changes: a Defender alert) has
//! moved since the last read comes again as a MODIFY, as a later version's put makes the real
//! stream carry it. A filter stands for the mapping's filter criteria.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use serde_json::{Value, json};

type Item = std::collections::HashMap<String, AttributeValue>;

/// One table's stream, from where it was last read.
pub struct LocalStream {
    table: String,
    /// Which items the stream carries (the mapping's filter).
    filter: fn(&Item) -> bool,
    /// Items read so far, with the version each had.
    seen: HashMap<(String, String), Option<String>>,
    sequence: u64,
}

/// The events table's mapping: event items only (they carry the document `d`).
pub fn event_items(item: &Item) -> bool {
    item.contains_key(aws::items::DOC)
}

/// The alerts table's mapping for notifications: alert items only (`alert#<id>` / `alert`).
pub fn alert_items(item: &Item) -> bool {
    let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok());
    text("pk").is_some_and(|pk| pk.starts_with("alert#"))
        && text("sk").is_some_and(|sk| sk == "alert")
}

/// The version attribute of an item whose record changes ([`aws::items::VERSION`]).
fn version_of(item: &Item) -> Option<&str> {
    item.get(aws::items::VERSION)
        .and_then(|v| v.as_n().ok())
        .map(String::as_str)
}

/// An attribute value as the stream's JSON image spells it.
fn image_value(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => {
            json!({ "B": base64::engine::general_purpose::STANDARD.encode(b.as_ref()) })
        }
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Ss(v) => json!({ "SS": v }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        other => json!({ "S": format!("{other:?}") }),
    }
}

impl LocalStream {
    pub fn new(table: &str, filter: fn(&Item) -> bool) -> Self {
        LocalStream {
            table: table.to_owned(),
            filter,
            seen: HashMap::new(),
            sequence: 0,
        }
    }

    /// The records of every item written since the last read, in batches of `batch_size`.
    pub async fn read(&mut self, db: &aws_sdk_dynamodb::Client, batch_size: usize) -> Vec<Value> {
        let mut fresh: Vec<(String, String, Item)> = crate::scan_table(db, &self.table)
            .await
            .into_iter()
            .filter(|i| (self.filter)(i))
            .filter_map(|i| {
                let pk = i.get("pk")?.as_s().ok()?.clone();
                let sk = i.get("sk")?.as_s().ok()?.clone();
                Some((pk, sk, i))
            })
            .filter(
                |(pk, sk, i)| match self.seen.get(&(pk.clone(), sk.clone())) {
                    None => true,
                    Some(version) => version.as_deref() != version_of(i),
                },
            )
            .collect();
        fresh.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let mut records = Vec::new();
        for (pk, sk, item) in fresh {
            let name = match self.seen.insert(
                (pk.clone(), sk.clone()),
                version_of(&item).map(str::to_owned),
            ) {
                None => "INSERT",
                Some(_) => "MODIFY",
            };
            self.sequence += 1;
            let image: serde_json::Map<String, Value> = item
                .iter()
                .map(|(k, v)| (k.clone(), image_value(v)))
                .collect();
            records.push(json!({
                "eventID": format!("e{}", self.sequence),
                "eventName": name,
                "eventSource": "aws:dynamodb",
                "dynamodb": {
                    "Keys": {"pk": {"S": pk}, "sk": {"S": sk}},
                    "NewImage": image,
                    "SequenceNumber": format!("{:021}", self.sequence),
                    "StreamViewType": "NEW_IMAGE"
                }
            }));
        }
        records
            .chunks(batch_size.max(1))
            .map(|c| json!({ "Records": c }))
            .collect()
    }
}
