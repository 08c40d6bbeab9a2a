#!/usr/bin/env python3
"""Writes the sample data sets, one site per industry template, into Fixtures/<industry>/<site>.ndjson,
and the site list into Fixtures/sites.json.

The week is Monday 2026-11-16T00:00:00Z to Sunday 2026-11-22T23:59:59Z. Gauges, counters and 0/1 states
are sampled every 15 minutes (compliance scans every hour); per-event observations (dwell, order times,
trailer dwell, ...) are single samples at their event time. Diurnal and weekday/weekend patterns follow
each site's local time. Every metric and label is documented in Fixtures/README.md.

Python 3 standard library only and deterministic: every site draws from its own random generator seeded
from --seed and the site id, so the same seed writes byte-identical files. Rerun to regenerate:

    python3 scripts/make-fixtures.py            # all sites
    python3 scripts/make-fixtures.py --site JFK # one site
"""
import argparse
import bisect
import datetime
import heapq
import json
import math
import pathlib
import random

try:
    from zoneinfo import ZoneInfo
except ImportError:  # Python < 3.9: the fixed offsets below are right for this week
    ZoneInfo = None

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Fixtures"
UTC = datetime.timezone.utc
WEEK_START = datetime.datetime(2026, 11, 16, tzinfo=UTC)
START_MS = int(WEEK_START.timestamp() * 1000)
END_MS = START_MS + 7 * 86_400_000  # exclusive: 2026-11-23T00:00:00Z
STEP_MIN = 5
STEP_MS = STEP_MIN * 60_000
STEPS = 7 * 24 * 60 // STEP_MIN  # 2016
COMPLIANCE_STEP_MS = 3_600_000  # hourly compliance scans
# UTC offsets of the site zones during the week (no DST change between 2026-11-16 and 2026-11-23).
FIXED_OFFSETS_MIN = {"America/New_York": -300, "America/Chicago": -360, "Europe/London": 0, "Europe/Berlin": 60}

SITES = [
    {
        "site": "JFK", "industry": "airport", "template": "airport", "time_zone": "America/New_York",
        "display_name": "JFK International Airport", "file": "Fixtures/airport/jfk.ndjson",
        "capacities": {"zones": {"T4-security-hall": 250, "T4-food-court": 350, "T4-gates-B": 900, "T1-arrivals": 500}},
    },
    {
        "site": "NYC-5TH", "industry": "retail", "template": "retail", "time_zone": "America/New_York",
        "display_name": "Fifth Avenue flagship store", "file": "Fixtures/retail/nyc-5th.ndjson",
        "capacities": {"zones": {"floor-1": 450, "floor-2": 350, "fitting-rooms": 40}, "checkout_lanes": 4},
        "opening_hours": {"mon-sat": "10:00-21:00", "sun": "11:00-19:00"},
    },
    {
        "site": "CAMPUS-E", "industry": "campus", "template": "campus", "time_zone": "America/Chicago",
        "display_name": "East Campus", "file": "Fixtures/campus/campus-e.ndjson",
        "capacities": {"rooms": {"SCI-101": 150, "SCI-204": 40, "ENG-110": 90, "ENG-215": 30, "LIB-reading": 120}},
    },
    {
        "site": "ARENA-1", "industry": "stadium", "template": "stadium", "time_zone": "Europe/London",
        "display_name": "Riverside Arena", "file": "Fixtures/stadium/arena-1.ndjson",
        "capacities": {"seats": 60000},
        "events": [
            {"name": "Wednesday evening match", "kickoff": "2026-11-18T19:45:00Z", "gates_open": "2026-11-18T17:45:00Z", "attendance": 41250},
            {"name": "Saturday afternoon match", "kickoff": "2026-11-21T15:00:00Z", "gates_open": "2026-11-21T13:00:00Z", "attendance": 57840},
        ],
    },
    {
        "site": "DC-ATL", "industry": "logistics", "template": "logistics", "time_zone": "America/New_York",
        "display_name": "Atlanta distribution center", "file": "Fixtures/logistics/dc-atl.ndjson",
        "capacities": {"dock_doors": 10, "yards": {"north": ["D01", "D02", "D03", "D04", "D05"], "south": ["D06", "D07", "D08", "D09", "D10"]}},
        "opening_hours": {"mon-fri": "05:00-23:00", "sat": "06:00-14:00", "sun": "closed"},
    },
    {
        "site": "PLANT-1", "industry": "manufacturing", "template": "manufacturing", "time_zone": "Europe/Berlin",
        "display_name": "Berlin assembly plant", "file": "Fixtures/manufacturing/plant-1.ndjson",
        "capacities": {"lines": {"L1": {"ideal_cycle_seconds": 45, "machines": ["press", "weld", "assembly"], "shifts": "3 shifts, Mon 06:00 to Sat 06:00"},
                                 "L2": {"ideal_cycle_seconds": 72, "machines": ["mold", "trim", "pack"], "shifts": "2 shifts, Mon-Fri 06:00-22:00"}}},
    },
]

# Firmware the security team has approved; anything else is non-compliant.
APPROVED_FIRMWARE = {"Axis": "11.11.73", "Hanwha": "2.21.02", "HID": "8.4.1", "Genetec": "5.12.2", "Xovis": "5.6.1"}
OLD_FIRMWARE = {"Axis": "10.12.220", "Hanwha": "2.10.05", "HID": "8.2.0", "Genetec": "5.10.4", "Xovis": "5.4.0"}


# ---------------------------------------------------------------------------------------------
# Helpers


class Clock:
    """Local time of a site: step index <-> local weekday/hour, local wall time -> UTC ms."""

    def __init__(self, tz):
        if ZoneInfo is not None:
            zone = ZoneInfo(tz)
            a = WEEK_START.astimezone(zone).utcoffset()
            b = (WEEK_START + datetime.timedelta(days=7)).astimezone(zone).utcoffset()
            assert a == b, f"{tz} changes its UTC offset during the week"
            self.offset_ms = int(a.total_seconds() * 1000)
        else:
            self.offset_ms = FIXED_OFFSETS_MIN[tz] * 60_000

    def local(self, ts):
        """(weekday 0=Monday, hour of day as a float) for a UTC ms timestamp."""
        local_ms = ts + self.offset_ms - START_MS  # START_MS is a Monday 00:00
        day, rest = divmod(local_ms, 86_400_000)
        return int(day) % 7, rest / 3_600_000

    def ms(self, day, hour, minute=0):
        """UTC ms of local wall time `hour:minute` on 2026-11-16 + day (day -1 = Sunday 15th, 0 = Monday 16th)."""
        return START_MS + day * 86_400_000 + (hour * 60 + minute) * 60_000 - self.offset_ms


