import Foundation
import KPICore
import KPIFixtures
import KPIStorage
import KPIWire
import Logging
import Synchronization

/// The live demo of `kpid serve --demo`: the sites of `demo-sites` (`Fixtures/sites.json`), their
/// data made by the fixture generator (`kpid fixtures generate`) and fed through the normal
/// ingest path (ndjson decoding, label validation, the group-commit writer) as the clock passes
/// each sample's time, so `/metrics`, the `1h` window and the current week move as in a real
/// deployment.
///
/// Which samples exist is fixed by the anchor, the first start's next UTC midnight, kept in
/// `demo.json` in the data directory:
/// - the 8 weeks before the anchor are one generator run ending at the anchor (the "history";
///   what lies after the first start's instant is fed live from the same run);
/// - each later UTC day `[D, D + 1d)` is the last day of a run over `[D - 7d, D + 1d)` (7 days
///   warm up queues, backlogs and weekly schedules). Counters (`*_total`) continue from the
///   stored value before `D` instead of the run's own total, so they never fall at midnight.
///   The stadium's listed matches repeat every 8 weeks.
///
/// The generator is deterministic, so a restart after a pause feeds the gap with exactly what a
/// running demo would have fed, then goes on live: a site is fed from just after its newest
/// stored sample (batches end between timestamps, so a crash never leaves half a timestamp).
public final class DemoFeed: Sendable {
    /// `demo.json`: what the demo wrote into this data directory.
    struct Marker: Codable, Equatable {
        var version = 1
        /// Unix ms (a UTC midnight): the history ends here, daily runs start here.
        var anchor: Int64
        var seed: UInt64
        var sites: [String]
    }

    /// Why the demo cannot run.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static let dayMs: Int64 = 86_400_000
    static let historyDays = 56
    static let warmupDays = 7
    /// How often the live feed looks for samples whose time has come.
    static let tickSeconds = 15.0
    /// Samples per ingest request (cut between timestamps).
    static let batchSamples = 50_000

    let sites: [FixtureSite]
    let marker: Marker
    let clock: WallClock
    let store: ColumnarStore
    let logger: Logger
    /// Decodes and commits one ndjson body; the number of samples stored, or why not.
    let ingest: @Sendable ([UInt8]) -> Result<Int, Failure>
    /// The last generator run per site: (its start, its end, its samples).
    private let cache = Mutex<[String: (start: Int64, end: Int64, samples: FixtureSamples)]>([:])
    private let thread = BackgroundThread()

    /// Reads (or, on the first start, writes) the marker and checks that the store holds
    /// nothing but the demo's sites, unless `force`.
    init(
        dataDirectory: String, sitesFile: String, store: ColumnarStore, clock: WallClock, force: Bool, logger: Logger,
        ingest: @escaping @Sendable ([UInt8]) -> Result<Int, Failure>
    ) throws(Failure) {
        guard let data = FileManager.default.contents(atPath: sitesFile) else {
            throw Failure(description: "demo: the demo sites file \(sitesFile) cannot be read (setting demo-sites)")
        }
        do {
            sites = try FixtureSite.parse(data)
        } catch {
            throw Failure(description: "demo: \(sitesFile): \(error)")
        }
        let names = Set(sites.map(\.site))
        let markerPath = (dataDirectory as NSString).appendingPathComponent("demo.json")
        let existing = FileManager.default.contents(atPath: markerPath).flatMap { try? JSONDecoder().decode(Marker.self, from: $0) }
        if FileManager.default.fileExists(atPath: markerPath) && existing == nil {
            throw Failure(description: "demo: \(markerPath) is not a demo marker; remove it or use another data directory")
        }
        let foreign = store.series().filter { entry in
            let metric = entry.labels.metricName ?? ""
            if metric.hasPrefix("kpid_") { return false }  // kpid's own KPI and health series
            return existing == nil || !names.contains(entry.labels["site"] ?? "")
        }
        if let first = foreign.first, !force {
            throw Failure(
                description:
                    "demo: the data directory \(dataDirectory) holds \(foreign.count) series the demo did not write (e.g. \(first.labels)); "
                    + "start the demo on an empty directory (make run DATA=./data-demo, or remove ./data), "
                    + "run without --demo, or pass --demo-force true to feed it anyway")
        }
        let now = clock.nowMilliseconds()
        if let existing {
            marker = existing
        } else {
            marker = Marker(
                anchor: (now / Self.dayMs + 1) * Self.dayMs, seed: 1, sites: sites.map(\.site))
            do {
                try JSONEncoder().encode(marker).write(to: URL(fileURLWithPath: markerPath), options: .atomic)
            } catch {
                throw Failure(description: "demo: cannot write \(markerPath): \(error.localizedDescription)")
            }
        }
        self.store = store
        self.clock = clock
        self.logger = logger
        self.ingest = ingest
    }

