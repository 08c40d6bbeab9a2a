-- title: Arrival variance against booked appointments
-- description: How early or late trailers arrived against their booking, per door: average, spread and share more than 30 minutes off.
-- param: site string required: the site id, e.g. DC-ATL
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- example: site=DC-ATL from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z
SELECT door, count(*) AS arrivals, round(avg(value) / 60, 1) AS avg_variance_min, round(stddev(value) / 60, 1) AS stddev_min,
       round(100.0 * count_if(abs(value) > 1800) / count(*), 1) AS off_by_30min_pct
FROM appointment_variance_seconds
WHERE site = :site AND ts >= :from AND ts < :to
GROUP BY door
ORDER BY avg_variance_min DESC
