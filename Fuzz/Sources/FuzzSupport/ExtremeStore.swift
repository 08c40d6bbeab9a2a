import KPICore

/// The store the SQL and PromQL fuzz targets run every input against, built once at start-up.
///
/// It holds what the time contract (`SampleTime`) lets a store hold and what once trapped the
/// engines: samples at 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z and next to them (a
/// few sparse instants and a dense half hour at 15 s at each edge, so chunks with rollups seal
/// right at the edges), samples around the epoch, and values at the edges of Double (±Int64-ish
/// magnitudes, ±1e308, ±greatestFiniteMagnitude, ±Inf, NaN, the staleness marker, -0.0,
/// subnormals), beside an hour of ordinary data (2026-11-16T00:00Z, every 15 s).
///
/// Metrics, each with series for sites `JFK` (two zones, ordinary data in the ordinary hour),
/// `EDGE` (every edge plus the ordinary hour, values interleaved with extreme ones) and `LHR`
/// (only the sparse edge instants, extreme values): gauges `queue_wait_seconds`,
/// `occupancy_people`, `kpi_occupancy`, `kpi_temperature`; counters with resets
/// `entries_total`, `transactions_total`, `kpi_entries_total`; 0/1 states `device_up`,
/// `machine_state`, `kpi_door_state`. Besides: `kpi_gap` (no samples from 20 to 40 minutes),
/// `kpi_late` (starts at 40 minutes) and a classic histogram `kpi_wait_seconds_bucket{le}`
/// (`EDGE`'s buckets at `1e308`, `+Inf`, `NaN`, `-0`), and the 20 other metrics the saved
/// queries read (`savedQueryMetrics`: JFK's ordinary hour, EDGE's sparse edge instants). Every
/// series has `site`, `zone` and `device` labels and metric-specific ones (`door`, `gate`,
/// `device_type`, `machine`, `line`, `checkpoint`, `sensor`, `building`, `room`, ...). Late samples merged into sealed edge chunks, a deleted range
/// and a retention floor make chunks that were rewritten after sealing.
public enum ExtremeStore {
    /// 2026-11-16T00:00:00Z, the start of the ordinary hour.
    public static let normalStart: Int64 = 1_794_787_200_000
    /// The end (exclusive) of the ordinary hour.
    public static let normalEnd: Int64 = normalStart + 3_600_000
    /// The sampling interval of the ordinary hour and of the dense blocks at the edges.
    public static let step: Int64 = 15_000
    /// 64-sample chunks and a 10-minute out-of-order window: chunks seal, with their rollups,
    /// up to the contract's edges.
    public static let configuration = StoreConfiguration(outOfOrderWindowMs: 600_000, chunkSize: 64)

    /// Values at the edges of Double and of the Int64 range a Double can stand for.
    public static let extremeValues: [Double] = [
        0, -0.0, 1, -1, 0.5,
        0x1p63,  // Double(Int64.max) rounds to 2^63: converting it back to Int64 traps
        -0x1p63,  // Double(Int64.min)
        0x1p63.nextDown,  // the largest Double below 2^63
        0x1p53 + 2,  // past 2^53, where odd integers are no longer representable
        1e308, -1e308, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
        .infinity, -.infinity, .nan, Double(bitPattern: 0x7FF0_0000_0000_0002),  // Prometheus' staleness marker
        Double(bitPattern: 0xFFF8_0000_0000_0042),  // negative NaN with a payload
        .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude, 1e-300,
        253_402_300_799_999, -62_135_596_800_000,  // SampleTime.maximum / minimum as values
    ]

    /// Sparse instants at and near the contract's edges and the epoch.
    public static let sparseEdges: [Int64] = {
        let lo = SampleTime.minimum
        let hi = SampleTime.maximum
        let day: Int64 = 86_400_000
        return [
            lo, lo + 1, lo + 999, lo + day - 1, lo + 31 * day, lo + 365 * day,
            -day, -1, 0, 1, day,
            hi - 366 * day, hi - 31 * day, hi - day, hi - 1_000, hi - 1, hi,
        ]
    }()

    /// A dense half hour at 15 s from `SampleTime.minimum`, and one ending at `SampleTime.maximum`.
    public static let denseEdges: [Int64] =
        every(step, from: SampleTime.minimum, count: 120) + every(step, from: SampleTime.maximum - 119 * step, count: 120)

    /// The ordinary hour.
    public static let normalTimes: [Int64] = every(step, from: normalStart, count: 240)

    /// The metrics of the saved queries beyond the ten above (two series each).
    public static let savedQueryMetrics = [
        "alert_ack_seconds", "appointment_variance_seconds", "cert_valid", "departure_delay_seconds", "dock_door_occupied",
        "door_held_open", "firmware_compliant", "lane_open", "lockdown_secured_seconds", "order_completion_seconds",
        "queue_length_people", "room_capacity_people", "sales_dollars_total", "shelf_gap", "tailgating_total",
        "trailer_dwell_seconds", "units_good_total", "units_planned_total", "units_produced_total", "zone_capacity_people",
    ]