    /// Opens the demo of `configuration` (refusing a data directory with other series unless
    /// `demo-force`), feeds it up to now through the normal ndjson ingest path (decoding with
    /// the configured label limits, then `writer`), and starts its live feed.
    static func start(
        configuration: ServiceConfiguration, store: ColumnarStore, writer: GroupCommitWriter, metrics: ServiceMetrics,
        logger: Logger
    ) throws(Failure) -> DemoFeed {
        let feed = try DemoFeed(
            dataDirectory: configuration.dataDirectory, sitesFile: configuration.demoSitesFile, store: store,
            clock: configuration.clock, force: configuration.demoForce, logger: logger
        ) { body in
            let batch: SampleBatch
            do {
                batch = try IngestDecoder.decode(body, format: .ndjson, options: configuration.decodeOptions())
            } catch {
                return .failure(Failure(description: "demo: generated samples refused: \(error)"))
            }
            switch writer.submit(batch) {
            case .success(let result):
                metrics.ingested(samples: result.samples, format: "ndjson")
                return .success(result.samples)
            case .failure(let error):
                return .failure(Failure(description: "demo: samples not stored: \(error)"))
            }
        }
        logger.info(
            "demo: feeding the demo sites up to now",
            metadata: [
                "sites": "\(feed.marker.sites.joined(separator: ","))",
                "anchor": "\(TimestampParser.formatRFC3339(feed.marker.anchor))",
            ])
        let stored = try feed.catchUp(to: configuration.clock.nowMilliseconds())
        logger.info("demo: caught up; feeding live", metadata: ["samples": "\(stored)"])
        feed.start()
        return feed
    }

    /// The first instant of the history.
    var historyStart: Int64 { marker.anchor - Int64(Self.historyDays) * Self.dayMs }

    /// Feeds every site up to `now` (inclusive); returns the samples stored.
    @discardableResult
    func catchUp(to now: Int64) throws(Failure) -> Int {
        var stored = 0
        for site in sites where marker.sites.contains(site.site) {
            var from = max(fedThrough(site.site).map { $0 + 1 } ?? historyStart, historyStart)
            while from <= now {
                let run = try generated(site, containing: from)
                let upto = min(now, run.end - 1)
                let samples = run.samples.samples
                var i = lowerBound(samples, from)
                let last = lowerBound(samples, upto + 1)
                let offsets = run.start < marker.anchor ? [:] : counterOffsets(run.samples, dayStart: run.end - Self.dayMs)
                while i < last {
                    var j = min(last, i + Self.batchSamples)
                    // End the batch between two timestamps.
                    while j < last && samples[j].ts == samples[j - 1].ts { j += 1 }
                    switch ingest(run.samples.ndjson(i..<j, offsets: offsets)) {
                    case .success(let n): stored += n
                    case .failure(let failure): throw failure
                    }
                    i = j
                }
                from = upto + 1
            }
        }
        return stored
    }

    /// Starts the live feed: every `tickSeconds`, the samples whose time has come.
    func start() {
        thread.every(Self.tickSeconds, name: "kpid-demo", immediately: false) { [self] in
            do {
                try catchUp(to: clock.nowMilliseconds())
            } catch {
                logger.warning("demo feed failed; retrying", metadata: ["error": "\(error)"])
            }
        }
    }

