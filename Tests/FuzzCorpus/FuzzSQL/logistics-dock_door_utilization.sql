-- title: Dock-door utilization
-- description: Share of time each dock door was occupied by a trailer.
-- param: site string required: the site id, e.g. DC-ATL
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- example: site=DC-ATL from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z
SELECT door, round(100.0 * time_in_state(value = 1) / (time_in_state(value = 1) + time_in_state(value = 0)), 1) AS utilization_pct
FROM dock_door_occupied
WHERE site = :site AND ts >= :from AND ts < :to
GROUP BY door
ORDER BY utilization_pct DESC
