-- title: Tailgating events per door
-- description: Tailgating detections per door over the range (increase of the counters).
-- param: site string required: the site id, e.g. CAMPUS-E
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- example: site=CAMPUS-E from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z
SELECT building, door, round(increase(value)) AS tailgating_events
FROM tailgating_total
WHERE site = :site AND ts >= :from AND ts < :to
GROUP BY building, door
ORDER BY tailgating_events DESC
