import Foundation
import KeepGuard
import Testing
@testable import KeepStore

@Suite struct UpgradeAndCompactionTests {
    static func message(_ i: Int) -> [UInt8] {
        Array("From: b@example.com\r\nSubject: m\(i)\r\nX-H\(i): value \(i)\r\n\r\nBody \(i).\r\n".utf8)
    }

    /// The seed's upgrade scenario: a database already holding more named properties than its (lowered) quota.
    @Test func aDatabaseOverItsLoweredQuotaMountsAndKeepsWorking() async throws {
        var options = StoreOptions.fastForTests
        options.limits.namedPropsQuota = 100
        try await withUserStore(options: options) { store, _ in
            for i in 1...40 {
                _ = try await store.append(user: "alice", folder: "INBOX", message: Self.message(i),
                                           flags: MessageFlags(keywords: ["k\(i)"]), internalDate: nil,
                                           principal: .user("alice"))
            }
            #expect(try await store.databaseStats(name: "mailbox1").namedProps == 80)
            try await store.remountDatabase(name: "mailbox1",
                                            quotas: DatabaseQuotas(namedProps: 60, replids: 60,
                                                                   unauthenticatedNamedProps: 30))
            let stats = try await store.databaseStats(name: "mailbox1")
            #expect(stats.namedProps == 80 && stats.namedPropsQuota == 60)

            // Existing names resolve; their data stays readable and searchable.
            let inbox = try await store.openFolderReading(user: "alice", name: "INBOX")
            #expect(inbox.messages.count == 40 && inbox.messages[4].flags.keywords == ["k5"])
            #expect(try await store.messagesWithHeader(user: "alice", folder: inbox.folder.id, name: "X-H7",
                                                       containing: "value 7") == [7])
            let changed = try await store.storeFlags(user: "alice", folder: inbox.folder.id, uids: [2],
                                                     operation: .add, flags: MessageFlags(keywords: ["K1"]),
                                                     unchangedSince: nil)
            #expect(changed.first?.flags.keywords == ["k1", "k2"])

            // Each new creation fails with 9667 naming the user and the property.
            #expect(await storeError {
                _ = try await store.storeFlags(user: "alice", folder: inbox.folder.id, uids: [1], operation: .add,
                                               flags: MessageFlags(keywords: ["Meeting"]), unchangedSince: nil)
            } == .namedPropertyQuotaReached(database: "mailbox1", quota: 60))
            // A delivery is stored all the same; only its new header is not promoted.
            let delivered = try await store.append(user: "alice", folder: "INBOX",
                                                   message: Self.message(99), flags: .init(), internalDate: nil,
                                                   principal: .user("alice"))
            #expect(delivered.uid == 41)
            let errors = try await store.events.events(eventID: StoreEventID.namedPropsQuotaError)
            #expect(errors.count == 1 && errors.first?.repeatCount == 2)
            #expect(errors.first?.fields["user"] == "alice" && errors.first?.fields["name"] == "Meeting")
            #expect(errors.first?.message.contains("Named property name/id: Meeting") == true)
            #expect(errors.first?.message.contains("User attempting to create the named property: alice") == true)
            let all = try await store.events.events(eventID: StoreEventID.namedPropsQuotaError, limit: 10)
            #expect(all.allSatisfy { $0.fields["quota"] == "60" })
            #expect(try await store.messagesWithHeader(user: "alice", folder: inbox.folder.id, name: "x-h99",
                                                       containing: "") == nil)
        }
    }

    @Test func compactionReclaimsUnusedNamesAndAllocationTakesTheLowestFreeID() async throws {
        try await withUserStore { store, _ in
            let folder = try await store.openFolderReading(user: "alice", name: "INBOX").folder.id
            for (i, keyword) in ["a", "b", "c", "d"].enumerated() {
                _ = try await store.append(user: "alice", folder: "INBOX", message: sampleMessage("m\(i)"),
                                           flags: MessageFlags(keywords: [keyword]), internalDate: nil,
                                           principal: .user("alice"))
            }
            let ids = try await store.namedProperties(database: "mailbox1", guid: PropertySet.publicStrings)
                .map(\.id)
            #expect(ids == [0x8000, 0x8001, 0x8002, 0x8003])
            // Message 2 (b) is expunged; c is removed from message 3.
            _ = try await store.storeFlags(user: "alice", folder: folder, uids: [2], operation: .add,
                                           flags: MessageFlags(system: .deleted), unchangedSince: nil)
            _ = try await store.expunge(user: "alice", folder: folder, uids: nil)
            _ = try await store.storeFlags(user: "alice", folder: folder, uids: [3], operation: .remove,
                                           flags: MessageFlags(keywords: ["c"]), unchangedSince: nil)
            // Names of other property sets are not the store's to reclaim.
            let other = UUID()
            _ = try await store.namedPropertyID(database: "mailbox1", guid: other, name: "kept", create: true,
                                                principal: .user("alice"))
            #expect(try await store.compactDatabase(name: "mailbox1") == 2)
            #expect(try await store.namedProperties(database: "mailbox1", guid: PropertySet.publicStrings)
                    .map(\.key) == [.name("a"), .name("d")])
            #expect(try await store.namedProperties(database: "mailbox1", guid: other).count == 1)
            #expect(try await store.compactDatabase(name: "mailbox1") == 0)
            // Holes are filled lowest first, then the table grows.
            for (keyword, expected) in [("e", 0x8001), ("f", 0x8002), ("g", 0x8005)] {
                #expect(try await store.namedPropertyID(database: "mailbox1", guid: PropertySet.publicStrings,
                                                        name: keyword, create: true, principal: .user("alice"))
                        == UInt16(expected))
            }
            #expect(try await store.openFolderReading(user: "alice", name: "INBOX").messages.map(\.flags.keywords)
                    == [["a"], [], ["d"]])
        }
    }
}

