import Foundation
import KPICore
import KPIQuery
import KPIWire
import Testing

@testable import KPITemplates

/// The fixtures of every site (Fixtures/*/*.ndjson.gz, 8 weeks) in one ColumnarStore and as plain
/// arrays of samples, for values of the week 2026-11-16 .. 2026-11-23 computed independently of
/// the SQL engine.
final class FixtureWeek: @unchecked Sendable {
    static let shared = FixtureWeek()

    /// 2026-11-16T00:00:00Z to 2026-11-23T00:00:00Z.
    static let from: Int64 = 1_794_787_200_000
    static let to: Int64 = from + 7 * 86_400_000
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent()

    struct Series {
        var labels: [String: String]
        var ts: [Int64]
        var values: [Double]
    }

    let store = ColumnarStore()
    /// Series by metric name.
    var series: [String: [Series]] = [:]
    let templates: [KPITemplate]
    let sites: [SiteDefinition]

    private init() {
        let fixtures = Self.root.appendingPathComponent("Fixtures")
        var all: [Labels: Series] = [:]
        var order: [Labels] = []
        // The part of a line before `,"ts":` names the series: parse it with JSONSerialization
        // once per series, then read ts and value as plain numbers.
        var keyOfPrefix: [ArraySlice<UInt8>: Labels] = [:]
        let dirs = (try? FileManager.default.contentsOfDirectory(atPath: fixtures.path)) ?? []
        for dir in dirs.sorted() {
            let files =
                (try? FileManager.default.contentsOfDirectory(
                    atPath: fixtures.appendingPathComponent(dir).path)) ?? []
            for file in files.sorted() where file.hasSuffix(".ndjson.gz") {
                let compressed = try! Data(
                    contentsOf: fixtures.appendingPathComponent(dir).appendingPathComponent(file))
                let bytes = try! GzipDecoder.inflate([UInt8](compressed), limit: 1 << 31)
                for line in bytes.split(separator: 10) {
                    // ...,"ts":<digits>,"value":<number>}
                    let valueAt = line.lastIndex(of: UInt8(ascii: ":"))!
                    let tsAt = line[..<(valueAt - 8)].lastIndex(of: UInt8(ascii: ":"))!
                    let prefix = line[..<(tsAt - 5)]
                    let key: Labels
                    if let known = keyOfPrefix[prefix] {
                        key = known
                    } else {
                        let o =
                            try! JSONSerialization.jsonObject(with: Data(prefix + [UInt8(ascii: "}")])) as! [String: Any]
                        let labels = o["labels"] as! [String: String]
                        key = Labels(metric: o["metric"] as! String, labels)
                        keyOfPrefix[prefix] = key
                        all[key] = Series(labels: labels, ts: [], values: [])
                        order.append(key)
                    }
                    var ts: Int64 = 0
                    for c in line[(tsAt + 1)..<(valueAt - 8)] { ts = ts * 10 + Int64(c - 48) }
                    all[key]!.ts.append(ts)
                    all[key]!.values.append(Double(String(decoding: line[(valueAt + 1)..<(line.endIndex - 1)], as: UTF8.self))!)
                }
            }
        }
        for (i, key) in order.enumerated() {
            let s = all[key]!
            let id = SeriesID(UInt32(i))
            store.apply(newSeries: [(id, key)], series: [id], timestamps: [s.ts], values: [s.values])
            series[key.metricName!, default: []].append(s)
        }
        templates = try! TemplateLoader.loadDirectory(
            Self.root.appendingPathComponent("Queries/templates").path)
        sites = try! SiteCatalog.parse(
            Data(contentsOf: Self.root.appendingPathComponent("Queries/sites.json")), file: "sites.json",
            templates: templates)
    }

