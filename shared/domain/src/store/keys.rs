//! Key layouts for S3 and DynamoDB, as pure functions (ARCHITECTURE.md, "Storage", explains the
//! choices and their cost).
//!
//! Events table (`AUDITLAKE_EVENTS_TABLE`), keyed by time so that listing needs no index:
//! - `pk = <source>#<YYYY-MM-DDTHH>` (event hour), `sk = <event time to the second>#<dedupe_key>`:
//!   the event; its conditional put is the dedupe. The event id, `<source>:<YYYYMMDDTHHMMSSZ>-
//!   <dedupe_key>`, carries the same second, so an id names its item without an index.
//! - index `by_actor`: `apk = <actor upn|id|app id, lowercased>`, `sk` (keys only).
//! - index `by_ip`: `ipk = <client ip>`, `sk` (keys only).
//! - `pk = note#<event id>`, `sk = "tags" | "comment#<time>#<id>"`: annotations. Only the query
//!   API writes `note#` items and it writes nothing else (IAM's `dynamodb:LeadingKeys`).
//! - `pk = agg#<YYYY-MM-DD>`, `sk = <dimension>#<value>`: per-day counters bumped when an event is
//!   first inserted (the query API's filter options and summaries; approximate); the actor
//!   dimension is one bounded top list per day, source and stream, `sk = top#actor#<source>#<stream>`.
//! - `pk = "presence"`, `sk = <YYYY-MM-DD>#<source>`: written before any event of that day and
//!   source is inserted; one Query reads the markers of a whole range of days.
//!
//! State table (`AUDITLAKE_STATE_TABLE`): `pk = <tenant>#<source>#<stream or ->`,
//! `sk = "checkpoint" | "health"`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use crate::model::{AuditEvent, Source, fmt_time};
use crate::stream::Stream;

use super::StreamKey;

pub const TAGS_SK: &str = "tags";
pub const ACTOR_INDEX: &str = "by_actor";
pub const IP_INDEX: &str = "by_ip";
/// Partition-key prefix of every annotation item (tags, comments).
pub const NOTE_PREFIX: &str = "note#";
pub const CHECKPOINT_SK: &str = "checkpoint";
pub const HEALTH_SK: &str = "health";

/// DynamoDB's limits on key values, in UTF-8 bytes: a partition key (of the table or an index)
/// and a sort key. A Query naming a longer value is refused by DynamoDB (though not by every
/// emulator), so the API checks values against these before asking.
pub const MAX_PARTITION_KEY_BYTES: usize = 2048;
pub const MAX_SORT_KEY_BYTES: usize = 1024;
/// The longest dedupe key: a source's own id is used as-is up to this length.
pub const MAX_DEDUPE_KEY_BYTES: usize = 200;

/// True when `s` can be a dedupe key: 1 to [`MAX_DEDUPE_KEY_BYTES`] bytes of ASCII letters,
/// digits and `- . _ ~` (safe as-is in a URL path segment and a DynamoDB key). Every key
/// [`crate::normalize::dedupe_key`] makes is one; the hashed form `h-<hex>` is too.
pub fn is_dedupe_key(s: &str) -> bool {
    // Without branches, 16 bytes at a time: the compiler turns it into vector instructions (every
    // record's id is tested while it is normalized).
    let allowed = |b: u8| {
        (b.wrapping_sub(b'0') < 10)
            | ((b | 0x20).wrapping_sub(b'a') < 26)
            | (b == b'-')
            | (b == b'.')
            | (b == b'_')
            | (b == b'~')
    };
    let mut blocks = s.as_bytes().chunks_exact(16);
    !s.is_empty()
        && s.len() <= MAX_DEDUPE_KEY_BYTES
        && blocks
            .by_ref()
            .all(|block| block.iter().fold(true, |ok, &b| ok & allowed(b)))
        && blocks.remainder().iter().all(|&b| allowed(b))
}

/// The second an event's keys carry: its time with the fraction dropped. Microsoft's records
/// carry their time at different precisions in different places (Graph: 7 digits; the
/// Management API and PowerShell exports: whole seconds), so the second is what one record has
/// in common across a pull, an import and a backfill.
pub fn key_second(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    t.trunc_subsecs(0)
}

/// The event id, `<source>:<YYYYMMDDTHHMMSSZ>-<dedupe_key>`: URL-safe, and it names the event's
/// item (hour bucket and sort key) without an index.
pub fn event_id(source: Source, time: DateTime<Utc>, dedupe_key: &str) -> String {
    format!(
        "{}:{}-{dedupe_key}",
        source.name(),
        time.format(ID_TIME_FORMAT)
    )
}