@Suite struct MailboxMoveTests {
    static func message(_ i: Int) -> [UInt8] {
        Array("From: b@example.com\r\nSubject: m\(i)\r\nX-Campaign: c\(i % 2)\r\n\r\nBody \(i).\r\n".utf8)
    }

    /// alice in mailbox1 with two folders, keywords, a promoted header, an expunged message and an unused keyword.
    static func populate(_ store: SQLiteStore) async throws {
        _ = try await store.createDatabase("mailbox2", kind: .private)
        _ = try await store.createFolder(user: "alice", name: "Archive", specialUse: .archive)
        try await store.setSubscribed(user: "alice", name: "Archive", false)
        for i in 1...4 {
            _ = try await store.append(user: "alice", folder: i < 4 ? "INBOX" : "Archive", message: message(i),
                                       flags: MessageFlags(system: i == 1 ? .seen : [], keywords: ["$Label\(i % 2)"]),
                                       internalDate: Date(timeIntervalSince1970: 1_700_000_000 + Double(i)),
                                       principal: .user("alice"))
        }
        _ = try await store.namedPropertyID(database: "mailbox1", guid: PropertySet.publicStrings, name: "unused",
                                            create: true, principal: .user("alice"))
        let inbox = try await store.openFolderReading(user: "alice", name: "INBOX").folder.id
        _ = try await store.storeFlags(user: "alice", folder: inbox, uids: [2], operation: .add,
                                       flags: MessageFlags(system: .deleted), unchangedSince: nil)
        _ = try await store.expunge(user: "alice", folder: inbox, uids: nil)
    }

    static func state(_ store: SQLiteStore) async throws -> [String: (FolderInfo, [MessageData])] {
        var result: [String: (FolderInfo, [MessageData])] = [:]
        for folder in try await store.listFolders(user: "alice") {
            let snapshot = try await store.openFolderReading(user: "alice", name: folder.name)
            let data = try await store.fetch(user: "alice", folder: folder.id,
                                             uids: snapshot.messages.map(\.uid), needs: [.metadata, .raw, .envelope])
            result[folder.name] = (folder, data)
        }
        return result
    }

    static func expectSame(_ a: [String: (FolderInfo, [MessageData])], _ b: [String: (FolderInfo, [MessageData])]) {
        #expect(a.keys.sorted() == b.keys.sorted())
        for (name, (folder, messages)) in a {
            guard let (other, otherMessages) = b[name] else { continue }
            #expect(folder.uidValidity == other.uidValidity && folder.uidNext == other.uidNext)
            #expect(folder.highestModSeq == other.highestModSeq && folder.subscribed == other.subscribed)
            #expect(folder.specialUse == other.specialUse)
            #expect(messages.map(\.uid) == otherMessages.map(\.uid))
            #expect(messages.map(\.flags) == otherMessages.map(\.flags))
            #expect(messages.map(\.modSeq) == otherMessages.map(\.modSeq))
            #expect(messages.map(\.internalDate) == otherMessages.map(\.internalDate))
            #expect(messages.map(\.raw) == otherMessages.map(\.raw))
            #expect(messages.map(\.envelope) == otherMessages.map(\.envelope))
        }
    }

