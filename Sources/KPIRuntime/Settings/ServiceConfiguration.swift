import Foundation
import KPICore
import KPIStorage
import KPIWire

/// Everything `kpid serve` can be told. Each setting comes from, in order of precedence, a
/// command-line flag, an environment variable `KPID_<NAME>` (upper case, `-` as `_`), a line
/// `name = value` of the config file, or the default here.
public struct ServiceConfiguration: Sendable {
    public var bind = "127.0.0.1"
    public var port: UInt16 = 9464
    /// Directory holding `kpid.sqlite`.
    public var dataDirectory = "./data"
    public var durability: Durability = .process
    public var httpThreads = 8
    public var maxBodyBytes = 64 << 20
    public var maxConnections = 1024
    public var connectionTimeoutSeconds = 60
    /// Bytes for one request's line and headers (`max-header-bytes`); bigger headers get 431.
    public var maxHeaderBytes = 64 << 10
    /// Seconds from a request's headers to the end of its body (`request-timeout`); a client
    /// still uploading after it is disconnected. 0: no limit.
    public var requestTimeoutSeconds = 300
    public var maxLabelsPerSeries = 30
    public var maxLabelNameLength = 128
    public var maxLabelValueLength = 1024
    /// Bytes per metric name (`max-metric-name-length`); a longer one is refused with 400.
    public var maxMetricNameLength = 256
    public var maxNewSeriesPerRequest = 100_000
    public var maxSeries = 5_000_000
    public var outOfOrderWindowMs: Int64 = 3_600_000
    public var chunkSize = 512
    /// Whether sealed chunks' rollups carry quantile sketches (`rollup-sketches`): they make
    /// `approx_quantile` read buckets, and cost about as much memory as the samples themselves.
    public var rollupSketches = true
    public var checkpointIntervalSeconds = 30.0
    /// PromQL: how far back an instant vector selector looks for a sample.
    public var queryLookbackDeltaMs: Int64 = 300_000
    /// PromQL and SQL: the longest a query may run (the `timeout` parameter may only shorten it).
    public var queryTimeoutMs: Int64 = 120_000
    /// PromQL and SQL: the most samples one query may load.
    public var queryMaxSamples = 50_000_000
    /// SQL: the most series one query may read.
    public var queryMaxSeries = 100_000
    /// SQL: the most rows a result may have.
    public var queryMaxRows = 1_000_000
    /// SQL: memory for GROUP BY state, exact quantiles and join tables, in bytes.
    public var queryMaxMemoryBytes = 1 << 30
    /// Whether memory a refused or timed-out query grew is handed back to the system at once
    /// (`malloc_trim`, at most once a second; see `MemoryReclaimer`). On for a server; a process
    /// embedding many services (the test suite) turns it off.
    public var trimMemoryAfterRefusedQueries = true
    /// SQL: the time zone of date_trunc/date_part when a query names none (IANA name).
    public var queryTimeZone = "UTC"
    /// Directory of saved queries (`<group>/<name>.sql`), served by /api/v1/queries.
    public var queriesDirectory = "Queries"
    /// Directory of KPI templates (`<name>.yaml`), served by /api/v1/templates and /api/v1/kpis.
    public var templatesDirectory = "Queries/templates"
    /// JSON file listing the sites (id, time zone, templates, threshold overrides).
    public var sitesFile = "Queries/sites.json"
    public var logLevel = "info"
    /// `on`, `off`, or `auto` (on unless bound to a loopback address).
    public var auth: AuthMode = .auto
    /// PEM certificate (chain) and private key: with both, kpid serves HTTPS only.
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    /// The oldest TLS version served (`tls-min-version`: 1.0, 1.1, 1.2 or 1.3; default 1.2).
    public var tlsMinimumVersion = "1.2"
    /// How long audit entries are kept.
    public var auditRetentionMs: Int64 = 90 * 86_400_000
    /// How long samples are kept (`retention`, 0 = for ever) and per-metric overrides
    /// (`retention-rules`); see README, Operations, Retention.
    public var retention = RetentionPolicy()
    /// When a series with no new sample becomes unknown (`staleness-max`, `staleness-rules`).
    public var staleness = StalenessPolicy()
    /// How often retention runs while serving (`retention-interval`); it also runs at start.
    public var retentionIntervalSeconds = 300.0
    /// How often the rolling KPIs are evaluated (`kpi-interval`); 0 turns the schedule off.
    public var kpiIntervalSeconds = 60.0
    /// The rolling windows (`kpi-windows`, default `1h,24h,7d,28d`).
    public var kpiWindows = RollingWindow.defaults
    /// Globs of Prometheus rule files (`rule-files`, comma-separated); relative ones are read
    /// from the working directory.
    public var ruleFiles: [String] = ["Queries/rules/*.yaml"]
    /// How often a rule group without its own `interval` is evaluated (`rule-evaluation-interval`), in ms.
    public var ruleEvaluationIntervalMs: Int64 = 60_000
    /// Alertmanagers alerts are sent to (`alertmanager-url`, comma-separated base URLs).
    public var alertmanagerURLs: [String] = []
    /// How often a firing alert is sent again (`alert-resend-delay`), in ms.
    public var alertResendDelayMs: Int64 = 60_000
    /// The URL kpid is reached at, for alerts' `generatorURL` and `$externalURL`
    /// (`external-url`); empty: `http://<bind>:<port>`.
    public var externalURL: String = ""

