-- The raw layer of the Graph sources: what Microsoft sent, one JSON record per line (gzip),
-- partitioned by *write* time under raw/source=<s>/dt=<YYYY-MM-DD>/hour=<HH>/ (the Management
-- API's content-type level lives in raw_activity_events). Overlaps included: never
-- use it for counts (use the `events` view). Partition projection: no crawler, no MSCK REPAIR.
-- `${database}` and `${bucket}` are substituted by the deploy step (scripts/athena-ddl).
CREATE EXTERNAL TABLE IF NOT EXISTS ${database}.raw_events (
  record string
)
PARTITIONED BY (source string, dt string, hour string)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe'
WITH SERDEPROPERTIES ('serialization.format' = '1', 'field.delim' = '\u0001')
STORED AS TEXTFILE
LOCATION 's3://${bucket}/raw/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.source.type' = 'enum',
  'projection.source.values' = 'entra-directory-audits,entra-sign-ins,intune-audit,exchange-message-trace,entra-risk-detections,entra-provisioning,defender-alerts',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = '2020-01-01,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'projection.hour.type' = 'integer',
  'projection.hour.range' = '0,23',
  'projection.hour.digits' = '2',
  'storage.location.template' = 's3://${bucket}/raw/source=${source}/dt=${dt}/hour=${hour}/'
);