/// The time part of an event id.
const ID_TIME_FORMAT: &str = "%Y%m%dT%H%M%SZ";
const ID_TIME_LEN: usize = 16;

/// What an event id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventKey<'a> {
    pub source: Source,
    /// The event's time to the second.
    pub second: DateTime<Utc>,
    pub dedupe_key: &'a str,
}

impl EventKey<'_> {
    pub fn pk(&self) -> String {
        event_pk(self.source, self.second)
    }
    pub fn sk(&self) -> String {
        event_sk(self.second, self.dedupe_key)
    }
}

/// Splits an event id back into source, second and dedupe key; `None` unless the key is one
/// [`is_dedupe_key`] accepts (so no id reaching the store can exceed a key limit). An id of the
/// first layout (`<source>:<dedupe_key>`, without the time) is not an id any more.
pub fn parse_event_id(id: &str) -> Option<EventKey<'_>> {
    let (source, rest) = id.split_once(':')?;
    let source = source.parse().ok()?;
    let time = rest.get(..ID_TIME_LEN)?;
    let key = rest.get(ID_TIME_LEN..)?.strip_prefix('-')?;
    let second = chrono::NaiveDateTime::parse_from_str(time, ID_TIME_FORMAT)
        .ok()?
        .and_utc();
    is_dedupe_key(key).then_some(EventKey {
        source,
        second,
        dedupe_key: key,
    })
}

/// The hour bucket an event time falls in: `2024-01-02T03`.
pub fn hour_bucket(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H").to_string()
}

/// Base-table partition key of an event: `<source>#<YYYY-MM-DDTHH>`, the event's hour.
pub fn event_pk(source: Source, t: DateTime<Utc>) -> String {
    format!("{}#{}", source.name(), hour_bucket(t))
}

/// Base-table sort key of an event, shared by the actor and IP indexes:
/// `<time to the second, RFC 3339>#<dedupe_key>`. String order is time order; events of one
/// second sort by key.
pub fn event_sk(t: DateTime<Utc>, dedupe_key: &str) -> String {
    format!("{}#{dedupe_key}", fmt_time(key_second(t)))
}

/// The version of an event whose record Microsoft changes after creating it, for the sources
/// whose records do (`defender-alerts`: the alert's `lastUpdateDateTime`, which its normalizer
/// keeps as `details.last_update_date_time`), in microseconds since the epoch; `None` for every
/// other source, whose records never change. The store keeps the highest version of such an
/// event: a later version replaces the item, an earlier or equal one is a duplicate.
pub fn event_version(e: &AuditEvent) -> Option<i64> {
    match e.source {
        Source::DefenderAlerts => e
            .details
            .get("last_update_date_time")
            .and_then(|v| v.as_str())
            .and_then(crate::model::parse_time)
            .map(|t| t.timestamp_micros()),
        _ => None,
    }
}

/// The sort key of a stored event.
pub fn sort_key(e: &AuditEvent) -> String {
    event_sk(e.time, &e.dedupe_key)
}

/// Partition key of an event's annotations (tags, comments).
pub fn note_pk(id: &str) -> String {
    format!("{NOTE_PREFIX}{id}")
}

/// Partition key of a checkpoint or health item.
pub fn state_pk(key: &StreamKey) -> String {
    format!(
        "{}#{}#{}",
        key.tenant,
        key.source.name(),
        key.stream.map_or("-", Stream::name)
    )
}

/// Partition key of one day's aggregate counters.
pub fn aggregate_pk(day: NaiveDate) -> String {
    format!("agg#{}", day.format("%Y-%m-%d"))
}

/// Sort key of one aggregate counter.
pub fn aggregate_sk(dim: &str, value: &str) -> String {
    format!("{dim}#{value}")
}

/// Partition key of every presence marker.
pub const PRESENCE_PK: &str = "presence";

/// Sort key of the marker saying `source` has events on `day`: written (idempotently) before any
/// event of that day is inserted, so a listing may skip days without one. Days sort as text.
pub fn presence_sk(day: NaiveDate, source: Source) -> String {
    format!("{}#{}", day.format("%Y-%m-%d"), source.name())
}

