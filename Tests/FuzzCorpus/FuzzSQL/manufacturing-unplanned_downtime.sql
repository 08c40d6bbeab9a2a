-- title: Unplanned downtime per machine
-- description: Breakdowns (machine_state = 0) per machine: events, total and longest minutes.
-- param: site string required: the site id, e.g. PLANT-1
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- example: site=PLANT-1 from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z
SELECT line, machine, count(*) AS breakdowns, round(epoch(sum(duration)) / 60) AS downtime_min,
       round(epoch(max(duration)) / 60) AS longest_min
FROM intervals(machine_state, value = 0, :from, :to)
WHERE site = :site
GROUP BY line, machine
ORDER BY downtime_min DESC