def step_ts(i):
    return START_MS + i * STEP_MS


def poisson(rng, lam):
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def binomial(rng, n, p):
    return sum(1 for _ in range(n) if rng.random() < p)


def bump(h, center, width):
    return math.exp(-((h - center) ** 2) / (2 * width * width))


def lognormal(rng, median, sigma):
    return median * math.exp(rng.gauss(0, sigma))


def secs(x):
    """Seconds with 3 decimals."""
    return round(x, 3)


class Writer:
    """Collects samples; writes them sorted by time with strictly increasing timestamps per series."""

    def __init__(self, site):
        self.site = site
        self.rows = []

    def add(self, metric, labels, ts, value):
        ts = int(ts)
        if not (START_MS <= ts < END_MS):
            return  # events outside the week (e.g. a trailer booked before Monday) are dropped
        if isinstance(value, float) and value == int(value) and abs(value) < 1e15:
            value = int(value)  # 300.0 -> 300 (also turns -0.0 into 0)
        labels = {"site": self.site, **labels}
        self.rows.append((ts, metric, json.dumps(labels, separators=(",", ":")), value))

    def write(self, path):
        self.rows.sort()
        last, out = {}, []
        for ts, metric, labels, value in self.rows:
            key = (metric, labels)
            if key in last and ts <= last[key]:
                ts = last[key] + 1  # two events in the same millisecond: keep both, 1 ms apart
            last[key] = ts
            out.append((ts, metric, labels, value))
        out.sort()
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="\n") as f:
            for ts, metric, labels, value in out:
                f.write('{"metric":"%s","labels":%s,"ts":%d,"value":%s}\n' % (metric, labels, ts, json.dumps(value)))
        return len(out)


def state_series(out, metric, labels, intervals, value_in=1, value_out=0):
    """A 0/1 series on the step grid: value_in while a step's timestamp is inside one of `intervals` [a, b)."""
    intervals = sorted(intervals)
    starts = [a for a, _ in intervals]
    for i in range(STEPS):
        ts = step_ts(i)
        k = bisect.bisect_right(starts, ts) - 1
        inside = any(a <= ts < b for a, b in intervals[max(0, k - 3):k + 1])
        out.add(metric, labels, ts, value_in if inside else value_out)


# ---------------------------------------------------------------------------------------------
# Security operations (every site)


def make_devices(prefix_counts, vendors_by_type, old_firmware_devices):
    devices = []
    for dtype, prefix, count in prefix_counts:
        for n in range(1, count + 1):
            name = f"{prefix}-{n:02d}"
            vendor = vendors_by_type[dtype][(n - 1) % len(vendors_by_type[dtype])]
            firmware = OLD_FIRMWARE[vendor] if name in old_firmware_devices else APPROVED_FIRMWARE[vendor]
            devices.append({"device": name, "device_type": dtype, "vendor": vendor, "firmware": firmware})
    return devices


def security_ops(out, rng, clock, devices, fixed_outages=(), cert_events=(), upgrades=()):
    """device_up every step (outages: fixed ones plus a few random ones of varied length, and flaps),
    cert_valid and firmware_compliant hourly.

    fixed_outages: (device, start_ms, minutes); cert_events: (device, invalid_from_ms, invalid_until_ms or None);
    upgrades: (device, at_ms, new_firmware): device_up changes its firmware label at that time."""
    names = [d["device"] for d in devices]
    down = {n: [] for n in names}
    for dev, start, minutes in fixed_outages:
        down[dev].append((start, start + minutes * 60_000))
    # Random outages: one of minutes, one of about an hour, one of several hours; plus 3-5 flaps (one sample).
    for lo, hi in [(10, 35), (40, 110), (150, 420)]:
        dev = rng.choice(names)
        start = step_ts(rng.randrange(12, STEPS - 100))
        down[dev].append((start, start + STEP_MS * max(1, round(rng.uniform(lo, hi) / STEP_MIN))))
    for _ in range(rng.randint(3, 5)):
        dev = rng.choice(names)
        start = step_ts(rng.randrange(0, STEPS))
        down[dev].append((start, start + STEP_MS))
    upgrade_at = {dev: (at, fw) for dev, at, fw in upgrades}
    for d in devices:
        labels = {"device": d["device"], "device_type": d["device_type"], "vendor": d["vendor"], "firmware": d["firmware"]}
        ivs = sorted(down[d["device"]])
        for i in range(STEPS):
            ts = step_ts(i)
            lab = labels
            if d["device"] in upgrade_at and ts >= upgrade_at[d["device"]][0]:
                lab = {**labels, "firmware": upgrade_at[d["device"]][1]}
            out.add("device_up", lab, ts, 0 if any(a <= ts < b for a, b in ivs) else 1)
    invalid = {}
    for dev, a, b in cert_events:
        invalid.setdefault(dev, []).append((a, b if b is not None else END_MS))
    for d in devices:
        for ts in range(START_MS, END_MS, COMPLIANCE_STEP_MS):
            fw = d["firmware"]
            if d["device"] in upgrade_at and ts >= upgrade_at[d["device"]][0]:
                fw = upgrade_at[d["device"]][1]
            out.add("cert_valid", {"device": d["device"]}, ts,
                    0 if any(a <= ts < b for a, b in invalid.get(d["device"], [])) else 1)
            out.add("firmware_compliant", {"device": d["device"]}, ts, 1 if APPROVED_FIRMWARE[d["vendor"]] == fw else 0)


# ---------------------------------------------------------------------------------------------
# Airport