/// The `(day, source)` of a presence marker's sort key.
pub fn parse_presence_sk(sk: &str) -> Option<(NaiveDate, Source)> {
    let (day, source) = sk.split_once('#')?;
    Some((
        NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?,
        source.parse().ok()?,
    ))
}

/// The `(event day, source)` pairs of a batch.
pub fn source_days<'a>(
    events: impl IntoIterator<Item = &'a AuditEvent>,
) -> std::collections::BTreeSet<(NaiveDate, Source)> {
    events
        .into_iter()
        .map(|e| (e.time.date_naive(), e.source))
        .collect()
}

/// The dimensions counted per day, in the order the API lists them. `actor` is kept as top lists
/// ([`actor_counts`], [`merge_top`]); the others as one counter per value.
pub const AGGREGATE_DIMS: [&str; 5] = ["source", "service", "operation", "result", "actor"];

/// Entries an actor top list keeps (the API shows at most 100 values of a dimension).
pub const TOP_LIST_LEN: usize = 100;

/// Values are cut to this many characters to keep keys and lists small.
const MAX_COUNTED_CHARS: usize = 200;

fn cut(v: &str) -> String {
    v.chars().take(MAX_COUNTED_CHARS).collect()
}

/// The counter bumps that inserting `events` (new ones only) makes: `(event day, dimension,
/// value) -> count`, for every dimension but the actor.
///
/// Why the actor is not a counter per value: a busy tenant's page of sign-ins has nearly as many
/// distinct users as events, so one counter write per value would cost about one write unit per
/// event; a top list costs a few per page.
pub fn aggregate_counts<'a>(
    events: impl IntoIterator<Item = &'a AuditEvent>,
) -> BTreeMap<(NaiveDate, &'static str, String), u64> {
    let mut out = BTreeMap::new();
    for e in events {
        let day = e.time.date_naive();
        let values = [
            Some(e.source.name().to_string()),
            e.service.clone(),
            Some(e.operation.clone()),
            Some(e.result.as_str().to_string()),
        ];
        for (dim, v) in AGGREGATE_DIMS.into_iter().zip(values) {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                *out.entry((day, dim, cut(&v))).or_insert(0) += 1;
            }
        }
    }
    out
}

/// The actor a counter names: its index value (UPN, else id, else app id), else its name.
pub fn counted_actor(e: &AuditEvent) -> Option<String> {
    e.actor
        .index_value()
        .or_else(|| e.actor.name.clone())
        .filter(|v| !v.is_empty())
        .map(|v| cut(&v))
}

/// Which actor top list an event counts in: one per event day, source and stream.
pub type TopListKey = (NaiveDate, Source, Option<String>);

/// Events per actor of a batch (new ones only), per top list.
pub fn actor_counts<'a>(
    events: impl IntoIterator<Item = &'a AuditEvent>,
) -> BTreeMap<TopListKey, BTreeMap<String, u64>> {
    let mut out: BTreeMap<TopListKey, BTreeMap<String, u64>> = BTreeMap::new();
    for e in events {
        if let Some(actor) = counted_actor(e) {
            let key = (e.time.date_naive(), e.source, e.stream.clone());
            *out.entry(key).or_default().entry(actor).or_insert(0) += 1;
        }
    }
    out
}

/// Sort key of an actor top list in its day's counter partition.
pub fn top_list_sk(source: Source, stream: Option<&str>) -> String {
    format!("top#actor#{}#{}", source.name(), stream.unwrap_or("-"))
}

/// A bounded top list: the `len` largest counts, and the events of every value dropped from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopList {
    pub counts: BTreeMap<String, u64>,
    /// Events counted for values no longer in the list.
    pub other: u64,
}

/// Adds `add` to a top list and keeps its `len` largest entries (ties by value, so the result
/// does not depend on the order of additions within one merge). A value dropped and seen again
/// restarts from its new count, so a listed count is a lower bound; `other` keeps the total
/// exact.
pub fn merge_top(mut list: TopList, add: &BTreeMap<String, u64>, len: usize) -> TopList {
    for (v, n) in add {
        *list.counts.entry(v.clone()).or_insert(0) += n;
    }
    if list.counts.len() > len {
        let mut all: Vec<(String, u64)> = std::mem::take(&mut list.counts).into_iter().collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        for (_, n) in all.drain(len..) {
            list.other += n;
        }
        list.counts = all.into_iter().collect();
    }
    list
}

