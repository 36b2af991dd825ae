-- Failed sign-ins by user and country: users with at least min_failures failed sign-ins from one
-- country between two event dates (inclusive), most failures first.
-- @param start_date date
-- @param end_date date
-- @param min_failures integer
SELECT
  user_upn,
  country,
  count(*) AS failures,
  count(DISTINCT client_ip) AS ips,
  min(time) AS first_seen,
  max(time) AS last_seen
FROM sign_ins
WHERE dt BETWEEN ? AND ?
  AND result = 'failure'
GROUP BY user_upn, country
HAVING count(*) >= ?
ORDER BY failures DESC, user_upn, country
