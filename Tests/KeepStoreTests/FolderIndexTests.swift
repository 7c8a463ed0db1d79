import Foundation
import GRDB
@testable import KeepStore
import Testing

/// The folder index (`mdb-v4`: counters, UID runs, first unseen, keywords), kept by triggers, must say exactly what
/// the `messages` table says after every kind of write: it is what STATUS and SELECT answer from.
@Suite struct FolderIndexTests {
    /// Compares the index with the rows, folder by folder.
    static func expectConsistent(_ store: SQLiteStore, _ names: [String], user: String = "alice",
                                 sourceLocation: SourceLocation = #_sourceLocation) async throws {
        for name in names {
            let r = try await store.openFolderReading(user: user, name: name)
            let uids = r.messages.map(\.uid)
            let unseen = r.messages.filter { !$0.flags.system.contains(.seen) }
            #expect(r.snapshot.uids == UIDRuns(ascending: uids), "\(name): runs \(r.snapshot.uids.runs) for \(uids)",
                    sourceLocation: sourceLocation)
            #expect(r.snapshot.status.messages == uids.count, "\(name)", sourceLocation: sourceLocation)
            #expect(r.snapshot.status.unseen == unseen.count, "\(name)", sourceLocation: sourceLocation)
            #expect(r.snapshot.status.deleted == r.messages.filter { $0.flags.system.contains(.deleted) }.count,
                    "\(name)", sourceLocation: sourceLocation)
            #expect(r.snapshot.status.size == Int64(r.sizes.reduce(0, +)), "\(name)", sourceLocation: sourceLocation)
            #expect(r.snapshot.firstUnseen == unseen.first?.uid, "\(name)", sourceLocation: sourceLocation)
            let used = Set(r.messages.flatMap(\.flags.keywords).map { $0.lowercased() })
            #expect(used.isSubset(of: Set(r.snapshot.keywords.map { $0.lowercased() })), "\(name)",
                    sourceLocation: sourceLocation)
            #expect(try await store.folderStatus(user: user, name: name) == r.snapshot.status, "\(name)",
                    sourceLocation: sourceLocation)
        }
    }

    @Test func theIndexAgreesWithTheMessagesAfterEveryKindOfWrite() async throws {
        try await withUserStore { store, _ in
            for i in 1...30 {
                let flags = MessageFlags(system: i % 3 == 0 ? [.seen] : [], keywords: i % 4 == 0 ? ["$Work"] : [])
                _ = try await store.append(user: "alice", folder: "INBOX", message: sampleMessage("m\(i)"), flags: flags,
                                           internalDate: nil, principal: .user("alice"))
            }
            try await Self.expectConsistent(store, ["INBOX"])
            let inbox = try await store.openFolder(user: "alice", name: "INBOX").folder.id

            _ = try await store.storeFlags(user: "alice", folder: inbox, uids: Array(1...10), operation: .add,
                                           flags: MessageFlags(system: [.seen, .deleted]), unchangedSince: nil)
            _ = try await store.storeFlags(user: "alice", folder: inbox, uids: [3, 6], operation: .remove,
                                           flags: MessageFlags(system: [.seen]), unchangedSince: nil)
            _ = try await store.storeFlags(user: "alice", folder: inbox, uids: [20], operation: .replace,
                                           flags: MessageFlags(system: [.flagged], keywords: ["Later"]), unchangedSince: nil)
            try await Self.expectConsistent(store, ["INBOX"])

            // Expunge the first, a middle stretch and (below) the last: runs split and shrink.
            #expect(try await store.expunge(user: "alice", folder: inbox, uids: [1, 4, 5, 6]) == [1, 4, 5, 6])
            try await Self.expectConsistent(store, ["INBOX"])
            _ = try await store.storeFlags(user: "alice", folder: inbox, uids: [30], operation: .add,
                                           flags: MessageFlags(system: [.deleted]), unchangedSince: nil)
            _ = try await store.expunge(user: "alice", folder: inbox, uids: nil)
            try await Self.expectConsistent(store, ["INBOX"])

            _ = try await store.createFolder(user: "alice", name: "Work", specialUse: nil)
            _ = try await store.copy(user: "alice", folder: inbox, uids: [11, 12, 20, 21], to: "Work")
            _ = try await store.move(user: "alice", folder: inbox, uids: [13, 14, 22], to: "Work")
            try await Self.expectConsistent(store, ["INBOX", "Work"])

            try await store.renameFolder(user: "alice", from: "Work", to: "Archive/2026")
            _ = try await store.append(user: "alice", folder: "Archive/2026", message: sampleMessage("late"),
                                       flags: MessageFlags(), internalDate: nil, principal: .user("alice"))
            try await Self.expectConsistent(store, ["INBOX", "Archive/2026"])

            // Renaming INBOX moves its messages away and leaves it empty.
            try await store.renameFolder(user: "alice", from: "INBOX", to: "Old")
            try await Self.expectConsistent(store, ["INBOX", "Old", "Archive/2026"])

            try await store.deleteFolder(user: "alice", name: "Archive/2026")
            try await Self.expectConsistent(store, ["INBOX", "Old"])
        }
    }
}