    func stop() { thread.stop() }

    /// The newest sample of the site's demo series, or nil.
    func fedThrough(_ site: String) -> Int64? {
        var newest: Int64? = nil
        for entry in store.series(withLabel: "site", equalTo: site) where !(entry.labels.metricName ?? "").hasPrefix("kpid_") {
            if let t = store.maxTime(of: entry.id) { newest = max(newest ?? t, t) }
        }
        return newest
    }

    /// The generator run whose fed part contains `t`: the history before the anchor, else the
    /// run ending at the next UTC midnight after `t`. Kept until another run is needed.
    func generated(_ site: FixtureSite, containing t: Int64) throws(Failure) -> (start: Int64, end: Int64, samples: FixtureSamples) {
        let end = t < marker.anchor ? marker.anchor : (t / Self.dayMs + 1) * Self.dayMs
        let days = t < marker.anchor ? Self.historyDays : Self.warmupDays + 1
        let start = end - Int64(days) * Self.dayMs
        if let cached = cache.withLock({ $0[site.site] }), cached.end == end { return cached }
        var definition = site
        definition.events = Self.repeating(site.events, from: start, to: end)
        let samples: FixtureSamples
        do {
            samples = try FixtureGenerator.samples(
                FixtureOptions(site: definition, days: days, seed: marker.seed, end: end, stepMinutes: 15))
        } catch {
            throw Failure(description: "demo: generating \(site.site): \(error)")
        }
        let run = (start: end == marker.anchor ? start : end - Self.dayMs, end: end, samples: samples)
        cache.withLock { $0[site.site] = run }
        return run
    }

    /// A site's listed events repeated every 8 weeks (same weekday and time of day) over the
    /// range, a day of margin on each side; none when none are listed.
    static func repeating(_ events: [FixtureSite.Event], from start: Int64, to end: Int64) -> [FixtureSite.Event] {
        let period = Int64(historyDays) * dayMs
        var out: [FixtureSite.Event] = []
        for e in events {
            var k = (start - dayMs - e.kickoff) / period - 1
            while e.kickoff + k * period < end + dayMs {
                let shift = k * period
                if e.kickoff + shift >= start - dayMs {
                    var copy = e
                    copy.gatesOpen += shift
                    copy.kickoff += shift
                    out.append(copy)
                }
                k += 1
            }
        }
        return out.sorted { $0.kickoff < $1.kickoff }
    }

    /// Per counter series (`*_total`) of a daily run: thousandths to add so that it continues
    /// from the value stored before `dayStart` (the run's own last value before it, or its first
    /// in the day, maps onto the stored one).
    func counterOffsets(_ run: FixtureSamples, dayStart: Int64) -> [Int32: Int64] {
        var before: [Int32: Int64] = [:]
        var firstInDay: [Int32: Int64] = [:]
        for s in run.samples where run.series[Int(s.series)].metric.hasSuffix("_total") {
            if s.ts < dayStart {
                before[s.series] = s.milli
            } else if firstInDay[s.series] == nil {
                firstInDay[s.series] = s.milli
            }
        }
        var offsets: [Int32: Int64] = [:]
        for (index, series) in run.series.enumerated() where series.metric.hasSuffix("_total") {
            let id = Int32(index)
            guard let reference = before[id] ?? firstInDay[id] else { continue }
            var labels: [String: String] = [:]
            for l in series.labels { labels[l.name] = l.value }
            guard let stored = store.seriesID(for: Labels(metric: series.metric, labels)),
                let value = store.read(stored, start: dayStart - Int64(Self.historyDays) * Self.dayMs, end: dayStart - 1).values.last,
                value.isFinite, abs(value) < 1e15
            else { continue }
            offsets[id] = Int64((value * 1000).rounded()) - reference
        }
        return offsets
    }

    /// The first index whose time is at least `t`.
    func lowerBound(_ samples: [FixtureSamples.Sample], _ t: Int64) -> Int {
        var lo = 0
        var hi = samples.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if samples[mid].ts < t { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
