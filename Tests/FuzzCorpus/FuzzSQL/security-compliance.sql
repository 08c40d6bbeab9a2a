-- title: Certificate and firmware compliance
-- description: Share of devices whose latest scan found a valid certificate, and an approved firmware.
-- param: site string required: the site id, e.g. JFK
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- example: site=JFK from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z
SELECT c.devices, round(100.0 * c.valid / c.devices, 1) AS cert_valid_pct, round(100.0 * f.compliant / f.devices, 1) AS firmware_ok_pct
FROM (SELECT site, count(*) AS devices, sum(ok) AS valid
      FROM (SELECT site, device, last(value) AS ok FROM cert_valid WHERE site = :site AND ts >= :from AND ts < :to GROUP BY site, device) AS d
      GROUP BY site) AS c
  JOIN (SELECT site, count(*) AS devices, sum(ok) AS compliant
        FROM (SELECT site, device, last(value) AS ok FROM firmware_compliant WHERE site = :site AND ts >= :from AND ts < :to GROUP BY site, device) AS d
        GROUP BY site) AS f
  USING (site)
