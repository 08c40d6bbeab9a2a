-- title: Device uptime, worst first
-- description: Share of time each device answered its health probe, with its number of outages.
-- param: site string required: the site id, e.g. JFK
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- example: site=JFK from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z
SELECT device, device_type,
       round(100.0 * time_in_state(value = 1) / (time_in_state(value = 1) + time_in_state(value = 0)), 2) AS uptime_pct,
       round(epoch(time_in_state(value = 0)) / 60) AS downtime_min
FROM device_up
WHERE site = :site AND ts >= :from AND ts < :to
GROUP BY device, device_type
ORDER BY uptime_pct, device
