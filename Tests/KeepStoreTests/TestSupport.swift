import Foundation
import GRDB
import Logging
@testable import KeepStore

/// A store in a fresh temporary directory, removed after `body`.
func withStore<T>(
    options: StoreOptions = .fastForTests,
    _ body: (SQLiteStore, URL) async throws -> T
) async throws -> T {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("keepstore-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    let store = try await SQLiteStore.open(dataDirectory: dir, options: options, logger: testLogger)
    do {
        let result = try await body(store, dir)
        try? await store.close()
        return result
    } catch {
        try? await store.close()
        throw error
    }
}

/// A store with one user, "alice".
func withUserStore<T>(
    options: StoreOptions = .fastForTests,
    _ body: (SQLiteStore, URL) async throws -> T
) async throws -> T {
    try await withStore(options: options) { store, dir in
        _ = try await store.addUser("alice", password: "secret", database: nil)
        return try await body(store, dir)
    }
}

let testLogger: Logger = {
    var logger = Logger(label: "KeepStoreTests")
    logger.logLevel = .critical
    return logger
}()

extension StoreOptions {
    static var fastForTests: StoreOptions {
        var options = StoreOptions()
        options.allowsWeakPasswordHashingForTesting = true
        options.passwordRounds = 1_000
        return options
    }
}

func sampleMessage(_ subject: String = "Hello", body: String = "Hi there.\r\n") -> [UInt8] {
    Array("From: Bob <bob@example.com>\r\nTo: alice@example.com\r\nSubject: \(subject)\r\n\r\n\(body)".utf8)
}

/// Waits for `expected` errors; `#expect(throws:)` with a value needs Equatable errors, which StoreError is.
func storeError(_ body: () async throws -> Void) async -> StoreError? {
    do {
        try await body()
        return nil
    } catch let error as StoreError {
        return error
    } catch {
        return .corrupt("unexpected error \(error)")
    }
}

/// A folder as SELECT used to read it — every message row, straight from the table — beside the snapshot the store
/// now builds from its folder index: the ground truth the index must agree with.
struct ReadFolder {
    var snapshot: FolderSnapshot
    /// Every message, ascending by UID, read from the `messages` table.
    var messages: [MessageSummary]
    /// Sizes of those messages.
    var sizes: [Int]
    var folder: FolderInfo { snapshot.folder }
}

extension SQLiteStore {
    /// Opens `name` as SELECT does and reads its messages from the table beside it (see `ReadFolder`).
    func openFolderReading(user: String, name: String) async throws -> ReadFolder {
        let snapshot = try await openFolder(user: user, name: name)
        let resolved = try await resolve(user: user)
        let folderID = Int64(bitPattern: snapshot.folder.id.rawValue)
        let (rows, keywords) = try resolved.mdb.pool.read { db in
            (try Row.fetchAll(db, sql: "SELECT id, uid, modseq, flags, size FROM messages WHERE folder_id = ? ORDER BY uid",
                              arguments: [folderID]),
             try MessageSQL.keywordsOfFolder(db, folderID: folderID))
        }
        let messages = rows.map { row -> MessageSummary in
            let id: Int64 = row["id"]
            return MessageSummary(uid: UInt32(truncatingIfNeeded: row["uid"] as Int64),
                                  flags: MessageFlags(system: SystemFlags(rawValue: row["flags"]), keywords: keywords[id] ?? []),
                                  modSeq: UInt64(row["modseq"] as Int64))
        }
        return ReadFolder(snapshot: snapshot, messages: messages, sizes: rows.map { $0["size"] })
    }
}
