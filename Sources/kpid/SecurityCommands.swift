import ArgumentParser
import Foundation
import KPIService
import KPIRuntime
import KPIStorage
import Logging

/// The data directory of a command: `--data`, else `KPID_DATA`, else `./data`.
func dataDirectory(_ flag: String?) -> String {
    flag ?? ProcessInfo.processInfo.environment["KPID_DATA"] ?? "./data"
}

func databasePath(_ directory: String) -> String {
    var config = ServiceConfiguration()
    config.dataDirectory = directory
    return config.databasePath
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// `kpid token create|list|revoke`.
///
/// These write the SQLite file directly, whether or not a server runs on it (SQLite's WAL mode
/// lets them). A running server reads the token table again every 2 seconds and whenever it
/// meets an unknown token, so a new token works at once and a revoked one stops working
/// within 2 seconds.
struct Token: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list and revoke API tokens (writes the data directory's database directly).",
        subcommands: [Create.self, List.self, Revoke.self])

    /// Opens (creating and migrating if needed) the database, then its token table.
    static func open(_ data: String?) throws -> TokenStore {
        let directory = dataDirectory(data)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = databasePath(directory)
        var logger = Logger(label: "kpid")
        logger.logLevel = .error
        let database = try KPIDatabase(path: path, durability: .process, logger: logger, softwareVersion: ServiceMetrics.version)
        database.close()
        return try TokenStore(path: path)
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token and print it (shown only this once) on standard output.")
        @Option(help: "ingest, read or admin.") var role: String
        @Option(help: "Limit the token to this site (repeat for several); default every site.") var site: [String] = []
        @Option(help: "A name for people (who or what holds the token).") var name: String?
        @Option(help: "Data directory (default $KPID_DATA or ./data).") var data: String?

        func run() throws {
            guard let role = Principal.Role(rawValue: role) else {
                throw ValidationError("--role must be one of ingest, read, admin")
            }
            if let problem = APIToken.problem(role: role, sites: site) { throw ValidationError(problem) }
            let store = try Token.open(data)
            defer { store.close() }
            let (token, record) = try APIToken.create(in: store, role: role, sites: site, name: name ?? "\(role.rawValue) token")
            printError(
                "created token id \(record.id) (\(record.role)\(site.isEmpty ? "" : ", sites \(site.joined(separator: ","))")); "
                    + "it is shown only now:")
            print(token)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never their secrets).")
        @Option(help: "Data directory (default $KPID_DATA or ./data).") var data: String?

        func run() throws {
            let store = try Token.open(data)
            defer { store.close() }
            print("id\trole\tsites\tname\tcreated\trevoked")
            for record in try store.all() {
                let created = Date(timeIntervalSince1970: Double(record.createdMs) / 1000)
                let revoked = record.revokedMs.map { "\(Date(timeIntervalSince1970: Double($0) / 1000))" } ?? "-"
                let sites = record.sites.isEmpty ? "*" : record.sites.joined(separator: ",")
                print("\(record.id)\t\(record.role)\t\(sites)\t\(record.name)\t\(created)\t\(revoked)")
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a token; a running server refuses it within 2 seconds.")
        @Argument(help: "The token's id (see `kpid token list`).") var id: Int64
        @Option(help: "Data directory (default $KPID_DATA or ./data).") var data: String?

        func run() throws {
            let store = try Token.open(data)
            defer { store.close() }
            guard try store.revoke(id: id, nowMs: Int64((Date().timeIntervalSince1970 * 1000).rounded())) else {
                printError("no active token with id \(id)")
                throw ExitCode(1)
            }
            printError("revoked token \(id)")
        }
    }
}

/// `kpid backup --to FILE`: a consistent copy of the database while the server runs.
struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the database to FILE with SQLite's online backup API (safe while kpid serves and ingests).")
    @Option(help: "The backup file to write (must not exist).") var to: String
    @Option(help: "Data directory (default $KPID_DATA or ./data).") var data: String?

    func run() throws {
        let path = databasePath(dataDirectory(data))
        guard FileManager.default.fileExists(atPath: path) else {
            printError("no database at \(path)")
            throw ExitCode(1)
        }
        let started = Date()
        do {
            try KPIDatabase.backup(from: path, to: to)
        } catch {
            printError("backup failed: \(error)")
            throw ExitCode(1)
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: to)[.size] as? NSNumber)?.int64Value ?? 0
        printError("backup of \(path) written to \(to): \(size) bytes in \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
    }
}

/// `kpid restore --from FILE --data DIR`.
struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replace a data directory's database with a backup (refuses while a kpid uses the directory).")
    @Option(help: "The backup file.") var from: String
    @Option(help: "Data directory (default $KPID_DATA or ./data).") var data: String?
    @Flag(help: "Replace an existing database.") var force = false

    func run() throws {
        let directory = dataDirectory(data)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Held during the restore, so no kpid can start on the directory meanwhile.
        let lock: DataDirectoryLock
        do {
            lock = try DataDirectoryLock(directory: directory)
        } catch {
            printError("refusing to restore: \(error) (stop it first)")
            throw ExitCode(1)
        }
        defer { lock.release() }
        do {
            let report = try KPIDatabase.restore(from: from, to: databasePath(directory), replace: force)
            printError("restored \(from) into \(databasePath(directory)) (\(report))")
        } catch {
            printError("restore failed: \(error)")
            throw ExitCode(1)
        }
    }
}

/// `kpid check --data DIR`.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the database: SQLite's integrity_check plus every series, chunk, head and write-ahead row.")
    @Option(help: "Data directory (default $KPID_DATA or ./data).") var data: String?
    @Option(help: "Check this database file instead (a backup, say).") var file: String?

    func run() throws {
        let path = file ?? databasePath(dataDirectory(data))
        let report: DatabaseCheckReport
        do {
            report = try KPIDatabase.check(path: path)
        } catch {
            printError("check failed: \(error)")
            throw ExitCode(2)
        }
        for finding in report.findings { print("BAD \(finding)") }
        let counts = report.checked.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        if report.isClean {
            print("ok: \(path): checked \(counts)")
        } else {
            print("\(report.findings.count) problem(s) in \(path): checked \(counts)")
            throw ExitCode(1)
        }
    }
}
