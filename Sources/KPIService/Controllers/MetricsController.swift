import Dispatch
import Foundation
import KPICore
import KPIHTTP
import KPIRuntime
import KPIWire
import Synchronization

/// `/metrics`: kpid's own metrics and the rolling KPI series, in the text format 0.0.4,
/// OpenMetrics 1.0 or delimited protobuf, as the scraper's Accept header prefers.
struct MetricsController: Controller {
    let runtime: Runtime
    /// The per-client rate limiter, whose refusals are counted here.
    let rateLimiter: RateLimiter?
    /// The HTTP server while it runs (its aborted slow requests are counted here).
    let server: @Sendable () -> HTTPServer?

    var routes: [Route] {
        [
            Route(
                "/metrics", [.get, .head], .read,
                .now { r, m in self.metricsResponse(accept: r.header("accept"), sites: m.principal.sites) })
        ]
    }

    /// Text format 0.0.4 by default; OpenMetrics 1.0 when the Accept header prefers it (as
    /// Prometheus' scraper does by default); delimited MetricFamily protobuf when that is
    /// preferred (Prometheus with native histograms enabled).
    /// A site-scoped reader (`sites` not empty) sees only its sites' KPI series: kpid's own
    /// health, retention, forwarding and evaluation families describe every site, so they are
    /// for unscoped readers only.
    func metricsResponse(accept: String?, sites: [String] = []) -> HTTPResponse {
        let format = Self.negotiate(accept)
        let type: String
        switch format {
        case .text: type = "text/plain; version=0.0.4; charset=utf-8"
        case .openMetrics: type = "application/openmetrics-text; version=1.0.0; charset=utf-8"
        case .protobuf: type = Self.protobufExpositionType
        }
        return HTTPResponse(
            status: 200, headers: [(name: "Content-Type", value: type)], body: .bytes(exposition(format, sites: sites)))
    }

    /// Every metric on /metrics in `format`: kpid's health, retention, the rolling KPIs,
    /// forwarding and the HTTP layer's counters; only the sites' KPI series for a scoped reader.
    func exposition(_ format: ExpositionWriter.Format, sites: [String] = []) -> [UInt8] {
        var out = ExpositionWriter(format: format)
        if !sites.isEmpty {
            runtime.rollingKPIs.write(to: &out, sites: sites)
            return out.finish()
        }
        metrics.write(to: &out, store: store.stats, databaseBytes: runtime.databaseFileBytes, ready: isReady)
        runtime.retentionMetrics.write(to: &out)
        runtime.rollingKPIs.write(to: &out)
        runtime.forwarder?.write(to: &out)
        runtime.rules?.write(to: &out)
        writeOperationalMetrics(to: &out)
        return out.finish()
    }

    static let protobufExpositionType = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"

    /// The format an Accept header ranks highest: delimited MetricFamily protobuf (Prometheus
    /// with native histograms), OpenMetrics text 1.0.0 (or unversioned), or the text format 0.0.4
    /// (`text/plain`, `*/*`, another OpenMetrics version; also when nothing matches). Quality
    /// values decide; ties go to the earlier entry.
    static func negotiate(_ accept: String?) -> ExpositionWriter.Format {
        guard let accept else { return .text }
        var best: (quality: Double, format: ExpositionWriter.Format)? = nil
        for entry in accept.split(separator: ",") {
            let parts = entry.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let type = parts.first else { continue }
            var quality = 1.0
            var version: String? = nil
            var proto: String? = nil
            var encoding: String? = nil
            for parameter in parts.dropFirst() {
                if parameter.hasPrefix("q=") { quality = Double(parameter.dropFirst(2)) ?? 0 }
                if parameter.hasPrefix("version=") { version = String(parameter.dropFirst(8)) }
                if parameter.hasPrefix("proto=") { proto = String(parameter.dropFirst(6)) }
                if parameter.hasPrefix("encoding=") { encoding = String(parameter.dropFirst(9)) }
            }
            let format: ExpositionWriter.Format
            switch type {
            case "application/vnd.google.protobuf" where proto == "io.prometheus.client.metricfamily" && encoding == "delimited":
                format = .protobuf
            case "application/openmetrics-text" where version == nil || version == "1.0.0": format = .openMetrics
            case "application/openmetrics-text", "text/plain", "*/*": format = .text
            default: continue
            }
            guard quality > 0 else { continue }
            if best == nil || quality > best!.quality { best = (quality, format) }
        }
        return best?.format ?? .text
    }

    /// `kpid_auth_failures_total`, `kpid_http_requests_rate_limited_total`,
    /// `kpid_audit_dropped_entries_total` and what the last start found (`kpid_store_load_seconds`,
    /// `kpid_store_corrupt_rows`).
    func writeOperationalMetrics(to out: inout ExpositionWriter) {
        let failures = metrics.authFailures
        let refused = rateLimiter?.refusals ?? [:]
        let (log, server, recovery) = (runtime.auditLog, server(), runtime.recovery)
        out.family(
            "kpid_auth_failures_total", "counter",
            "Requests refused: 401 without a valid token, 403 without the role or site.")
        for status in [401, 403] {
            out.sample("kpid_auth_failures_total", [("code", String(status))], Double(failures[status] ?? 0))
        }
        out.family(
            "kpid_http_requests_rate_limited_total", "counter",
            "Requests refused with 429 by the per-client rate limit (rate-limit).")
        for kind in ["address", "token"] {
            out.sample("kpid_http_requests_rate_limited_total", [("client", kind)], Double(refused[kind] ?? 0))
        }
        if let log {
            out.single(
                "kpid_audit_dropped_entries_total", "counter", "Audit entries lost because the audit queue was full.",
                Double(log.droppedCount))
        }
        if let server {
            out.single(
                "kpid_http_slow_requests_aborted_total", "counter", "Uploads cut off for running past request-timeout.",
                Double(server.slowRequestsAborted))
        }
        if let recovery {
            out.single("kpid_store_load_seconds", "gauge", "Time the last start took to load the store from SQLite.", recovery.seconds)
            out.family(
                "kpid_store_corrupt_rows", "gauge",
                "Chunk and head rows that failed their checks at start and were left out (never served); see kpid check.")
            for table in ["chunks", "heads"] {
                out.sample(
                    "kpid_store_corrupt_rows", [("table", table)],
                    Double(recovery.corrupt.filter { $0.table == table }.count))
            }
        }
    }
}
