-- DLP matches by policy: Data Loss Prevention rule matches from the Management Activity API,
-- counted per policy and workload, with the number of distinct users.
-- @param start_date date
-- @param end_date date
SELECT
  json_extract_scalar(details, '$.policies[0].name') AS policy,
  service,
  count(*) AS matches,
  count(DISTINCT lower(coalesce(actor_upn, actor_id))) AS users
FROM events
WHERE dt BETWEEN ? AND ?
  AND source = 'm365-activity'
  AND (stream = 'DLP.All' OR operation LIKE 'Dlp%')
GROUP BY 1, 2
ORDER BY matches DESC, policy, service
