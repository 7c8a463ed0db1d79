import Foundation
import KeepGuard
import Testing
@testable import KeepStore

@Suite struct DirectoryTests {
    @Test func emptyDataFolderGetsPrivateAndPublicDatabases() async throws {
        try await withStore { store, dir in
            let databases = try await store.listDatabases()
            #expect(databases.map(\.name) == ["mailbox1", "public1"])
            #expect(databases.map(\.kind) == [.private, .public])
            #expect(databases.allSatisfy { UUID(uuidString: $0.guid) != nil && $0.mounted })
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("directory.sqlite").path))
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("mdb/mailbox1.sqlite").path))
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("mdb/public1.sqlite").path))
            #expect(try await store.serverState("server_guid") != nil)
        }
    }

    @Test func addUserPutsTheUserInTheFirstPrivateDatabaseWithAnInbox() async throws {
        try await withStore { store, _ in
            let info = try await store.addUser("Alice", password: "pw", database: nil)
            #expect(info == UserInfo(name: "Alice", database: "mailbox1"))
            #expect(try await store.user(named: "alice") == info)
            #expect(try await store.listUsers() == [info])
            let folders = try await store.listFolders(user: "ALICE")
            #expect(folders.map(\.name) == ["INBOX"])
        }
    }

    @Test func userNamesAreUniqueIgnoringCaseAndValidated() async throws {
        try await withStore { store, _ in
            _ = try await store.addUser("alice", password: "pw", database: nil)
            #expect(await storeError { _ = try await store.addUser("ALICE", password: "x", database: nil) }
                    == .userExists("alice"))
            #expect(await storeError { _ = try await store.addUser("bad name", password: "x", database: nil) }
                    == .invalidUserName("bad name"))
            #expect(await storeError { _ = try await store.addUser("bob", password: "x", database: "nope") }
                    == .noSuchDatabase("nope"))
        }
    }

    @Test func rightPasswordAuthenticatesWrongAndUnknownDoNot() async throws {
        try await withStore { store, _ in
            _ = try await store.addUser("alice", password: "correct horse", database: nil)
            #expect(try await store.authenticate(user: "ALICE", password: "correct horse")
                    == UserInfo(name: "alice", database: "mailbox1"))
            #expect(try await store.authenticate(user: "alice", password: "Correct horse") == nil)
            #expect(try await store.authenticate(user: "alice", password: "") == nil)
            #expect(try await store.authenticate(user: "mallory", password: "correct horse") == nil)
        }
    }

    @Test func unknownUserRunsTheSameDerivationAsAKnownUser() async throws {
        try await withStore { store, _ in
            _ = try await store.addUser("alice", password: "pw", database: nil)
            let before = store.hasher.derivations.withLock { $0 }
            _ = try await store.authenticate(user: "alice", password: "wrong")
            let afterKnown = store.hasher.derivations.withLock { $0 }
            _ = try await store.authenticate(user: "nobody", password: "wrong")
            let afterUnknown = store.hasher.derivations.withLock { $0 }
            #expect(afterKnown - before == 1)
            #expect(afterUnknown - afterKnown == 1)
            // The dummy hash uses the same rounds as real ones.
            #expect(PasswordHasher.parse(store.hasher.dummyHash)?.rounds == store.hasher.rounds)
        }
    }

    @Test func aRepeatedLoginWithTheSamePasswordSkipsTheDerivationButAWrongOneNever() async throws {
        try await withStore { store, _ in
            _ = try await store.addUser("alice", password: "pw", database: nil)
            func derivations() -> Int { store.hasher.derivations.withLock { $0 } }
            let start = derivations()
            #expect(try await store.authenticate(user: "alice", password: "pw") != nil)
            #expect(derivations() - start == 1)
            #expect(try await store.authenticate(user: "ALICE", password: "pw") != nil)
            #expect(derivations() - start == 1, "the second login is answered from the cache")
            #expect(try await store.authenticate(user: "alice", password: "pw2") == nil)
            #expect(derivations() - start == 2, "a wrong password always pays the derivation")
        }
    }

    @Test func aPasswordChangeOrRemovalEndsTheCachedLogin() async throws {
        try await withStore { store, _ in
            _ = try await store.addUser("alice", password: "old", database: nil)
            #expect(try await store.authenticate(user: "alice", password: "old") != nil)
            try await store.setPassword(user: "alice", password: "new")
            #expect(try await store.authenticate(user: "alice", password: "old") == nil)
            #expect(try await store.authenticate(user: "alice", password: "new") != nil)
            try await store.removeUser("alice")
            #expect(try await store.authenticate(user: "alice", password: "new") == nil)
            // Re-created with the same password: a new salt, so the old entry cannot match.
            _ = try await store.addUser("alice", password: "new", database: nil)
            let before = store.hasher.derivations.withLock { $0 }
            #expect(try await store.authenticate(user: "alice", password: "new") != nil)
            #expect(store.hasher.derivations.withLock { $0 } - before == 1)
        }
    }

    @Test func aPasswordChangedByAnotherProcessMissesTheCache() async throws {
        try await withStore { store, dir in
            _ = try await store.addUser("alice", password: "old", database: nil)
            #expect(try await store.authenticate(user: "alice", password: "old") != nil)
            // A second store on the same folder stands for the `keep` CLI.
            let cli = try await SQLiteStore.open(dataDirectory: dir, options: .fastForTests, logger: testLogger)
            try await cli.setPassword(user: "alice", password: "new")
            try await cli.close()
            #expect(try await store.authenticate(user: "alice", password: "old") == nil)
            #expect(try await store.authenticate(user: "alice", password: "new") != nil)
        }
    }

    @Test func aZeroTTLDisablesTheLoginCache() async throws {
        var options = StoreOptions.fastForTests
        options.limits.authCacheTTL = 0
        try await withStore(options: options) { store, _ in
            _ = try await store.addUser("alice", password: "pw", database: nil)
            let before = store.hasher.derivations.withLock { $0 }
            _ = try await store.authenticate(user: "alice", password: "pw")
            _ = try await store.authenticate(user: "alice", password: "pw")
            #expect(store.hasher.derivations.withLock { $0 } - before == 2)
            #expect(store.authCache.count == 0)
        }
    }

    @Test func theLoginCacheIsBoundedByItsCapacity() {
        let cache = AuthCache(ttl: .seconds(60), capacity: 3)
        for i in 0..<10 { cache.remember(user: "u\(i)", password: "p", storedHash: "h") }
        #expect(cache.count == 3)
        #expect(cache.matches(user: "u9", password: "p", storedHash: "h"))
        #expect(!cache.matches(user: "u9", password: "p", storedHash: "other"))
        #expect(!cache.matches(user: "u9", password: "q", storedHash: "h"))
    }

    @Test func passwordHashFormatIsPBKDF2WithSaltAndDefaultRoundsAtLeast210000() throws {
        #expect(StoreOptions().passwordRounds >= 210_000)
        var weak = StoreOptions()
        weak.passwordRounds = 10
        #expect(weak.effectivePasswordRounds == 210_000)
        let hasher = PasswordHasher(rounds: 1_000)
        let a = try hasher.hash("pw")
        let b = try hasher.hash("pw")
        #expect(a != b)
        let parts = a.split(separator: "$")
        #expect(parts.count == 4 && parts[0] == "pbkdf2-sha256" && parts[1] == "1000")
        #expect(Data(base64Encoded: String(parts[2]))?.count == 16)
        #expect(Data(base64Encoded: String(parts[3]))?.count == 32)
        #expect(hasher.verify("pw", against: a))
        #expect(!hasher.verify("pw!", against: a))
        #expect(!hasher.verify("pw", against: "garbage"))
    }

    @Test func defaultRoundsHashVerifies() throws {
        let hasher = PasswordHasher(rounds: StoreOptions().effectivePasswordRounds)
        let hash = try hasher.hash("s3cret")
        #expect(hash.hasPrefix("pbkdf2-sha256$210000$"))
        #expect(hasher.verify("s3cret", against: hash))
    }

    @Test func setPasswordAndRemoveUser() async throws {
        try await withStore { store, _ in
            _ = try await store.addUser("alice", password: "old", database: nil)
            try await store.setPassword(user: "Alice", password: "new")
            #expect(try await store.authenticate(user: "alice", password: "old") == nil)
            #expect(try await store.authenticate(user: "alice", password: "new") != nil)
            _ = try await store.append(user: "alice", folder: "INBOX", message: sampleMessage(), flags: .init(),
                                       internalDate: nil, principal: .system)
            try await store.removeUser("alice")
            #expect(try await store.user(named: "alice") == nil)
            #expect(await storeError { try await store.removeUser("alice") } == .noSuchUser("alice"))
            // A new user of the same name starts with an empty INBOX.
            _ = try await store.addUser("alice", password: "pw", database: nil)
            #expect(try await store.openFolderReading(user: "alice", name: "INBOX").messages.isEmpty)
        }
    }

    @Test func createDatabaseAndAddUserToIt() async throws {
        try await withStore { store, dir in
            let info = try await store.createDatabase("mailbox2", kind: .private)
            #expect(info.name == "mailbox2" && info.kind == .private && info.mounted)
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("mdb/mailbox2.sqlite").path))
            #expect(await storeError { _ = try await store.createDatabase("MAILBOX2", kind: .private) }
                    == .databaseExists("mailbox2"))
            #expect(await storeError { _ = try await store.createDatabase("bad/name", kind: .private) }
                    == .invalidDatabaseName("bad/name"))
            _ = try await store.addUser("bob", password: "pw", database: "mailbox2")
            #expect(try await store.listFolders(user: "bob").map(\.name) == ["INBOX"])
            #expect(try await store.listDatabases().count == 3)
        }
    }

    @Test func userAddedByAnotherProcessIsSeenWithoutCaching() async throws {
        try await withStore { store, dir in
            let other = try await SQLiteStore.open(dataDirectory: dir, options: .fastForTests, logger: testLogger)
            _ = try await other.createDatabase("mailbox9", kind: .private)
            _ = try await other.addUser("carol", password: "pw", database: "mailbox9")
            _ = try await other.append(user: "carol", folder: "INBOX", message: sampleMessage(), flags: .init(),
                                       internalDate: nil, principal: .system)
            try await other.close()
            #expect(try await store.authenticate(user: "carol", password: "pw") != nil)
            #expect(try await store.openFolderReading(user: "carol", name: "INBOX").messages.count == 1)
        }
    }

    @Test func unmountedDatabaseIsUnavailableUntilMounted() async throws {
        try await withUserStore { store, _ in
            try await store.unmountDatabase("mailbox1")
            #expect(await storeError { _ = try await store.listFolders(user: "alice") }
                    == .databaseUnavailable("mailbox1"))
            #expect(try await store.listDatabases().first?.mounted == false)
            try await store.mountDatabase("mailbox1")
            #expect(try await store.listFolders(user: "alice").map(\.name) == ["INBOX"])
        }
    }
}
