-- title: Mean time to repair per device type
-- description: Outages (device_up = 0 intervals) per device type: count, mean time to repair and longest, in minutes.
-- param: site string required: the site id, e.g. JFK
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- example: site=JFK from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z
SELECT device_type, count(*) AS outages, round(epoch(avg(duration)) / 60, 1) AS mttr_min,
       round(epoch(max(duration)) / 60, 1) AS longest_min
FROM intervals(device_up, value = 0, :from, :to)
WHERE site = :site
GROUP BY device_type
ORDER BY mttr_min DESC
