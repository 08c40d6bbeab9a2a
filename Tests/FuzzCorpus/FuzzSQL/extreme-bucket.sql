SELECT time_bucket('106751991166 d', ts, TIMESTAMP '9999-12-31T23:59:59.999Z') AS b, approx_quantile(0.99, value), quantile(0.5, value), stddev(value)
FROM kpi_temperature GROUP BY b ORDER BY b
