import Foundation
import GRDB
import KeepGuard
import Testing
@testable import KeepStore

@Suite struct NamedPropertyQuotaTests {
    static let guid = UUID(uuidString: "00062008-0000-0000-C000-000000000046")!

    static var smallQuotas: StoreOptions {
        var options = StoreOptions.fastForTests
        options.limits.namedPropsQuota = 60
        options.limits.unauthenticatedNamedPropsQuota = 30
        options.limits.replidsQuota = 40
        return options
    }

    @Test func namedPropertiesAreDenseAndLookedUpWithoutCreating() async throws {
        try await withStore { store, _ in
            #expect(try await store.namedPropertyID(database: "mailbox1", guid: Self.guid, name: "x", create: false,
                                                    principal: .user("a")) == nil)
            let a = try await store.namedPropertyID(database: "mailbox1", guid: Self.guid, name: "Color", create: true,
                                                    principal: .user("a"))
            let b = try await store.namedPropertyID(database: "mailbox1", guid: Self.guid, lid: 0x8501, create: true,
                                                    principal: .user("a"))
            #expect(a == 0x8000 && b == 0x8001)
            #expect(try await store.namedPropertyID(database: "mailbox1", guid: Self.guid, name: "COLOR",
                                                    create: true, principal: .user("b")) == 0x8000)
            #expect(try await store.namedPropertyID(database: "mailbox1", guid: PropertySet.publicStrings,
                                                    name: "Color", create: false, principal: .user("b")) == nil)
            let property = try #require(try await store.namedProperty(database: "mailbox1", id: 0x8001))
            #expect(property.key == .lid(0x8501) && property.guid == Self.guid && property.createdBy == "a")
            #expect(try await store.namedProperties(database: "mailbox1", guid: Self.guid).map(\.key)
                    == [.name("Color"), .lid(0x8501)])
            #expect(try await store.databaseStats(name: "mailbox1").namedProps == 2)
        }
    }

    @Test func keywordsAreNamedPropertiesInPublicStrings() async throws {
        try await withUserStore { store, _ in
            _ = try await store.append(user: "alice", folder: "INBOX", message: sampleMessage(),
                                       flags: MessageFlags(keywords: ["$Junk", "NonJunk"]), internalDate: nil,
                                       principal: .user("alice"))
            let props = try await store.namedProperties(database: "mailbox1", guid: PropertySet.publicStrings)
            #expect(props.map(\.key) == [.name("$Junk"), .name("NonJunk")])
            #expect(props.allSatisfy { $0.createdBy == "alice" })
        }
    }

    @Test func warningFromQuotaMinus20AndFailureAtQuota() async throws {
        try await withStore(options: Self.smallQuotas) { store, _ in
            for i in 1...39 {
                _ = try await store.namedPropertyID(database: "mailbox1", guid: Self.guid, name: "p\(i)", create: true,
                                                    principal: .user("mallory"))
            }
            #expect(try await store.events.events(eventID: StoreEventID.namedPropsQuotaWarning).isEmpty)

            // The 40th entry (quota − 20) is created, with a warning.
            #expect(try await store.namedPropertyID(database: "mailbox1", guid: Self.guid, name: "p40", create: true,
                                                    principal: .user("mallory")) != nil)
            var warnings = try await store.events.events(eventID: StoreEventID.namedPropsQuotaWarning)
            #expect(warnings.count == 1)
            let warning = try #require(warnings.first)
            #expect(warning.type == .warning && warning.source == "msgidNamedPropsQuotaWarning")
            #expect(warning.category == "General" && warning.database == "mailbox1")
            #expect(warning.fields["current"] == "40" && warning.fields["quota"] == "60")
            #expect(warning.fields["user"] == "mallory" && warning.fields["name"] == "p40")
            #expect(warning.fields["guid"] == Self.guid.uuidString && warning.fields["database"] == "mailbox1")
            #expect(warning.message.contains("close to quota limit"))

            for i in 41...60 {
                _ = try await store.namedPropertyID(database: "mailbox1", guid: Self.guid, name: "p\(i)", create: true,
                                                    principal: .user("mallory"))
            }
            // Repeats within 60 s fold into the same row.
            warnings = try await store.events.events(eventID: StoreEventID.namedPropsQuotaWarning)
            #expect(warnings.count == 1)
            #expect(warnings.first?.repeatCount == 21)

            // At the quota, creation fails with an error event.
            #expect(await storeError {
                _ = try await store.namedPropertyID(database: "mailbox1", guid: Self.guid, name: "p61", create: true,
                                                    principal: .user("mallory"))
            } == .namedPropertyQuotaReached(database: "mailbox1", quota: 60))
            let errors = try await store.events.events(eventID: StoreEventID.namedPropsQuotaError)
            #expect(errors.count == 1)
            #expect(errors.first?.type == .error && errors.first?.source == "msgidNamedPropsQuotaError")
            #expect(errors.first?.fields["name"] == "p61" && errors.first?.fields["user"] == "mallory")
            // Existing properties are still found.
            #expect(try await store.namedPropertyID(database: "mailbox1", guid: Self.guid, name: "p1", create: true,
                                                    principal: .user("mallory")) == 0x8000)
            let stats = try await store.databaseStats(name: "mailbox1")
            #expect(stats.namedProps == 60 && stats.namedPropsQuota == 60)
        }
    }

    @Test func systemIsExemptAndUnauthenticatedHasItsOwnPool() async throws {
        try await withStore(options: Self.smallQuotas) { store, _ in
            for i in 1...60 {
                _ = try await store.namedPropertyID(database: "mailbox1", guid: Self.guid, name: "u\(i)", create: true,
                                                    principal: .user("bob"))
            }
            // Users are at their quota; the store itself is not limited, and outsiders count apart.
            for i in 1...10 {
                #expect(try await store.namedPropertyID(database: "mailbox1", guid: Self.guid, name: "s\(i)",
                                                        create: true, principal: .system) != nil)
            }
            for i in 1...30 {
                #expect(try await store.namedPropertyID(database: "mailbox1", guid: Self.guid, name: "x\(i)",
                                                        create: true, principal: .unauthenticated("spam@x")) != nil)
            }
            #expect(await storeError {
                _ = try await store.namedPropertyID(database: "mailbox1", guid: Self.guid, name: "x31", create: true,
                                                    principal: .unauthenticated("spam@x"))
            } == .namedPropertyQuotaReached(database: "mailbox1", quota: 30))
            let stats = try await store.databaseStats(name: "mailbox1")
            #expect(stats.namedProps == 60 && stats.unauthenticatedNamedProps == 30 && stats.namedPropsTotal == 100)
            #expect(stats.unauthenticatedNamedPropsQuota == 30)
            let unauthWarnings = try await store.events.events(eventID: StoreEventID.namedPropsQuotaWarning)
                .filter { $0.principal == "<unauthenticated spam@x>" }
            #expect(unauthWarnings.count == 1 && unauthWarnings.first?.repeatCount == 21)
        }
    }

    @Test func theTableFillingBeforeAnyQuotaStillWarnsAtItsSizeMinus20AndReusesNoId() async throws {
        var options = StoreOptions.fastForTests
        options.limits.namedPropsQuota = 0x7FFF
        options.limits.unauthenticatedNamedPropsQuota = 0x7FFF
        try await withStore(options: options) { store, _ in
            // The store's own registrations (exempt from quotas) fill the table to 20 short of its size + 1.
            let mdb = try await store.mailboxDatabase(named: "mailbox1")
            let capacity = 0xFFFE - 0x8000 + 1
            try await mdb.pool.write { db in
                for i in 0..<(capacity - 21) {
                    try db.execute(sql: """
                        INSERT INTO named_props(propid, guid, kind, name, created_by, creator_kind, created_at)
                        VALUES (?, ?, 'name', ?, 'system', 'system', 0)
                        """, arguments: [0x8000 + i, Self.guid.bytes, "s\(i)"])
                }
            }
            // The next id is the highest + 1 (no hole), and the creation that reaches size − 20 warns.
            let id = try await store.namedPropertyID(database: "mailbox1", guid: Self.guid, name: "near", create: true,
                                                     principal: .unauthenticated("spam@x"))
            #expect(id == UInt16(0x8000 + capacity - 21))
            let warnings = try await store.events.events(eventID: StoreEventID.namedPropsQuotaWarning)
            #expect(warnings.count == 1)
            #expect(warnings.first?.fields["quota"] == String(capacity))
            #expect(warnings.first?.fields["current"] == String(capacity - 20))
            for i in 0..<20 {
                _ = try await store.namedPropertyID(database: "mailbox1", guid: Self.guid, name: "fill\(i)",
                                                    create: true, principal: .unauthenticated("spam@x"))
            }
            #expect(await storeError {
                _ = try await store.namedPropertyID(database: "mailbox1", guid: Self.guid, name: "over", create: true,
                                                    principal: .unauthenticated("spam@x"))
            } == .namedPropertyQuotaReached(database: "mailbox1", quota: capacity))
            // Users are far below their quota, but a full table takes no new keyword: SELECT drops `\*`.
            _ = try await store.addUser("alice", password: "pw", database: nil)
            #expect(try await store.canCreateKeywords(user: "alice") == false)
            #expect(try await store.openFolder(user: "alice", name: "INBOX").canCreateKeywords == false)
        }
    }

    @Test func aHoleLeftBelowTheHighestIdIsUsedFirst() async throws {
        try await withStore { store, _ in
            for i in 0..<5 {
                _ = try await store.namedPropertyID(database: "mailbox1", guid: Self.guid, name: "p\(i)", create: true,
                                                    principal: .user("a"))
            }
            let mdb = try await store.mailboxDatabase(named: "mailbox1")
            try await mdb.pool.write { db in try db.execute(sql: "DELETE FROM named_props WHERE propid = ?", arguments: [0x8002]) }
            #expect(try await store.namedPropertyID(database: "mailbox1", guid: Self.guid, name: "q", create: true,
                                                    principal: .user("a")) == 0x8002)
            #expect(try await store.namedPropertyID(database: "mailbox1", guid: Self.guid, name: "r", create: true,
                                                    principal: .user("a")) == 0x8005)
        }
    }

    @Test func appendWithANewKeywordOverQuotaFailsAndRecordsTheError() async throws {
        var options = Self.smallQuotas
        options.limits.namedPropsQuota = 2
        try await withUserStore(options: options) { store, _ in
            _ = try await store.append(user: "alice", folder: "INBOX", message: sampleMessage(),
                                       flags: MessageFlags(keywords: ["one", "two"]), internalDate: nil,
                                       principal: .user("alice"))
            #expect(await storeError {
                _ = try await store.append(user: "alice", folder: "INBOX", message: sampleMessage(),
                                           flags: MessageFlags(keywords: ["three"]), internalDate: nil,
                                           principal: .user("alice"))
            } == .namedPropertyQuotaReached(database: "mailbox1", quota: 2))
            // Nothing of the failed append remains; existing keywords still work.
            let inbox = try await store.openFolderReading(user: "alice", name: "INBOX")
            #expect(inbox.messages.count == 1 && inbox.folder.uidNext == 2)
            _ = try await store.append(user: "alice", folder: "INBOX", message: sampleMessage(),
                                       flags: MessageFlags(keywords: ["TWO"]), internalDate: nil,
                                       principal: .user("alice"))
            // STORE of a new keyword fails the same way.
            #expect(await storeError {
                _ = try await store.storeFlags(user: "alice", folder: inbox.folder.id, uids: [1], operation: .add,
                                               flags: MessageFlags(keywords: ["four"]), unchangedSince: nil)
            } == .namedPropertyQuotaReached(database: "mailbox1", quota: 2))
            let errors = try await store.events.events(eventID: StoreEventID.namedPropsQuotaError, database: "mailbox1")
            #expect(errors.count == 1 && errors.first?.repeatCount == 2)
        }
    }

    @Test func perDatabaseQuotaOverridesApply() async throws {
        var options = StoreOptions.fastForTests
        options.databaseQuotas["MAILBOX2"] = DatabaseQuotas(namedProps: 5, replids: 7, unauthenticatedNamedProps: 3)
        try await withStore(options: options) { store, _ in
            _ = try await store.createDatabase("mailbox2", kind: .private)
            let stats = try await store.databaseStats(name: "mailbox2")
            #expect(stats.namedPropsQuota == 5 && stats.replidsQuota == 7 && stats.unauthenticatedNamedPropsQuota == 3)
            let defaults = try await store.databaseStats(name: "mailbox1")
            #expect(defaults.namedPropsQuota == 16_000 && defaults.replidsQuota == 16_000)
            #expect(defaults.unauthenticatedNamedPropsQuota == 8_192)
        }
    }

    @Test func replicaIDsHaveTheirOwnQuotaAndLookupsNeverAllocate() async throws {
        try await withStore(options: Self.smallQuotas) { store, _ in
            let databases = try await store.listDatabases()
            let ownGUID = try #require(UUID(uuidString: databases[0].guid))
            #expect(try await store.replicaID(database: "mailbox1", for: ownGUID, create: false, principal: .system)
                    == 1)
            #expect(try await store.replicaGUID(database: "mailbox1", id: 1) == ownGUID)
            let stranger = UUID()
            #expect(try await store.replicaID(database: "mailbox1", for: stranger, create: false,
                                              principal: .user("u")) == nil)
            #expect(try await store.databaseStats(name: "mailbox1").replidsTotal == 1)
            for i in 1...40 {
                #expect(try await store.replicaID(database: "mailbox1", for: UUID(), create: true,
                                                  principal: .user("u")) == UInt16(i + 1))
            }
            #expect(try await store.events.events(eventID: StoreEventID.replidsQuotaWarning).first?.repeatCount == 21)
            #expect(await storeError {
                _ = try await store.replicaID(database: "mailbox1", for: stranger, create: true, principal: .user("u"))
            } == .replicaIDQuotaReached(database: "mailbox1", quota: 40))
            let error = try #require(try await store.events.events(eventID: StoreEventID.replidsQuotaError).first)
            #expect(error.source == "msgidReplidsQuotaError" && error.type == .error)
            #expect(try await store.replicaID(database: "mailbox1", for: stranger, create: true, principal: .system)
                    == 42)
        }
    }
}

