import Foundation
import GRDB
import Testing
@testable import KeepStore

/// Group commit: writes waiting together share one transaction (one fsync), each in its own savepoint.
@Suite struct GroupCommitTests {
    static func pool() throws -> (DatabasePool, URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("keep-gc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let pool = try SQLiteStore.openPool(at: dir.appendingPathComponent("t.sqlite"), label: "t", busyTimeout: 5)
        try pool.write { db in try db.execute(sql: "CREATE TABLE t(n INTEGER PRIMARY KEY)") }
        return (pool, dir)
    }

    /// Holds the writer until `release` is signalled, so that the writes submitted meanwhile gather.
    static func holdWriter(_ pool: DatabasePool) -> DispatchSemaphore {
        let release = DispatchSemaphore(value: 0)
        let held = DispatchSemaphore(value: 0)
        pool.asyncWriteWithoutTransaction { _ in
            held.signal()
            release.wait()
        }
        held.wait()
        return release
    }

    @Test func writesThatWaitTogetherAreCommittedInOneTransaction() async throws {
        let (pool, dir) = try Self.pool()
        defer { try? FileManager.default.removeItem(at: dir) }
        let commit = GroupCommit(pool: pool)
        let release = Self.holdWriter(pool)
        let values = try await withThrowingTaskGroup(of: Int.self) { group in
            for n in 1...10 {
                group.addTask { try await commit.write { db in try db.execute(sql: "INSERT INTO t VALUES (?)", arguments: [n]); return n } }
            }
            // All ten are queued behind the held writer before it is let go.
            while commit.queuedForTesting < 10 { try await Task.sleep(for: .milliseconds(5)) }
            release.signal()
            var got: [Int] = []
            for try await v in group { got.append(v) }
            return got.sorted()
        }
        #expect(values == Array(1...10))
        #expect(commit.committed.groups == 1)
        #expect(commit.committed.writes == 10)
        // On disk: a fresh connection sees every row.
        let reopened = try DatabaseQueue(path: dir.appendingPathComponent("t.sqlite").path)
        #expect(try await reopened.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM t") } == 10)
    }

    @Test func aWriteThatThrowsIsRolledBackAloneAndItsCallerGetsTheError() async throws {
        struct Refused: Error {}
        let (pool, dir) = try Self.pool()
        defer { try? FileManager.default.removeItem(at: dir) }
        let commit = GroupCommit(pool: pool)
        let release = Self.holdWriter(pool)
        let a = Task { try await commit.write { db in try db.execute(sql: "INSERT INTO t VALUES (1)") } }
        while commit.queuedForTesting < 1 { try await Task.sleep(for: .milliseconds(5)) }
        let b = Task {
            try await commit.write { db in
                try db.execute(sql: "INSERT INTO t VALUES (2)")
                throw Refused()
            }
        }
        while commit.queuedForTesting < 2 { try await Task.sleep(for: .milliseconds(5)) }
        let c = Task { try await commit.write { db in try db.execute(sql: "INSERT INTO t VALUES (3)") } }
        while commit.queuedForTesting < 3 { try await Task.sleep(for: .milliseconds(5)) }
        release.signal()
        try await a.value
        await #expect(throws: Refused.self) { try await b.value }
        try await c.value
        #expect(try await pool.read { try Int.fetchAll($0, sql: "SELECT n FROM t ORDER BY n") } == [1, 3])
        #expect(commit.committed.groups == 1)
        #expect(commit.committed.writes == 2)
    }

    @Test func aFailedCommitAnswersEveryWriteOfTheGroupWithTheError() async throws {
        let (pool, dir) = try Self.pool()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A deferred foreign key violated at COMMIT: the statement succeeds, the commit fails.
        try await pool.write { db in
            try db.execute(sql: "CREATE TABLE parent(id INTEGER PRIMARY KEY)")
            try db.execute(sql: "CREATE TABLE child(p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")
        }
        let commit = GroupCommit(pool: pool)
        let release = Self.holdWriter(pool)
        let good = Task { try await commit.write { db in try db.execute(sql: "INSERT INTO t VALUES (1)") } }
        let bad = Task { try await commit.write { db in try db.execute(sql: "INSERT INTO child VALUES (42)") } }
        while commit.queuedForTesting < 2 { try await Task.sleep(for: .milliseconds(5)) }
        release.signal()
        await #expect(throws: (any Error).self) { try await good.value }
        await #expect(throws: (any Error).self) { try await bad.value }
        #expect(try await pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM t") } == 0)
        // The writer is usable again afterwards.
        try await commit.write { db in try db.execute(sql: "INSERT INTO t VALUES (2)") }
        #expect(try await pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM t") } == 1)
    }
}
