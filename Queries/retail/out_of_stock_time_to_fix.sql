-- title: Time to fix out-of-stock gaps
-- description: Each aisle's gaps (intervals of shelf_gap = 1): how many, average and longest time to fix, in minutes.
-- param: site string required: the site id, e.g. NYC-5TH
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- example: site=NYC-5TH from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z
SELECT aisle, count(*) AS gaps, round(epoch(avg(run_end - run_start)) / 60, 1) AS avg_fix_min, round(epoch(max(duration)) / 60, 1) AS longest_min
FROM intervals(shelf_gap, value = 1, :from, :to)
WHERE site = :site AND ended
GROUP BY aisle
ORDER BY avg_fix_min DESC
