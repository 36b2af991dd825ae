-- Sign-ins from a country new for the user: successful sign-ins between start_date and end_date
-- from a country the user had no successful sign-in from between baseline_start and the day
-- before start_date (a user with no successful sign-in in that baseline is not reported).
-- @param start_date date
-- @param end_date date
-- @param baseline_start date
-- @param baseline_start date
-- @param start_date date
SELECT
  s.user_upn,
  s.country,
  count(*) AS sign_ins,
  min(s.time) AS first_seen
FROM sign_ins s
WHERE s.dt BETWEEN ? AND ?
  AND s.result = 'success'
  AND s.country IS NOT NULL
  AND NOT EXISTS (
    SELECT 1
    FROM sign_ins b
    WHERE b.dt >= ? AND b.dt <= s.dt
      AND b.time < s.time
      AND b.result = 'success'
      AND b.user_upn = s.user_upn
      AND b.country = s.country
  )
  AND EXISTS (
    SELECT 1 FROM sign_ins h
    WHERE h.dt >= ? AND h.dt < ?
      AND h.user_upn = s.user_upn AND h.result = 'success'
  )
GROUP BY s.user_upn, s.country
ORDER BY s.user_upn, s.country
