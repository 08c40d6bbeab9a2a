import Foundation

#if canImport(Glibc)
    import Glibc
#endif

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
