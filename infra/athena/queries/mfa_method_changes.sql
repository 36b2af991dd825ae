-- MFA method changes: security info (authentication methods) registered, changed or deleted,
-- by the user or by an admin, and StrongAuthentication property updates.
-- @param start_date date
-- @param end_date date
SELECT
  time,
  actor,
  target_name AS user_changed,
  operation,
  result
FROM directory_changes
WHERE dt BETWEEN ? AND ?
  AND (lower(operation) LIKE '%security info%'
       OR lower(operation) LIKE '%authentication method%'
       OR details LIKE '%StrongAuthentication%')
ORDER BY time
