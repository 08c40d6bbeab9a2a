-- title: Average transaction value per day
-- description: Sales divided by transactions per local day, from the two counters.
-- param: site string required: the site id, e.g. NYC-5TH
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- param: tz string default UTC: the site's time zone (IANA name), for local hours and days
-- example: site=NYC-5TH from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z tz=America/New_York
SELECT day, round(s.sales, 2) AS sales_usd, t.transactions, round(s.sales / t.transactions, 2) AS avg_transaction_usd
FROM (SELECT date_trunc('day', ts, :tz) AS day, increase(value) AS sales
      FROM sales_dollars_total WHERE site = :site AND ts >= :from AND ts < :to GROUP BY day) AS s
  JOIN (SELECT date_trunc('day', ts, :tz) AS day, increase(value) AS transactions
        FROM transactions_total WHERE site = :site AND ts >= :from AND ts < :to GROUP BY day) AS t
  USING (day)
ORDER BY day
