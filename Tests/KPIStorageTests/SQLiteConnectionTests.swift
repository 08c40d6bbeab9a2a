import Foundation
import Testing

@testable import KPIStorage

// SQLite result codes, spelled out: tests do not import CSQLite.
private let SQLITE_CANTOPEN: Int32 = 14
private let SQLITE_CONSTRAINT: Int32 = 19
private let SQLITE_MISUSE: Int32 = 21
private let SQLITE_CONSTRAINT_UNIQUE: Int32 = 2067

private struct Boom: Error {}

@Suite struct SQLiteConnectionTests {
    @Test func bindsAndReadsEveryType() throws {
        try withTemporaryDirectory { dir in
            let db = try SQLiteConnection(path: dir + "/t.sqlite")
            try db.execute("""
                CREATE TABLE t(i INTEGER, d REAL, s TEXT, b BLOB);
                CREATE TABLE u(x);
                """)
            let insert = try db.prepare("INSERT INTO t(i, d, s, b) VALUES (?, ?, ?, ?)")
            #expect(insert.parameterCount == 4)
            try insert.bind(Int64.min, at: 1)
            try insert.bind(-0.5, at: 2)
            try insert.bind("héllo 🚀\0tail", at: 3)
            try insert.bind([0, 1, 2, 255] as [UInt8], at: 4)
            #expect(try insert.step() == false)
            #expect(db.lastInsertRowID == 1)
            #expect(db.changes == 1)

            insert.reset()
            insert.clearBindings()
            try insert.bind("", at: 3)  // empty text, not NULL
            try insert.bind([UInt8](), at: 4)  // empty blob, not NULL
            try insert.step()
            insert.reset()
            insert.clearBindings()
            try insert.bindNull(at: 3)
            let pair: [UInt8] = [9, 8]
            try pair.withUnsafeBytes { raw in try insert.bind(raw, at: 4) }
            try insert.step()

            let select = try db.prepare("SELECT i, d, s, b, typeof(s), typeof(b) FROM t ORDER BY rowid")
            #expect(select.columnCount == 6)
            #expect(select.columnName(at: 3) == "b")
            #expect(try select.step())
            #expect(select.int64(at: 0) == Int64.min)
            #expect(select.double(at: 1) == -0.5)
            #expect(select.string(at: 2) == "héllo 🚀\0tail")
            #expect(select.blob(at: 3) == [0, 1, 2, 255])
            #expect(select.withBlob(at: 3) { $0.count } == 4)
            #expect(try select.step())
            #expect(select.isNull(at: 0))
            #expect(select.string(at: 2) == "")
            #expect(select.string(at: 4) == "text")
            #expect(select.string(at: 5) == "blob")
            #expect(select.blob(at: 3) == [])
            #expect(try select.step())
            #expect(select.isNull(at: 2))
            #expect(select.string(at: 2) == nil)
            #expect(select.blob(at: 3) == [9, 8])
            #expect(try select.step() == false)
        }
    }

