/// How far an acknowledged write is protected. The database runs in WAL mode for both; they
/// differ in when SQLite syncs the write-ahead log to stable storage.
public enum Durability: String, Sendable, CaseIterable {
    /// `synchronous=NORMAL`: a commit is in the OS page cache before it is acknowledged, so it
    /// survives a crash or `kill -9` of kpid, but the last commits may be lost on an OS crash
    /// or power loss (the database stays consistent either way).
    case process
    /// `synchronous=FULL`: the WAL is fsynced at every commit, so an acknowledged write also
    /// survives an OS crash or power loss. Costs one fsync per group commit.
    case power

    /// The `PRAGMA synchronous` value.
    var synchronousPragma: String {
        switch self {
        case .process: return "NORMAL"
        case .power: return "FULL"
        }
    }
}
