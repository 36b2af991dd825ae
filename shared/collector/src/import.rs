//! `auditlake import`: loads exports an admin already has (Graph list responses, JSON arrays,
//! NDJSON, and for Entra logs Azure Monitor diagnostic-settings exports) through the same path as
//! a pull ([`PageWriter`]: raw to S3, normalize, quarantine, dedupe), so history Microsoft no
//! longer keeps can be backfilled, and importing the same file twice stores nothing new. Imported
//! events reach the curated Parquet layer too ([`lake`]), so Athena sees them. Files are
//! read on a blocking thread and streamed in batches, so a file of any size runs in bounded memory.

use chrono::TimeDelta;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use crate::pipeline::{PageCounts, PageWriter};
use domain::model::Source;
use domain::normalize::{accepts_envelope, input};
use domain::store::{EventStore, RawStore, StoreError};
use runtime::clock::Clock;

/// Records written per batch (one raw object each).
pub const BATCH: usize = 500;

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error(
        "{position}: this is an Azure Monitor diagnostic-settings record, and the export of {for_source} has another schema; import Graph list responses, JSON arrays or NDJSON instead"
    )]
    EnvelopeUnsupported {
        position: String,
        for_source: Source,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an import did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    pub records: u64,
    pub new: u64,
    pub duplicates: u64,
    pub quarantined: u64,
    pub raw_objects: u64,
    pub raw_bytes: u64,
}

impl ImportSummary {
    fn add(&mut self, c: &PageCounts) {
        self.records += c.pulled;
        self.new += c.new;
        self.duplicates += c.duplicates;
        self.quarantined += c.quarantined;
        self.raw_objects += c.raw_objects;
        self.raw_bytes += c.raw_bytes;
    }
}

/// The stores an import writes to, as a pull's: `events` wrapped by the curated writer, so
/// imported history reaches the Parquet layer Athena and the hunting queries read, as pulled
/// history does (`app::Ports::aws` wraps the pullers' the same way).
pub fn lake(
    raw: std::sync::Arc<dyn RawStore>,
    events: std::sync::Arc<dyn EventStore>,
) -> (std::sync::Arc<dyn RawStore>, std::sync::Arc<dyn EventStore>) {
    let curated = crate::curated::CuratingEventStore::wrap(events, raw.clone());
    (raw, curated)
}

/// Where imported records go.
pub struct Target<'a> {
    pub tenant_id: &'a str,
    pub source: Source,
    pub raw: &'a dyn RawStore,
    pub events: &'a dyn EventStore,
    pub clock: &'a dyn Clock,
    pub hot_retention: TimeDelta,
}

enum Msg {
    Record(Box<RawValue>),
    Envelope(Box<RawValue>),
    Invalid { position: String, reason: String },
}

