import Crypto
import Foundation
import KPICore
import KPIStorage

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
