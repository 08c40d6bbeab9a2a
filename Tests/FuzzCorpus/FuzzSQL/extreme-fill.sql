SELECT time_bucket('1h', ts) AS h, avg(value) AS a FROM kpi_occupancy
WHERE site = 'EDGE' AND ts >= TIMESTAMP '9999-12-31T00:00:00Z' AND ts <= TIMESTAMP '9999-12-31T23:59:59.999Z'
GROUP BY h FILL(linear) ORDER BY h
