-- title: Passenger throughput per gate and day
-- description: Passengers counted at each gate per local day (reset-aware increase of the entry counters).
-- param: site string required: the site id, e.g. JFK
-- param: from timestamp default -7d: start of the range (RFC 3339, unix seconds, or -<duration> back from now)
-- param: to timestamp default now: end of the range (exclusive)
-- param: tz string default UTC: the site's time zone (IANA name), for local hours and days
-- example: site=JFK from=2026-11-16T00:00:00Z to=2026-11-23T00:00:00Z tz=America/New_York
SELECT date_trunc('day', ts, :tz) AS day, gate, round(increase(value)) AS passengers
FROM entries_total
WHERE site = :site AND ts >= :from AND ts < :to
GROUP BY day, gate
ORDER BY day, gate
