-- title: Room utilization by 2-hour block, weekdays 08:00-20:00
-- description: Average occupancy divided by capacity per room and 2-hour local time block on weekdays between 08:00 and 20:00.
-- param: site string required: the site id, e.g. CAMPUS-E
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- param: tz string default UTC: the site's time zone (IANA name), for local hours and days
-- example: site=CAMPUS-E from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z tz=America/Chicago
SELECT building, room, o.block_start_hour, round(100 * o.avg_people / c.capacity, 1) AS utilization_pct
FROM (SELECT building, room, floor(date_part('hour', ts, :tz) / 2) * 2 AS block_start_hour, avg(value) AS avg_people
      FROM occupancy_people
      WHERE site = :site AND ts >= :from AND ts < :to
        AND date_part('isodow', ts, :tz) <= 5 AND date_part('hour', ts, :tz) BETWEEN 8 AND 19
      GROUP BY building, room, block_start_hour) AS o
  JOIN (SELECT building, room, max(value) AS capacity FROM room_capacity_people WHERE site = :site GROUP BY building, room) AS c
  USING (building, room)
ORDER BY building, room, block_start_hour
