import Foundation
import Testing
@testable import KeepStore

@Suite struct ExportImportTests {
    static func tempDir() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("keep-export-\(UUID().uuidString)")
    }

    static func jsonLines(_ url: URL) throws -> [[String: Any]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    @Test func exportWritesEMLFilesAndJSONLinesThatImportReadsBack() async throws {
        var options = StoreOptions.fastForTests
        options.databaseQuotas["mailbox3"] = DatabaseQuotas(namedProps: 60, replids: 1, unauthenticatedNamedProps: 30)
        try await withUserStore(options: options) { store, _ in
            try await MailboxMoveTests.populate(store)
            let export = Self.tempDir()
            defer { try? FileManager.default.removeItem(at: export) }
            let written = try await store.exportMailbox(user: "alice", to: export)
            #expect(written == MailboxExportResult(folders: 2, messages: 3))

            let folders = try Self.jsonLines(export.appendingPathComponent("folders.jsonl"))
            #expect(folders.map { $0["name"] as? String } == ["Archive", "INBOX"])
            #expect(folders[0]["special_use"] as? String == "\\Archive" && folders[0]["subscribed"] as? Bool == false)
            #expect(folders[1]["special_use"] is NSNull && (folders[1]["uidvalidity"] as? Int ?? 0) > 0)
            let messages = try Self.jsonLines(export.appendingPathComponent("messages.jsonl"))
            #expect(messages.count == 3)
            let sourceGUID = try await store.listDatabases()[0].guid
            for line in messages {
                for key in ["folder", "file", "flags", "keywords", "internal_date", "origin"] {
                    #expect(line[key] != nil, "missing \(key)")
                }
                let origin = try #require(line["origin"] as? String)
                #expect(origin.hasPrefix(sourceGUID + ":") && UInt64(origin.split(separator: ":")[1], radix: 16) != nil)
                let file = try #require(line["file"] as? String)
                #expect(file.hasSuffix(".eml"))
                #expect(FileManager.default.fileExists(atPath: export.appendingPathComponent(file).path))
            }
            let first = try #require(messages.first { $0["folder"] as? String == "INBOX" })
            #expect(first["flags"] as? [String] == ["\\Seen"] && first["keywords"] as? [String] == ["$Label1"])
            #expect(first["internal_date"] as? String == "2023-11-14T22:13:21Z")
            let firstFile = try #require(first["file"] as? String)
            #expect(try Data(contentsOf: export.appendingPathComponent(firstFile)) == Data(MailboxMoveTests.message(1)))

            // Into another user's empty mailbox: folders keep UIDVALIDITY and UIDs.
            _ = try await store.addUser("bob", password: "pw", database: "mailbox2")
            let imported = try await store.importMailbox(user: "bob", from: export)
            #expect(imported == MailboxImportResult(imported: 3, localIDs: 0, skipped: 0, droppedKeywords: 0))
            let aliceInbox = try await store.openFolderReading(user: "alice", name: "INBOX")
            let bobInbox = try await store.openFolderReading(user: "bob", name: "INBOX")
            let bobArchive = try await store.openFolderReading(user: "bob", name: "Archive")
            #expect(bobArchive.folder.uidValidity == (try await store.openFolderReading(user: "alice", name: "Archive"))
                .folder.uidValidity)
            #expect(bobArchive.folder.specialUse == .archive && !bobArchive.folder.subscribed)
            #expect(bobInbox.messages.map(\.uid) == aliceInbox.messages.map(\.uid))
            #expect(bobInbox.messages.map(\.flags) == aliceInbox.messages.map(\.flags))
            #expect(bobInbox.folder.highestModSeq > aliceInbox.folder.highestModSeq)
            let dates = try await store.fetch(user: "bob", folder: bobInbox.folder.id, uids: [1, 3], needs: .metadata)
                .map(\.internalDate)
            #expect(dates == [Date(timeIntervalSince1970: 1_700_000_001), Date(timeIntervalSince1970: 1_700_000_003)])
            #expect(try await store.messagesWithHeader(user: "bob", folder: bobInbox.folder.id, name: "x-campaign",
                                                       containing: "c1") == [1, 3])
            // A re-run finds every origin there already.
            #expect(try await store.importMailbox(user: "bob", from: export)
                    == MailboxImportResult(imported: 0, localIDs: 0, skipped: 3, droppedKeywords: 0))

            // A database whose replica-id quota is used up still takes the mail, with local ids.
            _ = try await store.createDatabase("mailbox3", kind: .private)
            _ = try await store.replicaID(database: "mailbox3", for: UUID(), create: true, principal: .user("x"))
            _ = try await store.addUser("carol", password: "pw", database: "mailbox3")
            let local = try await store.importMailbox(user: "carol", from: export)
            #expect(local.imported == 3 && local.localIDs == 3)
            #expect(try await store.openFolderReading(user: "carol", name: "INBOX").messages.count == 2)
        }
    }

    @Test func aBrokenLineIsReportedWithItsFileAndLine() async throws {
        try await withUserStore { store, _ in
            let dir = Self.tempDir()
            defer { try? FileManager.default.removeItem(at: dir) }
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try Data().write(to: dir.appendingPathComponent("folders.jsonl"))
            try Data("{\"folder\":\"INBOX\"}\n".utf8).write(to: dir.appendingPathComponent("messages.jsonl"))
            await #expect(throws: MailboxImportError.self) {
                _ = try await store.importMailbox(user: "alice", from: dir)
            }
        }
    }
}
