//! The DynamoDB stream batch as Lambda delivers it (`{"Records": [...]}`, attribute values in
//! DynamoDB's JSON), read down to what detection needs: each record's sequence number, its event
//! name, and for an event item its keys and stored document. The response is Lambda's partial
//! batch response (`{"batchItemFailures": [{"itemIdentifier": <sequence number>}]}`).

use base64::Engine as _;
use serde::{Deserialize, Serialize};

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
}

impl StreamRecord {
    /// The event item this record inserted, or `None` for anything else (a counter, a marker,
    /// a note, a modification): the stream's filter should have left those out.
    pub fn new_event(&self) -> Result<Option<NewEvent>, RecordError> {
        if self.event_name != "INSERT" {
            return Ok(None);
        }
        let Some(image) = &self.dynamodb.new_image else {
            return Ok(None);
        };
        let text = |k: &str| image.get(k)?.get("S")?.as_str().map(str::to_owned);
        let (Some(pk), Some(sk)) = (text(aws::items::PK), text(aws::items::SK)) else {
            return Ok(None);
        };
        let Some(doc) = image
            .get(aws::items::DOC)
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
