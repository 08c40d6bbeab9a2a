import Foundation
import KPIHTTP
import KPIStorage

#if canImport(Glibc)
    import Glibc
#endif

/// Start and stop of the security parts: tokens, audit log, TLS, the data directory lock.
extension KPIService {
    /// The token cache, once the database is open.
    var authenticator: Authenticator? { state.withLock { $0.authenticator } }

    /// The audit log, once the database is open.
    var auditLog: AuditLog? { state.withLock { $0.auditLog } }

    /// Opens the token table and the audit log on connections of their own (the database at
    /// `path` is migrated already) and says whether requests need a token.
    func openSecurity(path: String) throws {
        let tokens = try TokenStore(path: path)
        let authenticator = Authenticator(store: tokens)
        let audit = try AuditLog(path: path, retentionMs: configuration.auditRetentionMs, logger: logger)
        state.withLock {
            $0.authenticator = authenticator
            $0.auditLog = audit
        }
        if configuration.authenticationRequired {
            let active = authenticator.activeTokenCount
            if active == 0 {
                let text =
                    "authentication is on but no API token exists: every API request will be refused; create one with "
                    + "`kpid token create --role admin --data \(configuration.dataDirectory)`"
                logger.warning("\(text)")
            } else {
                logger.info("authentication on", metadata: ["tokens": "\(active)"])
            }
        } else {
            let text =
                "authentication is OFF (auth = \(configuration.auth.rawValue), bind \(configuration.bind)): anyone who can reach "
                + "this address can read, write and administer kpid; use --auth on or bind a non-loopback address"
            logger.warning("\(text)")
        }
    }

    /// Writes pending audit entries and closes the connections. Idempotent.
    func closeSecurity() {
        let (authenticator, audit, lock) = state.withLock { s in
            defer {
                s.authenticator = nil
                s.auditLog = nil
                s.directoryLock = nil
            }
            return (s.authenticator, s.auditLog, s.directoryLock)
        }
        audit?.close()
        authenticator?.store.close()
        lock?.release()
    }

    /// Reads `tls-cert` and `tls-key` (nil when not set); throws a clear error when a file
    /// cannot be read or does not hold PEM.
    func loadTLS() throws -> HTTPServerConfiguration.TLSMaterial? {
        guard let certPath = configuration.tlsCertificatePath, let keyPath = configuration.tlsKeyPath else { return nil }
        func read(_ path: String, _ setting: String, marker: String) throws -> String {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ServiceConfiguration.Invalid(setting: setting, source: path, reason: "cannot read the file")
            }
            guard text.contains("-----BEGIN ") && text.contains(marker) else {
                throw ServiceConfiguration.Invalid(setting: setting, source: path, reason: "not a PEM file holding \(marker)")
            }
            return text
        }
        return HTTPServerConfiguration.TLSMaterial(
            certificatePEM: try read(certPath, "tls-cert", marker: "CERTIFICATE-----"),
            keyPEM: try read(keyPath, "tls-key", marker: "PRIVATE KEY-----"))
    }

    /// `http` or `https`, as the server speaks.
    public var urlScheme: String { configuration.tlsCertificatePath == nil ? "http" : "https" }
}

/// An exclusive `flock` on `kpid.lock` in the data directory, held while a kpid (server or
/// offline `kpid ingest --data`) uses it, so a second kpid and `kpid restore` refuse to touch
/// a directory in use. The kernel releases it when the process ends, even by SIGKILL.
public final class DataDirectoryLock: Sendable {
    private let descriptor: Int32

    /// The lock file's path in `directory`.
    public static func path(in directory: String) -> String {
        (directory as NSString).appendingPathComponent("kpid.lock")
    }

    /// Takes the lock, or throws when another process (or another service in this one) holds it.
    public init(directory: String) throws {
        let path = Self.path(in: directory)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw DataDirectoryLockError(message: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw DataDirectoryLockError(message: "\(directory) is in use by another kpid (\(path) is locked)")
        }
        descriptor = fd
    }

    /// Whether some process holds the lock of `directory` now.
    public static func isHeld(directory: String) -> Bool {
        let path = Self.path(in: directory)
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return false
        }
        return true
    }

    /// Releases the lock (also done at deinit).
    public func release() {
        flock(descriptor, LOCK_UN)
    }

    deinit {
        close(descriptor)
    }
}

/// The data directory is locked by another kpid, or the lock file cannot be made.
public struct DataDirectoryLockError: Error, CustomStringConvertible {
    /// What is wrong, naming the directory.
    public var message: String
    /// The message.
    public var description: String { message }
}
