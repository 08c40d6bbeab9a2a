-- title: Gate throughput per 15 minutes
-- description: Entries per gate per 15-minute interval on event days, busiest intervals first.
-- param: site string required: the site id, e.g. ARENA-1
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- example: site=ARENA-1 from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z
SELECT time_bucket('15m', ts) AS interval_start, gate, round(increase(value)) AS entries
FROM entries_total
WHERE site = :site AND ts >= :from AND ts < :to
GROUP BY interval_start, gate
HAVING increase(value) > 0
ORDER BY entries DESC
LIMIT 40
