import Foundation
import Testing

@testable import KPIFixtures

/// Physical invariants of the generated data of every template.
@Suite struct InvariantTests {
    let data = FixtureData.shared
    static let sites = FixtureSite.fixtureSites.map(\.site)

    /// Metrics sampled on the 15-minute grid (the others are observations at event times).
    static let gridMetrics: Set<String> = [
        "device_up", "queue_length_people", "queue_wait_seconds", "occupancy_people", "zone_capacity_people",
        "room_capacity_people", "entries_total", "transactions_total", "sales_dollars_total", "lane_open", "shelf_gap",
        "door_held_open", "tailgating_total", "dock_door_occupied", "machine_state", "units_produced_total",
        "units_good_total", "units_planned_total", "cycle_time_seconds",
    ]
    /// Metrics with a sample at every grid step of the 56 days.
    static let everyStep: Set<String> = [
        "device_up", "occupancy_people", "zone_capacity_people", "room_capacity_people", "lane_open", "shelf_gap",
        "door_held_open", "tailgating_total", "dock_door_occupied", "machine_state", "units_produced_total",
        "units_good_total", "units_planned_total",
    ]

    @Test(arguments: sites) func everySeriesHasASiteAndIncreasingTimestamps(site: String) {
        for s in data.series[site]! {
            #expect(s.labels["site"] == site)
            #expect(zip(s.ts, s.ts.dropFirst()).allSatisfy { $0 < $1 }, "\(s.metric) \(s.labels)")
            #expect(s.ts.first! >= FixtureData.start && s.ts.last! < FixtureData.end)
            #expect(s.values.allSatisfy { $0.isFinite })
        }
    }

    @Test(arguments: sites) func gridSeriesAreOnTheGridWithoutGaps(site: String) {
        let steps = Int((FixtureData.end - FixtureData.start) / FixtureData.step)
        for s in data.series[site]! where Self.gridMetrics.contains(s.metric) {
            #expect(s.ts.allSatisfy { $0 % FixtureData.step == 0 }, "\(s.metric) \(s.labels) off the grid")
            if Self.everyStep.contains(s.metric) {
                // device_up changes series when the firmware label changes: the two halves tile the range.
                let all = data.series[site]!.filter {
                    $0.metric == s.metric && $0.labels.filter { $0.key != "firmware" } == s.labels.filter { $0.key != "firmware" }
                }
                #expect(all.map(\.ts.count).reduce(0, +) == steps, "\(s.metric) \(s.labels) has gaps")
            }
        }
        // Compliance scans are hourly, on the hour, the whole range.
        for s in data.series(site, "cert_valid") + data.series(site, "firmware_compliant") {
            #expect(s.ts.count == steps / 4 && s.ts.allSatisfy { $0 % 3_600_000 == 0 })
        }
    }

    @Test(arguments: sites) func statesTakeOnlyTheirValues(site: String) {
        for metric in ["device_up", "cert_valid", "firmware_compliant", "lane_open", "shelf_gap", "door_held_open", "dock_door_occupied"] {
            for s in data.series(site, metric) { #expect(s.values.allSatisfy { $0 == 0 || $0 == 1 }, "\(metric) \(s.labels)") }
        }
        for s in data.series(site, "machine_state") { #expect(s.values.allSatisfy { [0, 1, 2].contains($0) }) }
        for metric in [
            "queue_length_people", "queue_wait_seconds", "dwell_seconds", "alert_ack_seconds", "order_completion_seconds",
            "trailer_dwell_seconds", "lockdown_secured_seconds", "cycle_time_seconds",
        ] {
            for s in data.series(site, metric) { #expect(s.values.allSatisfy { $0 >= 0 }, "\(metric) \(s.labels)") }
        }
    }

    @Test(arguments: sites) func occupancyStaysWithinCapacity(site: String) {
        let capacities = data.sites[site]!.capacities
        for s in data.series(site, "occupancy_people") {
            let name = s.labels["zone"] ?? s.labels["room"]!
            let capacity = capacities[name]!
            #expect(s.values.allSatisfy { $0 >= 0 && $0 <= capacity }, "\(name): max \(s.values.max()!) > \(capacity)")
            #expect(s.values.max()! > 0.5 * capacity, "\(name) never gets busy")
            let rated =
                data.series(site, "zone_capacity_people", ["zone": name]) + data.series(site, "room_capacity_people", ["room": name])
            #expect(rated.count == 1 && rated[0].values.allSatisfy { $0 == capacity })
        }
    }

    @Test(arguments: sites) func countersNeverDecreaseExceptTheScriptedReset(site: String) {
        // The one reset: JFK's T4-dep-2 counting sensor reboots 2026-11-18 03:10 local (08:10Z);
        // the first sample after it (08:15Z) is the restarted count.
        let reset = FixtureData.grid(FixtureData.local("America/New_York", 2026, 11, 18, 3, 10))
        for s in data.series[site]! where s.metric.hasSuffix("_total") {
            for k in s.values.indices.dropFirst() where s.values[k] < s.values[k - 1] {
                let scripted = site == "JFK" && s.labels["gate"] == "T4-dep-2" && s.ts[k] == reset
                #expect(scripted, "\(s.metric) \(s.labels) drops at \(s.ts[k])")
            }
            #expect(s.values.first! > 100, "\(s.metric) \(s.labels) should start at a realistic total")
        }
        let gate = data.series("JFK", "entries_total", ["gate": "T4-dep-2"])[0]
        let k = gate.ts.firstIndex(of: reset)!
        #expect(gate.values[k] < 50 && gate.values[k - 1] > 1_000_000)
    }

    @Test func goodUnitsNeverExceedProducedOnes() {
        for line in ["L1", "L2"] {
            let produced = data.series("PLANT-1", "units_produced_total", ["line": line])[0]
            let good = data.series("PLANT-1", "units_good_total", ["line": line])[0]
            let p = produced.values.last! - produced.values.first!
            let g = good.values.last! - good.values.first!
            #expect(g <= p && g / p > 0.9 && g / p < 0.99, "\(line): first-pass yield \(g / p)")
        }
    }
}