    /// Which of them are 0/1 states.
    static let stateMetrics: Set = [
        "cert_valid", "dock_door_occupied", "door_held_open", "firmware_compliant", "lane_open", "shelf_gap",
    ]

    /// `count` instants `interval` apart from `start`.
    static func every(_ interval: Int64, from start: Int64, count: Int) -> [Int64] {
        (0..<count).map { start + Int64($0) * interval }
    }

    /// Every instant of the `EDGE` series, ascending.
    public static let allTimes: [Int64] = Array(Set(sparseEdges + denseEdges + normalTimes)).sorted()

    /// Evaluation instants for PromQL: the ordinary hour, both edges and the epoch.
    public static let instants: [Int64] = [normalStart + 1_800_000, SampleTime.maximum, SampleTime.minimum + 600_000, 0]

    /// Range-query windows (start, end, step) for PromQL: the ordinary hour, the last hour of
    /// the contract, and the whole contract in 1,000 steps.
    public static let ranges: [(start: Int64, end: Int64, step: Int64)] = [
        (normalStart, normalEnd, 60_000),
        (SampleTime.maximum - 3_600_000, SampleTime.maximum, 60_000),
        (SampleTime.minimum, SampleTime.maximum, (SampleTime.maximum - SampleTime.minimum) / 1_000),
    ]

    /// The store; build it once (about 19,000 samples in 91 series; a few seconds in a fuzzing build).
    public static func make() -> ColumnarStore {
        var builder = Builder(store: ColumnarStore(configuration: configuration))
        builder.build()
        return builder.store
    }

    private enum Kind { case gauge, counter, state }

    private struct Builder {
        let store: ColumnarStore
        var next: UInt32 = 0
        var random = Mix(state: 0x6B70_6964)
        var edgeSeries: [SeriesID] = []

        mutating func add(_ labels: Labels, _ ts: [Int64], _ vs: [Double]) -> SeriesID {
            let id = SeriesID(next)
            next += 1
            store.apply(newSeries: [(id, labels)], series: [id], timestamps: [ts], values: [vs])
            return id
        }

        mutating func values(_ kind: Kind, count: Int, extreme: Bool, seed: Int) -> [Double] {
            var out: [Double] = []
            out.reserveCapacity(count)
            var level = Double(random.next() % 50)
            let xs = ExtremeStore.extremeValues
            for i in 0..<count {
                switch kind {
                case .gauge:
                    level = max(0, level + Double(Int(random.next() % 21) - 10) / 2)
                    out.append(extreme && i % 2 == 0 ? xs[(i / 2 + seed) % xs.count] : level)
                case .counter:
                    if i % 97 == 96 { level = 0 } else { level += Double(random.next() % 10) }
                    guard extreme else {
                        out.append(level)
                        continue
                    }
                    switch (i + seed) % 31 {
                    case 5: level = 0x1p63
                    case 11: level = 1e308
                    case 17: level = .greatestFiniteMagnitude
                    case 19: level = 0
                    case 23: out.append(.infinity)
                    case 27: out.append(.nan)
                    case 29: out.append(-1)
                    default: break
                    }
                    if out.count == i { out.append(level) }
                case .state:
                    let on = Double(((i + seed) / 7) % 2)
                    if extreme && i % 11 == 3 {
                        out.append([.nan, 2, -0.0, Double(bitPattern: 0x7FF0_0000_0000_0002), .infinity][(i / 11) % 5])
                    } else {
                        out.append(on)
                    }
                }
            }
            return out
        }

