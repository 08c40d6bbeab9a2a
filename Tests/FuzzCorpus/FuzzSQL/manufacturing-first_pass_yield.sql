-- title: First-pass yield per line and day
-- description: Good units divided by units produced, per line and local day.
-- param: site string required: the site id, e.g. PLANT-1
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- param: tz string default UTC: the site's time zone (IANA name), for local hours and days
-- example: site=PLANT-1 from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z tz=Europe/Berlin
SELECT day, line, p.produced, g.good, round(100.0 * g.good / p.produced, 2) AS yield_pct
FROM (SELECT date_trunc('day', ts, :tz) AS day, line, increase(value) AS produced
      FROM units_produced_total WHERE site = :site AND ts >= :from AND ts < :to GROUP BY day, line) AS p
  JOIN (SELECT date_trunc('day', ts, :tz) AS day, line, increase(value) AS good
        FROM units_good_total WHERE site = :site AND ts >= :from AND ts < :to GROUP BY day, line) AS g
  USING (day, line)
WHERE p.produced > 0
ORDER BY day, line