    /// A file of maintenance windows (`maintenance-file`, YAML or JSON); nil for none.
    public var maintenanceFile: String?
    /// Webhooks alerts are posted to in Alertmanager's webhook format (`webhook-url`).
    public var webhooks: [WebhookTarget] = []
    /// The HMAC-SHA256 key webhook bodies are signed with (`webhook-secret`); nil: unsigned.
    public var webhookSecret: String?
    /// Labels webhook notifications are grouped by (`webhook-group-by`).
    public var webhookGroupBy: [String] = ["alertname", "site"]
    /// How long a new group waits for more alerts before its first notification, ms.
    public var webhookGroupWaitMs: Int64 = 30_000
    /// How long a group waits after a notification before sending changes, ms.
    public var webhookGroupIntervalMs: Int64 = 300_000
    /// How long a group waits before repeating a notification of unchanged firing alerts, ms.
    public var webhookRepeatIntervalMs: Int64 = 4 * 3_600_000

    /// Remote-write endpoint every acknowledged sample is forwarded to (`forward-url`); none by default.
    public var forwardURL: String?
    /// Bearer token sent to `forward-url` (`forward-bearer-token`).
    public var forwardBearerToken: String?
    /// Most samples in one forwarded request (`forward-batch-samples`).
    public var forwardBatchSamples = 5000
    /// Most samples waiting to be forwarded; past it the oldest are dropped (`forward-queue-max-samples`).
    public var forwardQueueMaxSamples = 50_000_000
    /// Requests a second each client (API token, or address when auth is off) may make (`rate-limit`); 0 = no limit.
    public var rateLimit = 0.0
    /// Requests a client may make at once before the rate applies (`rate-limit-burst`).
    public var rateLimitBurst = 100
    /// Size the database file may grow to with samples (`max-database-size`, bytes); 0 = no limit.
    /// Past it ingest answers 507 and stores nothing, as on a full disk.
    public var maxDatabaseBytes: Int64 = 0
    /// Where "now" comes from (`now`): the system clock, or an instant pinned for the life of
    /// the process (RFC 3339 or Unix seconds), for tests and for evaluating KPIs "as of" a past
    /// instant. Everything that reads the calendar reads this clock.
    public var clock = WallClock.system
    /// Whether the live demo runs (`demo`): on the first start it loads 8 weeks of generated
    /// data for the demo sites ending now, then keeps feeding them (see `DemoFeed`).
    public var demo = false
    /// Whether the demo may write into a data directory that holds series it did not write
    /// (`demo-force`).
    public var demoForce = false
    /// The demo's sites, in the shape of `Fixtures/sites.json` (`demo-sites`).
    public var demoSitesFile = "Fixtures/sites.json"

    /// When requests must carry an API token.
    public enum AuthMode: String, Sendable, CaseIterable {
        case on, off, auto
    }

    public init() {}

    /// Whether requests must carry a token: `auth = on`, or `auto` with a non-loopback bind address.
    public var authenticationRequired: Bool {
        switch auth {
        case .on: return true
        case .off: return false
        case .auto: return !Self.isLoopback(bind)
        }
    }

