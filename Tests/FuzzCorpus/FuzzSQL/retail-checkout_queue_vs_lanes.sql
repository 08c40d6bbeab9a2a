-- title: Checkout queue against open lanes, hour by hour
-- description: Average queue length and wait per hour beside the average number of lanes open: where staffing lagged the queue.
-- param: site string required: the site id, e.g. NYC-5TH
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- example: site=NYC-5TH from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z
SELECT hour, round(q.avg_queue, 1) AS avg_queue_people, round(w.avg_wait_s) AS avg_wait_s, round(l.lanes_open, 1) AS lanes_open
FROM (SELECT time_bucket('1h', ts) AS hour, avg(value) AS avg_queue, max(value) AS worst_queue
      FROM queue_length_people WHERE site = :site AND ts >= :from AND ts < :to GROUP BY hour) AS q
  JOIN (SELECT time_bucket('1h', ts) AS hour, sum(value) / count(DISTINCT ts) AS lanes_open
        FROM lane_open WHERE site = :site AND ts >= :from AND ts < :to GROUP BY hour) AS l
  USING (hour)
  JOIN (SELECT time_bucket('1h', ts) AS hour, avg(value) AS avg_wait_s
        FROM queue_wait_seconds WHERE site = :site AND ts >= :from AND ts < :to GROUP BY hour) AS w
  USING (hour)
WHERE q.avg_queue > 0
ORDER BY avg_queue_people DESC
LIMIT 48
