import Foundation
import KPICore
import KPIPromQL
import Testing

@testable import KPIAlerting

/// Rule evaluation over a real store and PromQL engine, at injected instants: the alert life
/// cycle (pending, firing, resolved, keep_firing_for), the series written (ALERTS,
/// ALERTS_FOR_STATE, recording results, staleness markers), what is sent when, and the `for`
/// state restored after a restart. Expectations are worked out by hand in the comments.
@Suite struct RuleGroupStateTests {
    static let t0: Int64 = 1_796_000_000_000
    static let minute: Int64 = 60_000

    /// A camera down from minute 0 to minute 19 (a probe each minute), up from minute 20.
    static func store() -> ColumnarStore {
        let store = ColumnarStore()
        let ts = (0..<40).map { t0 + Int64($0) * minute }
        store.apply(
            newSeries: [(SeriesID(0), Labels(metric: "device_up", ["site": "JFK", "device": "cam-7"]))], series: [SeriesID(0)],
            timestamps: [ts], values: [(0..<40).map { $0 < 20 ? 0 : 1 }])
        return store
    }

    final class Written: @unchecked Sendable {
        var samples: [(Labels, Int64, Double)] = []
    }

    static func environment(_ store: ColumnarStore, _ written: Written, restore: [Labels: (Int64, Int64)] = [:]) -> RuleEnvironment {
        let engine = PromQLEngine(store: store)
        return RuleEnvironment(
            query: { expr, ts in try engine.instantQuery(expr, at: ts) },
            write: { samples, ts in for (l, v) in samples { written.samples.append((l, ts, v)) } },
            restore: { labels, _ in restore[labels].map { (activeAt: $0.0, writtenAt: $0.1) } }, externalURL: "http://kpid")
    }

    static func group(_ yaml: String) throws -> RuleGroup {
        try #require(try RuleFileParser.parse(yaml, file: "t.yaml").first)
    }

    static let downRule = """
        groups:
          - name: g
            rules:
              - alert: DeviceDown
                expr: device_up == 0
                for: 5m
                labels:
                  severity: page
                annotations:
                  summary: "{{ $labels.device }} down ({{ $value }})"
        """

    @Test func pendingThenFiringThenResolved() throws {
        let store = Self.store()
        let written = Written()
        let env = Self.environment(store, written)
        var state = RuleGroupState(group: try Self.group(Self.downRule))
        var sent: [(Int64, Alert)] = []
        for m in Int64(0)...22 {
            let ts = Self.t0 + m * Self.minute
            state.evaluate(at: ts, env)
            for (_, alert) in state.alertsToSend(at: ts, resendDelayMs: 2 * Self.minute, intervalMs: Self.minute) {
                sent.append((m, alert))
            }
            let alerts = state.rules[0].alerts
            switch m {
            case 0..<5: #expect(alerts.map(\.state) == [.pending], "minute \(m)")
            case 5..<20: #expect(alerts.map(\.state) == [.firing], "minute \(m)")
            default: #expect(alerts.isEmpty, "minute \(m)")
            }
        }
        // Sent: fired at minute 5, again every 2 minutes after the last send (7, 9, ..., 19:
        // sent when last + 2 min < now, so minutes 8, 11, 14, 17), then the resolution at 20.
        #expect(sent.map(\.0) == [5, 8, 11, 14, 17, 20], "\(sent.map(\.0))")
        let resolution = try #require(sent.last?.1)
        #expect(resolution.state == .inactive && resolution.resolvedAt == Self.t0 + 20 * Self.minute)
        #expect(sent.first?.1.firedAt == Self.t0 + 5 * Self.minute && sent.first?.1.activeAt == Self.t0)
        #expect(sent.first?.1.annotations["summary"] == "cam-7 down (0)")
        #expect(sent.first?.1.validUntil == Self.t0 + (5 + 8) * Self.minute)  // 4 × max(2 min, 1 min)
        let labels = ["alertname": "DeviceDown", "device": "cam-7", "severity": "page", "site": "JFK"]
        #expect(sent.first?.1.labels == Labels(labels.map { Label(name: $0.key, value: $0.value) }))
        // ALERTS: pending at minutes 0-4, firing at 5-19, a staleness marker at 20 for the last
        // series written (firing). ALERTS_FOR_STATE: activeAt (t0 in seconds) at 0-19.
        let alerts = written.samples.filter { $0.0.metricName == "ALERTS" }
        #expect(alerts.filter { $0.0["alertstate"] == "pending" && $0.2 == 1 }.map(\.1) == (0..<5).map { Self.t0 + $0 * Self.minute })
        #expect(alerts.filter { $0.0["alertstate"] == "firing" && $0.2 == 1 }.count == 15)
        #expect(alerts.filter { StaleMarker.isMarker($0.2) }.map(\.1) == [Self.t0 + 5 * Self.minute, Self.t0 + 20 * Self.minute])
        let forState = written.samples.filter { $0.0.metricName == "ALERTS_FOR_STATE" && !StaleMarker.isMarker($0.2) }
        #expect(forState.count == 20 && forState.allSatisfy { $0.2 == Double(Self.t0 / 1000) })
    }

