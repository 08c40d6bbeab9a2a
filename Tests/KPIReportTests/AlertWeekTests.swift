import KPICore
import Testing

@testable import KPIReport

/// The week's alerts from `ALERTS` series, against minutes counted by hand.
@Suite struct AlertWeekTests {
    static let t0: Int64 = 1_795_392_000_000
    static let minute: Int64 = 60_000

    @Test func firingsResolutionsAndOpenAlertsOfAWeek() throws {
        let store = ColumnarStore()
        var next: UInt32 = 0
        func series(_ labels: [String: String], _ samples: [(Int64, Double)]) {
            let id = SeriesID(next)
            next += 1
            store.apply(
                newSeries: [(id, Labels(metric: "ALERTS", labels))], series: [id],
                timestamps: [samples.map { Self.t0 + $0.0 * Self.minute }], values: [samples.map(\.1)])
        }
        let down = ["alertname": "DeviceDown", "severity": "page", "site": "S", "alertstate": "firing"]
        // d1 fires at minutes 10-29 and resolves at 30 (the staleness marker): 20 minutes.
        series(down.merging(["device": "d1"]) { a, _ in a }, (10...29).map { ($0, 1) } + [(30, StaleMarker.value)])
        // d2 fired from 30 minutes before the week, resolved at minute 6: 6 minutes in the week,
        // 36 in all, not counted as fired this week.
        series(down.merging(["device": "d2"]) { a, _ in a }, (-30...5).map { ($0, 1) } + [(6, StaleMarker.value)])
        // Queue overflow firing from minute 100, still firing at now (minute 130): 30 minutes, open.
        series(["alertname": "QueueOverflow", "severity": "ticket", "site": "S", "alertstate": "firing"], (100...129).map { ($0, 1) })
        // Pending samples and another site's alerts are not this week's firings.
        series(down.merging(["alertstate": "pending", "device": "d3"]) { _, b in b }, (0...50).map { ($0, 1) })
        series(down.merging(["site": "T", "device": "d4"]) { _, b in b }, (0...50).map { ($0, 1) })

        // Most fired first, then longest firing: both fired once; the queue fired longer.
        let week = try AlertWeek.evaluate(
            querier: store.querier(ReadScope()), site: "S", from: Self.t0, to: Self.t0 + 7 * 1440 * Self.minute,
            now: Self.t0 + 130 * Self.minute)
        #expect(
            week.lines == [
                .init(
                    alertname: "QueueOverflow", severity: "ticket", fired: 1, firingMs: 30 * Self.minute, longestMs: 30 * Self.minute,
                    meanTimeToResolveMs: nil, open: 1),
                .init(
                    alertname: "DeviceDown", severity: "page", fired: 1, firingMs: 26 * Self.minute, longestMs: 36 * Self.minute,
                    meanTimeToResolveMs: 28 * Self.minute, open: 0),
            ])
    }

    @Test func durationsForPeople() {
        #expect(ReportText.duration(45_000) == "45 s")
        #expect(ReportText.duration(12 * 60_000) == "12 min")
        #expect(ReportText.duration(185 * 60_000) == "3 h 5 min")
        #expect(ReportText.duration(52 * 3_600_000) == "2 d 4 h")
    }
}