/// A database written before the folder index existed gets it filled at its next open (`mdb-v4`'s backfill).
@Suite struct FolderIndexUpgradeTests {
    @Test func anOlderDatabaseIsIndexedWhenItIsUpgraded() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("keep-upgrade-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let queue = try DatabaseQueue(path: dir.appendingPathComponent("old.sqlite").path)
        try Schema.mailboxDatabase.migrate(queue, upTo: "mdb-v3")
        try queue.write { db in
            try db.execute(sql: """
                INSERT INTO named_props(propid, guid, kind, name, created_by, creator_kind, created_at)
                    VALUES (32768, x'00', 'name', 'Old', 'x', 'user', 0);
                INSERT INTO folders(id, owner, name, uidvalidity, uidnext, highestmodseq, created_at)
                    VALUES (1, 'alice', 'INBOX', 7, 11, 20, 0), (2, 'alice', 'Empty', 8, 1, 1, 0);
                INSERT INTO bodies(id, data) VALUES (1, x'41');
                """)
            // UIDs 1-3, 5, 8-10: three runs; UID 5 unseen, the rest seen; UID 9 deleted and keyword "Old".
            for (uid, flags) in [(1, 1), (2, 1), (3, 1), (5, 0), (8, 1), (9, 9), (10, 1)] {
                try db.execute(sql: """
                    INSERT INTO messages(id, folder_id, uid, modseq, flags, internal_date, size, body_id, origin_replid,
                                         origin_counter) VALUES (?, 1, ?, ?, ?, 0, ?, 1, 1, ?)
                    """, arguments: [uid, uid, uid, flags, uid * 100, uid])
            }
            try db.execute(sql: "INSERT INTO message_keywords(message_id, propid) VALUES (9, 32768)")
        }
        try Schema.mailboxDatabase.migrate(queue)
        try queue.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT messages, unseen, deleted, size FROM folders WHERE id = 1")!
            #expect([row[0], row[1], row[2], row[3]] as [Int] == [7, 1, 1, 3_800])
            let runs = try Row.fetchAll(db, sql: "SELECT start, count FROM uid_runs WHERE folder_id = 1 ORDER BY start")
                .map { [$0[0], $0[1]] as [Int] }
            #expect(runs == [[1, 3], [5, 1], [8, 3]])
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM uid_runs WHERE folder_id = 2") == 0)
            #expect(try Int.fetchOne(db, sql: "SELECT propid FROM folder_keywords WHERE folder_id = 1") == 32768)
        }
        // And the triggers are in place from then on.
        try queue.write { db in try db.execute(sql: "DELETE FROM messages WHERE id = 9") }
        try queue.read { db in
            let runs = try Row.fetchAll(db, sql: "SELECT start, count FROM uid_runs WHERE folder_id = 1 ORDER BY start")
                .map { [$0[0], $0[1]] as [Int] }
            #expect(runs == [[1, 3], [5, 1], [8, 1], [10, 1]])
            #expect(try Int.fetchOne(db, sql: "SELECT deleted FROM folders WHERE id = 1") == 0)
        }
    }
}

