//! Shared helpers: the repository's paths and records normalized the way the pipeline does.

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use domain::model::{AuditEvent, Source};
use domain::normalize::{Context, normalize};
use serde_json::Value;
use serde_json::value::RawValue;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Normalizes `records` of `source` (in `stream`), as a pull would; panics naming the record
/// that does not normalize, since a case record must.
pub fn events(source: Source, stream: Option<&str>, records: &[Value]) -> Vec<(AuditEvent, Value)> {
    let ctx = Context {
        tenant_id: "00000000-0000-4000-8000-000000000001",
        stream,
        ingested_at: Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
    };
    records
        .iter()
        .map(|r| {
            let raw = RawValue::from_string(r.to_string()).unwrap();
            let e = normalize(source, &raw, ctx)
                .unwrap_or_else(|err| panic!("record does not normalize ({err}): {r}"));
            (e, r.clone())
        })
        .collect()
}

/// Loads rule files, panicking with every problem listed.
pub fn load<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> detect::RuleSet {
    detect::RuleSet::load(files).unwrap_or_else(|e| {
        panic!(
            "{}",
            e.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}
