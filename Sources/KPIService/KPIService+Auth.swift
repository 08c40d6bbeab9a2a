import Crypto
import Foundation
import KPICore
import KPIHTTP
import KPIStorage
import Synchronization

/// Who is calling: the identity an API token stands for, or ``unrestricted`` when
/// authentication is off.
///
/// Every route handler gets it as ``RouteMatch/principal``. A principal may be limited to some
/// sites (the `site` label):
///
/// - Reads: a handler opens a `Querier` whose `ReadScope` carries ``scopeMatchers`` (they are
///   empty for an unscoped principal): `querier(_:principal:)` for the series, label and export
///   endpoints, `QueryOptions.seriesScope` for SQL, `extraMatchers` for PromQL. The querier
///   applies the scope to every selection itself; nothing else reads the store's series.
/// - Writes and single series: ``mayAccess(_:)`` tells whether a series (its labels) is in scope.
public struct Principal: Sendable, Equatable {
    /// The roles a token may have. `admin` may do everything.
    public enum Role: String, Sendable, CaseIterable {
        /// Writes samples (`/api/v1/ingest`, `/api/v1/write`).
        case ingest
        /// Reads series, samples, queries and /metrics.
        case read
        /// Everything, including tokens, the audit log and backups.
        case admin
    }

    /// The label that names a series' site; site scopes match it.
    public static let siteLabel = "site"

    /// The token's row id; nil when authentication is off.
    public var tokenID: Int64?
    /// The token's name, as written to the audit log.
    public var name: String
    /// What the principal may do.
    public var role: Role
    /// Sites this principal is limited to; empty means every site.
    public var sites: [String]

    /// A principal; empty `sites` means every site.
    public init(tokenID: Int64?, name: String, role: Role, sites: [String]) {
        self.tokenID = tokenID
        self.name = name
        self.role = role
        self.sites = sites
    }

    /// The caller when authentication is off: may do everything, sees every site.
    public static let unrestricted = Principal(tokenID: nil, name: "anonymous", role: .admin, sites: [])

    /// Whether this principal may call a route declaring `access`: open routes are for
    /// everyone, `admin` may call anything, others only routes of their own role.
    public func may(_ access: RouteAccess) -> Bool {
        switch access {
        case .open: return true
        case .ingest: return role == .admin || role == .ingest
        case .read: return role == .admin || role == .read
        case .admin: return role == .admin
        }
    }

    /// The sites this principal may see and write, nil when it is not limited.
    public var allowedSites: [String]? { sites.isEmpty ? nil : sites }

    /// Matchers to AND with any series selection: `site="JFK"` for one site,
    /// `site=~"JFK|LAX"` (escaped, anchored) for several, none when unscoped.
    public var scopeMatchers: [LabelMatcher] {
        switch sites.count {
        case 0: return []
        case 1: return [try! LabelMatcher(Self.siteLabel, .equal, sites[0])]
        default:
            let pattern = sites.map { NSRegularExpression.escapedPattern(for: $0) }.joined(separator: "|")
            return [try! LabelMatcher(Self.siteLabel, .regexMatch, pattern)]
        }
    }

    /// Whether a series with these labels is within this principal's sites.
    public func mayAccess(_ labels: Labels) -> Bool {
        guard !sites.isEmpty else { return true }
        guard let site = labels[Self.siteLabel] else { return false }
        return sites.contains(site)
    }
}

