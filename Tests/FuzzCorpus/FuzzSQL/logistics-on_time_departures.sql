-- title: On-time departures per door
-- description: Share of departures that left on or before the planned time, per door, with the average delay of late ones.
-- param: site string required: the site id, e.g. DC-ATL
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- example: site=DC-ATL from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z
SELECT door, count(*) AS departures, round(100.0 * count_if(value <= 0) / count(*), 1) AS on_time_pct,
       round(avg(CASE WHEN value > 0 THEN value END) / 60, 1) AS avg_late_min
FROM departure_delay_seconds
WHERE site = :site AND ts >= :from AND ts < :to
GROUP BY door
ORDER BY on_time_pct
