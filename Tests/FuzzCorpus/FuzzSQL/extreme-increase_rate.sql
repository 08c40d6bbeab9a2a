SELECT date_trunc('year', ts, :tz) AS y, zone, increase(value) AS inc, rate(value) AS r
FROM entries_total WHERE site = :site GROUP BY y, zone ORDER BY y, zone
