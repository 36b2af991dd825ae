-- sign_ins: every sign-in, from Entra's sign-in logs and from the Management Activity API's
-- Azure AD logon records, one row each, with the user lowercased and the location flattened.
CREATE OR REPLACE VIEW sign_ins AS
SELECT
  id,
  source,
  stream,
  dt,
  time,
  lower(coalesce(actor_upn, actor_id)) AS user_upn,
  result,
  result_reason,
  location_country AS country,
  location_city AS city,
  location_lat AS lat,
  location_lon AS lon,
  client_ip,
  user_agent,
  json_extract_scalar(details, '$.app_display_name') AS app,
  json_extract_scalar(details, '$.failure_reason') AS failure_reason
FROM events
WHERE source = 'entra-sign-ins'
   OR (source = 'm365-activity' AND operation IN ('UserLoggedIn', 'UserLoginFailed'))
