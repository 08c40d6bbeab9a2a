import Foundation
import KPICore
import KPIPromQL
import KPIQuery

/// How the fuzz targets run a query: small limits and a short deadline, so an input that is
/// legitimately slow stops with the engine's own error well inside libFuzzer's `-timeout`, and
/// any failure but a crash or a hang is an acceptable answer.
public enum QueryRuns {
    /// `FUZZ_VERBOSE=1` in the environment: print each query's outcome (rows, or the error), for
    /// checking that seeds reach the engines rather than stopping at an error.
    public static let verbose = ProcessInfo.processInfo.environment["FUZZ_VERBOSE"] == "1"

    /// SQL options: `now`, the time zone (also `:tz`), the parameters the seed queries use
    /// (`:site`, `:from`, `:to`, `:tz`, `:n`, `:threshold`, `:min_duration`) and small limits
    /// (1 s, 200,000 samples, 10,000 rows, one thread).
    public static func sqlOptions(now: Int64, site: String, from: Int64, to: Int64, zone: String) -> QueryOptions {
        var options = QueryOptions(
            now: now,
            parameters: [
                "site": .string(site), "from": .timestamp(from), "to": .timestamp(to), "tz": .string(zone), "n": .int(3),
                "threshold": .double(30), "min_duration": .string("15m"),
            ])
        options.limits = QueryLimits(
            maxSeries: 100, maxSamples: 200_000, maxRows: 10_000, timeoutMilliseconds: 1_000, maxGroupBytes: 16 << 20)
        options.timeZone = TimeZone(identifier: zone) ?? options.timeZone
        options.parallelism = 1
        return options
    }

    /// The two ways every SQL input runs on `ExtremeStore`: the ordinary hour of site `JFK` in
    /// Paris, and the whole time contract of site `EDGE` in UTC+14 with `now()` at its end.
    public static let extremeStoreSQLOptions: [QueryOptions] = [
        sqlOptions(
            now: ExtremeStore.normalEnd, site: "JFK", from: ExtremeStore.normalStart, to: ExtremeStore.normalEnd,
            zone: "Europe/Paris"),
        sqlOptions(
            now: SampleTime.maximum, site: "EDGE", from: SampleTime.minimum, to: SampleTime.maximum,
            zone: "Pacific/Kiritimati"),
    ]

    /// Parses `text` once and, when it parses, runs it with each of `optionSets`; errors are
    /// answers, only crashes and hangs are findings.
    public static func sql(_ text: String, on store: ColumnarStore, optionSets: [QueryOptions]) {
        guard let statement = try? QueryParser.parse(text) else { return }
        let engine = QueryEngine(store: store)
        for options in optionSets {
            do {
                let result = try engine.execute(statement, text: text, options: options)
                if verbose { print("SQL \(result.rows.count) rows: \(text.prefix(100))") }
            } catch {
                if verbose { print("SQL error \(error): \(text.prefix(100))") }
            }
        }
    }

    /// PromQL options: a 5-minute lookback and at most 200,000 samples a query.
    public static let promQLOptions = PromQLOptions(lookbackDeltaMs: 300_000, maxSamples: 200_000)

    /// Runs `text` as an instant query at each of `instants` and as a range query over each of
    /// `ranges`, all under one deadline of `seconds` (default 2 s) when it parses.
    public static func promQL(
        _ text: String, on store: ColumnarStore, instants: [Int64], ranges: [(start: Int64, end: Int64, step: Int64)],
        seconds: Int = 2
    ) {
        guard (try? PromQL.parse(text)) != nil else { return }
        let engine = PromQLEngine(store: store, options: promQLOptions)
        let deadline = ContinuousClock.now + .seconds(seconds)
        for t in instants {
            do {
                let value = try engine.instantQuery(text, at: t, deadline: deadline)
                if verbose { print("PromQL at \(t): \(describe(value)): \(text.prefix(100))") }
            } catch {
                if verbose { print("PromQL at \(t): error \(error): \(text.prefix(100))") }
            }
        }
        for r in ranges {
            do {
                let value = try engine.rangeQuery(text, start: r.start, end: r.end, step: r.step, deadline: deadline)
                if verbose { print("PromQL \(r.start)...\(r.end): \(describe(value)): \(text.prefix(100))") }
            } catch {
                if verbose { print("PromQL \(r.start)...\(r.end): error \(error): \(text.prefix(100))") }
            }
        }
    }

    private static func describe(_ value: QueryValue) -> String {
        switch value {
        case .scalar(_, let v): return "scalar \(v)"
        case .string(_, let v): return "string \(v)"
        case .vector(let samples): return "\(samples.count) samples"
        case .matrix(let series): return "\(series.count) series, \(series.reduce(0) { $0 + $1.values.count }) points"
        }
    }
}
