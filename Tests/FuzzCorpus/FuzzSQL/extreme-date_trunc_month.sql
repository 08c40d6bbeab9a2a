SELECT date_trunc('month', ts) AS m, site, count(*) AS n, avg(value), min(value), max(value), sum(value), first(value), last(value)
FROM queue_wait_seconds WHERE ts >= :from AND ts <= :to GROUP BY m, site ORDER BY m, site
