import Foundation
import KPIStorage
import Synchronization

/// Checks the credentials of requests against the token table.
///
/// The table is cached in memory and re-read every ``refreshInterval``, and when a token is
/// not found while the table holds a token id the cache has not seen (one indexed read per
/// unknown token). So a token made with `kpid token create` (which writes the SQLite file
/// directly) works at once, and one revoked with `kpid token revoke` stops working within
/// ``refreshInterval``; changes through the HTTP API take effect immediately.
public final class Authenticator: Sendable {
    /// How often the token table is re-read.
    static let refreshInterval: Duration = .seconds(2)

    public enum Outcome: Equatable, Sendable {
        case authenticated(Principal)
        /// No credentials, an unknown or revoked token: 401.
        case unauthenticated
    }

    public let store: TokenStore
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
    public func authenticate(authorization: String?) -> Outcome {
        guard let token = Self.credential(authorization) else { return .unauthenticated }
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
    public func invalidate() {
        cache.withLock { $0.loadedAt = nil }
    }

    /// Tokens not revoked, as of the last read.
    public var activeTokenCount: Int {
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
    public static func credential(_ header: String?) -> String? {
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
