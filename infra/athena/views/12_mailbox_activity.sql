-- mailbox_activity: Exchange admin and mailbox audit records from the Management Activity API
-- (inbox rules, mailbox permissions, item access), with the cmdlet parameters as a JSON object.
CREATE OR REPLACE VIEW mailbox_activity AS
SELECT
  id,
  dt,
  time,
  operation,
  result,
  lower(coalesce(actor_upn, actor_id)) AS actor,
  lower(coalesce(json_extract_scalar(details, '$.mailbox_owner_upn'), actor_upn)) AS mailbox,
  client_ip,
  json_extract_scalar(details, '$.client_info') AS client_info,
  json_extract_scalar(details, '$.item_subject') AS item_subject,
  json_extract_scalar(details, '$.folder') AS folder,
  json_format(json_extract(details, '$.parameters')) AS parameters,
  details
FROM events
WHERE source = 'm365-activity' AND service = 'Exchange'
