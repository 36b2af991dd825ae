-- The curated layer: normalized events (the AuditEvent contract, flattened) as Parquet under
-- curated/source=<s>/dt=<event date>/, written by the pullers before DynamoDB marks an event as
-- seen. A re-pulled event can have two rows: count through the `events` view, which keeps one
-- row per id. Partition projection over source and dt: no crawler, no MSCK REPAIR.
-- `${database}` and `${bucket}` are substituted by the deploy step (scripts/athena-ddl). `time` is
-- quoted because TIME is reserved in Athena DDL.
CREATE EXTERNAL TABLE IF NOT EXISTS ${database}.curated_events (
  id string,
  record_id string,
  stream string,
  tenant_id string,
  `time` timestamp,
  service string,
  category string,
  operation string,
  result string,
  result_reason string,
  actor_kind string,
  actor_id string,
  actor_upn string,
  actor_name string,
  actor_app_id string,
  targets string,
  client_ip string,
  user_agent string,
  location_city string,
  location_state string,
  location_country string,
  location_lat double,
  location_lon double,
  details string,
  dedupe_key string,
  ingested_at timestamp,
  raw string,
  raw_ref string
)
PARTITIONED BY (source string, dt string)
STORED AS PARQUET
LOCATION 's3://${bucket}/curated/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.source.type' = 'enum',
  'projection.source.values' = 'entra-directory-audits,entra-sign-ins,intune-audit,exchange-message-trace,entra-risk-detections,entra-provisioning,defender-alerts,m365-activity',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = '2020-01-01,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://${bucket}/curated/source=${source}/dt=${dt}/',
  'parquet.compression' = 'ZSTD'
);
