-- Admin role assignments: members added to directory roles (active or eligible), from Entra's
-- directory audits and the Management Activity API.
-- @param start_date date
-- @param end_date date
SELECT
  time,
  actor,
  operation,
  target_name AS assignee,
  coalesce(
    json_extract_scalar(details, '$.role_name'),
    json_extract_scalar(targets, '$[1].name')
  ) AS role,
  result
FROM directory_changes
WHERE dt BETWEEN ? AND ?
  AND (operation LIKE 'Add member to role%' OR operation LIKE 'Add eligible member to role%'
       OR operation LIKE 'Add scoped member to role%')
ORDER BY time
