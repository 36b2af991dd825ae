//! The DynamoDB stream batch as Lambda delivers it (`{"Records": [...]}`, attribute values in
//! DynamoDB's JSON), read down to what detection needs: each record's sequence number, its event
//! name, for an event item its keys and stored document, and for an alert item its alert JSON. The response is Lambda's partial
//! batch response (`{"batchItemFailures": [{"itemIdentifier": <sequence number>}]}`).

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use base64::Engine as _;
use domain::model::AuditEvent;
use domain::store::{RawStore, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<StreamRecord>,
}

#[derive(Debug, Deserialize)]
pub struct StreamRecord {
    #[serde(rename = "eventName", default)]
    pub event_name: String,
    pub dynamodb: Change,
}

#[derive(Debug, Deserialize)]
pub struct Change {
    #[serde(rename = "SequenceNumber")]
    pub sequence_number: String,
    #[serde(rename = "NewImage", default)]
    pub new_image: Option<serde_json::Map<String, serde_json::Value>>,
}

/// An event item a record carries: its keys and the document bytes.
#[derive(Debug)]
pub struct NewEvent {
    pub pk: String,
    pub sk: String,
    pub doc: Vec<u8>,
}

/// Why a record could not be read (it is a failure of the batch, reported, never skipped).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("the document attribute is not base64: {0}")]
    Base64(String),
    #[error("the alert document is not JSON: {0}")]
    Json(String),
}

impl StreamRecord {
    /// The event item this record inserted, or `None` for anything else (a counter, a marker,
    /// a note, a modification): the stream's filter should have left those out.
    ///
    /// A MODIFY of an item with a version ([`crate::items::VERSION`]) is a later version of a
    /// record that changes (a Defender alert) taking the item's place, and counts as the event
    /// it now holds: event items are otherwise never modified.
    pub fn new_event(&self) -> Result<Option<NewEvent>, RecordError> {
        let Some(image) = &self.dynamodb.new_image else {
            return Ok(None);
        };
        let versioned = || {
            image
                .get(crate::items::VERSION)
                .is_some_and(|v| v.get("N").is_some())
        };
        match self.event_name.as_str() {
            "INSERT" => {}
            "MODIFY" if versioned() => {}
            _ => return Ok(None),
        }
        let text = |k: &str| image.get(k)?.get("S")?.as_str().map(str::to_owned);
        let (Some(pk), Some(sk)) = (text(crate::items::PK), text(crate::items::SK)) else {
            return Ok(None);
        };
        let Some(doc) = image
            .get(crate::items::DOC)
            .and_then(|d| d.get("B"))
            .and_then(|b| b.as_str())
        else {
            return Ok(None);
        };
        let doc = base64::engine::general_purpose::STANDARD
            .decode(doc)
            .map_err(|e| RecordError::Base64(e.to_string()))?;
        Ok(Some(NewEvent { pk, sk, doc }))
    }
}

impl StreamRecord {
    /// The alert JSON an alert item carries (its `doc`), or `None` for any other record (a
    /// comment, a rule, a delivery marker, a modification: the mapping's filter should have left
    /// those out).
    pub fn new_alert(&self) -> Result<Option<serde_json::Value>, RecordError> {
        if self.event_name != "INSERT" {
            return Ok(None);
        }
        let Some(image) = &self.dynamodb.new_image else {
            return Ok(None);
        };
        let text = |k: &str| image.get(k)?.get("S")?.as_str();
        if !(text(crate::items::PK).is_some_and(|pk| pk.starts_with("alert#"))
            && text(crate::items::SK) == Some("alert"))
        {
            return Ok(None);
        }
        let Some(doc) = text("doc") else {
            return Ok(None);
        };
        serde_json::from_str(doc)
            .map(Some)
            .map_err(|e| RecordError::Json(e.to_string()))
    }
}

/// Lambda's partial batch response.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// Line `line` (1-based) of each wanted reference, read from one gzip NDJSON object.
fn lines_of(body: &[u8], wanted: &[u64]) -> HashMap<u64, Value> {
    let mut out = HashMap::new();
    let Some(&last) = wanted.iter().max() else {
        return out;
    };
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(body));
    for (i, line) in reader.lines().enumerate() {
        let n = i as u64 + 1;
        if n > last {
            break;
        }
        let Ok(line) = line else { break };
        if wanted.contains(&n)
            && let Ok(v) = serde_json::from_str(&line)
        {
            out.insert(n, v);
        }
    }
    out
}

/// The raw record of every event that names one, each object read once (keyed by object key
/// and line). A missing object is logged and its events go on without raw; any other read error fails from the first
/// event that needed the object.
pub async fn raw_records(
    raw: &dyn RawStore,
    events: &[(usize, AuditEvent)],
) -> Result<HashMap<(String, u64), Value>, (usize, StoreError)> {
    let mut wanted: BTreeMap<&str, (usize, Vec<u64>)> = BTreeMap::new();
    for (i, e) in events {
        if let Some(r) = &e.raw_ref {
            let entry = wanted.entry(r.key.as_str()).or_insert((*i, Vec::new()));
            entry.1.push(r.line);
        }
    }
    let mut out = HashMap::new();
    for (key, (first, lines)) in wanted {
        match raw.get(key).await {
            Ok(body) => {
                for (n, v) in lines_of(&body, &lines) {
                    out.insert((key.to_owned(), n), v);
                }
            }
            Err(StoreError::NotFound { .. }) => {
                tracing::warn!(
                    key,
                    "A raw object the events name is missing; they go on without their raw records."
                );
            }
            Err(e) => return Err((first, e)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(event_name: &str, versioned: bool) -> StreamRecord {
        let mut image = serde_json::json!({
            "pk": {"S": "defender-alerts#2024-05-21T13"},
            "sk": {"S": "2024-05-21T13:05:44Z#da1"},
            "d": {"B": base64::engine::general_purpose::STANDARD.encode(b"doc")},
        });
        if versioned {
            image["uv"] = serde_json::json!({"N": "1716303602100000"});
        }
        serde_json::from_value(serde_json::json!({
            "eventName": event_name,
            "dynamodb": {"SequenceNumber": "1", "NewImage": image},
        }))
        .unwrap()
    }

    #[test]
    fn an_insert_and_a_later_version_are_events_and_nothing_else_is() {
        for (name, versioned, event) in [
            ("INSERT", false, true),
            ("INSERT", true, true),
            // A later version of a changing record taking the item's place.
            ("MODIFY", true, true),
            // Event items are otherwise never modified; nothing to evaluate.
            ("MODIFY", false, false),
            ("REMOVE", true, false),
        ] {
            let got = record(name, versioned).new_event().unwrap();
            assert_eq!(got.is_some(), event, "{name} versioned={versioned}");
            if let Some(e) = got {
                assert_eq!(e.doc, b"doc");
                assert_eq!(e.sk, "2024-05-21T13:05:44Z#da1");
            }
        }
    }
}
