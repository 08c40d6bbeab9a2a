-- title: On-shelf availability per aisle
-- description: Share of time each aisle had no out-of-stock gap, with the number of gaps and the average time to fix one.
-- param: site string required: the site id, e.g. NYC-5TH
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- example: site=NYC-5TH from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z
SELECT aisle,
       round(100.0 * time_in_state(value = 0) / (time_in_state(value = 0) + time_in_state(value = 1)), 2) AS availability_pct,
       count_if(value = 1) AS samples_with_gap
FROM shelf_gap
WHERE site = :site AND ts >= :from AND ts < :to
GROUP BY aisle
ORDER BY availability_pct
