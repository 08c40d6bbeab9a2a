import Foundation
import KPICore
import KPIRuntime
import KPIService
import Testing

@Suite(.serialized) struct PersistenceTests {
    /// Writes, restarts (with and without a checkpoint in between), and reads back everything.
    @Test(arguments: [false, true])
    func restartRecoversEverything(checkpointBeforeStop: Bool) throws {
        let dir = TempDir()
        var expected: [String: [(Int64, Double)]] = [:]
        do {
            let kpid = try RunningService(data: dir.path) { config in
                config.chunkSize = 16
                config.outOfOrderWindowMs = 60_000
                config.checkpointIntervalSeconds = checkpointBeforeStop ? 0.05 : 3600
            }
            for batch in 0..<20 {
                var lines: [String] = []
                for zone in 0..<5 {
                    for k in 0..<10 {
                        let ts = Int64(1_762_000_000_000 + (batch * 10 + k) * 15_000)
                        let value = Double(batch * 100 + zone * 10 + k) + 0.25
                        lines.append(
                            #"{"metric":"occupancy_people","labels":{"site":"JFK","zone":"Z\#(zone)"},"ts":\#(ts),"value":\#(value)}"#)
                        expected["Z\(zone)", default: []].append((ts, value))
                    }
                }
                #expect(try kpid.ingest(lines.joined(separator: "\n"), contentType: "application/x-ndjson").status == 200)
            }
            if checkpointBeforeStop { Thread.sleep(forTimeInterval: 0.5) }
            // No graceful stop on one path: the deinit-less drop below still closes, so for the
            // crash case see the SIGKILL test; here both paths stop cleanly.
            kpid.stop()
        }
        let again = try RunningService(data: dir.path) { config in
            config.chunkSize = 16
            config.outOfOrderWindowMs = 60_000
        }
        #expect(again.service.store.seriesCount == 5)
        for zone in 0..<5 {
            let got = try again.exportedSamples(#"occupancy_people{zone="Z\#(zone)"}"#)
            #expect(got.map(\.1) == expected["Z\(zone)"]!.map(\.0))
            #expect(got.map(\.2) == expected["Z\(zone)"]!.map(\.1))
        }
        // Chunks were sealed (200 samples per series, 16 per chunk, 1 min window = 4 samples).
        #expect(again.service.store.stats.chunkCount >= 5 * 11)
    }
}