@Suite struct EventLogTests {
    @Test func eventsAreRecordedQueriedAndFolded() async throws {
        try await withStore { store, _ in
            let first = try await store.events.record(eventID: 1, type: .information, source: "test",
                                                      database: "mailbox1", principal: "a", message: "hello",
                                                      fields: ["k": "v"])
            #expect(first.repeatCount == 1 && first.fields == ["k": "v"] && first.category == "General")
            let again = try await store.events.record(eventID: 1, type: .information, source: "test",
                                                      database: "mailbox1", principal: "a", message: "hello")
            #expect(again.id == first.id && again.repeatCount == 2 && again.lastTime >= first.time)
            // A different user, database or id is a different event.
            let other = try await store.events.record(eventID: 1, type: .information, source: "test",
                                                      database: "mailbox1", principal: "b", message: "hello")
            #expect(other.id != first.id)
            _ = try await store.events.record(eventID: 2, type: .warning, source: "test", database: "public1",
                                              principal: nil, message: "w")
            #expect(try await store.events.events().count == 3)
            #expect(try await store.events.events(database: "MAILBOX1").count == 2)
            #expect(try await store.events.events(eventID: 2).map(\.database) == ["public1"])
            #expect(try await store.events.events(since: Date().addingTimeInterval(60)).isEmpty)
            #expect(try await store.events.event(id: first.id)?.repeatCount == 2)
            #expect(try await store.events.events(limit: 1).map(\.eventID) == [2])
        }
    }

    @Test func eventsOutsideTheFoldingIntervalAreNewRows() async throws {
        var options = StoreOptions.fastForTests
        options.limits.eventFoldIntervalMs = 50
        try await withStore(options: options) { store, _ in
            let a = try await store.events.record(eventID: 9, type: .error, source: "s", database: nil,
                                                  principal: nil, message: "m")
            try await Task.sleep(for: .milliseconds(100))
            let b = try await store.events.record(eventID: 9, type: .error, source: "s", database: nil,
                                                  principal: nil, message: "m")
            #expect(a.id != b.id && b.repeatCount == 1)
        }
    }

    @Test func eventsSurviveReopen() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("keepstore-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        var store = try await SQLiteStore.open(dataDirectory: dir, options: .fastForTests, logger: testLogger)
        _ = try await store.events.record(eventID: 9666, type: .warning, source: "msgidNamedPropsQuotaWarning",
                                          database: "mailbox1", principal: "x", message: "m")
        try await store.close()
        store = try await SQLiteStore.open(dataDirectory: dir, options: .fastForTests, logger: testLogger)
        #expect(try await store.events.events(eventID: 9666).count == 1)
        try await store.close()
    }
}
