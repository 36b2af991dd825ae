-- directory_changes: changes to the Entra directory (users, groups, roles, apps, policies), from
-- Entra's directory audit log and the Management Activity API's Azure AD records (logons excluded).
CREATE OR REPLACE VIEW directory_changes AS
SELECT
  id,
  source,
  dt,
  time,
  service,
  category,
  operation,
  result,
  lower(coalesce(actor_upn, actor_id, actor_app_id)) AS actor,
  actor_app_id,
  json_extract_scalar(targets, '$[0].name') AS target_name,
  json_extract_scalar(targets, '$[0].id') AS target_id,
  targets,
  details
FROM events
WHERE source = 'entra-directory-audits'
   OR (source = 'm365-activity' AND stream = 'Audit.AzureActiveDirectory'
       AND operation NOT IN ('UserLoggedIn', 'UserLoginFailed'))