    /// Samples of `metric` at `site` inside the week [from, to), optionally filtered by labels;
    /// series without a sample in the week are left out. `previous`: also each series' last
    /// sample before the week, for counter increases (the step from a series' previous sample
    /// into a range counts in the range, see the README's `increase`).
    /// `lookback`: also every sample that long before the week (for held states).
    func samples(
        _ metric: String, site: String, where filter: [String: String] = [:], previous: Bool = false, lookback: Int64 = 0
    ) -> [Series] {
        (series[metric] ?? []).compactMap { s in
            guard s.labels["site"] == site && filter.allSatisfy({ s.labels[$0.key] == $0.value }) else { return nil }
            var lo = s.ts.firstIndex { $0 >= Self.from - lookback } ?? s.ts.count
            if previous && lo > 0 && lo < s.ts.count && s.ts[lo] < Self.to { lo -= 1 }
            let hi = s.ts.firstIndex { $0 >= Self.to } ?? s.ts.count
            guard lo < hi else { return nil }
            return Series(labels: s.labels, ts: Array(s.ts[lo..<hi]), values: Array(s.values[lo..<hi]))
        }
    }

    func template(_ name: String) -> KPITemplate { templates.first { $0.name == name }! }

    /// Every KPI of `template` at `site` over the week, by id.
    func evaluate(_ template: String, site: String) throws -> [String: KPIResult] {
        let def = sites.first { $0.site == site }!
        var options = QueryOptions(now: Self.to, timeZone: TimeZone(identifier: def.timeZone)!)
        options.parallelism = 1
        let results = try TemplateEvaluator(engine: QueryEngine(store: store)).evaluate(
            self.template(template), site: site, from: Self.from, to: Self.to, options: options,
            overrides: def.overrides[template] ?? [:])
        return Dictionary(uniqueKeysWithValues: results.map { ($0.kpi.id, $0) })
    }

    // MARK: Independent computations (plain Swift over the raw samples)

    /// Reset-aware counter increase summed over the series (a drop restarts from 0).
    static func increase(_ series: [Series]) -> Double {
        var total = 0.0
        for s in series {
            for k in s.values.indices.dropFirst() {
                let d = s.values[k] - s.values[k - 1]
                total += d >= 0 ? d : s.values[k]
            }
        }
        return total
    }

    static func mean(_ series: [Series]) -> Double {
        let all = series.flatMap(\.values)
        return all.reduce(0, +) / Double(all.count)
    }

    /// Runs of consecutive samples where `condition` holds: (start, end) with end the first
    /// sample after the run (or the run's last sample at the end of the series).
    static func runs(_ s: Series, _ condition: (Double) -> Bool) -> [(start: Int64, end: Int64)] {
        var out: [(Int64, Int64)] = []
        var start: Int64? = nil
        for k in s.ts.indices {
            if condition(s.values[k]) {
                if start == nil { start = s.ts[k] }
            } else if let st = start {
                out.append((st, s.ts[k]))
                start = nil
            }
        }
        if let st = start { out.append((st, s.ts.last!)) }
        return out
    }

    /// Samples of a state metric for `timeIn`: the week's and the hour before it.
    func states(_ metric: String, site: String) -> [Series] {
        samples(metric, site: site, lookback: Self.holdLookback)
    }

    /// How far before the week a state is looked for (the default staleness maximum, 1 h).
    static let holdLookback: Int64 = 3_600_000

    /// Milliseconds of the week the series (read by `states`) spent where `condition` held,
    /// as sample-and-hold: each sample holds until the next one, at most the series' staleness
    /// limit, clipped to [from, to); the state before the week is carried in from its start.
    /// The limit is the product's rule (StalenessPolicy, tested on its own); the holding and
    /// clipping are computed here.
    static func timeIn(_ s: Series, metric: String, _ condition: (Double) -> Bool) -> Int64 {
        let limit = StalenessPolicy().limitMs(metric: metric, timestamps: s.ts)
        var total: Int64 = 0
        for k in s.ts.indices where condition(s.values[k]) {
            let next = k + 1 < s.ts.count ? s.ts[k + 1] : to
            let start = max(s.ts[k], from)
            let end = min(next, s.ts[k] + limit, to)
            if end > start { total += end - start }
        }
        return total
    }
}

/// Every template evaluated on its fixture site over the week; values compared with the same
/// quantities computed in plain Swift from the raw samples (relative tolerance 1e-9 unless stated).
@Suite struct FixtureEvaluationTests {
    let week = FixtureWeek.shared

