-- title: Conversion rate per day
-- description: Transactions divided by footfall (store entries) per local day.
-- param: site string required: the site id, e.g. NYC-5TH
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- param: tz string default UTC: the site's time zone (IANA name), for local hours and days
-- example: site=NYC-5TH from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z tz=America/New_York
SELECT day, t.transactions, f.footfall, round(100.0 * t.transactions / f.footfall, 1) AS conversion_pct
FROM (SELECT date_trunc('day', ts, :tz) AS day, increase(value) AS transactions
      FROM transactions_total WHERE site = :site AND ts >= :from AND ts < :to GROUP BY day) AS t
  JOIN (SELECT date_trunc('day', ts, :tz) AS day, increase(value) AS footfall
        FROM entries_total WHERE site = :site AND ts >= :from AND ts < :to GROUP BY day) AS f
  USING (day)
ORDER BY day
