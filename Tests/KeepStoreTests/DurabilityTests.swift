import Foundation
import GRDB
import Testing
@testable import KeepStore

@Suite struct DurabilityTests {
    @Test func databasesUseWALWithFullSynchronous() async throws {
        try await withUserStore { store, _ in
            let mdb = try await store.mailboxDatabase(named: "mailbox1")
            for pool in [store.directory, mdb.pool] {
                let (mode, sync) = try await pool.write { db in
                    (try String.fetchOne(db, sql: "PRAGMA journal_mode"),
                     try Int.fetchOne(db, sql: "PRAGMA synchronous"))
                }
                #expect(mode == "wal")
                #expect(sync == 2)  // FULL
            }
        }
    }

    @Test func concurrentAppendsGetDistinctIncreasingUIDs() async throws {
        try await withUserStore { store, _ in
            let uids = try await withThrowingTaskGroup(of: UInt32.self) { group in
                for i in 0..<40 {
                    group.addTask {
                        try await store.append(user: "alice", folder: "INBOX", message: sampleMessage("m\(i)"),
                                               flags: MessageFlags(keywords: ["k\(i % 3)"]), internalDate: nil,
                                               principal: .user("alice")).uid
                    }
                }
                return try await group.reduce(into: [UInt32]()) { $0.append($1) }
            }
            #expect(uids.sorted() == Array(1...40))
            let snapshot = try await store.openFolderReading(user: "alice", name: "INBOX")
            #expect(Set(snapshot.messages.map(\.modSeq)).count == 40)
            #expect(try await store.namedProperties(database: "mailbox1", guid: PropertySet.publicStrings).count == 3)
        }
    }

    @Test func watchersOnlyHearTheirFolder() async throws {
        try await withUserStore { store, _ in
            let other = try await store.createFolder(user: "alice", name: "Other", specialUse: nil)
            let inbox = try await store.openFolderReading(user: "alice", name: "INBOX").folder
            var otherNotices = store.watch(folder: other.id).makeAsyncIterator()
            var inboxNotices = store.watch(folder: inbox.id).makeAsyncIterator()
            _ = try await store.append(user: "alice", folder: "INBOX", message: sampleMessage(), flags: .init(),
                                       internalDate: nil, principal: .system)
            _ = try await store.append(user: "alice", folder: "Other", message: sampleMessage(), flags: .init(),
                                       internalDate: nil, principal: .system)
            #expect(await inboxNotices.next()?.folderID == inbox.id)
            #expect(await otherNotices.next()?.folderID == other.id)
            // A move notifies both folders.
            _ = try await store.move(user: "alice", folder: inbox.id, uids: [1], to: "Other")
            #expect(await inboxNotices.next()?.highestModSeq == inbox.highestModSeq + 2)
            #expect(await otherNotices.next()?.highestModSeq == other.highestModSeq + 2)
        }
    }

    @Test func callsAfterCloseFailInsteadOfCrashing() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("keepstore-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try await SQLiteStore.open(dataDirectory: dir, options: .fastForTests, logger: testLogger)
        _ = try await store.addUser("alice", password: "pw", database: nil)
        try await store.close()
        await #expect(throws: (any Error).self) { _ = try await store.listFolders(user: "alice") }
        await #expect(throws: (any Error).self) { _ = try await store.listUsers() }
        var notices = store.watch(folder: StoreID(rawValue: 1)).makeAsyncIterator()
        #expect(await notices.next() == nil)
    }
}
