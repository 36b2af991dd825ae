-- events: the curated layer with each event exactly once. A re-pulled event (window overlap, a
-- retried chunk) can have more than one Parquet row; this keeps the first one written per event.
-- The window is partitioned by source, dt and dedupe_key (one event always has the same source and
-- event date), so a filter on dt or source is pushed below it and still prunes partitions. The
-- dedupe key, not the id: event ids gained the event's second in the hot store's layout 2
-- (ARCHITECTURE.md, "Storage"), and rows written before and after that carry both forms.
-- Every other view and every hunting query reads this view, never curated_events directly.
CREATE OR REPLACE VIEW events AS
SELECT
  id, record_id, source, stream, tenant_id, time, dt, service, category, operation, result,
  result_reason, actor_kind, actor_id, actor_upn, actor_name, actor_app_id, targets, client_ip,
  user_agent, location_city, location_state, location_country, location_lat, location_lon,
  details, dedupe_key, ingested_at, raw, raw_ref
FROM (
  SELECT
    c.*,
    row_number() OVER (PARTITION BY c.source, c.dt, c.dedupe_key ORDER BY c.ingested_at) AS copy_no
  FROM curated_events c
) AS ranked
WHERE copy_no = 1
