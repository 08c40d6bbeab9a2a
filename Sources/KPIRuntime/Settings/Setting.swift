import Foundation
import KPICore
import KPIPromQL
import KPIStorage
import KPIWire

/// One setting of `kpid serve`, declared once: its name (the flag `--NAME`, the environment
/// variable `KPID_NAME` with `-` as `_`, the config-file key `NAME` or `NAME_WITH_UNDERSCORES`),
/// its default and meaning as the README's Configuration table and `kpid serve --help` show
/// them, and how a value is checked and stored.
public struct Setting: Sendable {
    /// Why a value is refused (the caller adds the setting and where the value came from).
    public struct Refusal: Error {
        public var reason: String
        public init(_ reason: String) { self.reason = reason }
    }

    public let name: String
    /// The default as documented (Markdown).
    public let defaultText: String
    /// What the setting does (Markdown, one line).
    public let help: String
    let apply: @Sendable (inout ServiceConfiguration, String) throws(Refusal) -> Void

    init(
        _ name: String, default defaultText: String, help: String,
        apply: @escaping @Sendable (inout ServiceConfiguration, String) throws(Refusal) -> Void
    ) {
        self.name = name
        self.defaultText = defaultText
        self.help = help
        self.apply = apply
    }

    /// The environment variable: `KPID_` and the name in upper case, `-` as `_`.
    public var environmentName: String { "KPID_" + name.uppercased().replacingOccurrences(of: "-", with: "_") }

    /// The setting's row of the README's Configuration table.
    public var markdownRow: String { "| `\(name)` | \(defaultText) | \(help) |" }

