import Dispatch
import Foundation
import KPIRuntime
import KPIWire
import Synchronization

/// Per-client request rate limits: one token bucket per API token (per client address when
/// authentication is off), refilled at `rate` requests per second up to `burst`. A request that
/// finds its bucket empty is refused with 429 and a `Retry-After` saying when one token is back.
final class RateLimiter: Sendable {
    struct Bucket: Sendable {
        var tokens: Double
        var updated: UInt64  // uptime nanoseconds
    }

    struct State: Sendable {
        var buckets: [String: Bucket] = [:]
        /// Refusals by client kind (`token`, `address`).
        var refused: [String: UInt64] = [:]
        var lastSweep: UInt64 = 0
    }

    let rate: Double
    let burst: Double
    private let state = Mutex(State())

    /// Buckets idle longer than this are forgotten (they would be full again anyway).
    static let idleNanoseconds: UInt64 = 600 * 1_000_000_000

    init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = max(1, burst)
    }

    /// Takes one token from `key`'s bucket: nil when allowed, else the seconds until one is back.
    func take(_ key: String, kind: String, now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Double? {
        state.withLock { s in
            if now &- s.lastSweep > Self.idleNanoseconds {
                s.buckets = s.buckets.filter { now &- $0.value.updated < Self.idleNanoseconds }
                s.lastSweep = now
            }
            var bucket = s.buckets[key] ?? Bucket(tokens: burst, updated: now)
            let elapsed = Double(now &- bucket.updated) / 1e9
            bucket.tokens = min(burst, bucket.tokens + elapsed * rate)
            bucket.updated = now
            defer { s.buckets[key] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            s.refused[kind, default: 0] += 1
            return (1 - bucket.tokens) / rate
        }
    }

    var refusals: [String: UInt64] { state.withLock { $0.refused } }
}

extension KPIService {
    /// `kpid_auth_failures_total`, `kpid_http_requests_rate_limited_total`,
    /// `kpid_audit_dropped_entries_total` and what the last start found (`kpid_store_load_seconds`,
    /// `kpid_store_corrupt_rows`) in the text format.
    func appendOperationalMetrics(to body: inout [UInt8], openMetrics: Bool) {
        let failures = metrics.authFailures
        let refused = rateLimiter?.refusals ?? [:]
        let (log, server, recovery) = (runtime.auditLog, httpServer, runtime.recovery)
        ExpositionWriter.append(to: &body, openMetrics: openMetrics) { out in
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
                out.family("kpid_audit_dropped_entries_total", "counter", "Audit entries lost because the audit queue was full.")
                out.sample("kpid_audit_dropped_entries_total", [], Double(log.droppedCount))
            }
            if let server {
                out.family("kpid_http_slow_requests_aborted_total", "counter", "Uploads cut off for running past request-timeout.")
                out.sample("kpid_http_slow_requests_aborted_total", [], Double(server.slowRequestsAborted))
            }
            if let recovery {
                out.family("kpid_store_load_seconds", "gauge", "Time the last start took to load the store from SQLite.")
                out.sample("kpid_store_load_seconds", [], recovery.seconds)
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
}