    func close(_ a: Double?, _ b: Double, tolerance: Double = 1e-9) -> Bool {
        guard let a else { return false }
        return abs(a - b) <= tolerance * max(1, abs(b))
    }

    @Test func allSevenTemplatesLoadWithFiveKPIsOrMore() {
        let names = Set(week.templates.map(\.name))
        #expect(
            names == [
                "retail", "airport", "campus", "stadium", "logistics", "manufacturing",
                "security-operations",
            ])
        for t in week.templates { #expect(t.kpis.count >= 5, "\(t.name)") }
        #expect(
            week.sites.map(\.site) == ["JFK", "NYC-5TH", "CAMPUS-E", "ARENA-1", "DC-ATL", "PLANT-1"])
    }

    @Test func everyKPIOfEveryTemplateIsANumberOnItsFixtureSite() throws {
        for site in week.sites {
            for template in site.templates {
                let results = try week.evaluate(template, site: site.site)
                #expect(results.count == week.template(template).kpis.count)
                for (id, r) in results {
                    #expect(r.error == nil, "\(site.site) \(template) \(id): \(r.error ?? "")")
                    #expect(r.value?.isFinite == true, "\(site.site) \(template) \(id) has no value")
                    #expect(r.status != nil, "\(site.site) \(template) \(id)")
                    // A total of 0 (no device was ever unmonitored) has no item to list.
                    if r.kpi.breakdownQuery != nil, r.value != 0 {
                        #expect(!r.worst.isEmpty, "\(site.site) \(template) \(id) has no breakdown items")
                    }
                }
            }
        }
    }

    @Test func limitsStopTheWholeEvaluation() throws {
        let engine = QueryEngine(store: week.store)
        var options = QueryOptions(now: FixtureWeek.to, timeZone: TimeZone(identifier: "America/New_York")!)
        options.limits.maxSamples = 10
        #expect {
            _ = try TemplateEvaluator(engine: engine).evaluate(
                week.template("airport"), site: "JFK", from: FixtureWeek.from, to: FixtureWeek.to, options: options)
        } throws: { error in
            (error as? TemplateEvaluationError)?.error.kind == .limit
                && (error as? TemplateEvaluationError)?.kpi == "avg_queue_wait"
        }
        // No time budget at all: stopped before the first query, as a timeout.
        options.limits = QueryLimits(timeoutMilliseconds: 0)
        #expect {
            _ = try TemplateEvaluator(engine: engine).evaluate(
                week.template("airport"), site: "JFK", from: FixtureWeek.from, to: FixtureWeek.to, options: options)
        } throws: { error in
            (error as? TemplateEvaluationError)?.error.kind == .timeout
        }
    }

    @Test func siteScopeHidesOtherSites() throws {
        // A scope of another site: the JFK series are invisible, so the airport KPIs have no value.
        var options = QueryOptions(now: FixtureWeek.to, timeZone: TimeZone(identifier: "America/New_York")!)
        options.seriesScope = [try LabelMatcher("site", .equal, "NYC-5TH")]
        let results = try TemplateEvaluator(engine: QueryEngine(store: week.store)).evaluate(
            week.template("airport"), site: "JFK", from: FixtureWeek.from, to: FixtureWeek.to, options: options)
        // No input in sight: every KPI is no data (no value, no status), counts included: a
        // site with no samples is not a site with zero overflow events (it read green once).
        let byID = Dictionary(uniqueKeysWithValues: results.map { ($0.kpi.id, $0) })
        #expect(byID["passenger_throughput"]?.value == nil && byID["passenger_throughput"]?.status == nil)
        #expect(byID["avg_queue_wait"]?.value == nil && byID["avg_queue_wait"]?.error == nil)
        #expect(byID["overflow_events"]?.value == nil && byID["overflow_events"]?.status == nil)
        #expect(results.allSatisfy { $0.value == nil && $0.status == nil }, "\(results.filter { $0.value != nil }.map(\.kpi.id))")
        #expect(results.allSatisfy { $0.worst.isEmpty })
    }

    @Test func airport() throws {
        let r = try week.evaluate("airport", site: "JFK")
        let waits = week.samples("queue_wait_seconds", site: "JFK")
        #expect(close(r["avg_queue_wait"]?.value, FixtureWeek.mean(waits) / 60))
        #expect(close(r["worst_queue_wait"]?.value, waits.flatMap(\.values).max()! / 60))
        // The entry counter of T4-dep-2 resets on Wednesday; the increase counts through it.
        #expect(
            close(
                r["passenger_throughput"]?.value,
                FixtureWeek.increase(week.samples("entries_total", site: "JFK", previous: true))))
        // Overflow: above 30 people on two or more consecutive samples (longer than 15 minutes).
        var events: [String: Int] = [:]
        for s in week.samples("queue_length_people", site: "JFK") {
            events[s.labels["checkpoint"]!, default: 0] +=
                FixtureWeek.runs(s, { $0 > 30 }).filter { $0.end - $0.start > 900_000 }.count
        }
        #expect(r["overflow_events"]?.value == Double(events.values.reduce(0, +)))
        // Worst three checkpoints with events, most events first (ties by name).
        let worst = events.filter { $0.value > 0 }.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .prefix(3)
        #expect(r["overflow_events"]?.worst.map(\.item) == worst.map(\.key))
        // Site override (Queries/sites.json): throughput target 70000, warning 60000.
        #expect(
            r["passenger_throughput"]?.target == 70000 && r["passenger_throughput"]?.status == .green)
        #expect(r["avg_queue_wait"]?.target == 4 && r["avg_queue_wait"]?.warning == 10)
    }

    @Test func retail() throws {
        let r = try week.evaluate("retail", site: "NYC-5TH")
        let footfall = FixtureWeek.increase(week.samples("entries_total", site: "NYC-5TH", previous: true))
        let transactions = FixtureWeek.increase(week.samples("transactions_total", site: "NYC-5TH", previous: true))
        let sales = FixtureWeek.increase(week.samples("sales_dollars_total", site: "NYC-5TH", previous: true))
        #expect(close(r["footfall"]?.value, footfall))
        #expect(close(r["conversion_rate"]?.value, transactions / footfall * 100))
        #expect(close(r["avg_transaction_value"]?.value, sales / transactions, tolerance: 1e-6))
        let items = FixtureWeek.increase(week.samples("items_sold_total", site: "NYC-5TH", previous: true))
        #expect(close(r["basket_size"]?.value, items / transactions, tolerance: 1e-9))
        // On-shelf availability: time without a gap over all time, every aisle.
        let shelves = week.states("shelf_gap", site: "NYC-5TH")
        let free = shelves.map { FixtureWeek.timeIn($0, metric: "shelf_gap", { $0 == 0 }) }.reduce(0, +)
        let gap = shelves.map { FixtureWeek.timeIn($0, metric: "shelf_gap", { $0 == 1 }) }.reduce(0, +)
        #expect(close(r["shelf_availability"]?.value, 100 * Double(free) / Double(free + gap)))
    }

    @Test func campus() throws {
        let r = try week.evaluate("campus", site: "CAMPUS-E")
        #expect(
            close(
                r["tailgating_events"]?.value,
                FixtureWeek.increase(week.samples("tailgating_total", site: "CAMPUS-E", previous: true))))
        #expect(
            close(
                r["time_to_secure"]?.value,
                FixtureWeek.mean(week.samples("lockdown_secured_seconds", site: "CAMPUS-E"))))
        let doors = week.samples("door_held_open", site: "CAMPUS-E")
        #expect(
            r["door_prop_incidents"]?.value
                == Double(doors.map { FixtureWeek.runs($0, { $0 == 1 }).count }.reduce(0, +)))
        // Room utilization: per room, local (America/Chicago, UTC-6 that week) weekday
        // 2-hour blocks 08:00-20:00; mean occupancy / seats, averaged over room-day-blocks.
        var blocks: [String: (sum: Double, n: Int)] = [:]
        var seats: [String: Double] = [:]
        for s in week.samples("room_capacity_people", site: "CAMPUS-E") {
            seats[s.labels["room"]!] = s.values.max()!
        }
        for s in week.samples("occupancy_people", site: "CAMPUS-E") {
            for k in s.ts.indices {
                let local = s.ts[k] / 1000 - 6 * 3600
                let day = local / 86_400
                let hour = (local % 86_400) / 3600
                let isoWeekday = (day + 3) % 7 + 1  // 1970-01-01 was a Thursday (4)
                guard isoWeekday <= 5, (8..<20).contains(hour) else { continue }
                let key = "\(s.labels["room"]!)|\(day)|\(hour / 2)"
                blocks[key, default: (0, 0)].sum += s.values[k]
                blocks[key, default: (0, 0)].n += 1
            }
        }
        let utilizations = blocks.map { key, b in
            100 * (b.sum / Double(b.n)) / seats[String(key.split(separator: "|")[0])]!
        }
        #expect(
            close(r["room_utilization"]?.value, utilizations.reduce(0, +) / Double(utilizations.count)))
        // On-time class starts: delays of at most 5 minutes among the week's class starts.
        let delays = week.samples("class_start_delay_seconds", site: "CAMPUS-E").flatMap(\.values)
        #expect(delays.count > 50)
        #expect(close(r["on_time_class_starts"]?.value, 100 * Double(delays.filter { $0 <= 300 }.count) / Double(delays.count)))
    }

    @Test func stadium() throws {
        let r = try week.evaluate("stadium", site: "ARENA-1")
        #expect(
            close(
                r["entries"]?.value, FixtureWeek.increase(week.samples("entries_total", site: "ARENA-1", previous: true))))
        let orders = week.samples("order_completion_seconds", site: "ARENA-1")
        #expect(close(r["order_completion_time"]?.value, FixtureWeek.mean(orders)))
        // Worst stand: the slowest mean completion.
        let slowest = orders.max { FixtureWeek.mean([$0]) < FixtureWeek.mean([$1]) }!
        #expect(r["order_completion_time"]?.worst.first?.item == slowest.labels["stand"])
        #expect(
            close(
                r["transactions"]?.value,
                FixtureWeek.increase(week.samples("transactions_total", site: "ARENA-1", previous: true))))
        // Site override: entries target 100000, warning 80000; the week admitted fewer than 100000.
        #expect(r["entries"]?.status == .amber)
    }

    @Test func logistics() throws {
        let r = try week.evaluate("logistics", site: "DC-ATL")
        #expect(
            close(
                r["avg_trailer_dwell"]?.value,
                FixtureWeek.mean(week.samples("trailer_dwell_seconds", site: "DC-ATL")) / 60))
        let delays = week.samples("departure_delay_seconds", site: "DC-ATL").flatMap(\.values)
        #expect(
            close(
                r["on_time_departures"]?.value,
                100 * Double(delays.filter { $0 <= 0 }.count) / Double(delays.count)))
        let doors = week.states("dock_door_occupied", site: "DC-ATL")
        let occupied = doors.map { FixtureWeek.timeIn($0, metric: "dock_door_occupied", { $0 == 1 }) }.reduce(0, +)
        let idle = doors.map { FixtureWeek.timeIn($0, metric: "dock_door_occupied", { $0 == 0 }) }.reduce(0, +)
        #expect(
            close(r["dock_door_utilization"]?.value, 100 * Double(occupied) / Double(occupied + idle)))
        #expect(
            r["trailers_departed"]?.value
                == Double(week.samples("trailer_dwell_seconds", site: "DC-ATL").flatMap(\.values).count))
    }

    @Test func manufacturing() throws {
        let r = try week.evaluate("manufacturing", site: "PLANT-1")
        let machines = week.samples("machine_state", site: "PLANT-1")
        let breakdowns = machines.flatMap { FixtureWeek.runs($0, { $0 == 0 }) }
        #expect(r["breakdowns"]?.value == Double(breakdowns.count))
        let downMinutes = Double(breakdowns.map { $0.end - $0.start }.reduce(0, +)) / 60_000
        #expect(close(r["unplanned_downtime"]?.value, downMinutes))
        let runningHours =
            Double(
                week.states("machine_state", site: "PLANT-1").map { FixtureWeek.timeIn($0, metric: "machine_state", { $0 == 2 }) }
                    .reduce(0, +)) / 3_600_000
        #expect(close(r["mtbf"]?.value, runningHours / Double(breakdowns.count)))
        #expect(close(r["mttr"]?.value, downMinutes / Double(breakdowns.count)))
        let produced = FixtureWeek.increase(week.samples("units_produced_total", site: "PLANT-1", previous: true))
        let good = FixtureWeek.increase(week.samples("units_good_total", site: "PLANT-1", previous: true))
        #expect(close(r["first_pass_yield"]?.value, good / produced * 100))
        // Performance: ideal cycle (L1 45 s, L2 72 s) over the actual cycle, averaged over the samples.
        let cycles = week.samples("cycle_time_seconds", site: "PLANT-1")
        let ratios = cycles.flatMap { s in s.values.map { (s.labels["line"] == "L1" ? 45 : 72) / $0 } }
        #expect(close(r["performance"]?.value, 100 * ratios.reduce(0, +) / Double(ratios.count)))
        let oee =
            r["availability"]!.value! * r["performance"]!.value! * (good / produced * 100) / 10_000
        #expect(close(r["oee"]?.value, oee))
    }

    @Test func securityOperations() throws {
        for site in ["JFK", "PLANT-1"] {
            let r = try week.evaluate("security-operations", site: site)
            let devices = week.samples("device_up", site: site)
            let held = week.states("device_up", site: site)
            let up = held.map { FixtureWeek.timeIn($0, metric: "device_up", { $0 == 1 }) }.reduce(0, +)
            let down = held.map { FixtureWeek.timeIn($0, metric: "device_up", { $0 == 0 }) }.reduce(0, +)
            #expect(close(r["device_uptime"]?.value, 100 * Double(up) / Double(up + down)))
            // Unmonitored time: the rest of the week, device by device (every fixture device
            // reported in the week), in hours.
            let unknownMs = held.map { s in
                (FixtureWeek.to - FixtureWeek.from) - FixtureWeek.timeIn(s, metric: "device_up", { _ in true })
            }.reduce(0, +)
            #expect(close(r["unmonitored_time"]?.value, Double(unknownMs) / 3_600_000))
            let outages = devices.flatMap { FixtureWeek.runs($0, { $0 == 0 }) }
            #expect(r["incidents"]?.value == Double(outages.count))
            // The mean of intervals is a whole number of milliseconds.
            let totalMs = Double(outages.map { $0.end - $0.start }.reduce(0, +))
            #expect(close(r["mttr"]?.value, (totalMs / Double(outages.count)).rounded() / 60_000))
            // Latest certificate scan per device.
            let certs = week.samples("cert_valid", site: site)
            let valid = Dictionary(grouping: certs, by: { $0.labels["device"]! }).values.filter { group in
                group.max { $0.ts.last! < $1.ts.last! }!.values.last! == 1
            }.count
            let deviceCount = Set(certs.map { $0.labels["device"]! }).count
            #expect(close(r["certificate_compliance"]?.value, 100 * Double(valid) / Double(deviceCount)))
            // Latest password scan per device, and the mean evidence turnaround in hours.
            let passwords = week.samples("password_compliant", site: site)
            let compliant = passwords.filter { $0.values.last! == 1 }.count
            #expect(close(r["password_compliance"]?.value, 100 * Double(compliant) / Double(passwords.count)))
            let turnarounds = week.samples("audit_evidence_turnaround_seconds", site: site).flatMap(\.values)
            #expect(!turnarounds.isEmpty)
            #expect(
                close(r["audit_turnaround"]?.value, FixtureWeek.mean(week.samples("audit_evidence_turnaround_seconds", site: site)) / 3600))
        }
        // PLANT-1 overrides device_uptime to target 99.8, warning 99.5.
        let plant = try week.evaluate("security-operations", site: "PLANT-1")
        #expect(plant["device_uptime"]?.target == 99.8 && plant["device_uptime"]?.warning == 99.5)
    }
}
