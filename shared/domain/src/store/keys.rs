//! Key layouts for S3 and DynamoDB, as pure functions (ARCHITECTURE.md explains the choices).
//!
//! Events table (`AUDITLAKE_EVENTS_TABLE`), one item collection per event:
//! - `pk = <source>#<dedupe_key>`, `sk = "event"`: the event; its conditional put is the dedupe.
//! - `sk = "tags"` / `sk = "comment#<time>#<id>"`: annotations, never written by ingestion.
//! - index `by_time`: `tpk = <source>#<YYYY-MM-DDTHH>` (event hour), `ts = <time>#<id>`.
//! - index `by_actor`: `apk = <actor upn|id|app id, lowercased>`, `ts`.
//! - index `by_ip`: `ipk = <client ip>`, `ts`.
//!
//! - `pk = agg#<YYYY-MM-DD>`, `sk = <dimension>#<value>`: per-day counters bumped when an event is
//!   first inserted (the query API's filter options and summaries; approximate).
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

pub const EVENT_SK: &str = "event";
pub const TAGS_SK: &str = "tags";
pub const TIME_INDEX: &str = "by_time";
pub const ACTOR_INDEX: &str = "by_actor";
pub const IP_INDEX: &str = "by_ip";
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
    !s.is_empty()
        && s.len() <= MAX_DEDUPE_KEY_BYTES
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Base-table partition key of an event.
pub fn event_pk(source: Source, dedupe_key: &str) -> String {
    format!("{}#{dedupe_key}", source.name())
}

/// The event id (`<source>:<dedupe_key>`) as the API shows it.
pub fn event_id(source: Source, dedupe_key: &str) -> String {
    format!("{}:{dedupe_key}", source.name())
}

/// Splits an event id back into source and dedupe key; `None` unless the key is one
/// [`is_dedupe_key`] accepts (so no id reaching the store can exceed a key limit).
pub fn parse_event_id(id: &str) -> Option<(Source, &str)> {
    let (source, key) = id.split_once(':')?;
    let source = source.parse().ok()?;
    is_dedupe_key(key).then_some((source, key))
}

/// The hour bucket an event time falls in: `2024-01-02T03`.
pub fn hour_bucket(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H").to_string()
}

/// Partition key of the time index.
pub fn time_pk(source: Source, t: DateTime<Utc>) -> String {
    format!("{}#{}", source.name(), hour_bucket(t))
}

/// Sort key shared by all indexes: time order, ties broken by id.
pub fn time_sk(t: DateTime<Utc>, id: &str) -> String {
    format!("{}#{id}", fmt_time(t))
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

/// The dimensions counted per day, in the order the API lists them.
pub const AGGREGATE_DIMS: [&str; 5] = ["source", "service", "operation", "result", "actor"];

/// The counter bumps that inserting `events` (new ones only) makes: `(event day, dimension,
/// value) -> count`. The actor is its index value (UPN, else id, else app id), else its name.
/// Values are cut to 200 characters to keep keys small.
pub fn aggregate_counts<'a>(
    events: impl IntoIterator<Item = &'a AuditEvent>,
) -> BTreeMap<(NaiveDate, &'static str, String), u64> {
    fn cut(v: &str) -> String {
        v.chars().take(200).collect()
    }
    let mut out = BTreeMap::new();
    for e in events {
        let day = e.time.date_naive();
        let actor = e.actor.index_value().or_else(|| e.actor.name.clone());
        let values = [
            Some(e.source.name().to_string()),
            e.service.clone(),
            Some(e.operation.clone()),
            Some(e.result.as_str().to_string()),
            actor,
        ];
        for (dim, v) in AGGREGATE_DIMS.into_iter().zip(values) {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                *out.entry((day, dim, cut(&v))).or_insert(0) += 1;
            }
        }
    }
    out
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
    fn event_ids_round_trip() {
        let id = event_id(Source::EntraDirectoryAudits, "Directory_abc_X1_2");
        assert_eq!(id, "entra-directory-audits:Directory_abc_X1_2");
        assert_eq!(
            parse_event_id(&id),
            Some((Source::EntraDirectoryAudits, "Directory_abc_X1_2"))
        );
        assert_eq!(parse_event_id("nope:x"), None);
        assert_eq!(parse_event_id("entra-directory-audits:"), None);
    }

    #[test]
    fn event_ids_past_the_key_limits_or_outside_the_key_alphabet_are_not_ids() {
        // A dedupe key is at most 200 bytes, so no event id can reach DynamoDB's 2048-byte
        // partition-key limit; longer or odd ids are refused before any store is asked.
        let longest = "k".repeat(MAX_DEDUPE_KEY_BYTES);
        let id = event_id(Source::IntuneAudit, &longest);
        assert!(parse_event_id(&id).is_some());
        assert!(event_pk(Source::IntuneAudit, &longest).len() <= MAX_PARTITION_KEY_BYTES);
        assert!(time_sk(Utc::now(), &id).len() <= MAX_SORT_KEY_BYTES);
        let too_long = format!("intune-audit:{longest}k");
        assert_eq!(parse_event_id(&too_long), None);
        let huge = format!("intune-audit:{}", "k".repeat(3000));
        assert_eq!(parse_event_id(&huge), None);
        for odd in [
            "intune-audit:a b",
            "intune-audit:a#b",
            "intune-audit:a:b",
            "intune-audit:é",
        ] {
            assert_eq!(parse_event_id(odd), None, "{odd}");
        }
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
            time_pk(Source::IntuneAudit, t),
            "intune-audit#2024-03-04T05"
        );
    }
}
