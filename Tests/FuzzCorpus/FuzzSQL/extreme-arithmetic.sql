SELECT ts, value, ts + INTERVAL '106751991166 d' AS far, ts - TIMESTAMP '0001-01-01T00:00:00Z' AS age,
       CAST(value AS integer) AS i, value * 9223372036854775807 AS big, epoch_ms(ts), to_timestamp(value)
FROM kpi_temperature WHERE site IN ('EDGE', 'LHR') ORDER BY ts DESC LIMIT 100
