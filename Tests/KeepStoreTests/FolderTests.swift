import Foundation
import Testing
@testable import KeepStore

@Suite struct FolderTests {
    @Test func createListAndSubscribe() async throws {
        try await withUserStore { store, _ in
            let sent = try await store.createFolder(user: "alice", name: "Sent", specialUse: .sent)
            #expect(sent.name == "Sent" && sent.specialUse == .sent && sent.uidNext == 1 && sent.subscribed)
            _ = try await store.createFolder(user: "alice", name: "a/b/c", specialUse: nil)
            _ = try await store.createFolder(user: "alice", name: "Trailing/", specialUse: nil)
            let names = try await store.listFolders(user: "alice").map(\.name)
            // RFC 9051 §6.3.4: the superior names `a` and `a/b` are created too.
            #expect(names == ["INBOX", "Sent", "Trailing", "a", "a/b", "a/b/c"])
            try await store.setSubscribed(user: "alice", name: "Sent", false)
            #expect(try await store.listFolders(user: "alice").first { $0.name == "Sent" }?.subscribed == false)
            #expect(await storeError { _ = try await store.createFolder(user: "alice", name: "Sent", specialUse: nil) }
                    == .folderExists("Sent"))
            #expect(await storeError { _ = try await store.createFolder(user: "alice", name: "inbox", specialUse: nil) }
                    == .folderExists("INBOX"))
        }
    }

    @Test func inboxIsCaseInsensitiveAndAlwaysUpperCase() async throws {
        try await withUserStore { store, _ in
            let snapshot = try await store.openFolderReading(user: "alice", name: "iNbOx")
            #expect(snapshot.folder.name == "INBOX")
            let child = try await store.createFolder(user: "alice", name: "inbox/Sub", specialUse: nil)
            #expect(child.name == "INBOX/Sub")
            _ = try await store.append(user: "alice", folder: "Inbox", message: sampleMessage(), flags: .init(),
                                       internalDate: nil, principal: .system)
            #expect(try await store.folderStatus(user: "alice", name: "INBOX").messages == 1)
        }
    }

    @Test func invalidFolderNamesAreRefusedWithAReason() async throws {
        try await withUserStore { store, _ in
            for bad in ["", "/a", "a//b", "a\u{1}b", "a\u{7F}", String(repeating: "x", count: 256), "a*", "b%"] {
                let error = await storeError { _ = try await store.createFolder(user: "alice", name: bad,
                                                                                  specialUse: nil) }
                guard case .invalidFolderName(let name, let reason)? = error else {
                    Issue.record("\(bad.debugDescription) gave \(String(describing: error))")
                    continue
                }
                #expect(name == bad && !reason.isEmpty)
            }
            // 255 bytes of UTF-8 are fine.
            _ = try await store.createFolder(user: "alice", name: String(repeating: "é", count: 127) + "x",
                                             specialUse: nil)
        }
    }

    @Test func renameMovesChildrenAndKeepsUIDValidity() async throws {
        try await withUserStore { store, _ in
            let a = try await store.createFolder(user: "alice", name: "a", specialUse: nil)
            _ = try await store.createFolder(user: "alice", name: "a/b", specialUse: nil)
            _ = try await store.createFolder(user: "alice", name: "a/b/c", specialUse: nil)
            _ = try await store.createFolder(user: "alice", name: "ab", specialUse: nil)
            _ = try await store.append(user: "alice", folder: "a", message: sampleMessage(), flags: .init(),
                                       internalDate: nil, principal: .system)
            try await store.renameFolder(user: "alice", from: "a", to: "x/y")
            let folders = try await store.listFolders(user: "alice")
            // `x`, the superior name the new one needs, is created (RFC 9051 §6.3.6).
            #expect(folders.map(\.name) == ["INBOX", "ab", "x", "x/y", "x/y/b", "x/y/b/c"])
            let renamed = try #require(folders.first { $0.name == "x/y" })
            #expect(renamed.id == a.id && renamed.uidValidity == a.uidValidity)
            #expect(try await store.folderStatus(user: "alice", name: "x/y").messages == 1)
            #expect(await storeError { try await store.renameFolder(user: "alice", from: "ab", to: "x/y") }
                    == .folderExists("x/y"))
            #expect(await storeError { try await store.renameFolder(user: "alice", from: "zz", to: "q") }
                    == .noSuchFolder("zz"))
            #expect(await storeError { try await store.renameFolder(user: "alice", from: "ab", to: "INBOX") }
                    == .folderExists("INBOX"))
        }
    }

    @Test func renamingInboxMovesItsMessagesAndLeavesInboxEmpty() async throws {
        try await withUserStore { store, _ in
            for i in 0..<3 {
                _ = try await store.append(user: "alice", folder: "INBOX", message: sampleMessage("m\(i)"),
                                           flags: .init(), internalDate: nil, principal: .system)
            }
            let before = try await store.openFolderReading(user: "alice", name: "INBOX")
            try await store.renameFolder(user: "alice", from: "INBOX", to: "Old")
            let inbox = try await store.openFolderReading(user: "alice", name: "INBOX")
            #expect(inbox.messages.isEmpty)
            #expect(inbox.folder.id == before.folder.id)
            #expect(inbox.folder.uidNext == 4)
            let old = try await store.openFolderReading(user: "alice", name: "Old")
            #expect(old.messages.map(\.uid) == [1, 2, 3])
            #expect(old.folder.uidNext == 4)
            let changes = try await store.changes(user: "alice", folder: inbox.folder.id,
                                                  sinceModSeq: before.folder.highestModSeq)
            #expect(changes.expunged == [1, 2, 3])
            let raw = try await store.fetch(user: "alice", folder: old.folder.id, uids: [2], needs: [.raw])
            #expect(raw.first?.raw == sampleMessage("m1"))
        }
    }

    @Test func deleteRefusesInboxAndParentsButDeletesLeaves() async throws {
        try await withUserStore { store, _ in
            #expect(await storeError { try await store.deleteFolder(user: "alice", name: "inbox") }
                    == .cannotDeleteInbox)
            _ = try await store.createFolder(user: "alice", name: "p", specialUse: nil)
            _ = try await store.createFolder(user: "alice", name: "p/c", specialUse: nil)
            #expect(await storeError { try await store.deleteFolder(user: "alice", name: "p") }
                    == .folderHasChildren("p"))
            _ = try await store.append(user: "alice", folder: "p/c", message: sampleMessage(), flags: .init(),
                                       internalDate: nil, principal: .system)
            try await store.deleteFolder(user: "alice", name: "p/c")
            try await store.deleteFolder(user: "alice", name: "p")
            #expect(try await store.listFolders(user: "alice").map(\.name) == ["INBOX"])
            #expect(await storeError { try await store.deleteFolder(user: "alice", name: "p") }
                    == .noSuchFolder("p"))
            // Re-creating a deleted name gives a new UIDVALIDITY.
            let again = try await store.createFolder(user: "alice", name: "p", specialUse: nil)
            _ = again
        }
    }

    @Test func recreatedFolderGetsAHigherUIDValidity() async throws {
        try await withUserStore { store, _ in
            let first = try await store.createFolder(user: "alice", name: "f", specialUse: nil)
            try await store.deleteFolder(user: "alice", name: "f")
            let second = try await store.createFolder(user: "alice", name: "f", specialUse: nil)
            #expect(second.uidValidity > first.uidValidity)
            #expect(second.id != first.id)
        }
    }

    @Test func usersDoNotSeeEachOthersFolders() async throws {
        try await withUserStore { store, _ in
            _ = try await store.addUser("bob", password: "pw", database: nil)
            let secret = try await store.createFolder(user: "alice", name: "Secret", specialUse: nil)
            #expect(try await store.listFolders(user: "bob").map(\.name) == ["INBOX"])
            #expect(await storeError { _ = try await store.changes(user: "bob", folder: secret.id, sinceModSeq: 0) }
                    == .noSuchFolder("\(secret.id)"))
            #expect(await storeError { _ = try await store.listFolders(user: "nobody") } == .noSuchUser("nobody"))
        }
    }
}
