import Foundation
import KeepGuard
import KeepServer
import KeepStore
import Testing

/// Issue #5 over real sockets and the admin endpoint, with a small quota (60): keywords and promoted headers are
/// named properties; warning 9666 at quota−20, error 9667 at the quota; mail is never lost; lifecycle commands.
@Suite struct NamedPropertyQuotaTests {
    static func server(quota: Int = 60, unauthenticated: Int = 60) async throws -> TestServer {
        try await TestServer.start {
            $0.databaseQuotas["mailbox1"] = DatabaseQuotas(namedProps: quota, replids: 60, unauthenticatedNamedProps: unauthenticated)
        }
    }

    @Test func keywordsUpToTheQuotaThenNOLIMITAndNoMoreBackslashStar() async throws {
        let s = try await Self.server()
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.login()
        let m = "Subject: k\r\n\r\nx\r\n"
        try await c.send("a APPEND INBOX {\(m.utf8.count)+}\r\n\(m)\r\n")
        _ = try await c.readUntilTagged("a")
        let sel = try await c.command("SELECT INBOX")
        #expect(sel.contains { $0.contains("PERMANENTFLAGS (") && $0.contains("\\*)") })
        for i in 1...60 {
            let r = try await c.command("STORE 1 +FLAGS.SILENT (kw\(i))")
            #expect(r.last?.contains("OK") == true, "keyword \(i): \(r)")
        }
        let refused = try await c.command("STORE 1 +FLAGS (kw61)")
        #expect(refused.last?.contains("NO [LIMIT]") == true)
        // Existing keywords still work; the message is intact.
        #expect(try await c.command("STORE 1 -FLAGS.SILENT (kw1)").last?.contains("OK") == true)
        let again = try await c.command("SELECT INBOX")
        #expect(again.contains { $0.contains("PERMANENTFLAGS (") && !$0.contains("\\*") })
        let warnings = try await s.store.events.events(eventID: 9666, database: "mailbox1")
        let errors = try await s.store.events.events(eventID: 9667, database: "mailbox1")
        #expect(!warnings.isEmpty)
        #expect(warnings.first?.source == "msgidNamedPropsQuotaWarning")
        #expect(errors.first?.source == "msgidNamedPropsQuotaError")
        #expect(errors.first?.principal == "alice")
    }

    @Test func deliveryWithNewHeadersPastTheUnauthenticatedQuotaIsStillDelivered() async throws {
        let s = try await Self.server(unauthenticated: 30)
        defer { Task { await s.stopAndRemove() } }
        var body = "Subject: headers\r\n"
        for i in 0..<50 { body += "X-Custom-\(i): value \(i)\r\n" }
        body += "\r\nhello\r\n"
        let replies = try await LMTPDeliveryTests.deliver(s, to: ["alice@example.org"], body: body)
        #expect(replies.contains { $0.hasPrefix("250 2.0.0 <alice@example.org> delivered") })
        let c = try await s.login()
        _ = try await c.command("SELECT INBOX")
        let f = try await c.command("FETCH 1 BODY.PEEK[]")
        #expect(f.first?.contains("X-Custom-49: value 49\r\n") == true)
        #expect(!(try await s.store.events.events(eventID: 9667, database: "mailbox1")).isEmpty)
        // A promoted header is searchable (from the index), one past the quota by parsing.
        #expect(try await c.command("SEARCH HEADER X-Custom-3 \"value 3\"").first == "* SEARCH 1")
        #expect(try await c.command("SEARCH HEADER X-Custom-45 \"value 45\"").first == "* SEARCH 1")
    }

    @Test func unmountedDatabaseAnswersUNAVAILABLEAnd451ThenMountsAgain() async throws {
        let s = try await Self.server()
        defer { Task { await s.stopAndRemove() } }
        let unmount = await admin(AdminRequest(op: "unmount", database: "mailbox1"), dataDirectory: s.directory)
        #expect(unmount?.ok == true)
        let c = try await s.imap()
        #expect(try await c.command("LOGIN alice secret").last?.hasPrefix("t1 NO [UNAVAILABLE]") == true)
        let replies = try await LMTPDeliveryTests.deliver(s, to: ["alice@example.org"], body: "Subject: later\r\n\r\nx\r\n")
        #expect(replies.contains { $0.hasPrefix("451 4.2.0") })
        #expect(await admin(AdminRequest(op: "mount", database: "mailbox1"), dataDirectory: s.directory)?.ok == true)
        #expect(try await c.command("LOGIN alice secret").last?.hasPrefix("t2 OK") == true)
        #expect(try await c.command("SELECT INBOX").last?.hasSuffix("SELECT completed") == true)
    }