/// S3 key of one raw object: partitioned by write time, never overwritten (the run id is unique).
pub fn raw_key(
    source: Source,
    stream: Option<&str>,
    written: DateTime<Utc>,
    run_id: &str,
    seq: u64,
) -> String {
    let ct = match (source, stream) {
        (Source::M365Activity, Some(ct)) => format!("content_type={ct}/"),
        _ => String::new(),
    };
    format!(
        "raw/source={}/{ct}dt={}/hour={}/{}-{run_id}-{seq:05}.json.gz",
        source.name(),
        written.format("%Y-%m-%d"),
        written.format("%H"),
        written.format("%Y%m%dT%H%M%SZ"),
    )
}

/// S3 key of one quarantine object.
pub fn quarantine_key(source: Source, written: DateTime<Utc>, run_id: &str, seq: u64) -> String {
    format!(
        "quarantine/source={}/dt={}/{}-{run_id}-{seq:05}.json.gz",
        source.name(),
        written.format("%Y-%m-%d"),
        written.format("%Y%m%dT%H%M%SZ"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::SignInKind;
    use chrono::TimeZone;

    #[test]
    fn dedupe_keys_are_the_bytes_they_say() {
        let plain = |s: &str| {
            !s.is_empty()
                && s.len() <= MAX_DEDUPE_KEY_BYTES
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        };
        let chars: Vec<char> = (0u8..0x80)
            .map(char::from)
            .chain(['é', '\u{ff}', '–'])
            .collect();
        for c in &chars {
            for at in [0, 7, 16, 33] {
                let mut s = "Directory_a1-b2.C3~d4_".repeat(2);
                s.insert(at, *c);
                assert_eq!(is_dedupe_key(&s), plain(&s), "{s:?}");
                assert_eq!(is_dedupe_key(&c.to_string()), plain(&c.to_string()));
            }
        }
        for s in ["", "a", &"k".repeat(200), &"k".repeat(201)] {
            assert_eq!(is_dedupe_key(s), plain(s), "{s:?}");
        }
    }

    #[test]
    fn presence_keys_round_trip_and_sort_by_day_inside_the_query_bounds() {
        let day = NaiveDate::from_ymd_opt(2024, 5, 9).unwrap();
        for s in Source::ALL {
            let sk = presence_sk(day, s);
            assert_eq!(parse_presence_sk(&sk), Some((day, s)));
            // The listing's Query reads `BETWEEN <first> AND <last>#~`.
            assert!(
                sk.as_str() > "2024-05-09" && sk.as_str() < "2024-05-09#~",
                "{sk}"
            );
            assert!(
                sk.as_str() > "2024-05-08#~" && sk.as_str() < "2024-05-10",
                "{sk}"
            );
        }
        assert_eq!(parse_presence_sk("2024-05-09#nope"), None);
        assert_eq!(parse_presence_sk("present#entra-sign-ins"), None);
    }

    #[test]
    fn event_ids_round_trip_and_name_their_item() {
        let t = Utc.with_ymd_and_hms(2024, 3, 4, 5, 6, 7).unwrap()
            + chrono::TimeDelta::microseconds(123_456);
        let id = event_id(Source::EntraDirectoryAudits, t, "Directory_abc_X1_2");
        assert_eq!(
            id,
            "entra-directory-audits:20240304T050607Z-Directory_abc_X1_2"
        );
        let key = parse_event_id(&id).unwrap();
        assert_eq!(key.source, Source::EntraDirectoryAudits);
        assert_eq!(key.second, key_second(t));
        assert_eq!(key.dedupe_key, "Directory_abc_X1_2");
        // The id names the item the event is stored as: same hour bucket, same sort key.
        assert_eq!(key.pk(), event_pk(Source::EntraDirectoryAudits, t));
        assert_eq!(key.pk(), "entra-directory-audits#2024-03-04T05");
        assert_eq!(key.sk(), event_sk(t, "Directory_abc_X1_2"));
        assert_eq!(key.sk(), "2024-03-04T05:06:07.000Z#Directory_abc_X1_2");
        for bad in [
            "nope:20240304T050607Z-x",
            "entra-directory-audits:",
            "entra-directory-audits:20240304T050607Z-",
            "entra-directory-audits:20240304T050607Z",
            "entra-directory-audits:20241304T050607Z-x",
            // The first layout's ids (no time) are not ids any more.
            "entra-directory-audits:Directory_abc_X1_2",
        ] {
            assert_eq!(parse_event_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn one_record_has_one_key_whatever_precision_its_time_came_with() {
        // Graph's 7 digits, an export's milliseconds and the Management API's whole seconds.
        let graph = crate::model::parse_time("2024-03-04T05:06:07.1234567Z").unwrap();
        let export = crate::model::parse_time("2024-03-04 05:06:07.123").unwrap();
        let mgmt = crate::model::parse_time("2024-03-04T05:06:07").unwrap();
        let ids: std::collections::BTreeSet<_> = [graph, export, mgmt]
            .into_iter()
            .map(|t| (event_id(Source::M365Activity, t, "k"), event_sk(t, "k")))
            .collect();
        assert_eq!(ids.len(), 1, "{ids:?}");
    }

    #[test]
    fn sort_keys_sort_by_time_then_key() {
        let t = Utc.with_ymd_and_hms(2024, 3, 4, 5, 6, 7).unwrap();
        let later = t + chrono::TimeDelta::seconds(1);
        assert!(event_sk(t, "zzz") < event_sk(later, "aaa"));
        assert!(event_sk(t, "aaa") < event_sk(t, "zzz"));
        // A bare time bound sorts before every key of its second.
        assert!(fmt_time(t) < event_sk(t, "-"));
    }

    #[test]
    fn event_ids_past_the_key_limits_or_outside_the_key_alphabet_are_not_ids() {
        // A dedupe key is at most 200 bytes, so no event id can reach DynamoDB's key limits;
        // longer or odd ids are refused before any store is asked.
        let t = Utc::now();
        let longest = "k".repeat(MAX_DEDUPE_KEY_BYTES);
        let id = event_id(Source::IntuneAudit, t, &longest);
        let key = parse_event_id(&id).unwrap();
        assert!(note_pk(&id).len() <= MAX_PARTITION_KEY_BYTES);
        assert!(key.sk().len() <= MAX_SORT_KEY_BYTES);
        let too_long = format!("{id}k");
        assert_eq!(parse_event_id(&too_long), None);
        let huge = format!("intune-audit:20240304T050607Z-{}", "k".repeat(3000));
        assert_eq!(parse_event_id(&huge), None);
        for odd in ["a b", "a#b", "a:b", "é"] {
            let odd = format!("intune-audit:20240304T050607Z-{odd}");
            assert_eq!(parse_event_id(&odd), None, "{odd}");
        }
    }

    #[test]
    fn top_lists_keep_the_largest_counts_and_the_rest_in_other() {
        let add = |pairs: &[(&str, u64)]| -> BTreeMap<String, u64> {
            pairs.iter().map(|(v, n)| (v.to_string(), *n)).collect()
        };
        let list = merge_top(TopList::default(), &add(&[("a", 5), ("b", 1), ("c", 3)]), 2);
        assert_eq!(list.counts, add(&[("a", 5), ("c", 3)]));
        assert_eq!(list.other, 1);
        let list = merge_top(list, &add(&[("b", 4), ("c", 1)]), 2);
        // b restarts from 4 (its earlier 1 is in `other`) and ties with c: ties go by value.
        assert_eq!(list.counts, add(&[("a", 5), ("b", 4)]));
        assert_eq!(list.other, 1 + 4, "c's 4 went to other");
        let total: u64 = list.counts.values().sum::<u64>() + list.other;
        assert_eq!(total, 5 + 1 + 3 + 4 + 1, "every event is counted somewhere");
    }

    #[test]
    fn raw_keys_follow_the_partition_layout() {
        let t = Utc.with_ymd_and_hms(2024, 3, 4, 5, 6, 7).unwrap();
        assert_eq!(
            raw_key(Source::EntraDirectoryAudits, None, t, "r1", 3),
            "raw/source=entra-directory-audits/dt=2024-03-04/hour=05/20240304T050607Z-r1-00003.json.gz"
        );
        assert!(
            raw_key(Source::M365Activity, Some("Audit.Exchange"), t, "r", 0).starts_with(
                "raw/source=m365-activity/content_type=Audit.Exchange/dt=2024-03-04/hour=05/"
            )
        );
        assert_eq!(
            state_pk(&StreamKey::new(
                "t",
                Source::EntraSignIns,
                Some(Stream::SignIn(SignInKind::InteractiveUser))
            )),
            "t#entra-sign-ins#interactiveUser"
        );
        assert_eq!(
            event_pk(Source::IntuneAudit, t),
            "intune-audit#2024-03-04T05"
        );
    }
}
