//! The curated layer: normalized events as Parquet in S3 under
//! `curated/source=<s>/dt=<event date>/<written>-<batch>.parquet`, the table Athena counts.
//!
//! Exactly once in Athena: every page's normalized events are written here *before* the
//! DynamoDB conditional put marks them as seen ([`CuratingEventStore`] wraps the event store, so
//! the pipeline is unchanged). A crash between the two therefore never loses a curated copy: the
//! chunk is not durable, the next run pulls it again and writes it again. The price is that an
//! event pulled twice (window overlap, a retried chunk) has two Parquet rows; the `events` view
//! (`infra/athena/views/00_events.sql`) keeps the first row per `id` (partitioned by
//! `source, dt, id`, so a filter on `dt` still prunes partitions), and every view and hunting
//! query reads that view, never `curated_events` directly. Compaction can later rewrite a day
//! without the duplicates; the view stays correct either way.
//!
//! Schema (stable; documented in ARCHITECTURE.md): flat columns, one per contract field, with
//! `actor` and `location` flattened, `targets`, `details`, `raw` and `raw_ref` as JSON strings,
//! `time` and `ingested_at` as `TIMESTAMP(MILLIS, UTC)`. `source` and `dt` are partition
//! columns only (Athena forbids a column that is also a partition key).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parquet::basic::{Compression, ZstdLevel};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

use domain::model::{AuditEvent, Source};
use domain::store::{EventStore, RawStore, StoreError, StoredEvent};

/// The Parquet schema of one curated file, in column order.
pub const SCHEMA: &str = "message audit_event {
  REQUIRED BYTE_ARRAY id (STRING);
  OPTIONAL BYTE_ARRAY record_id (STRING);
  OPTIONAL BYTE_ARRAY stream (STRING);
  REQUIRED BYTE_ARRAY tenant_id (STRING);
  REQUIRED INT64 time (TIMESTAMP(MILLIS,true));
  OPTIONAL BYTE_ARRAY service (STRING);
  OPTIONAL BYTE_ARRAY category (STRING);
  REQUIRED BYTE_ARRAY operation (STRING);
  REQUIRED BYTE_ARRAY result (STRING);
  OPTIONAL BYTE_ARRAY result_reason (STRING);
  REQUIRED BYTE_ARRAY actor_kind (STRING);
  OPTIONAL BYTE_ARRAY actor_id (STRING);
  OPTIONAL BYTE_ARRAY actor_upn (STRING);
  OPTIONAL BYTE_ARRAY actor_name (STRING);
  OPTIONAL BYTE_ARRAY actor_app_id (STRING);
  REQUIRED BYTE_ARRAY targets (STRING);
  OPTIONAL BYTE_ARRAY client_ip (STRING);
  OPTIONAL BYTE_ARRAY user_agent (STRING);
  OPTIONAL BYTE_ARRAY location_city (STRING);
  OPTIONAL BYTE_ARRAY location_state (STRING);
  OPTIONAL BYTE_ARRAY location_country (STRING);
  OPTIONAL DOUBLE location_lat;
  OPTIONAL DOUBLE location_lon;
  REQUIRED BYTE_ARRAY details (STRING);
  REQUIRED BYTE_ARRAY dedupe_key (STRING);
  REQUIRED INT64 ingested_at (TIMESTAMP(MILLIS,true));
  OPTIONAL BYTE_ARRAY raw (STRING);
  OPTIONAL BYTE_ARRAY raw_ref (STRING);
}";

/// Where curated objects live.
pub const PREFIX: &str = "curated/";

/// S3 key of one curated object: partitioned by source and *event* date.
pub fn curated_key(source: Source, dt: &str, written: DateTime<Utc>, batch: &str) -> String {
    format!(
        "{PREFIX}source={}/dt={dt}/{}-{batch}.parquet",
        source.name(),
        written.format("%Y%m%dT%H%M%SZ"),
    )
}

/// The event-date partition of an event (`YYYY-MM-DD`, UTC).
pub fn event_dt(event: &AuditEvent) -> String {
    event.time.format("%Y-%m-%d").to_string()
}

