import Foundation
import KeepGuard
import Testing
@testable import KeepStore

@Suite struct MessageTests {
    @Test func appendThenFetchIsByteExact() async throws {
        try await withUserStore { store, _ in
            var bytes = sampleMessage(body: "line one\r\nbinary: \u{0}\u{FF}\r\n")
            bytes += [0x00, 0xFF, 0x80, 0x0D]
            let date = Date(timeIntervalSince1970: 1_700_000_000)
            let result = try await store.append(user: "alice", folder: "INBOX", message: bytes,
                                                flags: MessageFlags(system: [.seen], keywords: ["$Label1"]),
                                                internalDate: date, principal: .user("alice"))
            #expect(result.uid == 1)
            let snapshot = try await store.openFolderReading(user: "alice", name: "INBOX")
            #expect(result.uidValidity == snapshot.folder.uidValidity)
            let fetched = try await store.fetch(user: "alice", folder: snapshot.folder.id, uids: [1],
                                                needs: [.metadata, .envelope, .bodyStructure, .raw])
            let message = try #require(fetched.first)
            #expect(message.raw == bytes)
            #expect(message.size == bytes.count)
            #expect(message.internalDate == date)
            #expect(message.flags == MessageFlags(system: [.seen], keywords: ["$Label1"]))
            #expect(message.envelope?.isEmpty == false)
            #expect(message.bodyStructure?.isEmpty == false)
            #expect(message.body?.isEmpty == false)
        }
    }

