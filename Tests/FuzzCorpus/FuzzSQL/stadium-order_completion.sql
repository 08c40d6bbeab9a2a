-- title: Order completion time per stand
-- description: Orders completed per stand with their average and p90 completion time in seconds.
-- param: site string required: the site id, e.g. ARENA-1
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- example: site=ARENA-1 from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z
SELECT stand, count(*) AS orders, round(avg(value)) AS avg_s, round(quantile(0.9, value)) AS p90_s
FROM order_completion_seconds
WHERE site = :site AND ts >= :from AND ts < :to
GROUP BY stand
ORDER BY avg_s DESC
