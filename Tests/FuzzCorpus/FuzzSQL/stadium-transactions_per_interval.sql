-- title: Transactions per stand per 15 minutes
-- description: Sales counted at each stand per 15-minute interval, busiest first.
-- param: site string required: the site id, e.g. ARENA-1
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- example: site=ARENA-1 from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z
SELECT time_bucket('15m', ts) AS interval_start, stand, round(increase(value)) AS transactions
FROM transactions_total
WHERE site = :site AND ts >= :from AND ts < :to
GROUP BY interval_start, stand
HAVING increase(value) > 0
ORDER BY transactions DESC
LIMIT 40