/// Imports one file (or stdin, named `name`) into `target`; `progress` is called after every
/// batch with the running totals and `problems` with each record that could not be read.
pub async fn import_reader<R: std::io::Read + Send + 'static>(
    target: &Target<'_>,
    reader: R,
    name: String,
    progress: &mut dyn FnMut(&ImportSummary),
    problems: &mut dyn FnMut(&str, &str),
) -> Result<ImportSummary, ImportError> {
    let run_id = format!("import-{}", uuid::Uuid::new_v4().simple());
    let (tx, mut rx) = mpsc::channel::<Msg>(BATCH * 2);
    let file = name.clone();
    let reading = tokio::task::spawn_blocking(move || {
        input::read(reader, &file, &mut |item| {
            let msg = match item {
                input::Item::Record { raw, .. } => Msg::Record(raw),
                input::Item::Envelope { raw, .. } => Msg::Envelope(raw),
                input::Item::Invalid { position, reason } => Msg::Invalid { position, reason },
            };
            // A closed channel means the writer stopped on an error it reports itself.
            let _ = tx.blocking_send(msg);
        })
    });

    let mut summary = ImportSummary::default();
    let mut seq = 0u64;
    let (mut records, mut envelopes) = (Vec::new(), Vec::new());
    let mut envelope_position = 0u64;
    loop {
        let msg = rx.recv().await;
        let done = msg.is_none();
        match msg {
            Some(Msg::Record(r)) => records.push(r),
            Some(Msg::Envelope(r)) => {
                envelope_position += 1;
                if !accepts_envelope(target.source) {
                    return Err(ImportError::EnvelopeUnsupported {
                        position: format!("{name}: record {envelope_position}"),
                        for_source: target.source,
                    });
                }
                envelopes.push(r)
            }
            Some(Msg::Invalid { position, reason }) => {
                summary.quarantined += 1;
                problems(&position, &reason);
            }
            None => {}
        }
        for (batch, envelope) in [(&mut records, false), (&mut envelopes, true)] {
            if batch.len() >= BATCH || (done && !batch.is_empty()) {
                let writer = PageWriter {
                    tenant_id: target.tenant_id,
                    source: target.source,
                    stream: None,
                    run_id: &run_id,
                    raw: target.raw,
                    events: target.events,
                    clock: target.clock,
                    hot_retention: target.hot_retention,
                    envelope,
                };
                let mut counts = PageCounts::default();
                writer
                    .store(&mut seq, std::mem::take(batch), &mut counts)
                    .await?;
                summary.add(&counts);
                progress(&summary);
            }
        }
        if done {
            break;
        }
    }
    match reading.await {
        Ok(Ok(())) => Ok(summary),
        Ok(Err(e)) => Err(ImportError::Read {
            file: name,
            source: e,
        }),
        Err(e) => Err(ImportError::Read {
            file: name,
            source: std::io::Error::other(e.to_string()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use testkit::clock::ManualClock;
    use testkit::memory::{MemoryEventStore, MemoryRawStore};

    fn record(i: usize) -> String {
        format!(
            r#"{{"id":"imp-{i}","activityDateTime":"2024-01-01T00:00:{:02}Z","activityDisplayName":"Add user","initiatedBy":{{"user":null,"app":null}}}}"#,
            i % 60
        )
    }

    #[tokio::test]
    async fn importing_twice_stores_each_record_once_and_quarantines_bad_lines() {
        let raw = MemoryRawStore::default();
        let events = MemoryEventStore::default();
        let clock = ManualClock::new(Utc::now());
        let target = Target {
            tenant_id: "t",
            source: Source::EntraDirectoryAudits,
            raw: &raw,
            events: &events,
            clock: &clock,
            hot_retention: TimeDelta::days(90),
        };
        let mut text: String = (0..1200).map(|i| record(i) + "\n").collect();
        text.push_str("{not json\n");
        text.push_str("{\"id\":\"no-time\",\"activityDisplayName\":\"Add user\"}\n");
        let mut batches = 0;
        let mut bad = Vec::new();
        let first = import_reader(
            &target,
            std::io::Cursor::new(text.clone()),
            "f".into(),
            &mut |_| batches += 1,
            &mut |p, _| bad.push(p.to_string()),
        )
        .await
        .unwrap();
        assert_eq!(
            first.records, 1201,
            "the record without a time is read, then quarantined"
        );
        assert_eq!(first.new, 1200);
        assert_eq!(first.quarantined, 2);
        assert_eq!(first.raw_objects, 3, "batches of {BATCH}");
        assert_eq!(batches, 3);
        assert_eq!(bad, vec!["f:line 1201".to_string()]);
        assert_eq!(events.len(), 1200);
        let again = import_reader(
            &target,
            std::io::Cursor::new(text),
            "f".into(),
            &mut |_| {},
            &mut |_, _| {},
        )
        .await
        .unwrap();
        assert_eq!((again.new, again.duplicates), (0, 1200));
        assert_eq!(events.len(), 1200);
        assert!(
            !raw.list("quarantine/source=entra-directory-audits/")
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn imported_events_reach_the_curated_layer() {
        use std::sync::Arc;
        let memory_raw = Arc::new(MemoryRawStore::default());
        let memory_events = Arc::new(MemoryEventStore::default());
        let (raw, events) = lake(memory_raw.clone(), memory_events.clone());
        let clock = ManualClock::new(Utc::now());
        let target = Target {
            tenant_id: "t",
            source: Source::EntraDirectoryAudits,
            raw: raw.as_ref(),
            events: events.as_ref(),
            clock: &clock,
            hot_retention: TimeDelta::days(90),
        };
        let text: String = (0..10).map(|i| record(i) + "\n").collect();
        let s = import_reader(
            &target,
            std::io::Cursor::new(text),
            "f".into(),
            &mut |_| {},
            &mut |_, _| {},
        )
        .await
        .unwrap();
        assert_eq!(s.new, 10);
        assert_eq!(memory_events.len(), 10);
        let curated = memory_raw
            .list("curated/source=entra-directory-audits/dt=2024-01-01/")
            .await
            .unwrap();
        assert!(!curated.is_empty(), "no curated Parquet for the import");
        let body = memory_raw.get(&curated[0]).await.unwrap();
        assert_eq!(&body[..4], b"PAR1", "a Parquet file");
    }

    #[tokio::test]
    async fn an_export_with_another_schema_is_refused() {
        let raw = MemoryRawStore::default();
        let events = MemoryEventStore::default();
        let clock = ManualClock::new(Utc::now());
        let target = Target {
            tenant_id: "t",
            source: Source::IntuneAudit,
            raw: &raw,
            events: &events,
            clock: &clock,
            hot_retention: TimeDelta::days(90),
        };
        let line = "{\"operationName\":\"x\",\"properties\":{\"id\":\"1\"}}\n";
        let err = import_reader(
            &target,
            std::io::Cursor::new(line.to_string()),
            "f".into(),
            &mut |_| {},
            &mut |_, _| {},
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, ImportError::EnvelopeUnsupported { .. }),
            "{err}"
        );
        assert!(events.is_empty());
    }
}
