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