    @Test func keepFiringForHoldsAFiringAlert() throws {
        let yaml = Self.downRule.replacingOccurrences(of: "for: 5m", with: "for: 5m\n        keep_firing_for: 3m")
        let store = Self.store()
        let env = Self.environment(store, Written())
        var state = RuleGroupState(group: try Self.group(yaml))
        var firingAt: [Int64] = []
        for m in Int64(0)...25 {
            state.evaluate(at: Self.t0 + m * Self.minute, env)
            if state.rules[0].alerts.first?.state == .firing { firingAt.append(m) }
        }
        // Firing from 5; the condition clears at 20 and the alert keeps firing while less than
        // 3 minutes have passed since then (20, 21, 22), resolving at 23.
        #expect(firingAt == Array(5...22))
    }

    @Test func recordingRulesWriteTheirSeriesAndMarkWhatDisappears() throws {
        let yaml = """
            groups:
              - name: r
                rules:
                  - record: site:device_down:count
                    expr: count by (site) (device_up == 0)
                    labels:
                      source: rules
            """
        let written = Written()
        let env = Self.environment(Self.store(), written)
        var state = RuleGroupState(group: try Self.group(yaml))
        state.evaluate(at: Self.t0 + 10 * Self.minute, env)
        state.evaluate(at: Self.t0 + 25 * Self.minute, env)
        let series = Labels(metric: "site:device_down:count", ["site": "JFK", "source": "rules"])
        #expect(written.samples.count == 2)
        #expect(written.samples[0].0 == series && written.samples[0].2 == 1)
        #expect(written.samples[1].0 == series && StaleMarker.isMarker(written.samples[1].2))
        #expect(state.rules[0].health == "ok")
    }

    @Test func aRestartRestoresThePendingForState() throws {
        let store = Self.store()
        let alertLabels = Labels(
            ["alertname": "DeviceDown", "device": "cam-7", "severity": "page", "site": "JFK"].map {
                Label(name: $0.key, value: $0.value)
            })
        // Before the restart the alert was active since t0 and last written at minute 3 (3 of
        // its 5 pending minutes spent). kpid comes back at minute 6.
        let restore = [alertLabels: (Self.t0, Self.t0 + 3 * Self.minute)]
        let env = Self.environment(store, Written(), restore: restore)
        var state = RuleGroupState(group: try Self.group(Self.downRule))
        var firstFiring: Int64? = nil
        for m in Int64(6)...12 {
            state.evaluate(at: Self.t0 + m * Self.minute, env)
            if firstFiring == nil, state.rules[0].alerts.first?.state == .firing { firstFiring = m }
        }
        // Remaining pending: 5 - 3 = 2 min, under the 10-minute grace period: it waits the
        // grace period from the restart, activeAt = 6 + 10 - 5 = minute 11, firing at 16.
        #expect(firstFiring == nil)
        #expect(state.rules[0].alerts.first?.activeAt == Self.t0 + 11 * Self.minute)
        // A longer for: 30 min, 3 spent, 27 left (over the grace period): activeAt moves by
        // the 3 minutes kpid was down (written at 3, back at 6): t0 + 3 min.
        let longer = Self.downRule.replacingOccurrences(of: "for: 5m", with: "for: 30m")
        var state2 = RuleGroupState(group: try Self.group(longer))
        state2.evaluate(at: Self.t0 + 6 * Self.minute, env)
        #expect(state2.rules[0].alerts.first?.activeAt == Self.t0 + 3 * Self.minute)
    }
}