/// API tokens: how they are made and hashed.
///
/// A token is `kpid_` followed by 32 random bytes (256 bits from
/// `SystemRandomNumberGenerator`) in base64url. Only its SHA-256 digest is stored. A fast,
/// unsalted hash is right here: with 256 bits of entropy nobody can guess a token from its
/// digest, so the slow, salted hashes made for low-entropy passwords would only cost every
/// request time.
public enum APIToken {
    /// A new random token, to be shown once.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for _ in 0..<4 {
            let word = generator.next() as UInt64
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        let base64 = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return "kpid_" + base64
    }

    /// SHA-256 of the token's UTF-8 text.
    public static func digest(_ token: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(token.utf8)))
    }

    /// Equal digests, in time that depends only on the length: every byte is compared.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }

    /// Creates a token in `store` and returns it (shown once) with its record.
    public static func create(
        in store: TokenStore, role: Principal.Role, sites: [String], name: String, clock: WallClock = .system
    ) throws -> (token: String, record: TokenRecord) {
        let token = generate()
        let record = try store.insert(
            name: name, role: role.rawValue, sites: sites, digest: digest(token),
            nowMs: clock.nowMilliseconds())
        return (token, record)
    }

    /// Why a token with this role and these sites cannot be made, or nil.
    public static func problem(role: Principal.Role, sites: [String]) -> String? {
        if role == .admin && !sites.isEmpty { return "admin tokens cannot be limited to sites" }
        for site in sites where site.isEmpty || site.contains("\n") || site.utf8.count > 1024 {
            return "a site name must be 1 to 1024 bytes on one line"
        }
        // `kpid token list` shows `*` for an unscoped token; a site of that name would read the same.
        if sites.contains("*") { return "\"*\" is not a site: leave the sites out for a token of every site" }
        return nil
    }
}

/// Checks the credentials of requests against the token table.
///
/// The table is cached in memory and re-read every ``refreshInterval``, and when a token is
/// not found while the table holds a token id the cache has not seen (one indexed read per
/// unknown token). So a token made with `kpid token create` (which writes the SQLite file
/// directly) works at once, and one revoked with `kpid token revoke` stops working within
/// ``refreshInterval``; changes through the HTTP API take effect immediately.
final class Authenticator: Sendable {
    /// How often the token table is re-read.
    static let refreshInterval: Duration = .seconds(2)

    enum Outcome: Equatable {
        case authenticated(Principal)
        /// No credentials, an unknown or revoked token: 401.
        case unauthenticated
    }

    let store: TokenStore
    private let cache = Mutex(Cache())

    private struct Cache {
        var entries: [(digest: [UInt8], principal: Principal)] = []
        var loadedAt: ContinuousClock.Instant?
        var activeCount = 0
        /// Highest token id in the table when it was read.
        var latestID: Int64 = 0
    }

    init(store: TokenStore) {
        self.store = store
    }

    /// Reads the token from `Authorization: Bearer <token>` or HTTP basic auth (the password,
    /// or the user name when the password is empty) and looks it up.
    func authenticate(_ request: HTTPRequest) -> Outcome {
        guard let token = Self.credential(request.header("authorization")) else { return .unauthenticated }
        let digest = APIToken.digest(token)
        let now = ContinuousClock.now
        let (found, seenID) = cache.withLock { cache -> (Principal?, Int64) in
            if cache.loadedAt.map({ $0.duration(to: now) >= Self.refreshInterval }) ?? true { reload(&cache, now: now) }
            return (Self.find(digest, in: cache.entries), cache.latestID)
        }
        if let found { return .authenticated(found) }
        // Unknown: re-read only if a token was added since (a random token costs one indexed
        // read, outside the lock, so a flood of them does not hold up known tokens).
        guard let latest = try? store.latestID(), latest != seenID else { return .unauthenticated }
        return cache.withLock { cache in
            if cache.latestID != latest { reload(&cache, now: now) }
            return Self.find(digest, in: cache.entries).map { .authenticated($0) } ?? .unauthenticated
        }
    }

    /// Forgets the cache, so the next request re-reads the table (after changes through the API).
    func invalidate() {
        cache.withLock { $0.loadedAt = nil }
    }

    /// Tokens not revoked, as of the last read.
    var activeTokenCount: Int {
        cache.withLock { cache in
            if cache.loadedAt == nil { reload(&cache, now: .now) }
            return cache.activeCount
        }
    }

    /// Compares the digest with every cached one, without stopping at a match, so the time
    /// taken does not tell which token (or which digest prefix) matched.
    private static func find(_ digest: [UInt8], in entries: [(digest: [UInt8], principal: Principal)]) -> Principal? {
        var match: Int = -1
        for (index, entry) in entries.enumerated() {
            let equal = APIToken.constantTimeEqual(entry.digest, digest)
            match = equal ? index : match
        }
        return match >= 0 ? entries[match].principal : nil
    }

