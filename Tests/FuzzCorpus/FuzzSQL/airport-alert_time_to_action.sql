-- title: Time to action on alerts
-- description: How long operators took to act on alerts, per system: count, average, p90 and worst, in minutes.
-- param: site string required: the site id, e.g. JFK
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- example: site=JFK from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z
SELECT system, count(*) AS alerts,
       round(avg(value) / 60, 1) AS avg_min,
       round(quantile(0.9, value) / 60, 1) AS p90_min,
       round(max(value) / 60, 1) AS worst_min
FROM alert_ack_seconds
WHERE site = :site AND ts >= :from AND ts < :to
GROUP BY system
ORDER BY avg_min DESC