    static func integer(_ value: String, _ range: ClosedRange<Int>) throws(Refusal) -> Int {
        guard let v = Int(value.trimmingCharacters(in: .whitespaces)), range.contains(v) else {
            throw Refusal("\"\(value)\" is not a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return v
    }

    /// `value`, or the content of the file it names as `@FILE`.
    static func textOrFile(_ value: String) throws(Refusal) -> String {
        guard value.hasPrefix("@") else { return value }
        do {
            return try String(contentsOfFile: String(value.dropFirst()), encoding: .utf8)
        } catch {
            throw Refusal("cannot read \(value.dropFirst()): \(error.localizedDescription)")
        }
    }

    static func boolean(_ value: String) throws(Refusal) -> Bool {
        guard value == "true" || value == "false" else { throw Refusal("\"\(value)\" is not true or false") }
        return value == "true"
    }

    static func alertDuration(_ value: String) throws(Refusal) -> Int64 {
        guard let ms = DurationParser.milliseconds(value), ms <= 30 * 86_400_000 else {
            throw Refusal("\"\(value)\" is not a duration up to 30d, like 30s or 5m")
        }
        return ms
    }

    static func queryDuration(_ value: String) throws(Refusal) -> Int64 {
        guard let ms = DurationParser.milliseconds(value), ms > 0, ms <= 1000 * 86_400_000 else {
            throw Refusal("\"\(value)\" is not a positive duration up to 1000d, like 5m")
        }
        return ms
    }
}

extension ServiceConfiguration {
    /// Every setting, in the order of the README's Configuration table.
    public static let settings: [Setting] = [
        Setting(
            "bind", default: "`127.0.0.1`",
            help: "listen address (IPv4 or IPv6)"
        ) { c, value throws(Setting.Refusal) in
            c.bind = value
        },
        Setting(
            "port", default: "`9464`",
            help: "listen port (0 picks a free one)"
        ) { c, value throws(Setting.Refusal) in
            c.port = UInt16(try Setting.integer(value, 0...65535))
        },
        Setting(
            "data", default: "`./data`",
            help: "data directory; the database is `kpid.sqlite` inside"
        ) { c, value throws(Setting.Refusal) in
            c.dataDirectory = value
        },
        Setting(
            "durability", default: "`process`",
            help:
                "`process`: SQLite WAL with `synchronous=NORMAL`, an acknowledged write survives `kill -9` of kpid. `power`: `synchronous=FULL`, it also survives an OS crash or power loss (fsync on every commit)."
        ) { c, value throws(Setting.Refusal) in
            guard let d = Durability(rawValue: value) else { throw Setting.Refusal("\"\(value)\" is not one of process, power") }
            c.durability = d
        },
        Setting(
            "http-threads", default: "`8`",
            help: "HTTP worker threads (libmicrohttpd thread pool)"
        ) { c, value throws(Setting.Refusal) in
            c.httpThreads = try Setting.integer(value, 1...1024)
        },
        Setting(
            "max-body-bytes", default: "`67108864`",
            help: "largest request body (413 above)"
        ) { c, value throws(Setting.Refusal) in
            c.maxBodyBytes = try Setting.integer(value, 1...(1 << 34))
        },
        Setting(
            "max-connections", default: "`1024`",
            help: "concurrent connections"
        ) { c, value throws(Setting.Refusal) in
            c.maxConnections = try Setting.integer(value, 1...1_000_000)
        },
        Setting(
            "connection-timeout", default: "`60`",
            help: "seconds an idle or slow connection is kept"
        ) { c, value throws(Setting.Refusal) in
            c.connectionTimeoutSeconds = try Setting.integer(value, 1...86_400)
        },
        Setting(
            "max-header-bytes", default: "`65536`",
            help: "bytes for a request line and headers; more is refused with 431"
        ) { c, value throws(Setting.Refusal) in
            guard let n = Int(value), (8192...(16 << 20)).contains(n) else {
                throw Setting.Refusal("\"\(value)\" is not a byte count from 8192 to 16777216")
            }
            c.maxHeaderBytes = n
        },
        Setting(
            "request-timeout", default: "`5m`",
            help: "longest a client may take from its headers to the end of its body; a slower upload is cut off (`0`: none)"
        ) { c, value throws(Setting.Refusal) in
            guard let ms = value == "0" ? 0 : DurationParser.milliseconds(value), ms == 0 || (ms >= 1000 && ms <= 86_400_000) else {
                throw Setting.Refusal("\"\(value)\" is not 0 (off) or a duration from 1s to 1d, like 5m")
            }
            c.requestTimeoutSeconds = Int(ms / 1000)
        },
        Setting(
            "now", default: "system clock",
            help:
                "pins kpid's clock to this instant (RFC 3339 or Unix seconds) for the life of the process: rolling KPI rounds, the default review week, `now()` in SQL, PromQL's default time, retention cutoffs, saved-query defaults, missing ingest timestamps, token and audit times and the demo all read it. A testing and backfill aid: evaluate KPIs and reviews \"as of\" a past instant. `kpid report --now` does the same offline."
        ) { c, value throws(Setting.Refusal) in
            guard let ms = TimestampParser.parseAPITime(value.trimmingCharacters(in: .whitespaces)) else {
                throw Setting.Refusal("\"\(value)\" is not an instant like 2026-11-23T05:00:00Z or Unix seconds")
            }
            c.clock = .pinned(at: ms)
        },
        Setting(
            "demo", default: "`false`",
            help: "`true`: the live demo (see [Two commands](#two-commands)); `make run` turns it on"
        ) { c, value throws(Setting.Refusal) in
            c.demo = try Setting.boolean(value)
        },
        Setting(
            "demo-force", default: "`false`",
            help: "`true`: let the demo feed a data directory holding series it did not write"
        ) { c, value throws(Setting.Refusal) in
            c.demoForce = try Setting.boolean(value)
        },
        Setting(
            "demo-sites", default: "`Fixtures/sites.json`",
            help: "the demo's sites (ids, templates, time zones, capacities, matches)"
        ) { c, value throws(Setting.Refusal) in
            c.demoSitesFile = value
        },
        Setting(
            "max-labels-per-series", default: "`30`",
            help: "labels per series, metric name excluded"
        ) { c, value throws(Setting.Refusal) in
            c.maxLabelsPerSeries = try Setting.integer(value, 1...1000)
        },
        Setting(
            "max-label-name-length", default: "`128`",
            help: "bytes per label name"
        ) { c, value throws(Setting.Refusal) in
            c.maxLabelNameLength = try Setting.integer(value, 1...65_536)
        },
        Setting(
            "max-label-value-length", default: "`1024`",
            help: "bytes per label value"
        ) { c, value throws(Setting.Refusal) in
            c.maxLabelValueLength = try Setting.integer(value, 1...1 << 20)
        },
        Setting(
            "max-metric-name-length", default: "`256`",
            help: "bytes per metric name (400 past it, in every format)"
        ) { c, value throws(Setting.Refusal) in
            c.maxMetricNameLength = try Setting.integer(value, 1...65_536)
        },
        Setting(
            "max-new-series-per-request", default: "`100000`",
            help: "new series one request may create"
        ) { c, value throws(Setting.Refusal) in
            c.maxNewSeriesPerRequest = try Setting.integer(value, 0...100_000_000)
        },
        Setting(
            "max-series", default: "`5000000`",
            help: "series in total"
        ) { c, value throws(Setting.Refusal) in
            c.maxSeries = try Setting.integer(value, 1...1_000_000_000)
        },
        Setting(
            "out-of-order-window", default: "`1h`",
            help: "how late a sample may arrive (durations: `ms s m h d w`)"
        ) { c, value throws(Setting.Refusal) in
            guard let ms = DurationParser.milliseconds(value) else {
                throw Setting.Refusal("\"\(value)\" is not a duration like 1h, 30m, 90s, 500ms")
            }
            c.outOfOrderWindowMs = ms
        },
        Setting(
            "chunk-size", default: "`512`",
            help: "samples per sealed chunk"
        ) { c, value throws(Setting.Refusal) in
            c.chunkSize = try Setting.integer(value, 16...65_536)
        },
        Setting(
            "rollup-sketches", default: "`true`",
            help:
                "quantile sketches in the sealed chunks' rollups, so `approx_quantile` reads buckets; `false` saves memory (see [Performance](#performance)) and `approx_quantile` then reads samples. A change applies to chunks sealed afterwards and, on the next start, to every chunk"
        ) { c, value throws(Setting.Refusal) in
            c.rollupSketches = try Setting.boolean(value)
        },
        Setting(
            "checkpoint-interval", default: "`30s`",
            help: "how often sealed chunks are written and the write-ahead table trimmed"
        ) { c, value throws(Setting.Refusal) in
            guard let ms = DurationParser.milliseconds(value), ms > 0 else {
                throw Setting.Refusal("\"\(value)\" is not a positive duration like 30s")
            }
            c.checkpointIntervalSeconds = Double(ms) / 1000
        },
        Setting(
            "query-lookback-delta", default: "`5m`",
            help: "PromQL: how far back an instant selector looks for a sample"
        ) { c, value throws(Setting.Refusal) in
            c.queryLookbackDeltaMs = try Setting.queryDuration(value)
        },
        Setting(
            "query-timeout", default: "`2m`",
            help: "PromQL and SQL: longest query run (the `timeout` parameter may only shorten it); 503 `timeout` past it"
        ) { c, value throws(Setting.Refusal) in
            c.queryTimeoutMs = try Setting.queryDuration(value)
        },
        Setting(
            "query-max-samples", default: "`50000000`",
            help: "PromQL and SQL: samples one query may load (subquery points included); 422 past it"
        ) { c, value throws(Setting.Refusal) in
            c.queryMaxSamples = try Setting.integer(value, 1...1_000_000_000_000)
        },
        Setting(
            "query-max-series", default: "`100000`",
            help: "SQL: series one query may read; 422 past it"
        ) { c, value throws(Setting.Refusal) in
            c.queryMaxSeries = try Setting.integer(value, 1...1_000_000_000)
        },
        Setting(
            "query-max-rows", default: "`1000000`",
            help: "SQL: rows in a result (LIMIT keeps an ORDER BY query under it); 422 past it"
        ) { c, value throws(Setting.Refusal) in
            c.queryMaxRows = try Setting.integer(value, 1...1_000_000_000)
        },
        Setting(
            "query-max-memory", default: "`1073741824`",
            help: "SQL: bytes of GROUP BY state, exact-quantile values and join tables; 422 past it"
        ) { c, value throws(Setting.Refusal) in
            c.queryMaxMemoryBytes = try Setting.integer(value, 1 << 20...1 << 40)
        },
        Setting(
            "query-time-zone", default: "`UTC`",
            help: "SQL: the zone of `date_trunc`/`date_part` when the call names none"
        ) { c, value throws(Setting.Refusal) in
            guard TimeZone(identifier: value) != nil else {
                throw Setting.Refusal("\"\(value)\" is not an IANA time zone like Europe/Paris")
            }
            c.queryTimeZone = value
        },
        Setting(
            "queries-dir", default: "`Queries`",
            help: "saved queries directory"
        ) { c, value throws(Setting.Refusal) in
            c.queriesDirectory = value
        },
        Setting(
            "templates-dir", default: "`Queries/templates`",
            help: "KPI templates directory (`<name>.yaml`)"
        ) { c, value throws(Setting.Refusal) in
            c.templatesDirectory = value
        },
        Setting(
            "sites-file", default: "`Queries/sites.json`",
            help: "sites: time zones, templates, target/warning overrides"
        ) { c, value throws(Setting.Refusal) in
            c.sitesFile = value
        },
        Setting(
            "log-level", default: "`info`",
            help: "`trace` ... `critical` (logs go to stderr)"
        ) { c, value throws(Setting.Refusal) in
            let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
            guard levels.contains(value) else {
                throw Setting.Refusal("\"\(value)\" is not one of \(levels.joined(separator: ", "))")
            }
            c.logLevel = value
        },
        Setting(
            "auth", default: "`auto`",
            help: "API tokens required: `on`, `off`, `auto` (on unless `bind` is a loopback address); see [Security](#security)"
        ) { c, value throws(Setting.Refusal) in
            guard let mode = ServiceConfiguration.AuthMode(rawValue: value) else {
                throw Setting.Refusal("\"\(value)\" is not one of on, off, auto")
            }
            c.auth = mode
        },
        Setting(
            "tls-cert", default: "none",
            help: "PEM certificate (chain): with `tls-key`, kpid serves HTTPS only"
        ) { c, value throws(Setting.Refusal) in
            c.tlsCertificatePath = value.isEmpty ? nil : value
        },
        Setting(
            "tls-key", default: "none",
            help: "PEM private key of `tls-cert`"
        ) { c, value throws(Setting.Refusal) in
            c.tlsKeyPath = value.isEmpty ? nil : value
        },
        Setting(
            "tls-min-version", default: "`1.2`",
            help: "oldest TLS version served (`1.0`, `1.1`, `1.2`, `1.3`); older handshakes are refused"
        ) { c, value throws(Setting.Refusal) in
            guard ["1.0", "1.1", "1.2", "1.3"].contains(value) else {
                throw Setting.Refusal("\"\(value)\" is not one of 1.0, 1.1, 1.2, 1.3")
            }
            c.tlsMinimumVersion = value
        },
        Setting(
            "audit-retention", default: "`90d`",
            help: "how long audit entries are kept (at least `1d`)"
        ) { c, value throws(Setting.Refusal) in
            guard let ms = DurationParser.milliseconds(value), ms >= 86_400_000 else {
                throw Setting.Refusal("\"\(value)\" is not a duration of at least 1d, like 90d")
            }
            c.auditRetentionMs = ms
        },
        Setting(
            "retention", default: "`0`",
            help: "how long samples are kept: `0` for ever, or at least `1h` (e.g. `35d`); see [Retention](#retention)"
        ) { c, value throws(Setting.Refusal) in
            let trimmed = value.trimmingCharacters(in: .whitespaces)
            let ms = trimmed == "0" ? 0 : DurationParser.milliseconds(trimmed)
            guard let ms, ms == 0 || ms >= ServiceConfiguration.minimumRetentionMs else {
                throw Setting.Refusal("\"\(value)\" is not 0 (keep for ever) or a duration of at least 1h, like 35d")
            }
            c.retention.defaultMs = ms
        },
        Setting(
            "retention-rules", default: "none",
            help:
                "per-metric retention: `metric=duration` entries separated by `,` `;` or new lines (`0` = for ever), or `@FILE` holding them (`#` comments)"
        ) { c, value throws(Setting.Refusal) in
            let text = try Setting.textOrFile(value)
            do {
                c.retention.rules = try MetricDurationRules.parse(
                    text, minimumMs: ServiceConfiguration.minimumRetentionMs, allowsZero: true,
                    valueHint: "0 or a duration of at least \(ServiceConfiguration.minimumRetentionMs / 3_600_000)h, like 35d",
                    example: "queue_wait_seconds=35d", otherKey: RetentionPolicy.templateKeyProblem)
            } catch {
                throw Setting.Refusal("\(error)")
            }
        },
        Setting(
            "staleness-max", default: "`1h`",
            help:
                "longest silence after which a series is unknown (neither up nor down) when no rule names its metric: three times the series' median sampling step, at most this; see [Signals and staleness](#signals-and-staleness)"
        ) { c, value throws(Setting.Refusal) in
            guard let ms = DurationParser.milliseconds(value), ms >= 1000, ms <= 30 * 86_400_000 else {
                throw Setting.Refusal("\"\(value)\" is not a duration from 1s to 30d, like 15m")
            }
            c.staleness.maximumMs = ms
        },
        Setting(
            "staleness-rules", default: "none",
            help:
                "per-metric staleness limits, `metric=duration` entries separated by `,` `;` or new lines (e.g. `device_up=6h` for devices that report on change only), or `@FILE` holding them"
        ) { c, value throws(Setting.Refusal) in
            let text = try Setting.textOrFile(value)
            do {
                c.staleness.rules = try MetricDurationRules.parse(
                    text, minimumMs: 1000, allowsZero: false,
                    valueHint: "a duration of at least 1s, like 6h", example: "device_up=6h")
            } catch {
                throw Setting.Refusal("\(error)")
            }
        },
        Setting(
            "retention-interval", default: "`5m`",
            help: "how often retention runs while serving (it also runs at start)"
        ) { c, value throws(Setting.Refusal) in
            guard let ms = DurationParser.milliseconds(value), ms >= 1000, ms <= 86_400_000 else {
                throw Setting.Refusal("\"\(value)\" is not a duration from 1s to 1d, like 5m")
            }
            c.retentionIntervalSeconds = Double(ms) / 1000
        },
        Setting(
            "kpi-interval", default: "`60s`",
            help: "how often the rolling KPIs are evaluated (`0`: off); see [Rolling KPIs](#rolling-kpis)"
        ) { c, value throws(Setting.Refusal) in
            guard let ms = value == "0" ? 0 : DurationParser.milliseconds(value), ms == 0 || (ms >= 1000 && ms <= 86_400_000) else {
                throw Setting.Refusal("\"\(value)\" is not 0 (off) or a duration from 1s to 1d, like 60s")
            }
            c.kpiIntervalSeconds = Double(ms) / 1000
        },
        Setting(
            "kpi-windows", default: "`1h,24h,7d,28d`",
            help: "the rolling windows (`m`, `h`, `d`, `w`)"
        ) { c, value throws(Setting.Refusal) in
            guard let windows = RollingWindow.parseList(value) else {
                throw Setting.Refusal("\"\(value)\" is not a list of distinct windows like 1h,24h,7d,28d (m, h, d or w)")
            }
            c.kpiWindows = windows
        },
        Setting(
            "rule-files", default: "`Queries/rules/*.yaml`",
            help: "Prometheus rule files (alerting and recording rules), comma-separated globs; see [Alerting](#alerting)"
        ) { c, value throws(Setting.Refusal) in
            c.ruleFiles = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        },
        Setting(
            "rule-evaluation-interval", default: "`1m`",
            help: "how often a rule group without its own `interval` is evaluated"
        ) { c, value throws(Setting.Refusal) in
            guard let ms = DurationParser.milliseconds(value), ms >= 1000, ms <= 86_400_000 else {
                throw Setting.Refusal("\"\(value)\" is not a duration from 1s to 1d, like 1m")
            }
            c.ruleEvaluationIntervalMs = ms
        },
        Setting(
            "alertmanager-url", default: "none",
            help: "Alertmanagers alerts are sent to (their v2 API), comma-separated base URLs like `http://127.0.0.1:9093`"
        ) { c, value throws(Setting.Refusal) in
            var urls: [String] = []
            for part in value.split(separator: ",") {
                let text = part.trimmingCharacters(in: .whitespaces)
                guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
                    url.host?.isEmpty == false
                else {
                    throw Setting.Refusal("\"\(text)\" is not an http(s) URL like http://127.0.0.1:9093")
                }
                urls.append(text.hasSuffix("/") ? String(text.dropLast()) : text)
            }
            c.alertmanagerURLs = urls
        },
        Setting(
            "alert-resend-delay", default: "`1m`",
            help: "how often a firing alert is sent to Alertmanager again"
        ) { c, value throws(Setting.Refusal) in
            guard let ms = DurationParser.milliseconds(value), ms >= 1000, ms <= 86_400_000 else {
                throw Setting.Refusal("\"\(value)\" is not a duration from 1s to 1d, like 1m")
            }
            c.alertResendDelayMs = ms
        },
        Setting(
            "external-url", default: "`http://<bind>:<port>`",
            help: "the URL kpid is reached at, for alerts' `generatorURL` and templates' `$externalURL`"
        ) { c, value throws(Setting.Refusal) in
            guard value.isEmpty || URL(string: value)?.scheme != nil else {
                throw Setting.Refusal("\"\(value)\" is not a URL like https://kpid.example.com")
            }
            c.externalURL = value.hasSuffix("/") ? String(value.dropLast()) : value
        },
        Setting(
            "maintenance-file", default: "none",
            help: "a YAML or JSON file of maintenance windows (`windows:` with `site`/`matchers`, `start`, `end`, `reason`), read at start and on reload, beside the ones of `/api/v1/maintenance`"
        ) { c, value throws(Setting.Refusal) in
            c.maintenanceFile = value.isEmpty ? nil : value
        },
        Setting(
            "webhook-url", default: "none",
            help:
                "webhooks alerts are posted to (Alertmanager's webhook format, signed, through a durable outbox): entries `URL` or `URL{severity=\"page\"}` (only matching alerts) separated by `;` or new lines, or `@FILE`; see [Alerting](#alerting)"
        ) { c, value throws(Setting.Refusal) in
            var targets: [WebhookTarget] = []
            for raw in try Setting.textOrFile(value).split(whereSeparator: { $0 == ";" || $0 == "\n" }) {
                let entry = raw.trimmingCharacters(in: .whitespaces)
                if entry.isEmpty { continue }
                let brace = entry.firstIndex(of: "{")
                let urlText = String(entry[..<(brace ?? entry.endIndex)]).trimmingCharacters(in: .whitespaces)
                guard let url = URL(string: urlText), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
                    url.host?.isEmpty == false
                else {
                    throw Setting.Refusal("\"\(urlText)\" is not an http(s) URL like https://itsm.example.com/hook")
                }
                var matchers: [LabelMatcher] = []
                if let brace {
                    do {
                        matchers = try PromQL.parseSeriesSelector(String(entry[brace...]))
                    } catch {
                        throw Setting.Refusal("the matchers of \(urlText) do not parse: \(error)")
                    }
                }
                targets.append(WebhookTarget(url: urlText, matchers: matchers))
            }
            c.webhooks = targets
        },
        Setting(
            "webhook-secret", default: "none",
            help:
                "HMAC-SHA256 key webhook bodies are signed with (`X-Kpid-Signature-256: sha256=<hex>`), or `@FILE` holding it; prefer the environment variable or a file"
        ) { c, value throws(Setting.Refusal) in
            let secret = try Setting.textOrFile(value).trimmingCharacters(in: .whitespacesAndNewlines)
            c.webhookSecret = secret.isEmpty ? nil : secret
        },
        Setting(
            "webhook-group-by", default: "`alertname,site`",
            help: "labels webhook notifications are grouped by (one notification per group)"
        ) { c, value throws(Setting.Refusal) in
            let names = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            for name in names where !LabelValidator.isValidLabelName(name) {
                throw Setting.Refusal("\"\(name)\" is not a label name")
            }
            c.webhookGroupBy = names
        },
        Setting(
            "webhook-group-wait", default: "`30s`",
            help: "how long a new webhook group waits for more alerts before its first notification"
        ) { c, value throws(Setting.Refusal) in
            c.webhookGroupWaitMs = try Setting.alertDuration(value)
        },
        Setting(
            "webhook-group-interval", default: "`5m`",
            help: "how long a webhook group waits after a notification before sending what changed"
        ) { c, value throws(Setting.Refusal) in
            c.webhookGroupIntervalMs = try Setting.alertDuration(value)
        },
        Setting(
            "webhook-repeat-interval", default: "`4h`",
            help: "how long a webhook group waits before repeating a notification of alerts still firing"
        ) { c, value throws(Setting.Refusal) in
            c.webhookRepeatIntervalMs = try Setting.alertDuration(value)
        },
        Setting(
            "forward-url", default: "none",
            help: "remote-write endpoint every acknowledged sample is forwarded to; see [forwarding](#use-with-prometheus-and-grafana)"
        ) { c, value throws(Setting.Refusal) in
            guard let url = URL(string: value), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
                url.host?.isEmpty == false
            else {
                throw Setting.Refusal("\"\(value)\" is not an http(s) URL like http://127.0.0.1:9090/api/v1/write")
            }
            c.forwardURL = value
        },
        Setting(
            "forward-bearer-token", default: "none",
            help: "bearer token sent to `forward-url` (prefer the environment variable)"
        ) { c, value throws(Setting.Refusal) in
            c.forwardBearerToken = value.isEmpty ? nil : value
        },
        Setting(
            "forward-batch-samples", default: "`5000`",
            help: "most samples in one forwarded request"
        ) { c, value throws(Setting.Refusal) in
            guard let n = Int(value), (1...1_000_000).contains(n) else {
                throw Setting.Refusal("\"\(value)\" is not a whole number from 1 to 1000000")
            }
            c.forwardBatchSamples = n
        },
        Setting(
            "forward-queue-max-samples", default: "`50000000`",
            help: "most samples waiting to be forwarded; the oldest are dropped past it"
        ) { c, value throws(Setting.Refusal) in
            guard let n = Int(value), n >= 1000 else {
                throw Setting.Refusal("\"\(value)\" is not a whole number of at least 1000")
            }
            c.forwardQueueMaxSamples = n
        },
        Setting(
            "rate-limit", default: "`0`",
            help: "requests a second per API token (per address with auth off); `0`: no limit; see [Security](#security)"
        ) { c, value throws(Setting.Refusal) in
            guard let r = Double(value), r.isFinite, r >= 0, r <= 1_000_000 else {
                throw Setting.Refusal("\"\(value)\" is not a rate from 0 (off) to 1000000 requests a second")
            }
            c.rateLimit = r
        },
        Setting(
            "rate-limit-burst", default: "`100`",
            help: "requests a client may make at once before the rate applies"
        ) { c, value throws(Setting.Refusal) in
            guard let n = Int(value), (1...1_000_000).contains(n) else {
                throw Setting.Refusal("\"\(value)\" is not a whole number from 1 to 1000000")
            }
            c.rateLimitBurst = n
        },
        Setting(
            "max-database-size", default: "`0`",
            help: "size the database file may grow to with samples (`500M`, `20G`); past it ingest answers 507; `0`: no limit"
        ) { c, value throws(Setting.Refusal) in
            guard let bytes = ServiceConfiguration.byteSize(value) else {
                throw Setting.Refusal(
                    "\"\(value)\" is not 0 (no limit) or a size of at least 1M like 500M, 20G (K, M, G, T: powers of 1024)")
            }
            c.maxDatabaseBytes = bytes
        },
    ]

    /// The README's Configuration table (`kpid settings` prints it).
    public static var markdownTable: String {
        (["| setting | default | meaning |", "|---|---|---|"] + settings.map(\.markdownRow)).joined(separator: "\n") + "\n"
    }
}