enum Col {
    Text(Vec<Option<String>>),
    Millis(Vec<i64>),
    Float(Vec<Option<f64>>),
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn columns(events: &[&AuditEvent]) -> Vec<Col> {
    let text = |f: &dyn Fn(&AuditEvent) -> Option<String>| {
        Col::Text(events.iter().map(|e| f(e)).collect())
    };
    let loc = |e: &AuditEvent| e.location.clone().unwrap_or_default();
    vec![
        text(&|e| Some(e.id.clone())),
        text(&|e| e.record_id.clone()),
        text(&|e| e.stream.clone()),
        text(&|e| Some(e.tenant_id.clone())),
        Col::Millis(events.iter().map(|e| e.time.timestamp_millis()).collect()),
        text(&|e| e.service.clone()),
        text(&|e| e.category.clone()),
        text(&|e| Some(e.operation.clone())),
        text(&|e| Some(e.result.as_str().to_string())),
        text(&|e| e.result_reason.clone()),
        text(&|e| Some(json(&e.actor.kind).trim_matches('"').to_string())),
        text(&|e| e.actor.id.clone()),
        text(&|e| e.actor.upn.clone()),
        text(&|e| e.actor.name.clone()),
        text(&|e| e.actor.app_id.clone()),
        text(&|e| Some(json(&e.targets))),
        text(&|e| e.client_ip.clone()),
        text(&|e| e.user_agent.clone()),
        text(&|e| loc(e).city),
        text(&|e| loc(e).state),
        text(&|e| loc(e).country),
        Col::Float(events.iter().map(|e| loc(e).lat).collect()),
        Col::Float(events.iter().map(|e| loc(e).lon).collect()),
        text(&|e| Some(json(&e.details))),
        text(&|e| Some(e.dedupe_key.clone())),
        Col::Millis(
            events
                .iter()
                .map(|e| e.ingested_at.timestamp_millis())
                .collect(),
        ),
        text(&|e| e.raw.as_ref().map(|r| r.get().to_string())),
        text(&|e| e.raw_ref.as_ref().map(json)),
    ]
}

fn parquet_err(e: parquet::errors::ParquetError) -> StoreError {
    StoreError::backend("parquet", "curated object", e)
}

/// Encodes events as one Parquet file (one row group, zstd pages at level 3: 42% smaller than
/// Snappy over the simulator's events, BENCHMARKS.md).
pub fn encode(events: &[&AuditEvent]) -> Result<Vec<u8>, StoreError> {
    let schema = Arc::new(parse_message_type(SCHEMA).map_err(parquet_err)?);
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
            .set_created_by("auditlake".into())
            .build(),
    );
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, props).map_err(parquet_err)?;
    let mut group = writer.next_row_group().map_err(parquet_err)?;
    let mut cols = columns(events).into_iter();
    while let Some(mut col) = group.next_column().map_err(parquet_err)? {
        let Some(data) = cols.next() else {
            return Err(parquet_err(parquet::errors::ParquetError::General(
                "schema has more columns than the writer".into(),
            )));
        };
        match data {
            Col::Text(values) => {
                let defs: Vec<i16> = values.iter().map(|v| v.is_some() as i16).collect();
                let present: Vec<ByteArray> = values
                    .into_iter()
                    .flatten()
                    .map(|s| ByteArray::from(s.into_bytes()))
                    .collect();
                col.typed::<ByteArrayType>()
                    .write_batch(&present, Some(&defs), None)
                    .map_err(parquet_err)?;
            }
            Col::Millis(values) => {
                col.typed::<Int64Type>()
                    .write_batch(&values, None, None)
                    .map_err(parquet_err)?;
            }
            Col::Float(values) => {
                let defs: Vec<i16> = values.iter().map(|v| v.is_some() as i16).collect();
                let present: Vec<f64> = values.into_iter().flatten().collect();
                col.typed::<DoubleType>()
                    .write_batch(&present, Some(&defs), None)
                    .map_err(parquet_err)?;
            }
        }
        col.close().map_err(parquet_err)?;
    }
    group.close().map_err(parquet_err)?;
    writer.into_inner().map_err(parquet_err)
}

