-- title: Door-prop incidents per door
-- description: Intervals where a door was held open, per door: incidents, total and longest minutes.
-- param: site string required: the site id, e.g. CAMPUS-E
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- example: site=CAMPUS-E from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z
SELECT building, door, count(*) AS incidents, round(epoch(sum(duration)) / 60, 1) AS total_min,
       round(epoch(max(duration)) / 60, 1) AS longest_min
FROM intervals(door_held_open, value = 1, :from, :to)
WHERE site = :site
GROUP BY building, door
ORDER BY incidents DESC, building, door
