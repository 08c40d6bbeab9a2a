import Foundation
import KPICore
import KPIRuntime
import KPIService
import KPITemplates
import Logging

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A temporary data directory removed when the test ends.
final class TempDir {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "kpid-test-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A real HTTP response as the client saw it.
struct ClientResponse {
    var status: Int
    var headers: [String: String]
    var body: Data
    var text: String { String(decoding: body, as: UTF8.self) }
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
}

/// Synchronous HTTP through URLSession (libcurl underneath on Linux): a real client.
///
/// Under libfaketime (`make test-shifted`) URLSession on Linux now and then never completes a
/// request: its curl driver runs on dispatch timers, and libfaketime 0.9.10 shifts absolute
/// monotonic deadlines although the monotonic clock is not faked (a CLOCK_MONOTONIC
/// `pthread_cond_timedwait` returns at once there). So under it an idempotent request (a GET, or
/// a POST that only reads or re-runs a KPI round: ``idempotentPOSTs``) that has no answer within
/// 30 s is sent once more on a new session; nothing else is retried.
func http(
    _ method: String, _ url: String, body: Data? = nil, headers: [String: String] = [:], timeout: TimeInterval = 120
) throws -> ClientResponse {
    let idempotent = method == "GET" || (method == "POST" && idempotentPOSTs.contains(URL(string: url)?.path ?? ""))
    guard idempotent, ProcessInfo.processInfo.environment["FAKETIME"] != nil, timeout > 30 else {
        return try httpOnce(method, url, body: body, headers: headers, timeout: timeout)
    }
    do {
        return try httpOnce(method, url, body: body, headers: headers, timeout: 30)
    } catch {
        let timedOut = (error as NSError).domain == NSURLErrorDomain && (error as NSError).code == NSURLErrorTimedOut
        guard timedOut else { throw error }
        return try httpOnce(method, url, body: body, headers: headers, timeout: timeout)
    }
}

/// POST endpoints whose second call changes nothing the tests read: queries (Grafana posts
/// them as forms) and a KPI round (it evaluates and records the same values again).
let idempotentPOSTs: Set<String> = [
    "/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels", "/api/v1/sql",
    "/api/v1/admin/kpis/evaluate",
]

/// One request through a new URLSession.
private func httpOnce(
    _ method: String, _ url: String, body: Data?, headers: [String: String], timeout: TimeInterval
) throws -> ClientResponse {
    final class Box: @unchecked Sendable {
        // @unchecked: written by the completion handler before signal(), read after wait().
        var result: Result<ClientResponse, Error> = .failure(URLError(.timedOut))
        let done = DispatchSemaphore(value: 0)
    }
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = method
    request.httpBody = body
    request.timeoutInterval = timeout
    for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
    let box = Box()
    let session = URLSession(configuration: .ephemeral)
    session.dataTask(with: request) { data, response, error in
        if let error {
            box.result = .failure(error)
        } else {
            let http = response as! HTTPURLResponse
            var headers: [String: String] = [:]
            for (k, v) in http.allHeaderFields { headers[String(describing: k).lowercased()] = String(describing: v) }
            box.result = .success(ClientResponse(status: http.statusCode, headers: headers, body: data ?? Data()))
        }
        box.done.signal()
    }.resume()
    if box.done.wait(timeout: .now() + timeout + 5) == .timedOut { throw URLError(.timedOut) }
    session.finishTasksAndInvalidate()
    return try box.result.get()
}

func percentEncoded(_ s: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return s.addingPercentEncoding(withAllowedCharacters: allowed)!
}

/// An in-process kpid on a free port over a data directory.
final class RunningService {
    let service: KPIService
    let base: String

    init(data: String, configure: (inout ServiceConfiguration) -> Void = { _ in }) throws {
        var config = ServiceConfiguration()
        config.dataDirectory = data
        config.port = 0
        config.httpThreads = 4
        // Tests that want the rolling KPI schedule turn it on themselves.
        config.kpiIntervalSeconds = 0
        // A trim walks the whole test process' heap (every in-process service's): it froze the
        // suite for ~28 s. The trim is tested on kpid processes of their own (HardeningTests,
        // FaultTests).
        config.trimMemoryAfterRefusedQueries = false
        // The shipped alerting rules would evaluate (and write ALERTS) in every test; tests of
        // the rules set rule-files themselves.
        config.ruleFiles = []
        // Rules evaluate once at start, then (in tests) only when a test asks.
        config.ruleEvaluationIntervalMs = 3_600_000
        configure(&config)
        var logger = Logger(label: "kpid-test")
        logger.logLevel = .warning
        service = KPIService(configuration: config, logger: logger)
        try service.start()
        base = "http://127.0.0.1:\(service.boundPort!)"
    }

    func stop() { service.stop() }
    deinit { service.stop() }

    func ingest(_ body: String, contentType: String) throws -> ClientResponse {
        try http("POST", base + "/api/v1/ingest", body: Data(body.utf8), headers: ["Content-Type": contentType])
    }

    func export(_ selector: String, extra: String = "", accept: String? = nil) throws -> ClientResponse {
        try http(
            "GET", base + "/api/v1/export?match=" + percentEncoded(selector) + extra,
            headers: accept.map { ["Accept": $0] } ?? [:])
    }