    @Test func remountAppliesQuotasFromTheConfigFileAndRefusesBadValues() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("keep-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("keep.toml")
        try "[databases.mailbox1]\nnamed_props_quota = 60\n".write(to: file, atomically: true, encoding: .utf8)
        let s = try await TestServer.start(directory: dir, configFile: file)
        defer { Task { await s.stopAndRemove() } }
        func stats() async throws -> [String: Any] {
            let r = await admin(AdminRequest(op: "stats", database: "mailbox1"), dataDirectory: dir)
            let json = try #require(r?.result)
            return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        }
        #expect((try await stats()["named_props"] as? [String: Any])?["quota"] as? Int == 60)
        try "[databases.mailbox1]\nnamed_props_quota = 100\n".write(to: file, atomically: true, encoding: .utf8)
        // Not applied until remount.
        #expect((try await stats()["named_props"] as? [String: Any])?["quota"] as? Int == 60)
        #expect(await admin(AdminRequest(op: "remount", database: "mailbox1"), dataDirectory: dir)?.ok == true)
        #expect((try await stats()["named_props"] as? [String: Any])?["quota"] as? Int == 100)
        try "[databases.mailbox1]\nnamed_props_quota = 40000\n".write(to: file, atomically: true, encoding: .utf8)
        let bad = await admin(AdminRequest(op: "remount", database: "mailbox1"), dataDirectory: dir)
        #expect(bad?.ok == false)
        #expect(bad?.error?.contains("databases.mailbox1.named_props_quota") == true)
        #expect((try await stats()["named_props"] as? [String: Any])?["quota"] as? Int == 100)
    }

    @Test func mailboxMoveKeepsUIDsAndExportImportRoundTrips() async throws {
        let s = try await Self.server()
        defer { Task { await s.stopAndRemove() } }
        _ = try await s.store.createDatabase("mailbox2", kind: .private)
        let c = try await s.login()
        for i in 1...3 {
            let m = "Subject: m\(i)\r\n\r\nbody \(i)\r\n"
            try await c.send("a\(i) APPEND INBOX ($Tag\(i)) {\(m.utf8.count)+}\r\n\(m)\r\n")
            _ = try await c.readUntilTagged("a\(i)")
        }
        let before = try await c.command("STATUS INBOX (UIDVALIDITY UIDNEXT MESSAGES)")
        _ = try await c.command("LOGOUT")
        let moved = await admin(AdminRequest(op: "move", database: "mailbox2", user: "alice"), dataDirectory: s.directory)
        #expect(moved?.ok == true, "\(moved?.error ?? "")")
        #expect(try await s.store.user(named: "alice")?.database == "mailbox2")
        let d = try await s.login()
        #expect(try await d.command("STATUS INBOX (UIDVALIDITY UIDNEXT MESSAGES)").first == before.first)
        _ = try await d.command("SELECT INBOX")
        #expect(try await d.command("UID FETCH 2 (FLAGS)").first?.contains("$Tag2") == true)
        let export = FileManager.default.temporaryDirectory.appendingPathComponent("keep-export-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: export) }
        let ex = await admin(AdminRequest(op: "export", user: "alice", path: export.path), dataDirectory: s.directory)
        #expect(ex?.ok == true)
        #expect(FileManager.default.fileExists(atPath: export.appendingPathComponent("messages.jsonl").path))
        _ = try await s.store.addUser("bob", password: "pw", database: "mailbox1")
        let im = await admin(AdminRequest(op: "import", user: "bob", path: export.path), dataDirectory: s.directory)
        #expect(im?.ok == true, "\(im?.error ?? "")")
        let b = try await s.login("bob", "pw")
        #expect(try await b.command("STATUS INBOX (MESSAGES)").first == "* STATUS INBOX (MESSAGES 3)")
        #expect(await admin(AdminRequest(op: "remove", database: "mailbox1"), dataDirectory: s.directory)?.ok == false)
    }
}

/// Calls the blocking admin client off Swift's cooperative threads (the server answers on them).
func admin(_ request: AdminRequest, dataDirectory: URL) async -> AdminResponse? {
    await withCheckedContinuation { c in
        DispatchQueue.global().async { c.resume(returning: AdminClient.send(request, dataDirectory: dataDirectory)) }
    }
}
