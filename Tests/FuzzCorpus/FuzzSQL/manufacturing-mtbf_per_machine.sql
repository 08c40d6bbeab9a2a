-- title: Mean time between failures per machine
-- description: Running time divided by the number of breakdowns, per machine, in hours.
-- param: site string required: the site id, e.g. PLANT-1
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- example: site=PLANT-1 from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z
SELECT line, machine, round(epoch(r.running) / 3600, 1) AS running_h, f.failures,
       round(epoch(r.running) / 3600 / f.failures, 1) AS mtbf_h
FROM (SELECT line, machine, time_in_state(value = 2) AS running
      FROM machine_state WHERE site = :site AND ts >= :from AND ts < :to GROUP BY line, machine) AS r
  JOIN (SELECT line, machine, count(*) AS failures
        FROM intervals(machine_state, value = 0, :from, :to) WHERE site = :site GROUP BY line, machine) AS f
  USING (line, machine)
ORDER BY mtbf_h