    private func reload(_ cache: inout Cache, now: ContinuousClock.Instant) {
        guard let latest = try? store.latestID(), let records = try? store.all() else {
            // Keep the last good table; try again at the next request.
            cache.loadedAt = now
            return
        }
        cache.entries = records.compactMap { record in
            guard record.revokedMs == nil, let role = Principal.Role(rawValue: record.role) else { return nil }
            return (record.digest, Principal(tokenID: record.id, name: record.name, role: role, sites: record.sites))
        }
        cache.activeCount = cache.entries.count
        cache.latestID = latest
        cache.loadedAt = now
    }

    /// The token in an Authorization header value, nil when there is none.
    static func credential(_ header: String?) -> String? {
        guard let header else { return nil }
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard let space = trimmed.firstIndex(of: " ") else { return nil }
        let scheme = trimmed[..<space].lowercased()
        let value = trimmed[trimmed.index(after: space)...].trimmingCharacters(in: .whitespaces)
        switch scheme {
        case "bearer":
            return value.isEmpty ? nil : value
        case "basic":
            guard let data = Data(base64Encoded: value), let text = String(data: data, encoding: .utf8),
                let colon = text.firstIndex(of: ":")
            else { return nil }
            let user = String(text[..<colon])
            let password = String(text[text.index(after: colon)...])
            let token = password.isEmpty ? user : password
            return token.isEmpty ? nil : token
        default:
            return nil
        }
    }
}

extension KPIService {
    /// Whether requests must carry a token: `auth = on`, or `auto` on a non-loopback address.
    public var authenticationRequired: Bool { configuration.authenticationRequired }

    /// The principal for a request to a route declaring `access`, or the 401/403 answer.
    /// Open routes, and every route while authentication is off, get ``Principal/unrestricted``.
    func authorize(_ request: HTTPRequest, access: RouteAccess) -> Authorization {
        guard access != .open, authenticationRequired else { return .allowed(.unrestricted) }
        guard let authenticator else {
            return .refused(APIError(status: 503, message: "kpid is starting"), nil)
        }
        switch authenticator.authenticate(request) {
        case .unauthenticated:
            // The same answer for a missing, malformed, unknown or revoked token.
            return .refused(APIError(status: 401, message: "authentication required"), nil)
        case .authenticated(let principal):
            guard principal.may(access) else {
                return .refused(APIError(status: 403, message: "this token's role does not allow this request"), principal)
            }
            return .allowed(principal)
        }
    }

    /// The outcome of ``authorize(_:access:)``.
    enum Authorization {
        case allowed(Principal)
        /// The answer to send, and who was refused when the token was valid (403).
        case refused(APIError, Principal?)
    }

    /// The `WWW-Authenticate` challenge sent with 401. Only Bearer is announced, although basic
    /// auth (token as password) is accepted: the clients that use basic auth with kpid
    /// (Prometheus, Grafana, curl -u) send it without being asked, and a Basic challenge makes
    /// Foundation's URLSession on Linux stall instead of returning the 401 (seen with
    /// swift-corelibs-foundation 6.0), which would hang `kpid ingest` given a bad token.
    static let authenticateChallenge = "Bearer realm=\"kpid\""

    /// Refuses a batch holding a series outside the principal's sites (403, nothing stored).
    func checkWriteScope(_ batch: SampleBatch, principal: Principal) throws(APIError) {
        guard !principal.sites.isEmpty else { return }
        for labels in batch.series where !principal.mayAccess(labels) {
            metrics.rejected(samples: batch.sampleCount, reason: "forbidden")
            throw APIError(
                status: 403, message: "this token may not write this series; nothing was stored",
                details: [
                    IngestIssue(
                        line: 0, field: Principal.siteLabel,
                        reason: "series \(labels.description) is outside the token's sites (\(principal.sites.joined(separator: ", ")))")
                ])
        }
    }
}
