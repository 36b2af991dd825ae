-- Impossible-travel candidates: consecutive successful sign-ins of one user from two places whose
-- great-circle distance (km) over the time between them exceeds max_kmh.
-- @param start_date date
-- @param end_date date
-- @param max_kmh integer
WITH located AS (
  SELECT user_upn, time, country, city, lat, lon,
         lag(time) OVER (PARTITION BY user_upn ORDER BY time) AS prev_time,
         lag(country) OVER (PARTITION BY user_upn ORDER BY time) AS prev_country,
         lag(lat) OVER (PARTITION BY user_upn ORDER BY time) AS prev_lat,
         lag(lon) OVER (PARTITION BY user_upn ORDER BY time) AS prev_lon
  FROM sign_ins
  WHERE dt BETWEEN ? AND ?
    AND result = 'success'
    AND lat IS NOT NULL AND lon IS NOT NULL
),
legs AS (
  SELECT user_upn, prev_time, time, prev_country, country,
         2 * 6371 * asin(sqrt(
           power(sin(radians(lat - prev_lat) / 2), 2)
           + cos(radians(prev_lat)) * cos(radians(lat)) * power(sin(radians(lon - prev_lon) / 2), 2)
         )) AS km,
         greatest(date_diff('second', prev_time, time), 1) AS secs
  FROM located
  WHERE prev_time IS NOT NULL
)
SELECT user_upn, prev_country AS from_country, country AS to_country,
       prev_time AS from_time, time AS to_time,
       round(km) AS km, round(km * 3600 / secs) AS kmh
FROM legs
WHERE km * 3600 / secs > ?
ORDER BY user_upn, to_time