/// `search` answers flag, keyword, UID and size filters from the table and its indexes.
@Suite struct MessageFilterTests {
    @Test func filtersMatchWhatTheRowsSay() async throws {
        try await withUserStore { store, _ in
            for i in 1...20 {
                let flags = MessageFlags(system: i % 2 == 0 ? [.seen] : [], keywords: i % 5 == 0 ? ["Later"] : [])
                _ = try await store.append(user: "alice", folder: "INBOX", message: sampleMessage("m\(i)", body: String(repeating: "y", count: i * 10)),
                                           flags: flags, internalDate: nil, principal: .user("alice"))
            }
            let inbox = try await store.openFolder(user: "alice", name: "INBOX").folder.id
            func uids(_ f: MessageFilter, maxUID: UInt32 = 20) async throws -> [UInt32] {
                try await store.search(user: "alice", folder: inbox, filter: f, maxUID: maxUID).map(\.uid)
            }
            #expect(try await uids(.not(.hasFlags(.seen))) == Array(stride(from: 1, through: 19, by: 2)))
            #expect(try await uids(.hasKeyword("later")) == [5, 10, 15, 20])
            #expect(try await uids(.and([.hasFlags(.seen), .not(.hasKeyword("LATER"))])) == [2, 4, 6, 8, 12, 14, 16, 18])
            #expect(try await uids(.or(.uids([1...2]), .uids([19...30]))) == [1, 2, 19, 20])
            #expect(try await uids(.hasKeyword("unknown")) == [])
            #expect(try await uids(.all, maxUID: 3) == [1, 2, 3])
            let sizes = try await store.fetch(user: "alice", folder: inbox, uids: Array(1...20), needs: .metadata).map(\.size)
            #expect(try await uids(.sizeAbove(Int64(sizes[9]))) == Array(11...20))
        }
    }
}

/// `FetchNeeds.header` reads the header section alone, wherever its empty line falls.
@Suite struct HeaderReadTests {
    @Test(arguments: [10, 4_090, 4_094, 4_095, 20_000])
    func theHeaderSectionIsReadThroughItsEmptyLineAndNoFurther(padding: Int) async throws {
        try await withUserStore { store, _ in
            let header = "Subject: s\r\nX-Pad: " + String(repeating: "p", count: padding) + "\r\n\r\n"
            let message = Array((header + String(repeating: "body line\r\n", count: 1_000)).utf8)
            _ = try await store.append(user: "alice", folder: "INBOX", message: message, flags: MessageFlags(),
                                       internalDate: nil, principal: .user("alice"))
            let bare = Array("Subject: only a header\n".utf8)
            _ = try await store.append(user: "alice", folder: "INBOX", message: bare, flags: MessageFlags(),
                                       internalDate: nil, principal: .user("alice"))
            let lf = Array("Subject: lf\n\nbody\n".utf8)
            _ = try await store.append(user: "alice", folder: "INBOX", message: lf, flags: MessageFlags(),
                                       internalDate: nil, principal: .user("alice"))
            let inbox = try await store.openFolder(user: "alice", name: "INBOX").folder.id
            let read = try await store.fetch(user: "alice", folder: inbox, uids: [1, 2, 3], needs: [.metadata, .header])
            #expect(read.map(\.header) == [Array(header.utf8), bare, Array("Subject: lf\n\n".utf8)])
            #expect(read.allSatisfy { $0.raw == nil })
        }
    }
}
