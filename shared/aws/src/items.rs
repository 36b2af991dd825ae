//! The event item of the events table, written by the event store and read by the query store:
//! its attribute names (short, since every byte of a name is stored and billed on every item) and
//! the conversions both ways. Key layouts are [`domain::store::keys`]'; ARCHITECTURE.md,
//! "Storage", explains the layout.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use super::codec;
use domain::model::AuditEvent;
use domain::store::{StoreError, StoredEvent, keys};

pub type Item = HashMap<String, AttributeValue>;

/// Partition key: `<source>#<YYYY-MM-DDTHH>`.
pub const PK: &str = "pk";
/// Sort key: `<time to the second>#<dedupe_key>`.
pub const SK: &str = "sk";
/// `by_actor`'s partition key: the actor's UPN, else id, else app id, lowercased.
pub const ACTOR: &str = "apk";
/// `by_ip`'s partition key: the client IP, lowercased.
pub const IP: &str = "ipk";
/// The document: [`codec`]'s compressed AuditEvent.
pub const DOC: &str = "d";
/// The TTL attribute (hot retention), in epoch seconds.
pub const EXPIRES_AT: &str = "expires_at";
/// The version of an event whose record changes (a Defender alert's `lastUpdateDateTime`, in
/// epoch microseconds; [`keys::event_version`]); absent on every other event. A later version
/// replaces the item on this condition alone.
pub const VERSION: &str = "uv";

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn get_s<'a>(item: &'a Item, k: &str) -> Option<&'a str> {
    item.get(k).and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// The key of an item: `(pk, sk)`.
pub fn key_of(item: &Item) -> Option<(String, String)> {
    Some((get_s(item, PK)?.to_string(), get_s(item, SK)?.to_string()))
}

/// The item key `(pk, sk)` of an event.
pub fn event_key(e: &AuditEvent) -> (String, String) {
    (keys::event_pk(e.source, e.time), keys::sort_key(e))
}

/// An item's primary key as a DynamoDB key map.
pub fn key_map(pk: &str, sk: &str) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

/// The item an event is stored as.
pub fn event_item(e: &StoredEvent) -> Result<Item, StoreError> {
    let ev = &e.event;
    let doc = codec::encode(ev).map_err(|err| StoreError::Corrupt {
        resource: ev.id.clone(),
        message: err.to_string(),
    })?;
    let (pk, sk) = event_key(ev);
    let mut item = Item::with_capacity(6);
    item.insert(PK.into(), s(pk));
    item.insert(SK.into(), s(sk));
    if let Some(a) = ev.actor.index_value() {
        item.insert(ACTOR.into(), s(a));
    }
    if let Some(ip) = &ev.client_ip {
        item.insert(IP.into(), s(ip.to_lowercase()));
    }
    // No filter attributes (stream, service, operation, result): a Query is billed by the items
    // it reads whether a FilterExpression drops them or not, so they would only add bytes to
    // every item; listings filter after decoding (`EventFilter::matches`).
    item.insert(DOC.into(), AttributeValue::B(Blob::new(doc)));
    item.insert(EXPIRES_AT.into(), n(e.expires_at));
    if let Some(v) = keys::event_version(ev) {
        item.insert(VERSION.into(), n(v));
    }
    Ok(item)
}

/// The event an item holds.
pub fn event_of(table: &str, item: &Item) -> Result<AuditEvent, StoreError> {
    let corrupt = |message: String| StoreError::Corrupt {
        resource: format!(
            "{table} item {:?} {:?}",
            get_s(item, PK).unwrap_or("?"),
            get_s(item, SK).unwrap_or("?")
        ),
        message,
    };
    let doc = item
        .get(DOC)
        .and_then(|v| v.as_b().ok())
        .ok_or_else(|| corrupt("no document attribute".into()))?;
    codec::decode(doc.as_ref()).map_err(|e| corrupt(e.to_string()))
}

/// The event an id names (one GetItem of its item), or `None` for an id of no stored event or
/// not an id at all.
pub(crate) async fn get_event(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    id: &str,
) -> Result<Option<AuditEvent>, StoreError> {
    let Some(key) = keys::parse_event_id(id) else {
        return Ok(None);
    };
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(key_map(&key.pk(), &key.sk())))
        .send()
        .await
        .map_err(|e| StoreError::backend("GetItem", table, super::describe(&e)))?;
    out.item().map(|i| event_of(table, i)).transpose()
}
