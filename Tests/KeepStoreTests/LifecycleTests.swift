import Foundation
import KeepGuard
import Testing
@testable import KeepStore

@Suite struct LifecycleTests {
    static var quotas60: StoreOptions {
        var options = StoreOptions.fastForTests
        options.limits.namedPropsQuota = 60
        options.limits.replidsQuota = 60
        options.limits.unauthenticatedNamedPropsQuota = 30
        return options
    }

    @Test func everyCallForAUserOfAnUnmountedDatabaseIsUnavailable() async throws {
        try await withUserStore { store, _ in
            let inbox = try await store.openFolderReading(user: "alice", name: "INBOX").folder.id
            try await store.unmountDatabase("mailbox1")
            let unavailable = StoreError.databaseUnavailable("mailbox1")
            #expect(await storeError { _ = try await store.listFolders(user: "alice") } == unavailable)
            #expect(await storeError {
                _ = try await store.append(user: "alice", folder: "INBOX", message: sampleMessage(), flags: .init(),
                                           internalDate: nil, principal: .unauthenticated("x@y"))
            } == unavailable)
            #expect(await storeError {
                _ = try await store.fetch(user: "alice", folder: inbox, uids: [1], needs: .metadata)
            } == unavailable)
            #expect(await storeError {
                _ = try await store.messagesWithHeader(user: "alice", folder: inbox, name: "x-a", containing: "")
            } == unavailable)
            #expect(await storeError { _ = try await store.authenticate(user: "alice", password: "secret") }
                    == unavailable)
            // A wrong password learns nothing.
            #expect(try await store.authenticate(user: "alice", password: "wrong") == nil)
            #expect(await storeError { try await store.removeUser("alice") } == unavailable)
            #expect(await storeError { _ = try await store.addUser("bob", password: "pw", database: "mailbox1") }
                    == unavailable)
            #expect(await storeError { _ = try await store.databaseStats(name: "mailbox1") } == unavailable)
            #expect(try await store.user(named: "alice") != nil)
            try await store.mountDatabase("mailbox1")
            #expect(try await store.authenticate(user: "alice", password: "secret") != nil)
            #expect(try await store.listFolders(user: "alice").map(\.name) == ["INBOX"])
        }
    }

    @Test func mountStateIsSharedWithAnotherProcess() async throws {
        try await withUserStore { store, dir in
            _ = try await store.listFolders(user: "alice")
            let cli = try await SQLiteStore.open(dataDirectory: dir, options: .fastForTests, logger: testLogger)
            try await cli.unmountDatabase("mailbox1")
            #expect(await storeError { _ = try await store.listFolders(user: "alice") }
                    == .databaseUnavailable("mailbox1"))
            #expect(try await store.listDatabases().first?.mounted == false)
            try await cli.mountDatabase("mailbox1")
            #expect(try await store.listFolders(user: "alice").map(\.name) == ["INBOX"])
            try await cli.close()
        }
    }

    @Test func quotasChangeOnlyAtRemountAndEveryProcessSeesThem() async throws {
        try await withUserStore(options: Self.quotas60) { server, dir in
            #expect(try await server.databaseStats(name: "mailbox1").namedPropsQuota == 60)
            // The CLI reads a changed configuration; until a remount the quotas in effect stay.
            var changed = Self.quotas60
            changed.limits.namedPropsQuota = 100
            changed.limits.replidsQuota = 90
            let cli = try await SQLiteStore.open(dataDirectory: dir, options: changed, logger: testLogger)
            #expect(try await cli.databaseStats(name: "mailbox1").namedPropsQuota == 60)
            try await cli.remountDatabase(name: "mailbox1")
            let stats = try await cli.databaseStats(name: "mailbox1")
            #expect(stats.namedPropsQuota == 100 && stats.replidsQuota == 90)
            // The running server reopens the database at the new generation.
            #expect(try await server.databaseStats(name: "mailbox1").namedPropsQuota == 100)
            #expect(try await server.listFolders(user: "alice").map(\.name) == ["INBOX"])
            try await server.remountDatabase(name: "mailbox1",
                                             quotas: DatabaseQuotas(namedProps: 5, replids: 6,
                                                                    unauthenticatedNamedProps: 7))
            let after = try await cli.databaseStats(name: "mailbox1")
            #expect(after.namedPropsQuota == 5 && after.replidsQuota == 6 && after.unauthenticatedNamedPropsQuota == 7)
            try await cli.close()
        }
    }

    @Test func anOutOfRangeQuotaAtRemountIsRefusedAndNothingChanges() async throws {
        try await withUserStore(options: Self.quotas60) { store, _ in
            for (quotas, setting, value) in [
                (DatabaseQuotas(namedProps: 0x8000, replids: 10, unauthenticatedNamedProps: 10),
                 "named_props_quota", 0x8000),
                (DatabaseQuotas(namedProps: 10, replids: 0, unauthenticatedNamedProps: 10), "replids_quota", 0),
                (DatabaseQuotas(namedProps: 10, replids: 10, unauthenticatedNamedProps: -1),
                 "unauthenticated_named_props_quota", -1),
            ] {
                do {
                    try await store.remountDatabase(name: "mailbox1", quotas: quotas)
                    Issue.record("remount with \(setting) = \(value) succeeded")
                } catch let error as DatabaseQuotaError {
                    #expect(error.setting == setting && error.value == value && error.range == 1...0x7FFF)
                    #expect(error.description.contains(setting) && error.description.contains("1...32767"))
                }
            }
            let stats = try await store.databaseStats(name: "mailbox1")
            #expect(stats.namedPropsQuota == 60 && stats.replidsQuota == 60)
            #expect(try await store.listDatabases().first?.mounted == true)
            #expect(try await store.listFolders(user: "alice").map(\.name) == ["INBOX"])
        }
    }

    @Test func removeDatabaseRefusesWhileUsersRemainThenDeletesTheFiles() async throws {
        try await withStore { store, dir in
            _ = try await store.createDatabase("mailbox2", kind: .private)
            _ = try await store.addUser("bob", password: "pw", database: "mailbox2")
            #expect(await storeError { try await store.removeDatabase(name: "mailbox2") }
                    == .databaseNotEmpty("mailbox2", users: 1))
            try await store.removeUser("bob")
            try await store.removeDatabase(name: "MAILBOX2")
            #expect(try await store.listDatabases().map(\.name) == ["mailbox1", "public1"])
            let files = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("mdb").path)
            #expect(!files.contains { $0.hasPrefix("mailbox2") })
            #expect(await storeError { try await store.removeDatabase(name: "mailbox2") } == .noSuchDatabase("mailbox2"))
        }
    }

    @Test func aDatabaseRemovedAndCreatedAgainElsewhereIsReopened() async throws {
        try await withStore { server, dir in
            _ = try await server.createDatabase("mailbox2", kind: .private)
            _ = try await server.addUser("bob", password: "pw", database: "mailbox2")
            _ = try await server.append(user: "bob", folder: "INBOX", message: sampleMessage(), flags: .init(),
                                        internalDate: nil, principal: .system)
            let cli = try await SQLiteStore.open(dataDirectory: dir, options: .fastForTests, logger: testLogger)
            try await cli.removeUser("bob")
            try await cli.removeDatabase(name: "mailbox2")
            _ = try await cli.createDatabase("mailbox2", kind: .private)
            _ = try await cli.addUser("bob", password: "pw", database: "mailbox2")
            _ = try await cli.append(user: "bob", folder: "INBOX", message: sampleMessage("new"), flags: .init(),
                                     internalDate: nil, principal: .system)
            try await cli.close()
            let inbox = try await server.openFolderReading(user: "bob", name: "INBOX")
            #expect(inbox.messages.count == 1)
            let raw = try await server.fetch(user: "bob", folder: inbox.folder.id, uids: [1], needs: .raw)
            #expect(raw.first?.raw == sampleMessage("new"))
        }
    }

    @Test func statsCountUsersMessagesAndSizeAndEncodeToTheCLIShape() async throws {
        try await withUserStore(options: Self.quotas60) { store, _ in
            _ = try await store.addUser("bob", password: "pw", database: nil)
            for _ in 0..<3 {
                _ = try await store.append(user: "bob", folder: "INBOX", message: sampleMessage(),
                                           flags: MessageFlags(keywords: ["k"]), internalDate: nil,
                                           principal: .user("bob"))
            }
            let stats = try await store.databaseStats(name: "mailbox1")
            #expect(stats.users == 2 && stats.messages == 3 && stats.size > 0)
            #expect(stats.namedProps == 1 && stats.namedPropsQuota == 60 && stats.replidsQuota == 60)
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            let data = try encoder.encode(stats)
            let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let np = try #require(object["named_props"] as? [String: Any])
            #expect(np["count"] as? Int == 1 && np["quota"] as? Int == 60)
            #expect(np["unauthenticated_count"] as? Int == 0 && np["unauthenticated_quota"] as? Int == 30)
            let replids = try #require(object["replids"] as? [String: Any])
            #expect(replids["count"] as? Int == 0 && replids["quota"] as? Int == 60)
            #expect(object["users"] as? Int == 2 && object["messages"] as? Int == 3)
            #expect(object["database"] as? String == "mailbox1")
            #expect(try JSONDecoder().decode(DatabaseStats.self, from: data) == stats)
        }
    }
}
