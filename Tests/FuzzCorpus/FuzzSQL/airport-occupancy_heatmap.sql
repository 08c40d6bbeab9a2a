-- title: Occupancy heatmap by zone and hour of day
-- description: Average occupancy and its share of capacity per zone and local hour of day.
-- param: site string required: the site id, e.g. JFK
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- param: tz string default UTC: the site's time zone (IANA name), for local hours and days
-- example: site=JFK from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z tz=America/New_York
SELECT zone, o.hour_of_day, round(o.avg_people, 1) AS avg_people,
       round(100 * o.avg_people / c.capacity, 1) AS pct_of_capacity
FROM (SELECT date_part('hour', ts, :tz) AS hour_of_day, zone, avg(value) AS avg_people
      FROM occupancy_people WHERE site = :site AND ts >= :from AND ts < :to
      GROUP BY hour_of_day, zone) AS o
  JOIN (SELECT zone, max(value) AS capacity FROM zone_capacity_people WHERE site = :site GROUP BY zone) AS c
  USING (zone)
ORDER BY zone, hour_of_day