    @Test func aMoveKeepsEverythingClientsSeeAndOnlyNamesInUse() async throws {
        try await withUserStore { store, _ in
            try await Self.populate(store)
            let before = try await Self.state(store)
            let inbox = try #require(before["INBOX"]?.0)
            let changesBefore = try await store.changes(user: "alice", folder: inbox.id, sinceModSeq: 0)
            let result = try await store.moveMailbox(user: "alice", to: "mailbox2")
            #expect(result.folders == 2 && result.messages == 3 && result.localIDs == 0 && !result.resumed)
            #expect(try await store.user(named: "alice")?.database == "mailbox2")
            Self.expectSame(before, try await Self.state(store))
            // Expunge tombstones came along (QRESYNC VANISHED).
            let movedInbox = try await store.openFolderReading(user: "alice", name: "INBOX").folder.id
            #expect(try await store.changes(user: "alice", folder: movedInbox, sinceModSeq: 0).expunged
                    == changesBefore.expunged)
            // Only names in use were created in the target; the source holds nothing of alice any more.
            #expect(Set(try await store.namedProperties(database: "mailbox2", guid: PropertySet.publicStrings)
                    .map(\.key)) == [.name("$Label0"), .name("$Label1")])
            #expect(try await store.namedProperties(database: "mailbox2", guid: PropertySet.internetHeaders)
                    .map(\.key) == [.name("x-campaign")])
            #expect(try await store.messagesWithHeader(user: "alice", folder: movedInbox, name: "x-campaign",
                                                       containing: "c1") == [1, 3])
            #expect(try await store.databaseStats(name: "mailbox1").messages == 0)
            // The source GUID got a replica id in the target: origins are kept.
            let sourceGUID = try #require(UUID(uuidString: try await store.listDatabases()[0].guid))
            #expect(try await store.replicaID(database: "mailbox2", for: sourceGUID, create: false,
                                              principal: .system) == 2)
            // Running it again does nothing; the emptied source can be removed.
            let again = try await store.moveMailbox(user: "alice", to: "mailbox2")
            #expect(again.messages == 0 && again.resumed)
            _ = try await store.moveMailbox(user: "alice", to: "mailbox1")
            Self.expectSame(before, try await Self.state(store))
            _ = try await store.moveMailbox(user: "alice", to: "mailbox2")
            try await store.removeDatabase(name: "mailbox1")
            #expect(try await store.listFolders(user: "alice").count == 2)
        }
    }

    @Test func anInterruptedMoveLeavesTheSourceIntactAndARerunFinishesIt() async throws {
        try await withUserStore { store, _ in
            try await Self.populate(store)
            let before = try await Self.state(store)
            await #expect(throws: (any Error).self) {
                _ = try await store.moveMailbox(user: "alice", to: "mailbox2", interruptingAfter: .copied)
            }
            // Still served from the source, unchanged; the pending move blocks removing either database.
            #expect(try await store.user(named: "alice")?.database == "mailbox1")
            Self.expectSame(before, try await Self.state(store))
            #expect(await storeError { try await store.removeDatabase(name: "mailbox2") }
                    == .databaseNotEmpty("mailbox2", users: 1))
            // A move elsewhere must wait for this one.
            _ = try await store.createDatabase("mailbox3", kind: .private)
            await #expect(throws: MailboxMoveError.self) {
                _ = try await store.moveMailbox(user: "alice", to: "mailbox3")
            }
            // Interrupted after the switch: the user is in the target, the source copy is still there.
            await #expect(throws: (any Error).self) {
                _ = try await store.moveMailbox(user: "alice", to: "mailbox2", interruptingAfter: .switched)
            }
            #expect(try await store.user(named: "alice")?.database == "mailbox2")
            Self.expectSame(before, try await Self.state(store))
            #expect(try await store.databaseStats(name: "mailbox1").messages == 3)
            let result = try await store.moveMailbox(user: "alice", to: "mailbox2")
            #expect(result.resumed)
            #expect(try await store.databaseStats(name: "mailbox1").messages == 0)
            #expect(try await store.databaseStats(name: "mailbox2").messages == 3)
            Self.expectSame(before, try await Self.state(store))
            try await store.removeDatabase(name: "mailbox3")
        }
    }

    @Test func aRefusedReplicaIDGivesLocalOriginsAndAKeywordQuotaFailsTheMoveCleanly() async throws {
        var options = StoreOptions.fastForTests
        options.databaseQuotas["mailbox2"] = DatabaseQuotas(namedProps: 1, replids: 1, unauthenticatedNamedProps: 1)
        try await withUserStore(options: options) { store, _ in
            try await Self.populate(store)
            // The target's one replica id goes to a stranger; its one named property is taken too.
            _ = try await store.replicaID(database: "mailbox2", for: UUID(), create: true, principal: .user("x"))
            _ = try await store.namedPropertyID(database: "mailbox2", guid: UUID(), name: "p", create: true,
                                                principal: .user("x"))
            await #expect(throws: StoreError.namedPropertyQuotaReached(database: "mailbox2", quota: 1)) {
                _ = try await store.moveMailbox(user: "alice", to: "mailbox2")
            }
            #expect(try await store.user(named: "alice")?.database == "mailbox1")
            #expect(try await store.databaseStats(name: "mailbox2").messages == 0)
            // With room for the keywords, the move goes through; origins fall back to local ids.
            try await store.remountDatabase(name: "mailbox2",
                                            quotas: DatabaseQuotas(namedProps: 3, replids: 1,
                                                                   unauthenticatedNamedProps: 1))
            let result = try await store.moveMailbox(user: "alice", to: "mailbox2")
            #expect(result.messages == 3 && result.localIDs == 3 && result.skippedHeaderNames == 1)
            #expect(try await store.events.events(eventID: StoreEventID.replidsQuotaError).first?.fields["user"]
                    == "alice")
            let inbox = try await store.openFolderReading(user: "alice", name: "INBOX").folder.id
            #expect(try await store.messagesWithHeader(user: "alice", folder: inbox, name: "x-campaign",
                                                       containing: "") == nil)
        }
    }
}