/// The curated-layer port: receives normalized events before they are marked as seen.
#[async_trait]
pub trait CuratedSink: Send + Sync {
    async fn write(&self, events: &[&AuditEvent]) -> Result<(), StoreError>;
}

/// Writes curated Parquet objects through a [`RawStore`] (the S3 adapter in AWS, the memory
/// adapter in tests): one object per source and event date in each batch, named after the
/// batch's ingestion time and a random batch id (never overwritten).
pub struct ObjectCuratedSink {
    pub objects: Arc<dyn RawStore>,
}

#[async_trait]
impl CuratedSink for ObjectCuratedSink {
    async fn write(&self, events: &[&AuditEvent]) -> Result<(), StoreError> {
        let mut groups: BTreeMap<(Source, String), Vec<&AuditEvent>> = BTreeMap::new();
        for e in events {
            groups.entry((e.source, event_dt(e))).or_default().push(e);
        }
        for ((source, dt), group) in groups {
            let written = group
                .iter()
                .map(|e| e.ingested_at)
                .max()
                .unwrap_or_default();
            let batch = uuid::Uuid::new_v4().simple().to_string();
            let key = curated_key(source, &dt, written, &batch);
            self.objects.put(&key, encode(&group)?).await?;
        }
        Ok(())
    }
}

/// An [`EventStore`] that writes every batch to the curated layer first, then delegates. Plugged
/// in where the event store is built; the pipeline does not know it exists.
pub struct CuratingEventStore {
    pub inner: Arc<dyn EventStore>,
    pub sink: Arc<dyn CuratedSink>,
}

impl CuratingEventStore {
    /// Wraps `inner` so every batch is first written as Parquet through `objects`.
    pub fn wrap(inner: Arc<dyn EventStore>, objects: Arc<dyn RawStore>) -> Arc<dyn EventStore> {
        Arc::new(CuratingEventStore {
            inner,
            sink: Arc::new(ObjectCuratedSink { objects }),
        })
    }
}

#[async_trait]
impl EventStore for CuratingEventStore {
    async fn put_new(&self, events: Vec<StoredEvent>) -> Result<Vec<bool>, StoreError> {
        let refs: Vec<&AuditEvent> = events.iter().map(|s| &s.event).collect();
        if !refs.is_empty() {
            self.sink.write(&refs).await?;
        }
        self.inner.put_new(events).await
    }

    async fn get(&self, id: &str) -> Result<Option<AuditEvent>, StoreError> {
        self.inner.get(id).await
    }

    async fn list_by_time(
        &self,
        source: Source,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        self.inner.list_by_time(source, start, end).await
    }

    async fn flush(&self) {
        self.inner.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn curated_keys_partition_by_event_date() {
        let t = Utc.with_ymd_and_hms(2024, 3, 4, 5, 6, 7).unwrap();
        assert_eq!(
            curated_key(Source::EntraSignIns, "2024-03-01", t, "b1"),
            "curated/source=entra-sign-ins/dt=2024-03-01/20240304T050607Z-b1.parquet"
        );
    }

    #[test]
    fn schema_parses_and_matches_the_writer() {
        let schema = parse_message_type(SCHEMA).unwrap();
        assert_eq!(schema.get_fields().len(), columns(&[]).len());
        let bytes = encode(&[]).unwrap();
        assert_eq!(&bytes[..4], b"PAR1");
    }
}

/// The Athena tables' partition projection, checked against the keys the code writes.
#[cfg(test)]
mod projection {
    use std::collections::HashMap;

    use chrono::TimeZone;

    use super::*;
    use domain::store::keys;

    fn ddl(file: &str) -> String {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../infra/athena/tables")
            .join(file);
        std::fs::read_to_string(path).unwrap()
    }

    /// The `'key' = 'value'` pairs of TBLPROPERTIES.
    fn props(ddl: &str) -> HashMap<String, String> {
        let body = ddl.split("TBLPROPERTIES").nth(1).unwrap();
        body.lines()
            .filter_map(|l| {
                let (k, v) = l.trim().trim_end_matches(',').split_once(" = ")?;
                Some((k.trim_matches('\'').into(), v.trim_matches('\'').into()))
            })
            .collect()
    }