    /// Whether `address` reaches only this machine: 127.0.0.0/8, ::1, ::ffff:127.x, localhost.
    public static func isLoopback(_ address: String) -> Bool {
        let lower = address.lowercased()
        if lower == "localhost" || lower == "::1" || lower == "0:0:0:0:0:0:0:1" { return true }
        let v4 = lower.hasPrefix("::ffff:") ? String(lower.dropFirst(7)) : lower
        let parts = v4.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// The shortest non-zero sample retention accepted: an hour.
    public static let minimumRetentionMs: Int64 = 3_600_000

    public var databasePath: String { (dataDirectory as NSString).appendingPathComponent("kpid.sqlite") }

    /// Options for decoding an ingest body under the configured label limits; samples without a
    /// timestamp get the current time.
    public func decodeOptions(openMetrics: Bool = false) -> DecodeOptions {
        DecodeOptions(
            validator: LabelValidator(
                maxLabelsPerSeries: maxLabelsPerSeries, maxLabelNameLength: maxLabelNameLength,
                maxLabelValueLength: maxLabelValueLength, maxMetricNameLength: maxMetricNameLength),
            now: clock.nowMilliseconds(), openMetrics: openMetrics)
    }

    /// Names of the settings (``settings``), as flags (`--max-body-bytes`), environment variables
    /// (`KPID_MAX_BODY_BYTES`) and config-file keys (`max-body-bytes` or `max_body_bytes`).
    public static var settingNames: [String] { settings.map(\.name) }

    /// A setting that could not be used; names the setting and where it came from.
    public struct Invalid: Error, CustomStringConvertible {
        public var setting: String
        public var source: String
        public var reason: String
        public var description: String { "invalid \(setting) (from \(source)): \(reason)" }

        public init(setting: String, source: String, reason: String) {
            self.setting = setting
            self.source = source
            self.reason = reason
        }
    }

    /// Resolves the settings from the three sources (flags win, then environment, then file).
    public static func resolve(
        flags: [String: String], environment: [String: String], configFile: [String: String]
    ) throws(Invalid) -> ServiceConfiguration {
        var config = ServiceConfiguration()
        for setting in settings {
            let name = setting.name
            let fileValue = configFile[name] ?? configFile[name.replacingOccurrences(of: "-", with: "_")]
            let pick: (String, String)? =
                flags[name].map { ($0, "--\(name)") } ?? environment[setting.environmentName].map { ($0, setting.environmentName) }
                ?? fileValue.map { ($0, "config file") }
            guard let (value, source) = pick else { continue }
            do {
                try setting.apply(&config, value)
            } catch {
                throw Invalid(setting: name, source: source, reason: error.reason)
            }
        }
        if (config.tlsCertificatePath == nil) != (config.tlsKeyPath == nil) {
            throw Invalid(
                setting: config.tlsCertificatePath == nil ? "tls-cert" : "tls-key", source: "settings",
                reason: "tls-cert and tls-key must be given together")
        }
        return config
    }

    /// `0`, or a byte count of at least 1 MiB with an optional K, M, G or T suffix (powers of 1024).
    static func byteSize(_ text: String) -> Int64? {
        if text == "0" { return 0 }
        var digits = Substring(text)
        var factor: Int64 = 1
        if let last = text.uppercased().last, let power = ["K": 1, "M": 2, "G": 3, "T": 4][String(last)] {
            digits = digits.dropLast()
            factor = Int64(1) << (10 * power)
        }
        guard let n = Int64(digits), n > 0, n <= Int64.max / factor, n * factor >= 1 << 20 else { return nil }
        return n * factor
    }

    /// Reads a config file of `name = value` lines; `#` starts a comment; values may be quoted.
    public static func readConfigFile(_ path: String) throws -> [String: String] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var out: [String: String] = [:]
        for (n, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let eq = trimmed.firstIndex(of: "=") else {
                throw Invalid(setting: "line \(n + 1)", source: path, reason: "expected name = value")
            }
            let key = trimmed[..<eq].trimmingCharacters(in: .whitespaces)
            var value = trimmed[trimmed.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.first == "\"", value.last == "\"" { value = String(value.dropFirst().dropLast()) }
            let normalized = key.replacingOccurrences(of: "_", with: "-")
            guard settingNames.contains(normalized) else {
                throw Invalid(setting: key, source: "\(path):\(n + 1)", reason: "unknown setting")
            }
            out[normalized] = value
        }
        return out
    }
}

/// A webhook alerts are posted to, and the alerts it takes (all when `matchers` is empty).
public struct WebhookTarget: Sendable, Equatable {
    public var url: String
    public var matchers: [LabelMatcher]

    public init(url: String, matchers: [LabelMatcher]) {
        self.url = url
        self.matchers = matchers
    }
}
