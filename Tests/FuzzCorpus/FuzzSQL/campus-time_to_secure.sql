-- title: Time to secure a building after an alert
-- description: How long each building took to be secured after an alert: count, average and worst, in seconds.
-- param: site string required: the site id, e.g. CAMPUS-E
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- example: site=CAMPUS-E from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z
SELECT building, count(*) AS alerts, round(avg(value)) AS avg_s, round(max(value)) AS worst_s
FROM lockdown_secured_seconds
WHERE site = :site AND ts >= :from AND ts < :to
GROUP BY building
ORDER BY avg_s DESC
