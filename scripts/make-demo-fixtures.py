#!/usr/bin/env python3
"""Generates Fixtures/demo/airport-jfk.ndjson: two days (2026-11-16/17, 5-minute steps) of an
airport site: queue lengths and waits per checkpoint, zone occupancy and capacity, gate entries
(counters), camera uptime with one outage. Deterministic (seeded); rerun to regenerate."""
import json, math, random, datetime, pathlib

random.seed(1)
start = int(datetime.datetime(2026, 11, 16, tzinfo=datetime.timezone.utc).timestamp() * 1000)
step = 5 * 60 * 1000
points = 2 * 24 * 12
out = []

def rush(minute_of_day):
    # Morning and evening peaks (local time ~ UTC-5 shifted into the UTC day).
    h = minute_of_day / 60
    return math.exp(-((h - 11) ** 2) / 4) + 0.8 * math.exp(-((h - 22) ** 2) / 5)

def line(metric, labels, ts, value):
    out.append(json.dumps({"metric": metric, "labels": labels, "ts": ts, "value": value}, separators=(",", ":")))

entries = {"A1": 0, "B2": 0}
for i in range(points):
    ts = start + i * step
    r = rush((i * 5) % 1440)
    for cp in ["T4-security-1", "T4-security-2", "T1-security"]:
        length = max(0, round(60 * r + random.gauss(0, 4)))
        line("queue_length_people", {"site": "JFK", "terminal": cp[:2], "checkpoint": cp}, ts, length)
        line("queue_wait_seconds", {"site": "JFK", "terminal": cp[:2], "checkpoint": cp}, ts,
             round(max(5.0, length * 9.5 + random.gauss(0, 20)), 3))
    for zone, cap in [("T4-gates", 800), ("T4-food-court", 300), ("T1-arrivals", 400)]:
        occ = min(cap, max(0, round(cap * (0.15 + 0.8 * r) + random.gauss(0, cap * 0.03))))
        line("occupancy_people", {"site": "JFK", "zone": zone}, ts, occ)
        line("zone_capacity_people", {"site": "JFK", "zone": zone}, ts, cap)
    for gate in entries:
        entries[gate] += max(0, round(120 * r + random.gauss(0, 6)))
        line("entries_total", {"site": "JFK", "gate": gate}, ts, entries[gate])
    for cam in range(1, 7):
        down = cam == 3 and 200 <= i < 236  # a three-hour outage of cam-03
        line("device_up", {"site": "JFK", "device": f"cam-{cam:02d}", "device_type": "camera"}, ts, 0 if down else 1)

path = pathlib.Path(__file__).resolve().parent.parent / "Fixtures" / "demo" / "airport-jfk.ndjson"
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text("\n".join(out) + "\n")
print(f"{path}: {len(out)} samples")
