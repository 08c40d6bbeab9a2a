-- title: Trailer dwell time per yard and day
-- description: Trailers departed per yard and local day with their average and p90 dwell, in minutes.
-- param: site string required: the site id, e.g. DC-ATL
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- param: tz string default UTC: the site's time zone (IANA name), for local hours and days
-- example: site=DC-ATL from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z tz=America/New_York
SELECT date_trunc('day', ts, :tz) AS day, yard, count(*) AS trailers,
       round(avg(value) / 60) AS avg_dwell_min, round(quantile(0.9, value) / 60) AS p90_dwell_min
FROM trailer_dwell_seconds
WHERE site = :site AND ts >= :from AND ts < :to
GROUP BY day, yard
ORDER BY day, yard
