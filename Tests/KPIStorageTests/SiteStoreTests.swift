import Foundation
import KPICore
import Testing

@testable import KPIStorage

/// Schema v2 -> v3 (the `sites` table) on a file written by the previous version, and the
/// site table's operations.
@Suite struct SiteStoreTests {
    /// A version-2 file made the way kpid made them: the v1 and v2 steps, one series and one
    /// token (the tables of a running installation).
    func makeV2File(_ path: String) throws -> Labels {
        let connection = try SQLiteConnection(path: path)
        try connection.execute("PRAGMA journal_mode = WAL")
        for version in 0..<2 {
            try connection.transaction {
                for sql in KPIDatabase.migrations[version] { try connection.execute(sql) }
                try connection.execute("PRAGMA user_version = \(version + 1)")
            }
        }
        let series = labels("occupancy_people", ["site": "JFK", "zone": "B22"])
        let insert = try connection.prepare(
            "INSERT INTO series(id, metric, labels, labels_text, created_ms) VALUES (0, 'occupancy_people', ?1, ?2, 0)")
        try insert.bind(LabelsCodec.encode(series), at: 1)
        try insert.bind(series.description, at: 2)
        _ = try insert.step()
        try connection.execute(
            "INSERT INTO tokens(name, role, sites, digest, created_ms) VALUES ('grafana', 'read', 'JFK', zeroblob(32), 5)")
        connection.close()
        return series
    }

    @Test func version2FileMigratesToTheSitesTableAndKeepsItsData() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/kpid.sqlite"
            let series = try makeV2File(path)
            #expect(throws: StorageError.self) { try SiteStore(path: path) }

            let db = try KPIDatabase(path: path, durability: .process, logger: testLogger)
            #expect(db.schemaVersion == KPIDatabase.currentSchemaVersion && KPIDatabase.currentSchemaVersion >= 3)
            #expect(try db.loadSeries().map(\.1) == [series])
            db.close()
            let tokens = try TokenStore(path: path)
            #expect(try tokens.all().map(\.name) == ["grafana"])
            tokens.close()

            let sites = try SiteStore(path: path)
            #expect(try sites.all().isEmpty)
            #expect(try sites.put(site: "LHR", definition: #"{"site":"LHR"}"#, nowMs: 10) == nil)
            #expect(try sites.put(site: "ORD", definition: #"{"site":"ORD"}"#, nowMs: 20) == nil)
            // Replacing keeps the creation time (and so the order) and returns the old record.
            let previous = try sites.put(site: "LHR", definition: #"{"site":"LHR","display_name":"x"}"#, nowMs: 30)
            #expect(previous == SiteRecord(site: "LHR", definition: #"{"site":"LHR"}"#, createdMs: 10, updatedMs: 10))
            #expect(
                try sites.all() == [
                    SiteRecord(site: "LHR", definition: #"{"site":"LHR","display_name":"x"}"#, createdMs: 10, updatedMs: 30),
                    SiteRecord(site: "ORD", definition: #"{"site":"ORD"}"#, createdMs: 20, updatedMs: 20),
                ])
            #expect(try sites.get(site: "ORD")?.definition == #"{"site":"ORD"}"#)
            #expect(try sites.delete(site: "ORD"))
            #expect(try !sites.delete(site: "ORD"))
            #expect(try sites.get(site: "ORD") == nil)
            #expect(throws: StorageError.self) { try sites.put(site: "", definition: "{}", nowMs: 1) }
            sites.close()

            // The rows are in the file: another connection (another process) reads them.
            let raw = try SQLiteConnection(path: path)
            let count = try raw.prepare("SELECT site, created_ms, updated_ms FROM sites")
            #expect(try count.step())
            #expect(count.string(at: 0) == "LHR" && count.int64(at: 1) == 10 && count.int64(at: 2) == 30)
            #expect(try !count.step())
            raw.close()
            // Opening again changes nothing.
            let again = try KPIDatabase(path: path, durability: .process, logger: testLogger)
            #expect(again.schemaVersion == KPIDatabase.currentSchemaVersion)
            again.close()
        }
    }
}