    /// Fills `storage.location.template` for the given partition values (bucket `b`), then
    /// checks `key` lies directly under it and every value is allowed by the projection.
    fn check(p: &HashMap<String, String>, key: &str, values: &[(&str, String)]) {
        let mut prefix = p["storage.location.template"].replace("${bucket}", "b");
        for (col, v) in values {
            match p[&format!("projection.{col}.type")].as_str() {
                "enum" => assert!(
                    p[&format!("projection.{col}.values")]
                        .split(',')
                        .any(|x| x == v),
                    "{col}={v} not in the enum"
                ),
                "date" => {
                    assert_eq!(p[&format!("projection.{col}.format")], "yyyy-MM-dd");
                    assert!(chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok());
                    let (lo, hi) = p[&format!("projection.{col}.range")]
                        .split_once(',')
                        .unwrap();
                    assert!(lo <= v.as_str() && hi == "NOW", "{col} range");
                    assert_eq!(p[&format!("projection.{col}.interval.unit")], "DAYS");
                }
                "integer" => {
                    let digits: usize = p[&format!("projection.{col}.digits")].parse().unwrap();
                    assert_eq!(v.len(), digits, "{col} digits");
                    let n: u32 = v.parse().unwrap();
                    assert_eq!(p[&format!("projection.{col}.range")], "0,23");
                    assert!(n <= 23);
                }
                other => panic!("unexpected projection type {other}"),
            }
            prefix = prefix.replace(&format!("${{{col}}}"), v);
        }
        assert!(!prefix.contains("${"), "unfilled template {prefix}");
        let full = format!("s3://b/{key}");
        let rest = full
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{full} is not under {prefix}"));
        assert!(!rest.contains('/'), "{full}: extra folders under {prefix}");
        assert_eq!(p["projection.enabled"], "true");
    }

    #[test]
    fn raw_and_curated_projection_match_the_keys_written() {
        let t = Utc.with_ymd_and_hms(2024, 3, 4, 5, 6, 7).unwrap();
        let graph = props(&ddl("raw_events.sql"));
        let activity = props(&ddl("raw_activity_events.sql"));
        let curated = props(&ddl("curated_events.sql"));
        let partition = |s: Source| {
            vec![
                ("source", s.name().to_string()),
                ("dt", "2024-03-04".to_string()),
                ("hour", "05".to_string()),
            ]
        };
        for source in Source::ALL {
            if source == Source::M365Activity {
                for ct in [
                    "Audit.AzureActiveDirectory",
                    "Audit.Exchange",
                    "Audit.SharePoint",
                    "Audit.General",
                    "DLP.All",
                ] {
                    let key = keys::raw_key(source, Some(ct), t, "r", 1);
                    let mut values = partition(source);
                    values.insert(1, ("content_type", ct.to_string()));
                    check(&activity, &key, &values);
                }
                assert!(!graph["projection.source.values"].contains(source.name()));
            } else {
                check(
                    &graph,
                    &keys::raw_key(source, None, t, "r", 1),
                    &partition(source),
                );
            }
            let key = curated_key(source, "2024-03-01", t, "b");
            check(
                &curated,
                &key,
                &[
                    ("source", source.name().to_string()),
                    ("dt", "2024-03-01".to_string()),
                ],
            );
        }
    }

    #[test]
    fn the_curated_table_declares_the_parquet_columns_in_order() {
        let text = ddl("curated_events.sql");
        let cols = text
            .split_once("curated_events (")
            .unwrap()
            .1
            .split_once(")\nPARTITIONED")
            .unwrap()
            .0;
        let declared: Vec<&str> = cols
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(|c| c.trim_matches('`'))
            .collect();
        let schema = parse_message_type(SCHEMA).unwrap();
        let written: Vec<&str> = schema.get_fields().iter().map(|f| f.name()).collect();
        assert_eq!(declared, written);
    }
}
