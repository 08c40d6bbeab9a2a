-- title: Queue overflow events per checkpoint
-- description: Episodes where a checkpoint's queue stayed above the threshold for at least the given time: count, total and longest.
-- param: site string required: the site id, e.g. JFK
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- param: threshold number default 30: people in the queue that count as overflow
-- param: min_duration string default 15m: the shortest episode that counts (15m, 1h, ...)
-- example: site=JFK from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z
SELECT checkpoint, count(*) AS events,
       round(epoch(sum(duration)) / 60, 1) AS total_min,
       round(epoch(max(duration)) / 60, 1) AS longest_min
FROM intervals(queue_length_people, value > :threshold, :from, :to)
WHERE site = :site AND coalesce(run_end, "end") - run_start >= CAST(:min_duration AS interval)
  AND run_start + CAST(:min_duration AS interval) >= :from
GROUP BY checkpoint
ORDER BY events DESC, checkpoint
