import Foundation
import Testing

@testable import KPIService

/// Per-client request rate limits (token buckets) and the security counters on /metrics.
@Suite(.serialized) struct RateLimitTests {
    @Test func bucketArithmetic() {
        let limiter = RateLimiter(rate: 2, burst: 3)
        let second: UInt64 = 1_000_000_000
        let t0: UInt64 = 10 * second
        // A full bucket of 3, then empty: the next token is 1/2 s away.
        #expect(limiter.take("a", kind: "token", now: t0) == nil)
        #expect(limiter.take("a", kind: "token", now: t0) == nil)
        #expect(limiter.take("a", kind: "token", now: t0) == nil)
        #expect(limiter.take("a", kind: "token", now: t0) == 0.5)
        // Another client has its own bucket.
        #expect(limiter.take("b", kind: "token", now: t0) == nil)
        // 0.25 s later half a token is back: 0.25 s still to wait.
        #expect(limiter.take("a", kind: "token", now: t0 + second / 4) == 0.25)
        // 0.5 s after the start one token is back, and taken.
        #expect(limiter.take("a", kind: "token", now: t0 + second / 2) == nil)
        // Ten seconds idle refill only up to the burst.
        for _ in 0..<3 { #expect(limiter.take("a", kind: "token", now: t0 + 11 * second) == nil) }
        #expect(limiter.take("a", kind: "token", now: t0 + 11 * second) != nil)
        #expect(limiter.refusals["token"] == 3)
    }

    @Test func aClientOverItsRateGets429WithRetryAfter() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path) {
            $0.rateLimit = 0.5
            $0.rateLimitBurst = 3
        }
        for _ in 0..<3 { #expect(try http("GET", kpid.base + "/api/v1/labels").status == 200) }
        let refused = try http("GET", kpid.base + "/api/v1/labels")
        #expect(refused.status == 429)
        #expect(refused.headers.first { $0.key.lowercased() == "retry-after" }?.value == "2", "\(refused.headers)")
        #expect(refused.text.contains("\"field\":\"rate\""), "\(refused.text)")
        // Liveness is never limited.
        #expect(try http("GET", kpid.base + "/healthz").status == 200)
        // The counter, read in-process (a /metrics request would itself be limited now).
        #expect(kpid.service.rateLimiter?.refusals["address"] == 1)
        Thread.sleep(forTimeInterval: 2.1)
        let metrics = try http("GET", kpid.base + "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.text.contains("kpid_http_requests_rate_limited_total{client=\"address\"} 1"))
    }

    @Test func eachTokenHasItsOwnBucket() throws {
        let secured = try SecuredService {
            $0.rateLimit = 0.1
            $0.rateLimitBurst = 2
        }
        let a = try secured.token(.read, name: "a")
        let b = try secured.token(.read, name: "b")
        #expect(try secured.get("/api/v1/labels", token: a).status == 200)
        #expect(try secured.get("/api/v1/labels", token: a).status == 200)
        #expect(try secured.get("/api/v1/labels", token: a).status == 429)
        #expect(try secured.get("/api/v1/labels", token: b).status == 200)
        #expect(secured.kpid.service.rateLimiter?.refusals["token"] == 1)
    }

    @Test func authFailuresAreCounted() throws {
        let secured = try SecuredService()
        let ingest = try secured.token(.ingest)
        let admin = try secured.token(.admin)
        #expect(try secured.get("/api/v1/labels", token: nil).status == 401)
        #expect(try secured.get("/api/v1/labels", token: "kpid_nonsense").status == 401)
        #expect(try secured.get("/api/v1/labels", token: ingest).status == 403)
        let text = try secured.get("/metrics", token: admin).text
        #expect(text.contains("kpid_auth_failures_total{code=\"401\"} 2"), "\(text)")
        #expect(text.contains("kpid_auth_failures_total{code=\"403\"} 1"))
        #expect(text.contains("kpid_audit_dropped_entries_total 0"))
    }
}
