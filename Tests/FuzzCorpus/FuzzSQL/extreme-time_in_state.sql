SELECT device, time_in_state(value = 1) AS up, time_in_state(value = 0) AS down,
       round(100.0 * time_in_state(value = 1) / (time_in_state(value = 1) + time_in_state(value = 0)), 2) AS pct
FROM device_up WHERE site = :site GROUP BY device ORDER BY pct
