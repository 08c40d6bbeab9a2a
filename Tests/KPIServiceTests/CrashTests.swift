import Foundation
import Synchronization
import Testing

/// Kills kpid with SIGKILL in the middle of concurrent ingest, restarts it, and checks that every
/// acknowledged request is fully there and every other request is fully there or fully absent.
@Suite(.serialized) struct CrashTests {
    static let writers = 4
    static let samplesPerSeries = 25

    /// Request `r` of writer `w`: two series (its writer's series and a shared one), each with
    /// `samplesPerSeries` samples at timestamps only this request uses.
    static func request(writer w: Int, index r: Int) -> String {
        var lines: [String] = []
        for k in 0..<samplesPerSeries {
            let ts = 1_762_000_000_000 + Int64(r * samplesPerSeries + k) * 1000
            lines.append(#"{"metric":"crash_a","labels":{"writer":"w\#(w)"},"ts":\#(ts),"value":\#(r)}"#)
            let shared = 1_762_000_000_000 + Int64((r * writers + w) * samplesPerSeries + k)
            lines.append(#"{"metric":"crash_b","labels":{"writer":"w\#(w)"},"ts":\#(shared),"value":\#(r)}"#)
        }
        return lines.joined(separator: "\n")
    }

    @Test(arguments: [["--durability", "process"], ["--durability", "power", "--checkpoint-interval", "100ms", "--chunk-size", "32"]])
    func sigkillUnderLoadLosesNoAcknowledgedSample(arguments: [String]) throws {
        let dir = TempDir()
        let kpid = try KpidProcess(data: dir.path, extraArguments: arguments)
        let acked = Mutex<[Set<Int>]>(Array(repeating: [], count: CrashTests.writers))
        let sent = Mutex<[Int]>(Array(repeating: 0, count: CrashTests.writers))
        let stop = Atomic<Bool>(false)
        let base = kpid.base
        let group = DispatchGroup()
        for w in 0..<CrashTests.writers {
            group.enter()
            Thread.detachNewThread {
                var r = 0
                while !stop.load(ordering: .relaxed) && r < 100_000 {
                    sent.withLock { $0[w] = r + 1 }
                    let body = Data(CrashTests.request(writer: w, index: r).utf8)
                    if let response = try? http(
                        "POST", base + "/api/v1/ingest", body: body,
                        headers: ["Content-Type": "application/x-ndjson"], timeout: 5),
                        response.status == 200
                    {
                        acked.withLock { _ = $0[w].insert(r) }
                    } else {
                        break  // the server is gone
                    }
                    r += 1
                }
                group.leave()
            }
        }
        // Let load build up, then kill without warning.
        let deadline = Date().addingTimeInterval(20)
        while acked.withLock({ $0.reduce(0) { $0 + $1.count } }) < 150 && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.02)
        }
        kpid.kill()
        stop.store(true, ordering: .relaxed)
        _ = group.wait(timeout: .now() + 30)

        let ackedSets = acked.withLock { $0 }
        let sentCounts = sent.withLock { $0 }
        #expect(ackedSets.reduce(0) { $0 + $1.count } >= 150, "too little load before the kill")

        let restarted = try KpidProcess(data: dir.path)
        defer { restarted.terminate() }
        for w in 0..<CrashTests.writers {
            let a = try exportTimestamps(restarted.base, #"crash_a{writer="w\#(w)"}"#)
            let b = try exportTimestamps(restarted.base, #"crash_b{writer="w\#(w)"}"#)
            for r in 0..<sentCounts[w] {
                let tsA = Set(
                    (0..<CrashTests.samplesPerSeries).map { 1_762_000_000_000 + Int64(r * CrashTests.samplesPerSeries + $0) * 1000 })
                let tsB = Set(
                    (0..<CrashTests.samplesPerSeries).map {
                        1_762_000_000_000 + Int64((r * CrashTests.writers + w) * CrashTests.samplesPerSeries + $0)
                    })
                let presentA = tsA.intersection(a.keys)
                let presentB = tsB.intersection(b.keys)
                if ackedSets[w].contains(r) {
                    #expect(presentA.count == tsA.count && presentB.count == tsB.count, "acknowledged request w\(w)/r\(r) lost samples")
                    #expect(presentA.allSatisfy { a[$0] == Double(r) })
                } else {
                    let all = presentA.count == tsA.count && presentB.count == tsB.count
                    let none = presentA.isEmpty && presentB.isEmpty
                    #expect(all || none, "unacknowledged request w\(w)/r\(r) is half visible")
                }
            }
        }
    }

    /// `make soak`: `KPID_SOAK_ROUNDS` rounds on one data directory, each starting kpid, loading
    /// it for a random 0.3 to 3 s and killing it with SIGKILL; after every restart every request
    /// acknowledged in any round is whole, and every other is whole or absent.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["KPID_SOAK_ROUNDS"] != nil))
    func soakRepeatedKillsLoseNothing() throws {
        let rounds = Int(ProcessInfo.processInfo.environment["KPID_SOAK_ROUNDS"] ?? "") ?? 20
        let dir = TempDir()
        var acknowledged: [Set<Int>] = Array(repeating: [], count: CrashTests.writers)
        var sentUpTo: [Int] = Array(repeating: 0, count: CrashTests.writers)
        var generator = SystemRandomNumberGenerator()
        for round in 0..<rounds {
            let kpid = try KpidProcess(data: dir.path, extraArguments: ["--checkpoint-interval", "200ms", "--chunk-size", "64"])
            let acked = Mutex<[Set<Int>]>(Array(repeating: [], count: CrashTests.writers))
            let sent = Mutex<[Int]>(Array(repeating: 0, count: CrashTests.writers))
            let stop = Atomic<Bool>(false)
            let group = DispatchGroup()
            let base = kpid.base
            for w in 0..<CrashTests.writers {
                group.enter()
                let first = round * 10_000
                Thread.detachNewThread {
                    var r = first
                    while !stop.load(ordering: .relaxed) && r < first + 10_000 {
                        sent.withLock { $0[w] = r + 1 }
                        if let response = try? http(
                            "POST", base + "/api/v1/ingest", body: Data(CrashTests.request(writer: w, index: r).utf8),
                            headers: ["Content-Type": "application/x-ndjson"], timeout: 5),
                            response.status == 200
                        {
                            acked.withLock { _ = $0[w].insert(r) }
                        } else {
                            break
                        }
                        r += 1
                    }
                    group.leave()
                }
            }
            Thread.sleep(forTimeInterval: Double.random(in: 0.3...3, using: &generator))
            kpid.kill()
            stop.store(true, ordering: .relaxed)
            _ = group.wait(timeout: .now() + 30)
            for w in 0..<CrashTests.writers {
                acknowledged[w].formUnion(acked.withLock { $0[w] })
                sentUpTo[w] = max(sentUpTo[w], sent.withLock { $0[w] })
            }
            let restarted = try KpidProcess(data: dir.path)
            for w in 0..<CrashTests.writers {
                let a = try exportTimestamps(restarted.base, #"crash_a{writer="w\#(w)"}"#)
                for r in acknowledged[w] {
                    let ts = (0..<CrashTests.samplesPerSeries).map {
                        1_762_000_000_000 + Int64(r * CrashTests.samplesPerSeries + $0) * 1000
                    }
                    #expect(ts.allSatisfy { a[$0] == Double(r) }, "round \(round): acknowledged w\(w)/r\(r) lost samples")
                }
            }
            restarted.terminate()
        }
        let total = acknowledged.reduce(0) { $0 + $1.count }
        print(
            "soak: \(rounds) SIGKILLs, \(total) acknowledged requests (\(total * CrashTests.samplesPerSeries * 2) samples) checked after each"
        )
    }

    func exportTimestamps(_ base: String, _ selector: String) throws -> [Int64: Double] {
        let r = try http("GET", base + "/api/v1/export?match=" + percentEncoded(selector))
        guard r.status == 200 else { throw TestFailure("export \(r.status): \(r.text)") }
        var out: [Int64: Double] = [:]
        for line in r.text.split(separator: "\n") {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            out[(o["ts"] as! NSNumber).int64Value] = (o["value"] as! NSNumber).doubleValue
        }
        return out
    }
}
