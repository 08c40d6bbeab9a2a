SELECT site, count(*) AS runs, sum(duration) AS total, max(duration) AS longest, min(start) AS s
FROM intervals(machine_state, value = 0, TIMESTAMP '0001-01-01T00:00:00Z', TIMESTAMP '9999-12-31T23:59:59.999Z')
GROUP BY site ORDER BY site
