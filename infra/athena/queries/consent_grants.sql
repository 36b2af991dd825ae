-- Consent grants to applications: users or admins consenting to an app (delegated or application
-- permissions), with the app and whether it was an admin consent.
-- @param start_date date
-- @param end_date date
SELECT
  time,
  actor,
  target_name AS app,
  target_id AS app_object_id,
  operation,
  result
FROM directory_changes
WHERE dt BETWEEN ? AND ?
  AND (operation LIKE 'Consent to application%' OR operation LIKE 'Add delegated permission grant%'
       OR operation LIKE 'Add app role assignment to service principal%')
ORDER BY time