    @Test func errorsCarryCodesAndSQL() throws {
        try withTemporaryDirectory { dir in
            let db = try SQLiteConnection(path: dir + "/t.sqlite")
            try db.execute("CREATE TABLE t(x UNIQUE)")
            try db.execute("INSERT INTO t VALUES (1)")
            let insert = try db.prepare("INSERT INTO t VALUES (1)")
            #expect {
                try insert.step()
            } throws: { error in
                guard let error = error as? SQLiteError else { return false }
                return error.code == SQLITE_CONSTRAINT && error.extendedCode == SQLITE_CONSTRAINT_UNIQUE
                    && error.sql == "INSERT INTO t VALUES (1)" && error.description.contains("INSERT INTO t VALUES (1)")
                    && error.message.contains("UNIQUE")
            }
            // After a failed step the statement is usable again.
            try db.execute("DELETE FROM t")
            #expect(try insert.step() == false)

            #expect(throws: SQLiteError.self) { try db.prepare("SELEKT 1") }
            #expect(throws: SQLiteError.self) { try db.execute("CREATE TABLE t(x)") }
            // Two statements in one prepare would silently drop the second.
            #expect { try db.prepare("SELECT 1; SELECT 2") } throws: { ($0 as? SQLiteError)?.code == SQLITE_MISUSE }
            #expect(try db.prepare("SELECT 1; -- trailing comment\n ;").step())
            #expect(throws: SQLiteError.self) { try db.prepare("  -- only a comment") }
        }
    }

    @Test func openFailuresThrow() {
        #expect { try SQLiteConnection(path: "/nonexistent-dir-kpid/x.sqlite") } throws: {
            ($0 as? SQLiteError)?.code == SQLITE_CANTOPEN
        }
        #expect(throws: SQLiteError.self) {
            try SQLiteConnection(path: "/tmp/kpid-does-not-exist-\(UUID().uuidString).sqlite", readOnly: true)
        }
    }

    @Test func readOnlyConnectionRefusesWrites() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/t.sqlite"
            try SQLiteConnection(path: path).execute("CREATE TABLE t(x)")
            let reader = try SQLiteConnection(path: path, readOnly: true)
            #expect(try reader.pragma("user_version") == "0")
            #expect(throws: SQLiteError.self) { try reader.execute("INSERT INTO t VALUES (1)") }
        }
    }

    @Test func transactionCommitsOrRollsBack() throws {
        try withTemporaryDirectory { dir in
            let db = try SQLiteConnection(path: dir + "/t.sqlite")
            try db.execute("CREATE TABLE t(x)")
            try db.transaction { try db.execute("INSERT INTO t VALUES (1)") }
            #expect(throws: Boom.self) {
                try db.transaction {
                    try db.execute("INSERT INTO t VALUES (2)")
                    throw Boom()
                }
            }
            #expect(!db.isInTransaction)
            // A nested transaction is a savepoint: its rollback keeps the outer work.
            let value: Int = try db.transaction {
                try db.execute("INSERT INTO t VALUES (3)")
                _ = try? db.transaction { () throws -> Void in
                    try db.execute("INSERT INTO t VALUES (4)")
                    throw Boom()
                }
                return 7
            }
            #expect(value == 7)
            let rows = try db.prepare("SELECT group_concat(x) FROM t")
            _ = try rows.step()
            #expect(rows.string(at: 0) == "1,3")
        }
    }

    @Test func cachedStatementsAreReusedAndReset() throws {
        try withTemporaryDirectory { dir in
            let db = try SQLiteConnection(path: dir + "/t.sqlite")
            try db.execute("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2)")
            let a = try db.cachedStatement("SELECT x FROM t WHERE x >= ? ORDER BY x")
            try a.bind(Int64(1), at: 1)
            #expect(try a.step())
            let b = try db.cachedStatement("SELECT x FROM t WHERE x >= ? ORDER BY x")
            #expect(a === b)
            // Reset and bindings cleared: NULL matches nothing.
            #expect(try b.step() == false)
        }
    }

    @Test func useAfterCloseThrowsInsteadOfCrashing() throws {
        try withTemporaryDirectory { dir in
            let db = try SQLiteConnection(path: dir + "/t.sqlite")
            let cached = try db.cachedStatement("SELECT 1")
            let prepared = try db.prepare("SELECT 2")
            db.close()
            db.close()
            #expect(!db.isOpen)
            #expect { try db.execute("SELECT 1") } throws: { ($0 as? SQLiteError)?.code == SQLITE_MISUSE }
            #expect { try cached.step() } throws: { ($0 as? SQLiteError)?.code == SQLITE_MISUSE }
            cached.reset()
            cached.clearBindings()
            #expect(cached.columnCount == 0)
            // SQLite keeps the connection as a zombie until this statement goes away.
            #expect(try prepared.step())
            #expect(prepared.int64(at: 0) == 2)
        }
    }

    @Test func pragmaIntegrityCheckAndBusyTimeout() throws {
        try withTemporaryDirectory { dir in
            let db = try SQLiteConnection(path: dir + "/t.sqlite")
            try db.busyTimeout(100)
            #expect(try db.pragma("journal_mode = WAL") == "wal")
            try db.pragma("user_version = 5")
            #expect(try db.pragma("user_version") == "5")
            #expect(try db.integrityCheck() == ["ok"])
        }
    }

    @Test func backupCopiesIntoAFreshFileAndRefusesExisting() throws {
        try withTemporaryDirectory { dir in
            let db = try SQLiteConnection(path: dir + "/t.sqlite")
            try db.execute("""
                CREATE TABLE t(x);
                WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 5000)
                INSERT INTO t SELECT v FROM n
                """)
            try db.backup(to: dir + "/copy.sqlite", pagesPerStep: 3)
            #expect(!FileManager.default.fileExists(atPath: dir + "/copy.sqlite.partial"))
            let copy = try SQLiteConnection(path: dir + "/copy.sqlite", readOnly: true)
            let count = try copy.prepare("SELECT count(*), sum(x) FROM t")
            _ = try count.step()
            #expect(count.int64(at: 0) == 5000)
            #expect(count.int64(at: 1) == 5000 * 5001 / 2)
            #expect(throws: SQLiteError.self) { try db.backup(to: dir + "/copy.sqlite") }
        }
    }
}