def airport(out, rng, clock):
    day_factor = [1.0, 0.9, 0.92, 1.02, 1.1, 0.86, 1.05]

    def departures(ts):
        d, h = clock.local(ts)
        p = bump(h, 6.6, 1.1) + 0.55 * bump(h, 11.5, 1.8) + 0.85 * bump(h, 16.6, 1.6) + 0.35 * bump(h, 20.6, 1.2) + 0.03
        if d == 4:
            p *= 1.0 + 0.25 * bump(h, 16.5, 2.5)  # Friday afternoon getaway
        if d == 6:
            p *= 0.8 + 0.5 * bump(h, 16.0, 3.0)  # Sunday: quiet morning, busy afternoon
        return p * day_factor[d]

    checkpoints = [  # checkpoint, terminal, peak arrivals per minute, max lanes
        ("T4-A", "T4", 7.0, 5), ("T4-B", "T4", 5.5, 4), ("T1-main", "T1", 4.0, 3), ("T8-main", "T8", 4.5, 3)]
    lane_rate = 2.4  # passengers per minute per lane
    # Staffing shortfalls (scanner down, late screeners): (checkpoint, local day, hour, minute, minutes, lanes lost)
    disruptions = [("T4-A", 0, 5, 50, 55, 2), ("T1-main", 2, 16, 10, 50, 1), ("T4-B", 4, 15, 40, 45, 1),
                   ("T8-main", 6, 15, 20, 40, 1), ("T4-A", 3, 17, 0, 35, 2)]
    lost = {}
    for cp, day, hh, mm, minutes, lanes in disruptions:
        a = clock.ms(day, hh, mm)
        lost.setdefault(cp, []).append((a, a + minutes * 60_000, lanes))

    t4_wait = [0.0] * STEPS
    for cp, term, peak, max_lanes in checkpoints:
        labels = {"terminal": term, "checkpoint": cp}
        backlog, eff = 0.0, 1.0
        for i in range(STEPS):
            ts = step_ts(i)
            if i % (60 // STEP_MIN) == 0:
                eff = rng.uniform(0.93, 1.04)  # screener performance drifts per hour
            lam = peak * departures(ts)
            expected = peak * departures(ts + 30 * 60_000)  # rostered ahead of demand, in whole lanes
            # Supervisors roster lanes ahead of demand and open extra ones to clear a backlog.
            lanes = min(max_lanes, max(1, math.ceil((expected + backlog / 15) / (lane_rate * 0.85))))
            for a, b, n in lost.get(cp, []):
                if a <= ts < b:
                    lanes = max(1, lanes - n)
            cap = lanes * lane_rate * eff
            arrivals = poisson(rng, lam * STEP_MIN)
            backlog = max(0.0, backlog + arrivals - cap * STEP_MIN)
            rho = min(lam / cap, 0.95)
            standing = 1.4 * rho * rho / (1 - rho)
            length = max(0, round(backlog + standing + rng.gauss(0, 0.8)))
            wait = length / cap * 60 + rng.uniform(18, 32) + rng.gauss(0, 4)
            wait = max(5.0, wait)
            out.add("queue_length_people", labels, ts, length)
            out.add("queue_wait_seconds", labels, ts, secs(wait))
            if term == "T4":
                t4_wait[i] = max(t4_wait[i], wait)

    zones = [  # zone, base share, peak share, lag (h), closed at night
        ("T4-security-hall", 0.02, 0.55, 0.0, False), ("T4-food-court", 0.01, 0.88, 0.9, True),
        ("T4-gates-B", 0.05, 0.78, 1.2, False), ("T1-arrivals", 0.04, 0.7, None, False)]
    caps = SITES[0]["capacities"]["zones"]
    occ_by_zone = {}
    for zone, base, peak, lag, closes in zones:
        cap = caps[zone]
        occ_series = []
        noise = 0.0
        for i in range(STEPS):
            ts = step_ts(i)
            d, h = clock.local(ts)
            if lag is None:  # international arrivals: afternoon and late evening banks
                p = (0.9 * bump(h, 15.0, 1.4) + 0.7 * bump(h, 21.5, 1.2) + 0.35 * bump(h, 7.0, 1.0)) * day_factor[d]
            else:
                p = departures(ts - int(lag * 3_600_000))
            frac = base + (peak - base) * min(p, 1.4)
            if closes and (h >= 23.0 or h < 5.0):
                frac = 0.008  # cleaning crew only
            noise = 0.7 * noise + rng.gauss(0, 0.025)
            occ = max(0, min(round(cap * 1.04), round(cap * (frac + noise * frac))))
            occ_series.append(occ)
            out.add("occupancy_people", {"zone": zone}, ts, occ)
            out.add("zone_capacity_people", {"zone": zone}, ts, cap)
        occ_by_zone[zone] = occ_series

    # Dwell observations per zone (sampled visits, at the visit's exit time).
    dwell_median = {"T4-food-court": 27 * 60, "T4-gates-B": 48 * 60, "T1-arrivals": 13 * 60}
    for zone, _, _, _, _ in zones:
        cap = caps[zone]
        for i in range(STEPS):
            n = poisson(rng, 1.9 * STEP_MIN / 5 * occ_by_zone[zone][i] / cap)
            for _ in range(n):
                if zone == "T4-security-hall":
                    value = 150 + t4_wait[i] + lognormal(rng, 60, 0.5)
                else:
                    value = lognormal(rng, dwell_median[zone], 0.55)
                out.add("dwell_seconds", {"zone": zone}, step_ts(i) + rng.randrange(STEP_MS), secs(value))

    # Gate entries (passenger throughput), cumulative since the counters were installed.
    gates = [("T4-dep-1", 0.55 * 12.5, 8_412_337), ("T4-dep-2", 0.45 * 12.5, 6_930_118), ("T1-dep-1", 4.0, 3_377_905)]
    reset_at = clock.ms(2, 3, 10)  # Wednesday 03:10 local: the T4-dep-2 counting sensor reboots and restarts at 0
    for gate, peak, total in gates:
        reset_done = False
        for i in range(STEPS):
            ts = step_ts(i)
            if gate == "T4-dep-2" and not reset_done and ts >= reset_at:
                total, reset_done = 0, True
            total += poisson(rng, peak * departures(ts) * STEP_MIN)
            out.add("entries_total", {"gate": gate}, ts, total)

    # Time to action on alerts, per system; slower on the night shift, a few long tails.
    for system, per_day, median in [("video", 9, 75), ("access", 14, 48), ("intrusion", 2.5, 38)]:
        t = START_MS
        while True:
            t += int(rng.expovariate(per_day / 86_400_000))
            if t >= END_MS:
                break
            _, h = clock.local(t)
            m = median * (1.8 if h < 6 or h >= 23 else 1.0)
            value = lognormal(rng, m, 0.6)
            if rng.random() < 0.04:
                value += rng.uniform(420, 1300)  # operator busy with another incident
            out.add("alert_ack_seconds", {"system": system}, t + int(value * 1000), secs(value))

    devices = make_devices([("camera", "cam", 6), ("reader", "rdr", 3), ("nvr", "nvr", 1), ("sensor", "sen", 2)],
                           {"camera": ["Axis", "Hanwha"], "reader": ["HID"], "nvr": ["Genetec"], "sensor": ["Xovis"]},
                           {"cam-06", "rdr-03"})
    security_ops(out, rng, clock, devices,
                 fixed_outages=[("sen-02", reset_at - STEP_MS, 10),  # the T4-dep-2 counter's sensor rebooting
                                ("cam-03", clock.ms(1, 13, 5), 190)],  # a three-hour camera outage
                 cert_events=[("nvr-01", clock.ms(3, 0, 0), clock.ms(4, 10, 30)), ("cam-06", START_MS, None)])


# ---------------------------------------------------------------------------------------------
# Retail


def retail(out, rng, clock):
    def hours(d):
        return (11.0, 19.0) if d == 6 else (10.0, 21.0)

    day_factor = [0.85, 0.88, 0.92, 1.0, 1.18, 1.55, 1.25]

    def footfall_rate(ts):  # entries per minute
        d, h = clock.local(ts)
        o, c = hours(d)
        if h < o - 1.5 or h >= c + 0.5:
            return 0.0
        if h < o:
            return 0.25  # staff and deliveries before opening
        if h >= c:
            return 0.05
        p = 0.35 + 0.9 * bump(h, 13.2, 1.3) + 1.0 * bump(h, 17.3, 1.6) - 0.25 * bump(h, o, 0.4)
        if d < 5:
            p += 0.25 * bump(h, 18.8, 0.8)  # after work
        return max(0.05, 9.0 * p * day_factor[d])

    doors = [("5th-ave", 0.7, 2_184_552), ("56th-st", 0.3, 903_117)]
    zones = [("floor-1", 0.55, 450), ("floor-2", 0.35, 350), ("fitting-rooms", 0.10, 40)]
    lanes = ["L1", "L2", "L3", "SCO"]
    service_rate = {"L1": 0.8, "L2": 0.8, "L3": 0.75, "SCO": 2.0}  # customers per minute per lane
    basket = {"L1": 96.0, "L2": 96.0, "L3": 96.0, "SCO": 42.0}
    tx_total = {"L1": 412_008, "L2": 388_451, "L3": 201_776, "SCO": 530_340}
    cents_total = {"L1": 3_981_224_510, "L2": 3_760_991_245, "L3": 1_944_018_833, "SCO": 2_231_870_012}
    queue = {lane: 0 for lane in lanes}
    open_ = {lane: 0 for lane in lanes}
    l3_pressure, l3_idle = 0, 0
    door_totals = {d: t for d, _, t in doors}
    occ = 0.0
    checkout_pipe = [0] * max(1, round(22 / STEP_MIN))  # shoppers reach checkout about 20-25 minutes after entering

    for i in range(STEPS):
        ts = step_ts(i)
        d, h = clock.local(ts)
        o, c = hours(d)
        store_open = o <= h < c
        entries = poisson(rng, footfall_rate(ts) * STEP_MIN)
        main_door = binomial(rng, entries, doors[0][1])
        door_totals["5th-ave"] += main_door
        door_totals["56th-st"] += entries - main_door
        for door, _, _ in doors:
            out.add("entries_total", {"door": door}, ts, door_totals[door])

        # Occupancy: shoppers stay ~22 minutes; after closing the store empties within ~20 minutes.
        stay = 22.0 if h < c else 6.0
        occ = occ * math.exp(-STEP_MIN / stay) + entries * (1 - math.exp(-STEP_MIN / stay)) * stay / STEP_MIN
        if not store_open and h >= c + 0.5:
            occ = 0.0
        staff = 35 if store_open else (12 if (o - 1.5 <= h < o or c <= h < c + 0.5) else 0)
        for zone, share, cap in zones:
            people = occ * share + (staff * share if zone != "fitting-rooms" else 0)
            people = max(0, min(cap + 3, round(people * rng.uniform(0.93, 1.07))))
            out.add("occupancy_people", {"zone": zone}, ts, people)
            out.add("zone_capacity_people", {"zone": zone}, ts, cap)

        # Checkout: conversion ~18 % of shoppers, lanes opened by schedule and on queue pressure.
        buyers = binomial(rng, checkout_pipe.pop(0), 0.18)
        checkout_pipe.append(entries if store_open else 0)
        weekend = d >= 5
        want = {"L1": store_open, "SCO": store_open,
                "L2": store_open and (weekend or h >= 11.5),
                "L3": store_open and weekend and 13.0 <= h < 18.0}
        staffed_q = queue["L1"] + queue["L2"]
        if store_open and staffed_q >= 10:
            l3_pressure += 1
        else:
            l3_pressure = 0
        if open_["L3"] and staffed_q + queue["L3"] <= 3:
            l3_idle += 1
        else:
            l3_idle = 0
        l3_on = want["L3"] or (open_["L3"] and store_open and l3_idle < 3) or (store_open and l3_pressure >= 2)
        for lane in lanes:
            wanted = l3_on if lane == "L3" else want[lane]
            open_[lane] = 1 if (wanted or queue[lane] > 0) else 0  # a lane closes only once its queue is empty
        # Shoppers: about 35 % use self-checkout, the rest join the shortest open staffed queue.
        for _ in range(buyers):
            if open_["SCO"] and rng.random() < 0.35:
                queue["SCO"] += 1
            else:
                staffed = [lane for lane in ("L1", "L2", "L3") if open_[lane] and (lane != "L3" or l3_on) and (store_open or queue[lane] > 0)]
                if not staffed:
                    staffed = ["L1"]
                    open_["L1"] = 1
                queue[min(staffed, key=lambda x: (queue[x], x))] += 1
        for lane in lanes:
            served = min(queue[lane], poisson(rng, service_rate[lane] * STEP_MIN)) if open_[lane] else 0
            queue[lane] -= served
            tx_total[lane] += served
            for _ in range(served):
                cents_total[lane] += int(round(lognormal(rng, basket[lane] * 0.8, 0.65) * 100))
            wait = queue[lane] / service_rate[lane] * 60 * rng.uniform(0.85, 1.15) if queue[lane] else 0.0
            out.add("lane_open", {"lane": lane}, ts, open_[lane])
            out.add("queue_length_people", {"lane": lane}, ts, queue[lane])
            out.add("queue_wait_seconds", {"lane": lane}, ts, secs(wait))
            out.add("transactions_total", {"lane": lane}, ts, tx_total[lane])
            out.add("sales_dollars_total", {"lane": lane}, ts, round(cents_total[lane] / 100, 2))

    # Shelf gaps: detected while the store trades, more likely when busy; fixed within minutes to hours,
    # or the next morning when detected late.
    for aisle in ["A1", "A2", "A3", "A4", "A5", "A6"]:
        gaps = []
        rate = rng.uniform(0.5, 1.1) / 86_400_000  # gaps per ms of trading time (scaled by footfall)
        busy_until = START_MS
        for i in range(STEPS):
            ts = step_ts(i)
            if ts < busy_until:
                continue
            f = footfall_rate(ts)
            d, h = clock.local(ts)
            o, c = hours(d)
            if not (o <= h < c):
                continue
            if rng.random() < rate * STEP_MS * 24 / 11 * (f / 12.0):
                minutes = min(8 * 60, max(10, lognormal(rng, 50, 0.9)))
                end = ts + int(minutes * 60_000)
                end_d, end_h = clock.local(end)
                if end_h >= hours(end_d)[1] or (end_d != d):  # not fixed before closing: restocked next morning
                    next_day = (ts - clock.ms(0, 0)) // 86_400_000 + 1
                    end = clock.ms(int(next_day), 9, 30) + rng.randrange(0, 45) * 60_000
                gaps.append((ts, end))
                busy_until = end + STEP_MS
        if aisle == "A3":  # found at 20:40 on Thursday, restocked only on Friday morning
            a, b = clock.ms(3, 20, 40), clock.ms(4, 9, 45)
            gaps = [g for g in gaps if g[1] <= a or g[0] >= b] + [(a, b)]
        state_series(out, "shelf_gap", {"aisle": aisle}, gaps)

    devices = make_devices([("camera", "cam", 6), ("reader", "rdr", 3), ("nvr", "nvr", 1), ("sensor", "sen", 2)],
                           {"camera": ["Axis", "Hanwha"], "reader": ["HID"], "nvr": ["Genetec"], "sensor": ["Xovis"]},
                           {"cam-02", "cam-05", "sen-02"})
    upgrade = clock.ms(2, 2, 0)  # Wednesday 02:00 local maintenance window: cam-02 upgraded, reboots
    security_ops(out, rng, clock, devices,
                 fixed_outages=[("cam-02", upgrade, 15), ("nvr-01", clock.ms(4, 18, 20), 45)],
                 cert_events=[("rdr-02", clock.ms(1, 9, 0), clock.ms(2, 16, 0))],
                 upgrades=[("cam-02", upgrade, APPROVED_FIRMWARE["Axis"])])


# ---------------------------------------------------------------------------------------------
# Campus


def campus(out, rng, clock):
    rooms = [("SCI", "SCI-101", 150), ("SCI", "SCI-204", 40), ("ENG", "ENG-110", 90), ("ENG", "ENG-215", 30)]
    mwf = [(h, 0, 50) for h in range(8, 16)] + [(17, 0, 75)]
    tth = [(8, 0, 75), (9, 30, 75), (11, 0, 75), (12, 30, 75), (14, 0, 75), (15, 30, 75), (18, 30, 75)]
    classes = {}  # room -> list of (start_ms, end_ms, attendance)
    for _, room, cap in rooms:
        lst = []
        courses = {}
        for slot in mwf + tth:  # a course meets in the same slot all week (MWF or TTh)
            if rng.random() < (0.68 if slot[0] < 17 else 0.35):
                courses[slot] = round(cap * rng.uniform(0.45, 0.95))
        for day in range(5):
            slots = mwf if day in (0, 2, 4) else tth
            for slot in slots:
                if slot not in courses:
                    continue
                hh, mm, length = slot
                start = clock.ms(day, hh, mm)
                attend = courses[slot] * rng.uniform(0.72, 0.93) * (0.85 if day == 4 else 1.0)
                lst.append((start, start + length * 60_000, attend))
        classes[room] = lst

    for building, room, cap in rooms:
        labels = {"building": building, "room": room}
        for i in range(STEPS):
            ts = step_ts(i)
            d, h = clock.local(ts)
            people = 0.0
            for start, end, attend in classes[room]:
                if start - 15 * 60_000 <= ts < end + 10 * 60_000:
                    rel = (ts - start) / 60_000
                    if rel < -10:
                        f = 0.05
                    elif rel < -5:
                        f = 0.2
                    elif rel < 0:
                        f = 0.6
                    elif rel < 5:
                        f = 0.92
                    elif ts < end - 5 * 60_000:
                        f = 1.0
                    elif ts < end:
                        f = 0.97
                    elif ts < end + 5 * 60_000:
                        f = 0.25
                    else:
                        f = 0.03
                    people = max(people, attend * f)
            if people < 1:
                if d < 5 and 7.5 <= h < 21:
                    people = rng.choice([0, 0, 0, 1, 1, 2, 3])  # a few students between classes
                elif d == 5 and room == "SCI-204" and 13 <= h < 16:
                    people = rng.randint(6, 11)  # Saturday study group
                elif d >= 5 and 10 <= h < 18:
                    people = rng.choice([0, 0, 0, 0, 1, 2])
                else:
                    people = 0
            else:
                people = people * rng.uniform(0.96, 1.04)
            out.add("occupancy_people", labels, ts, max(0, min(cap, round(people))))
            out.add("room_capacity_people", labels, ts, cap)

    # Library reading room: open 07:00-24:00, busy afternoons and evenings, Sunday evening cram.
    cap = 120
    for i in range(STEPS):
        ts = step_ts(i)
        d, h = clock.local(ts)
        if h < 7:
            people = 0
        else:
            p = 0.15 + 0.55 * bump(h, 15.5, 2.0) + 0.6 * bump(h, 20.5, 1.6) - 0.15 * bump(h, 23.8, 0.3)
            p *= [0.85, 0.85, 0.85, 0.8, 0.5, 0.35, 0.65][d]
            if d == 6:
                p += 0.35 * bump(h, 20.0, 2.0)
            people = max(0, min(cap, round(cap * p * rng.uniform(0.9, 1.1))))
            if h >= 23.75:
                people = min(people, rng.randint(0, 4))
        out.add("occupancy_people", {"building": "LIB", "room": "LIB-reading"}, ts, people)
        out.add("room_capacity_people", {"building": "LIB", "room": "LIB-reading"}, ts, cap)

    doors = [("SCI", "SCI-east"), ("SCI", "SCI-dock"), ("ENG", "ENG-main"), ("LIB", "LIB-north")]
    props = {door: [] for _, door in doors}
    for day in range(5):  # deliveries: the dock door gets propped on most weekday mornings
        if rng.random() < 0.6:
            a = clock.ms(day, 7, 0) + rng.randrange(0, 30) * STEP_MS // 2
            props["SCI-dock"].append((a, a + rng.randint(2, 8) * STEP_MS))
        for _ in range(rng.choice([0, 1, 1, 2])):  # ENG main entrance at class changes
            a = clock.ms(day, rng.choice([8, 9, 11, 12, 14]), 55)
            props["ENG-main"].append((a, a + rng.randint(1, 2) * STEP_MS))
    for day in (1, 3, 5):  # LIB north door propped in the evening
        a = clock.ms(day, 21, 0) + rng.randrange(0, 12) * STEP_MS
        props["LIB-north"].append((a, a + rng.randint(1, 3) * STEP_MS))
    a = clock.ms(4, 23, 35)  # Friday night: SCI east door propped for two and a half hours
    props["SCI-east"].append((a, a + 150 * 60_000))
    for building, door in doors:
        state_series(out, "door_held_open", {"building": building, "door": door}, props[door])

    # Tailgating at access-controlled doors: follows foot traffic, peaks at class changes.
    totals = {"SCI-east": 1_842, "SCI-dock": 311, "ENG-main": 4_073, "LIB-north": 2_566}
    weight = {"SCI-east": 0.8, "SCI-dock": 0.15, "ENG-main": 1.4, "LIB-north": 1.0}
    for building, door in doors:
        total = totals[door]
        for i in range(STEPS):
            ts = step_ts(i)
            d, h = clock.local(ts)
            if d < 5:
                traffic = 0.02 + sum(bump(h, c + 0.95, 0.15) for c in range(8, 17)) * 0.35 + 0.05 * bump(h, 12.5, 1.5)
                traffic *= 1.0 if 7 <= h < 22 else 0.05
            else:
                traffic = 0.03 if 10 <= h < 18 else 0.002
            total += poisson(rng, weight[door] * traffic * STEP_MIN * 0.22)
            out.add("tailgating_total", {"building": building, "door": door}, ts, total)

    # Time to secure after an alert: Tuesday drill (all buildings), Thursday night alert (LIB),
    # Friday shelter-in-place (ENG).
    for building, alert, value in [("SCI", clock.ms(1, 10, 15), rng.uniform(160, 220)),
                                   ("ENG", clock.ms(1, 10, 15), rng.uniform(210, 280)),
                                   ("LIB", clock.ms(1, 10, 15), rng.uniform(380, 460)),
                                   ("LIB", clock.ms(3, 21, 40), rng.uniform(85, 120)),
                                   ("ENG", clock.ms(4, 14, 5), rng.uniform(130, 170))]:
        out.add("lockdown_secured_seconds", {"building": building}, alert + int(value * 1000), secs(value))

    devices = make_devices([("camera", "cam", 5), ("reader", "rdr", 4), ("nvr", "nvr", 1), ("sensor", "sen", 2)],
                           {"camera": ["Hanwha", "Axis"], "reader": ["HID"], "nvr": ["Genetec"], "sensor": ["Xovis"]},
                           {"rdr-04", "cam-03", "cam-04"})
    security_ops(out, rng, clock, devices,
                 fixed_outages=[("rdr-02", clock.ms(2, 7, 40), 20)],
                 cert_events=[("rdr-04", START_MS, None), ("cam-01", clock.ms(5, 0, 0), None)])


# ---------------------------------------------------------------------------------------------
# Stadium


def stadium(out, rng, clock):
    site = next(s for s in SITES if s["site"] == "ARENA-1")
    events = []
    for ev in site["events"]:
        kickoff = int(datetime.datetime.fromisoformat(ev["kickoff"].replace("Z", "+00:00")).timestamp() * 1000)
        gates_open = int(datetime.datetime.fromisoformat(ev["gates_open"].replace("Z", "+00:00")).timestamp() * 1000)
        events.append((kickoff, gates_open, ev["attendance"]))
    event_days = []
    for kickoff, _, _ in events:
        day = (kickoff + clock.offset_ms - START_MS) // 86_400_000
        event_days.append((clock.ms(int(day), 0), clock.ms(int(day) + 1, 0)))

    def on_event_day(ts):
        return any(a <= ts < b for a, b in event_days)

    gates = [("gate-A", 0.3, 14, 3_118_402), ("gate-B", 0.25, 12, 2_604_977), ("gate-C", 0.25, 12, 2_587_310),
             ("gate-D", 0.2, 9, 2_031_596)]  # gate, share of the crowd, turnstiles, total so far
    turnstile_per_min = 11
    reader_outage = (clock.ms(5, 14, 20), clock.ms(5, 14, 50))  # Saturday: gate-C turnstile readers offline

    def arrival_shape(tau):  # minutes relative to kick-off
        if tau < -120 or tau > 30:
            return 0.0
        return bump(tau, -28, 20) + 0.3 * bump(tau, -75, 25) + 0.05

    norm = sum(arrival_shape(t) for t in range(-120, 31, STEP_MIN))
    for gate, share, turnstiles, total in gates:
        backlog = 0.0
        for i in range(STEPS):
            ts = step_ts(i)
            if not on_event_day(ts):
                continue
            n = 0
            for kickoff, gates_open, crowd in events:
                if gates_open <= ts < kickoff + 60 * 60_000:
                    tau = (ts - kickoff) / 60_000
                    arrivals = crowd * share * arrival_shape(tau) / norm
                    capacity = turnstiles * turnstile_per_min * STEP_MIN
                    if gate == "gate-C" and reader_outage[0] <= ts < reader_outage[1]:
                        capacity *= 0.4
                    backlog += arrivals
                    n = min(backlog, capacity * rng.uniform(0.9, 1.0))
                    backlog -= n
            total += int(round(n))
            out.add("entries_total", {"gate": gate}, ts, total)

    stands = [("north", "N-bar-1", 5, 32, 50, 1.0), ("north", "N-food-2", 4, 42, 130, 0.8),
              ("south", "S-food-1", 4, 42, 120, 0.9), ("east", "E-bar-1", 4, 32, 55, 0.7)]
    # concourse, stand, tills, till seconds (order and pay), preparation median seconds, demand weight
    for concourse, stand, tills, till_s, prep_s, weight in stands:
        orders = []  # (arrival s, start s, done s)
        windows = []
        for kickoff, gates_open, crowd in events:
            k = kickoff / 1000
            open_s, close_s = gates_open / 1000, k + (115 + 45) * 60
            windows.append((gates_open, int(close_s * 1000)))
            t = open_s
            arrivals = []
            while t < close_s:
                tau = (t - k) / 60
                if tau < 0:
                    rate = 1.0 + 3.0 * bump(tau, -22, 18)
                elif tau < 47:
                    rate = 0.5
                elif tau < 64:
                    rate = 9.5 if "food" in stand else 11.0  # half-time rush
                elif tau < 112:
                    rate = 0.45
                else:
                    rate = 1.6 if "bar" in stand else 0.3
                rate *= weight * crowd / 50000
                t += rng.expovariate(rate / 60)
                if t < close_s:
                    arrivals.append(t)
            free = [open_s] * tills
            heapq.heapify(free)
            for a in arrivals:
                s = max(a, heapq.heappop(free))
                e = s + lognormal(rng, till_s, 0.3)
                heapq.heappush(free, e)
                load = 1 + 0.6 * min(1.0, (s - a) / 300)  # kitchen under pressure while queues are long
                orders.append((a, s, e, e + lognormal(rng, prep_s * load, 0.35)))
        tx = {"N-bar-1": 611_204, "N-food-2": 402_775, "S-food-1": 455_019, "E-bar-1": 298_663}[stand]
        starts = sorted(o[1] * 1000 for o in orders)
        for _, _, e, done in orders:
            out.add("order_completion_seconds", {"stand": stand}, done * 1000, secs(done - e))
        labels_q = {"concourse": concourse, "stand": stand}
        for i in range(STEPS):
            ts = step_ts(i)
            if not on_event_day(ts):
                continue
            if any(a <= ts < b for a, b in windows):
                recent = [s - a for a, s, _, _ in orders if ts - STEP_MS <= s * 1000 < ts]
                wait = sum(recent) / len(recent) if recent else 0.0
                out.add("queue_wait_seconds", labels_q, ts, secs(wait))
            out.add("transactions_total", {"stand": stand}, ts, tx + bisect.bisect_right(starts, ts))

    devices = make_devices([("camera", "cam", 5), ("reader", "rdr", 4), ("nvr", "nvr", 1), ("sensor", "sen", 2)],
                           {"camera": ["Axis", "Hanwha"], "reader": ["HID"], "nvr": ["Genetec"], "sensor": ["Xovis"]},
                           {"cam-05", "sen-01"})
    security_ops(out, rng, clock, devices,
                 fixed_outages=[("rdr-03", reader_outage[0], 30), ("cam-01", clock.ms(3, 9, 0), 300)],
                 cert_events=[("rdr-01", clock.ms(0, 0, 0), clock.ms(1, 12, 0))])


# ---------------------------------------------------------------------------------------------
# Logistics


def logistics(out, rng, clock):
    doors = [f"D{n:02d}" for n in range(1, 11)]
    yard_of = {d: ("north" if n < 5 else "south") for n, d in enumerate(doors)}
    occupied = {d: [] for d in doors}
    weekday_slots = [5, 8, 11, 14, 17, 20]
    sat_slots = [6, 9, 12]
    planned_turn = 165 * 60  # seconds from booked arrival to planned departure
    for door in doors:
        appts = []
        for day in range(6):
            for hh in weekday_slots if day < 5 else sat_slots:
                if rng.random() < (0.85 if day < 5 else 0.5):
                    appts.append(clock.ms(day, hh, rng.choice([0, 0, 15, 30])) / 1000)
        if door == "D07":  # leveler repair Thursday morning: those bookings were moved
            appts = [a for a in appts if not (clock.ms(3, 4, 0) / 1000 <= a < clock.ms(3, 14, 0) / 1000)]
        door_free = clock.ms(0, 0) / 1000
        if door == "D09":  # a drop trailer left at the door since Saturday, unloaded Monday morning (no booked departure)
            gate_in = clock.ms(-2, 13, 10) / 1000
            dock_end = clock.ms(0, 6, 40) / 1000
            occupied[door].append((START_MS, int(dock_end * 1000)))
            gate_out = dock_end + 20 * 60
            out.add("trailer_dwell_seconds", {"yard": yard_of[door]}, gate_out * 1000, secs(gate_out - gate_in))
            door_free = dock_end
        for booked in appts:
            r = rng.random()
            if r < 0.7:
                variance = rng.gauss(4 * 60, 12 * 60)
            elif r < 0.85:
                variance = -abs(rng.gauss(35 * 60, 15 * 60))
            else:
                variance = lognormal(rng, 55 * 60, 0.6)
            gate_in = booked + variance
            dock_start = max(gate_in + rng.uniform(5, 15) * 60, door_free + 10 * 60)
            handling = lognormal(rng, 95 * 60, 0.28)
            dock_end = dock_start + handling
            gate_out = dock_end + rng.uniform(12, 30) * 60
            door_free = dock_end
            occupied[door].append((int(dock_start * 1000), int(dock_end * 1000)))
            out.add("appointment_variance_seconds", {"door": door}, gate_in * 1000, secs(variance))
            out.add("departure_delay_seconds", {"door": door}, gate_out * 1000, secs(gate_out - (booked + planned_turn)))
            out.add("trailer_dwell_seconds", {"yard": yard_of[door]}, gate_out * 1000, secs(gate_out - gate_in))
        if door == "D03":  # Saturday's last trailer is dropped and stays over the weekend
            a = clock.ms(5, 13, 20)
            occupied[door].append((a, END_MS))
        state_series(out, "dock_door_occupied", {"door": door}, occupied[door])

    devices = make_devices([("camera", "cam", 6), ("reader", "rdr", 3), ("nvr", "nvr", 1), ("sensor", "sen", 2)],
                           {"camera": ["Hanwha", "Axis"], "reader": ["HID"], "nvr": ["Genetec"], "sensor": ["Xovis"]},
                           {"cam-01", "cam-02", "rdr-01"})
    security_ops(out, rng, clock, devices,
                 fixed_outages=[("sen-01", clock.ms(3, 4, 0), 600)],  # dock sensor down with the D07 repair
                 cert_events=[("cam-04", clock.ms(2, 12, 0), None)])


# ---------------------------------------------------------------------------------------------
# Manufacturing


def manufacturing(out, rng, clock):
    lines = {
        "L1": {"machines": ["press", "weld", "assembly"], "ideal": 45.0, "fpy": 0.982,
               "produced": 1_284_330, "good": 1_259_102, "planned": 1_320_410},
        "L2": {"machines": ["mold", "trim", "pack"], "ideal": 72.0, "fpy": 0.965,
               "produced": 640_118, "good": 617_045, "planned": 668_902},
    }

    def scheduled(line, ts):
        d, h = clock.local(ts)
        if line == "L1":  # 3 shifts from Monday 06:00 to Saturday 06:00
            return (d == 0 and h >= 6) or 1 <= d <= 4 or (d == 5 and h < 6)
        return d < 5 and 6 <= h < 22

    def planned_stop(line, ts):
        d, h = clock.local(ts)
        m = h * 60
        for shift_start in (6, 14, 22):  # handover (10 min) and a 30-minute break four hours in
            s = shift_start * 60
            if s <= m < s + 10 or (s + 240) % 1440 <= m < (s + 240) % 1440 + 30:
                return True
        if line == "L2" and d == 2 and 13 <= h < 14:
            return True  # mould changeover
        if line == "L1" and d == 3 and 22 <= h < 24:
            return True  # preventive maintenance
        return False

    # Unplanned breakdowns: (line, machine, local day, hour, minute, minutes)
    breakdowns = [("L1", "weld", 0, 11, 20, 25), ("L2", "mold", 1, 15, 5, 15), ("L1", "press", 2, 3, 10, 165),
                  ("L2", "pack", 3, 9, 40, 70), ("L1", "assembly", 4, 19, 30, 10)]
    extra_machine = rng.choice(["press", "weld", "assembly"])
    breakdowns.append(("L1", extra_machine, 1, rng.randint(7, 20), 5 * rng.randint(0, 11), rng.choice([20, 35, 50])))
    down = {}
    for line, machine, day, hh, mm, minutes in breakdowns:
        a = clock.ms(day, hh, mm)
        down.setdefault((line, machine), []).append((a, a + minutes * 60_000))
    quality_dip = [(clock.ms(3, 13, 0), clock.ms(3, 15, 0), "L2")]  # bad resin lot

    for line, cfg in lines.items():
        acc, plan_acc = 0.0, 0.0
        last_restart = -10**15
        for i in range(STEPS):
            ts = step_ts(i)
            sched = scheduled(line, ts)
            pstop = planned_stop(line, ts)
            line_down = False
            for machine in cfg["machines"]:
                if not sched:
                    state = 1
                elif any(a <= ts < b for a, b in down.get((line, machine), [])):
                    state = 0  # a breakdown stays unplanned downtime even through a break
                    line_down = True
                elif pstop:
                    state = 1
                else:
                    state = 2
                out.add("machine_state", {"line": line, "machine": machine}, ts, state)
            running = sched and not pstop and not line_down
            if sched and line_down:
                last_restart = ts + STEP_MS
            if sched and not pstop:
                # planned output accrues at the standard rate (6 % over the ideal cycle) in scheduled run time
                plan_acc += STEP_MS / 1000 / (cfg["ideal"] * 1.06)
                whole = int(plan_acc)
                cfg["planned"] += whole
                plan_acc -= whole
            if running:
                _, h = clock.local(ts)
                slow = 1.0 + (0.03 if (h >= 22 or h < 6) else 0.0) + (0.08 if ts - last_restart < 3_600_000 else 0.0)
                cycle = cfg["ideal"] * rng.uniform(1.03, 1.12) * slow
                acc += STEP_MS / 1000 / cycle
                made = int(acc)
                acc -= made
                fpy = cfg["fpy"]
                if ts - last_restart < 3_600_000:
                    fpy -= 0.08  # scrap while the process settles after a breakdown
                if any(a <= ts < b and ln == line for a, b, ln in quality_dip):
                    fpy -= 0.07
                good = binomial(rng, made, fpy)
                cfg["produced"] += made
                cfg["good"] += good
                out.add("cycle_time_seconds", {"line": line}, ts, secs(cycle))
            out.add("units_produced_total", {"line": line}, ts, cfg["produced"])
            out.add("units_good_total", {"line": line}, ts, cfg["good"])
            out.add("units_planned_total", {"line": line}, ts, cfg["planned"])

    devices = make_devices([("camera", "cam", 6), ("reader", "rdr", 3), ("nvr", "nvr", 1), ("sensor", "sen", 2)],
                           {"camera": ["Axis"], "reader": ["HID"], "nvr": ["Genetec"], "sensor": ["Xovis"]},
                           {"nvr-01", "cam-04"})
    security_ops(out, rng, clock, devices,
                 fixed_outages=[("nvr-01", clock.ms(5, 22, 0), 95)],
                 cert_events=[("nvr-01", START_MS, clock.ms(1, 11, 0)), ("cam-05", clock.ms(4, 8, 0), None)])


GENERATORS = {"airport": airport, "retail": retail, "campus": campus, "stadium": stadium,
              "logistics": logistics, "manufacturing": manufacturing}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=20261116, help="base seed (default 20261116)")
    parser.add_argument("--site", action="append", help="only this site id (repeatable)")
    parser.add_argument("--step-minutes", type=int, default=15, choices=[1, 2, 5, 10, 15, 20, 30, 60],
                        help="sampling step of gauges, counters and states (default 5); a larger step makes smaller files")
    args = parser.parse_args()
    global STEP_MIN, STEP_MS, STEPS
    STEP_MIN, STEP_MS, STEPS = args.step_minutes, args.step_minutes * 60_000, 7 * 24 * 60 // args.step_minutes
    for site in SITES:
        if args.site and site["site"] not in args.site:
            continue
        rng = random.Random(f"{args.seed}:{site['site']}")
        out = Writer(site["site"])
        GENERATORS[site["template"]](out, rng, Clock(site["time_zone"]))
        path = ROOT / site["file"]
        n = out.write(path)
        print(f"{site['file']}: {n} samples, {path.stat().st_size / 1e6:.2f} MB")
    (FIXTURES / "sites.json").write_text(json.dumps(SITES, indent=2) + "\n")
    print("Fixtures/sites.json")


if __name__ == "__main__":
    main()