    @Test func fetchReadsOnlyWhatIsNeeded() async throws {
        try await withUserStore { store, _ in
            _ = try await store.append(user: "alice", folder: "INBOX", message: sampleMessage(), flags: .init(),
                                       internalDate: nil, principal: .system)
            let folder = try await store.openFolderReading(user: "alice", name: "INBOX").folder.id
            let meta = try #require(try await store.fetch(user: "alice", folder: folder, uids: [1],
                                                          needs: .metadata).first)
            #expect(meta.raw == nil && meta.envelope == nil && meta.bodyStructure == nil && meta.body == nil)
            let env = try #require(try await store.fetch(user: "alice", folder: folder, uids: [1],
                                                         needs: .envelope).first)
            #expect(env.envelope != nil && env.raw == nil)
            // Unknown UIDs are skipped; results are ascending.
            _ = try await store.append(user: "alice", folder: "INBOX", message: sampleMessage(), flags: .init(),
                                       internalDate: nil, principal: .system)
            let some = try await store.fetch(user: "alice", folder: folder, uids: [9, 2, 1, 2], needs: .metadata)
            #expect(some.map(\.uid) == [1, 2])
        }
    }

    @Test func envelopeAndBodyStructureComeFromKeepMIME() async throws {
        try await withUserStore { store, _ in
            _ = try await store.append(user: "alice", folder: "INBOX", message: sampleMessage("Quarterly report"),
                                       flags: .init(), internalDate: nil, principal: .system)
            let folder = try await store.openFolderReading(user: "alice", name: "INBOX").folder.id
            let message = try #require(try await store.fetch(user: "alice", folder: folder, uids: [1],
                                                             needs: [.envelope, .bodyStructure]).first)
            let envelope = String(decoding: try #require(message.envelope), as: UTF8.self)
            #expect(envelope.contains("Quarterly report"))
            #expect(envelope.contains("bob"))
            let structure = String(decoding: try #require(message.bodyStructure), as: UTF8.self)
            #expect(structure.uppercased().contains("\"TEXT\" \"PLAIN\""))
        }
    }

    @Test func largeUIDSetsAreFetchedByRange() async throws {
        try await withUserStore { store, _ in
            for _ in 0..<3 {
                _ = try await store.append(user: "alice", folder: "INBOX", message: sampleMessage(), flags: .init(),
                                           internalDate: nil, principal: .system)
            }
            let folder = try await store.openFolderReading(user: "alice", name: "INBOX").folder.id
            let all = try await store.fetch(user: "alice", folder: folder, uids: Array(1...5_000), needs: .metadata)
            #expect(all.map(\.uid) == [1, 2, 3])
            let some = try await store.fetch(user: "alice", folder: folder, uids: [1, 3] + Array(10...2_000),
                                             needs: .metadata)
            #expect(some.map(\.uid) == [1, 3])
        }
    }

    @Test func appendToAMissingFolderSaysNoSuchFolder() async throws {
        try await withUserStore { store, _ in
            #expect(await storeError {
                _ = try await store.append(user: "alice", folder: "Nope", message: sampleMessage(), flags: .init(),
                                           internalDate: nil, principal: .system)
            } == .noSuchFolder("Nope"))
        }
    }

    @Test func messagesOverTheSizeLimitAreRefused() async throws {
        var options = StoreOptions.fastForTests
        options.limits.imapAppendLimit = 100
        options.limits.lmtpMaxMessageSize = 100
        try await withUserStore(options: options) { store, _ in
            #expect(await storeError {
                _ = try await store.append(user: "alice", folder: "INBOX", message: Array(repeating: 65, count: 101),
                                           flags: .init(), internalDate: nil, principal: .system)
            } == .messageTooLarge(size: 101, limit: 100))
        }
    }

    @Test func uidUidNextAndModSeqProgress() async throws {
        try await withUserStore { store, _ in
            let start = try await store.openFolderReading(user: "alice", name: "INBOX").folder
            #expect(start.uidNext == 1)
            var modseqs: [UInt64] = []
            for i in 1...3 {
                let r = try await store.append(user: "alice", folder: "INBOX", message: sampleMessage(), flags: .init(),
                                               internalDate: nil, principal: .system)
                #expect(r.uid == UInt32(i))
                let status = try await store.folderStatus(user: "alice", name: "INBOX")
                #expect(status.uidNext == UInt32(i + 1))
                modseqs.append(status.highestModSeq)
            }
            #expect(modseqs == [start.highestModSeq + 1, start.highestModSeq + 2, start.highestModSeq + 3])
            let snapshot = try await store.openFolderReading(user: "alice", name: "INBOX")
            #expect(snapshot.messages.map(\.uid) == [1, 2, 3])
            #expect(snapshot.messages.map(\.modSeq) == modseqs)
            let status = try await store.folderStatus(user: "alice", name: "INBOX")
            #expect(status.messages == 3 && status.unseen == 3 && status.deleted == 0)
            #expect(status.size == Int64(sampleMessage().count * 3))
        }
    }

    @Test func flagsAddRemoveReplaceWithKeywords() async throws {
        try await withUserStore { store, _ in
            for _ in 0..<2 {
                _ = try await store.append(user: "alice", folder: "INBOX", message: sampleMessage(), flags: .init(),
                                           internalDate: nil, principal: .system)
            }
            let folder = try await store.openFolderReading(user: "alice", name: "INBOX").folder
            var changed = try await store.storeFlags(
                user: "alice", folder: folder.id, uids: [1, 2], operation: .add,
                flags: MessageFlags(system: [.seen, .flagged], keywords: ["$Work"]), unchangedSince: nil)
            #expect(changed.map(\.uid) == [1, 2])
            #expect(changed.allSatisfy { $0.flags == MessageFlags(system: [.seen, .flagged], keywords: ["$Work"]) })
            let modseq = changed[0].modSeq
            #expect(changed[1].modSeq == modseq && modseq == folder.highestModSeq + 1)

            // Keywords match case-insensitively; the first spelling is kept.
            changed = try await store.storeFlags(user: "alice", folder: folder.id, uids: [1], operation: .add,
                                                 flags: MessageFlags(keywords: ["$WORK", "Urgent"]),
                                                 unchangedSince: nil)
            #expect(changed.first?.flags.keywords == ["$Work", "Urgent"])

            changed = try await store.storeFlags(user: "alice", folder: folder.id, uids: [1, 2], operation: .remove,
                                                 flags: MessageFlags(system: [.flagged], keywords: ["$work"]),
                                                 unchangedSince: nil)
            #expect(changed.map(\.flags) == [MessageFlags(system: [.seen], keywords: ["Urgent"]),
                                             MessageFlags(system: [.seen])])

            changed = try await store.storeFlags(user: "alice", folder: folder.id, uids: [1, 2], operation: .replace,
                                                 flags: MessageFlags(system: [.answered], keywords: ["Other"]),
                                                 unchangedSince: nil)
            #expect(changed.count == 2)
            #expect(changed.allSatisfy { $0.flags == MessageFlags(system: [.answered], keywords: ["Other"]) })

            // A no-op changes nothing and takes no modseq.
            let before = try await store.folderStatus(user: "alice", name: "INBOX").highestModSeq
            changed = try await store.storeFlags(user: "alice", folder: folder.id, uids: [1, 2], operation: .add,
                                                 flags: MessageFlags(system: [.answered]), unchangedSince: nil)
            #expect(changed.isEmpty)
            #expect(try await store.folderStatus(user: "alice", name: "INBOX").highestModSeq == before)

            let snapshot = try await store.openFolderReading(user: "alice", name: "INBOX")
            #expect(snapshot.messages.map(\.flags.keywords) == [["Other"], ["Other"]])
        }
    }

    @Test func unchangedSinceSkipsMessagesChangedLater() async throws {
        try await withUserStore { store, _ in
            for _ in 0..<2 {
                _ = try await store.append(user: "alice", folder: "INBOX", message: sampleMessage(), flags: .init(),
                                           internalDate: nil, principal: .system)
            }
            let snapshot = try await store.openFolderReading(user: "alice", name: "INBOX")
            let m1 = snapshot.messages[0].modSeq
            // Message 2 (modseq m1 + 1) changed after m1: it is skipped.
            let result = try await store.storeFlagsReportingConflicts(
                user: "alice", folder: snapshot.folder.id, uids: [1, 2], operation: .add,
                flags: MessageFlags(system: [.seen]), unchangedSince: m1)
            #expect(result.changed.map(\.uid) == [1])
            #expect(result.modified == [2])
            let changed = try await store.storeFlags(user: "alice", folder: snapshot.folder.id, uids: [1, 2],
                                                     operation: .add, flags: MessageFlags(system: [.flagged]),
                                                     unchangedSince: m1)
            #expect(changed.isEmpty)
        }
    }

    @Test func expungeRemovesOnlyDeletedAndLeavesTombstonesForChanges() async throws {
        try await withUserStore { store, _ in
            for _ in 0..<4 {
                _ = try await store.append(user: "alice", folder: "INBOX", message: sampleMessage(), flags: .init(),
                                           internalDate: nil, principal: .system)
            }
            let folder = try await store.openFolderReading(user: "alice", name: "INBOX").folder
            _ = try await store.storeFlags(user: "alice", folder: folder.id, uids: [1, 2, 4], operation: .add,
                                           flags: MessageFlags(system: [.deleted]), unchangedSince: nil)
            let mark = try await store.folderStatus(user: "alice", name: "INBOX")
            #expect(mark.deleted == 3)
            // Restricted to UIDs (UID EXPUNGE).
            #expect(try await store.expunge(user: "alice", folder: folder.id, uids: [2, 3]) == [2])
            #expect(try await store.expunge(user: "alice", folder: folder.id, uids: nil) == [1, 4])
            #expect(try await store.expunge(user: "alice", folder: folder.id, uids: nil) == [])
            let after = try await store.openFolderReading(user: "alice", name: "INBOX")
            #expect(after.messages.map(\.uid) == [3])
            #expect(after.folder.highestModSeq == mark.highestModSeq + 2)

            let changes = try await store.changes(user: "alice", folder: folder.id, sinceModSeq: mark.highestModSeq)
            #expect(changes.expunged == [1, 2, 4])
            #expect(changes.changed.isEmpty)
            #expect(changes.highestModSeq == after.folder.highestModSeq)
            let all = try await store.changes(user: "alice", folder: folder.id, sinceModSeq: 0)
            #expect(all.changed.map(\.uid) == [3])
            #expect(all.uidNext == 5)

            _ = try await store.storeFlags(user: "alice", folder: folder.id, uids: [3], operation: .add,
                                           flags: MessageFlags(system: [.seen]), unchangedSince: nil)
            let late = try await store.changes(user: "alice", folder: folder.id,
                                               sinceModSeq: after.folder.highestModSeq)
            #expect(late.changed.map(\.uid) == [3] && late.expunged.isEmpty)
        }
    }

    @Test func copyMapsUIDsInSourceOrderAndPreservesFlagsAndDates() async throws {
        try await withUserStore { store, _ in
            let dates = [Date(timeIntervalSince1970: 1_000_000), Date(timeIntervalSince1970: 2_000_000),
                         Date(timeIntervalSince1970: 3_000_000)]
            for (i, date) in dates.enumerated() {
                _ = try await store.append(user: "alice", folder: "INBOX", message: sampleMessage("m\(i)"),
                                           flags: MessageFlags(system: i == 1 ? [.seen] : [], keywords: ["k\(i)"]),
                                           internalDate: date, principal: .user("alice"))
            }
            let dest = try await store.createFolder(user: "alice", name: "Archive", specialUse: .archive)
            _ = try await store.append(user: "alice", folder: "Archive", message: sampleMessage(), flags: .init(),
                                       internalDate: nil, principal: .system)
            let inbox = try await store.openFolderReading(user: "alice", name: "INBOX").folder
            let result = try await store.copy(user: "alice", folder: inbox.id, uids: [3, 1, 2], to: "Archive")
            #expect(result.uidValidity == dest.uidValidity)
            #expect(result.mapping.map(\.source) == [1, 2, 3])
            #expect(result.mapping.map(\.destination) == [2, 3, 4])
            let copied = try await store.fetch(user: "alice", folder: dest.id, uids: [2, 3, 4], needs: [.raw])
            #expect(copied.map(\.internalDate) == dates)
            #expect(copied.map(\.flags.keywords) == [["k0"], ["k1"], ["k2"]])
            #expect(copied[1].flags.system == [.seen])
            #expect(copied.map(\.raw) == (0..<3).map { sampleMessage("m\($0)") })
            // The source is untouched.
            #expect(try await store.openFolderReading(user: "alice", name: "INBOX").messages.count == 3)
            #expect(await storeError { _ = try await store.copy(user: "alice", folder: inbox.id, uids: [1],
                                                                to: "Missing") } == .noSuchFolder("Missing"))
            // Expunging a copy keeps the shared body of the original.
            _ = try await store.storeFlags(user: "alice", folder: dest.id, uids: [2], operation: .add,
                                           flags: MessageFlags(system: [.deleted]), unchangedSince: nil)
            _ = try await store.expunge(user: "alice", folder: dest.id, uids: nil)
            #expect(try await store.fetch(user: "alice", folder: inbox.id, uids: [1], needs: .raw).first?.raw
                    == sampleMessage("m0"))
        }
    }

    @Test func moveAssignsNewUIDsAndExpungesTheSources() async throws {
        try await withUserStore { store, _ in
            for i in 0..<3 {
                _ = try await store.append(user: "alice", folder: "INBOX", message: sampleMessage("m\(i)"),
                                           flags: MessageFlags(keywords: ["$k"]), internalDate: nil,
                                           principal: .system)
            }
            let dest = try await store.createFolder(user: "alice", name: "Dest", specialUse: nil)
            let inbox = try await store.openFolderReading(user: "alice", name: "INBOX").folder
            let result = try await store.move(user: "alice", folder: inbox.id, uids: [3, 1], to: "Dest")
            #expect(result.mapping.map(\.source) == [1, 3])
            #expect(result.mapping.map(\.destination) == [1, 2])
            let source = try await store.openFolderReading(user: "alice", name: "INBOX")
            #expect(source.messages.map(\.uid) == [2])
            let changes = try await store.changes(user: "alice", folder: inbox.id, sinceModSeq: inbox.highestModSeq)
            #expect(changes.expunged == [1, 3])
            let moved = try await store.fetch(user: "alice", folder: dest.id, uids: [1, 2], needs: .raw)
            #expect(moved.map(\.raw) == [sampleMessage("m0"), sampleMessage("m2")])
            #expect(moved.allSatisfy { $0.flags.keywords == ["$k"] })
        }
    }

    @Test func watchReceivesNoticesAfterCommits() async throws {
        try await withUserStore { store, _ in
            let inbox = try await store.openFolderReading(user: "alice", name: "INBOX").folder
            let stream = store.watch(folder: inbox.id)
            var iterator = stream.makeAsyncIterator()
            _ = try await store.append(user: "alice", folder: "INBOX", message: sampleMessage(), flags: .init(),
                                       internalDate: nil, principal: .system)
            let first = await iterator.next()
            #expect(first == FolderChangeNotice(folderID: inbox.id, highestModSeq: inbox.highestModSeq + 1))
            _ = try await store.storeFlags(user: "alice", folder: inbox.id, uids: [1], operation: .add,
                                           flags: MessageFlags(system: [.deleted]), unchangedSince: nil)
            _ = try await store.expunge(user: "alice", folder: inbox.id, uids: nil)
            // Only the newest notice is kept for a slow watcher.
            let second = await iterator.next()
            #expect(second?.highestModSeq == inbox.highestModSeq + 3)
            try await store.close()
            #expect(await iterator.next() == nil)
        }
    }

    @Test func droppedWatchersAreRemoved() async throws {
        try await withUserStore { store, _ in
            let inbox = try await store.openFolderReading(user: "alice", name: "INBOX").folder
            do {
                let stream = store.watch(folder: inbox.id)
                #expect(store.watchers.count == 1)
                _ = stream
            }
            // Termination runs when the stream is released.
            try await Task.sleep(for: .milliseconds(10))
            #expect(store.watchers.count == 0)
        }
    }

    @Test func closeAndReopenKeepsEverything() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("keepstore-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        var store = try await SQLiteStore.open(dataDirectory: dir, options: .fastForTests, logger: testLogger)
        _ = try await store.addUser("alice", password: "pw", database: nil)
        _ = try await store.createFolder(user: "alice", name: "Work", specialUse: nil)
        let appended = try await store.append(user: "alice", folder: "Work", message: sampleMessage("keep me"),
                                              flags: MessageFlags(system: [.flagged], keywords: ["$Important"]),
                                              internalDate: nil, principal: .user("alice"))
        let guids = try await store.listDatabases().map(\.guid)
        try await store.close()

        store = try await SQLiteStore.open(dataDirectory: dir, options: .fastForTests, logger: testLogger)
        #expect(try await store.listDatabases().map(\.guid) == guids)
        #expect(try await store.authenticate(user: "alice", password: "pw") != nil)
        let work = try await store.openFolderReading(user: "alice", name: "Work")
        #expect(work.folder.uidValidity == appended.uidValidity)
        #expect(work.messages.map(\.uid) == [appended.uid])
        let message = try #require(try await store.fetch(user: "alice", folder: work.folder.id, uids: [1],
                                                         needs: .raw).first)
        #expect(message.raw == sampleMessage("keep me"))
        #expect(message.flags == MessageFlags(system: [.flagged], keywords: ["$Important"]))
        let next = try await store.append(user: "alice", folder: "Work", message: sampleMessage(), flags: .init(),
                                          internalDate: nil, principal: .system)
        #expect(next.uid == 2)
        try await store.close()
    }
}
