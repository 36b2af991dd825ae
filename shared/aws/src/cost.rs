//! DynamoDB's cost model, as code: item sizes by AWS's documented rules, the write and read units
//! a call consumes, and the bytes an item stores in the table and in each index of the events
//! table's layout. The benchmark computes its figures with it and sets them beside the capacity
//! DynamoDB (or an emulator that reports it) says it consumed (`counters::Meter`).
//!
//! The rules (Amazon DynamoDB Developer Guide, "Capacity unit consumption" and "Item sizes and
//! formats"):
//! - an item's size is the sum over its attributes of the name's UTF-8 length plus the value's
//!   size: a string its UTF-8 length, a binary its length, a number 1 byte per two significant
//!   digits plus 1, a boolean or null 1, a list or map 3 bytes plus, per element, 1 byte and the
//!   element (and, in a map, the key's length); sets the sum of their elements;
//! - a write consumes 1 unit per started KB of the item (the larger of old and new for an update
//!   or overwrite; a failed conditional write is billed too), and each index entry it adds or
//!   changes is a write of the entry's size;
//! - an eventually consistent read consumes half a unit per started 4 KB: a GetItem of the item,
//!   a Query of the summed size of every item it reads (filtered out or not), a BatchGetItem of
//!   each item separately;
//! - storage is the item's size plus 100 bytes, in the table and in each index; a keys-only
//!   index entry holds the table's key, the index's key and nothing else.

use aws_sdk_dynamodb::types::AttributeValue;

use super::items::{ACTOR, IP, Item, PK, SK};

/// Bytes of overhead DynamoDB stores (and bills) per item and per index entry.
pub const STORAGE_OVERHEAD: usize = 100;

/// Size of a number: 1 byte per two significant digits (leading and trailing zeros trimmed),
/// plus 1 byte.
pub fn number_size(n: &str) -> usize {
    let mantissa = n.split(['e', 'E']).next().unwrap_or("");
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits
        .trim_start_matches('0')
        .trim_end_matches('0')
        .len()
        .max(1);
    significant.div_ceil(2) + 1
}

/// Size of a value (without its attribute name).
pub fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(l) => 3 + l.iter().map(|e| 1 + value_size(e)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, e)| k.len() + 1 + value_size(e))
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// An item's size: the sum over attributes of name length plus value size.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// Size of the listed attributes only (a keys-only index entry).
pub fn attrs_size(item: &Item, names: &[&str]) -> usize {
    names
        .iter()
        .filter_map(|n| item.get(*n).map(|v| n.len() + value_size(v)))
        .sum()
}

/// Write units for one write of `bytes` (1 per started KB, at least 1).
pub fn write_units(bytes: usize) -> u64 {
    bytes.div_ceil(1024).max(1) as u64
}

/// Read units of one eventually consistent read of `bytes` (a GetItem, or one Query request
/// over items summing to `bytes`): half a unit per started 4 KB, at least half a unit.
pub fn read_units(bytes: usize) -> f64 {
    bytes.div_ceil(4096).max(1) as f64 * 0.5
}

/// Read units of an eventually consistent BatchGetItem: each item rounded up separately.
pub fn batch_get_units(item_sizes: impl IntoIterator<Item = usize>) -> f64 {
    item_sizes.into_iter().map(read_units).sum()
}

/// What storing one new event costs in the events table's layout: its item plus the keys-only
/// `by_actor` and `by_ip` entries it has (an attribute it lacks makes no entry).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EventCost {
    /// The item's size.
    pub item_bytes: usize,
    pub base_write_units: u64,
    pub actor_index_write_units: u64,
    pub ip_index_write_units: u64,
    /// Table and index bytes held, overheads included.
    pub stored_bytes: usize,
}

impl EventCost {
    pub fn write_units(&self) -> u64 {
        self.base_write_units + self.actor_index_write_units + self.ip_index_write_units
    }
}

/// The cost of inserting `event` as the event store would (its item built by [`super::items`]).
pub fn stored_event_cost(
    event: &domain::store::StoredEvent,
) -> Result<EventCost, domain::store::StoreError> {
    Ok(event_cost(&super::items::event_item(event)?))
}

