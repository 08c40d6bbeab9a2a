-- title: Worst queue per checkpoint, hour by hour
-- description: Average, p95 and worst wait per security checkpoint per hour; the worst hours first.
-- param: site string required: the site id, e.g. JFK
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- example: site=JFK from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z
SELECT time_bucket('1h', ts) AS hour, checkpoint,
       round(avg(value) / 60, 1) AS avg_wait_min,
       round(quantile(0.95, value) / 60, 1) AS p95_wait_min,
       round(max(value) / 60, 1) AS worst_wait_min
FROM queue_wait_seconds
WHERE site = :site AND ts >= :from AND ts < :to
GROUP BY hour, checkpoint
ORDER BY worst_wait_min DESC, hour
LIMIT 50
