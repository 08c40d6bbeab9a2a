-- title: Average wait by concourse and stand
-- description: Average and p90 wait at each stand, grouped by concourse, while the stands were open.
-- param: site string required: the site id, e.g. ARENA-1
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- example: site=ARENA-1 from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z
SELECT concourse, stand, round(avg(value)) AS avg_wait_s, round(quantile(0.9, value)) AS p90_wait_s, count(*) AS samples
FROM queue_wait_seconds
WHERE site = :site AND ts >= :from AND ts < :to
GROUP BY concourse, stand
ORDER BY avg_wait_s DESC