    /// Exported samples as (labels text, ts, value) from ndjson.
    func exportedSamples(_ selector: String) throws -> [(String, Int64, Double)] {
        let r = try export(selector)
        precondition(r.status == 200, "export failed: \(r.status) \(r.text)")
        return r.text.split(separator: "\n").map { line in
            let o = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let labels = (o["labels"] as? [String: String] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            let value: Double = (o["value"] as? NSNumber)?.doubleValue ?? Double((o["value"] as? String) ?? "") ?? .nan
            return ("\(o["metric"]!){\(labels.joined(separator: ","))}", (o["ts"] as! NSNumber).int64Value, value)
        }
    }
}

/// Root of the package (for the built kpid binary).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The debug kpid binary `make test` builds before running the tests; `KPID_BINARY` overrides
/// it (for a second build folder).
/// 2026-11-23T00:00:00Z: the committed fixtures (`Fixtures/`, ISO weeks 2026-W40 .. W47) end
/// here; tests that evaluate rolling windows over them pin kpid's clock to it.
let fixturesEndMs: Int64 = 1_795_392_000_000

var kpidBinary: String {
    ProcessInfo.processInfo.environment["KPID_BINARY"] ?? packageRoot.appendingPathComponent(".build/debug/kpid").path
}

/// Runs the kpid binary with arguments; returns exit status, stdout and stderr (stderr goes to
/// a file, so neither pipe can fill up and block the child).
func runKpidCommand(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: kpidBinary)
    process.arguments = arguments
    let out = Pipe()
    let errorPath = NSTemporaryDirectory() + "kpid-stderr-" + UUID().uuidString
    _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: errorPath) }
    let errorHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
    process.standardOutput = out
    process.standardError = errorHandle
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try errorHandle.close()
    let errorText = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), errorText)
}

/// The environment for peers and tools (Prometheus, chromium, curl, openssl): this process's
/// without libfaketime's preload and settings. `.ci/run` runs the suite a second time under
/// `faketime` so that kpid and the tests see a shifted date; the peers keep the real time (Go
/// programs ignore faketime anyway, and chromium hangs under it), and kpid's own `now` setting
/// pins the instant where a peer must agree on it.
func peerEnvironment() -> [String: String] {
    ProcessInfo.processInfo.environment.filter { key, _ in
        key != "LD_PRELOAD" && !key.hasPrefix("FAKETIME") && key != "DONT_FAKE_MONOTONIC"
    }
}

/// The peers' time in Unix ms (the real clock, read by `date` outside faketime): for data a
/// peer such as Prometheus must accept as recent, whatever date this process is shown.
func peerClockMilliseconds() throws -> Int64 {
    let r = try runTool("/bin/date", ["+%s%3N"])
    guard r.status == 0, let ms = Int64(r.output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw TestFailure("date failed: \(r.output)")
    }
    return ms
}

/// Runs a program (curl, openssl, sha256sum) and returns its status and output.
func runTool(_ path: String, _ arguments: [String], input: Data? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.environment = peerEnvironment()
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    let stdin = Pipe()
    if input != nil { process.standardInput = stdin }
    try process.run()
    if let input {
        stdin.fileHandleForWriting.write(input)
        try stdin.fileHandleForWriting.close()
    }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A peer from Debian (Prometheus, Alertmanager) run as a child process on a free loopback
/// port, its output in a log file; ready when `init` returns (its `/-/ready` answers 200) and
/// stopped by `stop()` (SIGTERM, then SIGKILL after 10 s).
class PeerServer {
    let process = Process()
    let base: String
    let logPath: String
    private let log: FileHandle

    /// Starts `binary` with the arguments `arguments(port)` gives for the chosen port.
    init(name: String, binary: String, package: String, logPath: String, arguments: (UInt16) -> [String]) throws {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw TestFailure("\(binary) is missing: install Debian's \(package) package (scripts/install-deps.sh does)")
        }
        let port = try freeLoopbackPort()
        base = "http://127.0.0.1:\(port)"
        process.executableURL = URL(fileURLWithPath: binary)
        process.environment = peerEnvironment()
        process.arguments = arguments(port)
        self.logPath = logPath
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        try process.run()
        // The monotonic clock: a wall-clock step (faketime) must not stretch or cut the wait.
        let readyBy = ContinuousClock.now + .seconds(30)
        var ready = false
        while ContinuousClock.now < readyBy && process.isRunning && !ready {
            ready = (try? http("GET", base + "/-/ready", timeout: 2))?.status == 200
            if !ready { Thread.sleep(forTimeInterval: 0.1) }
        }
        guard ready else {
            stop()
            throw TestFailure("\(name) did not become ready: \(logText)")
        }
    }

    var logText: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let stopBy = ContinuousClock.now + .seconds(10)
        while process.isRunning && ContinuousClock.now < stopBy { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? log.close()
    }
}

/// Debian's Prometheus with the given configuration.
final class PrometheusServer: PeerServer {
    init(
        dir: String, tsdb: String, config: String = "global:\n  evaluation_interval: 1m\n", extraArguments: [String] = []
    ) throws {
        try config.write(toFile: dir + "/prometheus.yml", atomically: true, encoding: .utf8)
        try super.init(
            name: "prometheus", binary: "/usr/bin/prometheus", package: "prometheus", logPath: dir + "/prometheus.log"
        ) { port in
            [
                "--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(tsdb)", "--storage.tsdb.retention.time=100y",
                "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
            ] + extraArguments
        }
    }
}

/// How many KPIs the named templates of Queries/templates define (tests count from the files,
/// so adding a KPI to a template does not break them).
func templateKPICount(_ names: [String]) -> Int {
    let templates = (try? TemplateLoader.loadDirectory(packageRoot.appendingPathComponent("Queries/templates").path)) ?? []
    return templates.filter { names.contains($0.name) }.reduce(0) { $0 + $1.kpis.count }
}