/// The cost of inserting the event item `item`.
pub fn event_cost(item: &Item) -> EventCost {
    let size = item_size(item);
    let mut c = EventCost {
        item_bytes: size,
        base_write_units: write_units(size),
        stored_bytes: size + STORAGE_OVERHEAD,
        ..EventCost::default()
    };
    for (index_key, units) in [
        (ACTOR, &mut c.actor_index_write_units),
        (IP, &mut c.ip_index_write_units),
    ] {
        if item.contains_key(index_key) {
            let entry = attrs_size(item, &[PK, SK, index_key]);
            *units += write_units(entry);
            c.stored_bytes += entry + STORAGE_OVERHEAD;
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::primitives::Blob;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    #[test]
    fn sizes_follow_the_documented_rules() {
        // AWS's own examples of number sizes: 27 is 2 significant digits, 1 byte + 1.
        assert_eq!(number_size("27"), 2);
        assert_eq!(number_size("-12.500"), 3);
        assert_eq!(number_size("1000000"), 2);
        assert_eq!(number_size("123456"), 4);
        assert_eq!(number_size("7"), 2);
        assert_eq!(
            number_size("-0.0012"),
            2,
            "leading zeros and signs are not digits"
        );
        assert_eq!(number_size("1767225600"), 5);
        assert_eq!(number_size("1.5E+10"), 2);
        let mut map = std::collections::HashMap::new();
        map.insert("a".to_string(), AttributeValue::Bool(true));
        let item: Item = [
            ("pk".to_string(), s("abc")),
            ("n".to_string(), AttributeValue::N("12".into())),
            ("m".to_string(), AttributeValue::M(map)),
            ("b".to_string(), AttributeValue::B(Blob::new(vec![0u8; 10]))),
            (
                "l".to_string(),
                AttributeValue::L(vec![s("xy"), AttributeValue::Null(true)]),
            ),
        ]
        .into_iter()
        .collect();
        // pk 2+3; n 1+2; m 1+(3 + a 1 + 1 + bool 1); b 1+10; l 1+(3 + 1+2 + 1+1).
        assert_eq!(item_size(&item), 5 + 3 + 7 + 11 + 9);
        assert_eq!(attrs_size(&item, &["pk", "n", "missing"]), 8);
    }

    #[test]
    fn units_round_up_per_kilobyte_and_per_four_kilobytes() {
        assert_eq!(write_units(0), 1);
        assert_eq!(write_units(1024), 1);
        assert_eq!(write_units(1025), 2);
        assert_eq!(write_units(2940), 3);
        assert_eq!(read_units(1), 0.5);
        assert_eq!(read_units(4096), 0.5);
        assert_eq!(read_units(4097), 1.0);
        // A Query of 50 items of 600 bytes: 30,000 bytes, 8 started 4 KB blocks; a BatchGetItem
        // of the same 50 items: half a unit each.
        assert_eq!(read_units(50 * 600), 4.0);
        assert_eq!(batch_get_units(std::iter::repeat_n(600, 50)), 25.0);
    }

    #[test]
    fn an_event_costs_its_item_and_one_keys_only_entry_per_index_it_is_in() {
        let mut item: Item = [
            ("pk".to_string(), s("entra-sign-ins#2024-05-20T07")),
            (
                "sk".to_string(),
                s("2024-05-20T07:41:12.000Z#4e1f0c2a-7a61-4d0e-9b1c-2f3a4b5c6d01"),
            ),
            ("apk".to_string(), s("adele@contoso.com")),
            (
                "d".to_string(),
                AttributeValue::B(Blob::new(vec![1u8; 700])),
            ),
        ]
        .into_iter()
        .collect();
        let keys = 2 + 28 + 2 + 61;
        let c = event_cost(&item);
        assert_eq!(c.item_bytes, keys + 3 + 17 + 1 + 700);
        assert_eq!(c.base_write_units, 1);
        assert_eq!(c.actor_index_write_units, 1);
        assert_eq!(c.ip_index_write_units, 0, "no client IP, no by_ip entry");
        assert_eq!(c.stored_bytes, c.item_bytes + 100 + keys + 3 + 17 + 100);
        assert_eq!(c.write_units(), 2);
        // Past 1 KB the item costs two units.
        item.insert("d".into(), AttributeValue::B(Blob::new(vec![1u8; 1000])));
        assert_eq!(event_cost(&item).base_write_units, 2);
    }
}
