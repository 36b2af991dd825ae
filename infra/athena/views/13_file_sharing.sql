-- file_sharing: SharePoint and OneDrive file activity (access, download, sharing, links) from the
-- Management Activity API, with the file, site and sharing target flattened.
CREATE OR REPLACE VIEW file_sharing AS
SELECT
  id,
  dt,
  time,
  service,
  operation,
  result,
  lower(coalesce(actor_upn, actor_id)) AS actor,
  client_ip,
  json_extract_scalar(details, '$.site_url') AS site_url,
  json_extract_scalar(details, '$.file_name') AS file_name,
  json_extract_scalar(details, '$.object_url') AS object_url,
  json_extract_scalar(details, '$.target_user_or_group_name') AS shared_with,
  json_extract_scalar(details, '$.target_user_or_group_type') AS shared_with_type,
  details
FROM events
WHERE source = 'm365-activity' AND service IN ('SharePoint', 'OneDrive')