        mutating func build() {
            let metrics: [(String, Kind, [String: String])] = [
                ("queue_wait_seconds", .gauge, ["checkpoint": "T4-security"]),
                ("occupancy_people", .gauge, ["room": "R1"]),
                ("kpi_occupancy", .gauge, [:]),
                ("kpi_temperature", .gauge, ["sensor": "s1"]),
                ("entries_total", .counter, ["gate": "gate-A", "door": "d1"]),
                ("transactions_total", .counter, ["line": "L1"]),
                ("kpi_entries_total", .counter, ["door": "d1"]),
                ("device_up", .state, ["device_type": "camera"]),
                ("machine_state", .state, ["machine": "M1", "line": "L1"]),
                ("kpi_door_state", .state, ["door": "d1"]),
            ]
            var seed = 0
            for (metric, kind, extra) in metrics {
                for (site, zone, times, extreme) in [
                    ("JFK", "z1", ExtremeStore.normalTimes, false), ("JFK", "z2", ExtremeStore.normalTimes, false),
                    ("EDGE", "z1", ExtremeStore.allTimes, true), ("LHR", "z9", ExtremeStore.sparseEdges, true),
                ] {
                    seed += 1
                    var labels = extra
                    labels["site"] = site
                    labels["zone"] = zone
                    labels["device"] = "dev-\(seed)"
                    let id = add(
                        Labels(metric: metric, labels), times, values(kind, count: times.count, extreme: extreme, seed: seed))
                    if site == "EDGE" { edgeSeries.append(id) }
                }
            }
            // The other metrics the saved queries (Queries/, the SQL seeds) read: the ordinary
            // hour at JFK, the sparse edges with extreme values at EDGE.
            let labels = [
                "building": "B1", "door": "d1", "room": "R1", "line": "L1", "yard": "Y1", "aisle": "A1", "stand": "S1",
                "concourse": "C1", "system": "access", "lane": "1", "device_type": "camera", "machine": "M1",
            ]
            for (k, metric) in ExtremeStore.savedQueryMetrics.enumerated() {
                let kind: Kind = metric.hasSuffix("_total") ? .counter : ExtremeStore.stateMetrics.contains(metric) ? .state : .gauge
                for (site, times, extreme) in [("JFK", ExtremeStore.normalTimes, false), ("EDGE", ExtremeStore.sparseEdges, true)] {
                    var l = labels
                    l["site"] = site
                    l["zone"] = "z1"
                    l["device"] = "dev-\(k)"
                    _ = add(Labels(metric: metric, l), times, values(kind, count: times.count, extreme: extreme, seed: k))
                }
            }
            // A gap longer than the lookback, and a series starting late.
            let gap = ExtremeStore.allTimes.filter {
                $0 < ExtremeStore.normalStart + 1_200_000 || $0 >= ExtremeStore.normalStart + 2_400_000
            }
            _ = add(Labels(metric: "kpi_gap", ["site": "JFK", "zone": "z1", "device": "gap"]), gap, values(.gauge, count: gap.count, extreme: false, seed: 0))
            _ = add(Labels(metric: "kpi_gap", ["site": "EDGE", "zone": "z1", "device": "gap"]), gap, values(.gauge, count: gap.count, extreme: true, seed: 3))
            let late = ExtremeStore.normalTimes.filter { $0 >= ExtremeStore.normalStart + 2_400_000 } + [SampleTime.maximum]
            _ = add(Labels(metric: "kpi_late", ["site": "JFK", "zone": "z1", "device": "late"]), late, late.map { _ in 3 })
            // A classic histogram: ordinary cumulative buckets, and buckets with extreme bounds.
            var counts = [Double](repeating: 0, count: ExtremeStore.normalTimes.count)
            for le in ["0.1", "1", "10", "+Inf"] {
                counts = counts.enumerated().map { i, c in c + Double(i % 5) + 1 }
                _ = add(
                    Labels(metric: "kpi_wait_seconds_bucket", ["site": "JFK", "zone": "z1", "device": "h", "le": le]),
                    ExtremeStore.normalTimes, counts)
            }
            for (k, le) in ["-0", "1e308", "NaN", "+Inf"].enumerated() {
                let ts = ExtremeStore.allTimes
                _ = add(
                    Labels(metric: "kpi_wait_seconds_bucket", ["site": "EDGE", "zone": "z1", "device": "h", "le": le]), ts,
                    values(.counter, count: ts.count, extreme: k % 2 == 1, seed: k))
            }
            // Late samples: into the sealed chunks at the lower edge (merged, chunk rewritten) and
            // into the open heads at the upper one.
            let lateTimes =
                (0..<8).map { SampleTime.minimum + 7_500 + Int64($0) * ExtremeStore.step } + [SampleTime.maximum - 7_500]
            for (k, id) in edgeSeries.enumerated() {
                let vs = lateTimes.indices.map { ExtremeStore.extremeValues[($0 + k) % ExtremeStore.extremeValues.count] }
                store.apply(newSeries: [], series: [id], timestamps: [lateTimes], values: [vs])
            }
            // A deleted range across the lower edge's chunks and part of the ordinary hour, and a
            // retention floor just above the contract's minimum.
            store.apply(store.planDeletion([edgeSeries[0]], start: SampleTime.minimum + 60_000, end: SampleTime.minimum + 1_000_000))
            store.apply(store.planDeletion([edgeSeries[1]], start: ExtremeStore.normalStart + 600_000, end: ExtremeStore.normalStart + 900_000))
            store.apply(
                store.planRetention { labels in
                    labels["site"] == "LHR" && labels.metricName == "occupancy_people" ? SampleTime.minimum + 1 : nil
                })
        }
    }

    /// SplitMix64: deterministic data for a reproducible store.
    private struct Mix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
