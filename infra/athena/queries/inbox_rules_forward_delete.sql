-- Inbox rules that forward, redirect or delete mail: New-InboxRule / Set-InboxRule with a
-- forwarding, redirect or delete parameter, with the destination.
-- @param start_date date
-- @param end_date date
SELECT
  time,
  actor,
  mailbox,
  operation,
  json_extract_scalar(details, '$.parameters.Name') AS rule_name,
  coalesce(
    json_extract_scalar(details, '$.parameters.ForwardTo'),
    json_extract_scalar(details, '$.parameters.ForwardAsAttachmentTo'),
    json_extract_scalar(details, '$.parameters.RedirectTo')
  ) AS forwards_to,
  coalesce(
    json_extract_scalar(details, '$.parameters.DeleteMessage') = 'True',
    json_extract_scalar(details, '$.parameters.SoftDeleteMessage') = 'True',
    false
  ) AS deletes,
  client_ip
FROM mailbox_activity
WHERE dt BETWEEN ? AND ?
  AND operation IN ('New-InboxRule', 'Set-InboxRule', 'UpdateInboxRules')
  AND (
    json_extract_scalar(details, '$.parameters.ForwardTo') IS NOT NULL
    OR json_extract_scalar(details, '$.parameters.ForwardAsAttachmentTo') IS NOT NULL
    OR json_extract_scalar(details, '$.parameters.RedirectTo') IS NOT NULL
    OR json_extract_scalar(details, '$.parameters.DeleteMessage') = 'True'
    OR json_extract_scalar(details, '$.parameters.SoftDeleteMessage') = 'True'
  )
ORDER BY time
