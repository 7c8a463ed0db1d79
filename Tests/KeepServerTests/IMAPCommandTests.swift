import Foundation
import KeepGuard
import KeepServer
import Testing

/// IMAP commands over a real socket against a real server and SQLite store.
@Suite struct IMAPCommandTests {
    @Test func greetingAdvertisesCapabilitiesAndLoginWorks() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let c = try await LineClient.connect(port: s.imapPort)
        let greeting = try await c.readLine()
        #expect(greeting.hasPrefix("* OK [CAPABILITY IMAP4rev1 IMAP4rev2"))
        #expect(greeting.contains("AUTH=PLAIN"))
        let r = try await c.command("LOGIN alice secret")
        #expect(r.last?.hasPrefix("t1 OK [CAPABILITY") == true)
        let bye = try await c.command("LOGOUT")
        #expect(bye.first == "* BYE Keep logging out")
        #expect(bye.last == "t2 OK LOGOUT completed")
    }

    /// RFC 7162 §3.1.4: FETCH … (CHANGEDSINCE m) answers only the messages of the set whose modseq is above m —
    /// found by modseq, not by reading the set.
    @Test func fetchChangedSinceAnswersOnlyTheChangedMessagesTheSetNames() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.login()
        for i in 1...6 { try await c.append("Subject: m\(i)\r\n\r\nbody\r\n") }
        let selected = try await c.command("SELECT INBOX (CONDSTORE)")
        let line = try #require(selected.first { $0.contains("HIGHESTMODSEQ") })
        let since = try #require(UInt64(line.split(separator: " ")[3].trimmingCharacters(in: CharacterSet(charactersIn: "]"))))
        _ = try await c.command("UID STORE 2,5 +FLAGS.SILENT (\\Flagged)")
        let all = try await c.command("UID FETCH 1:* (FLAGS) (CHANGEDSINCE \(since))")
        #expect(all.filter { $0.hasPrefix("* ") }.map { $0.split(separator: " ")[1] } == ["2", "5"], "\(all)")
        #expect(all.allSatisfy { !$0.hasPrefix("* ") || ($0.contains("MODSEQ (") && $0.contains("\\Flagged")) })
        let some = try await c.command("FETCH 3:6 (FLAGS) (CHANGEDSINCE \(since))")
        #expect(some.filter { $0.hasPrefix("* ") }.map { $0.split(separator: " ")[1] } == ["5"], "\(some)")
        let none = try await c.command("UID FETCH 1:* (FLAGS) (CHANGEDSINCE \(since + 100))")
        #expect(none.count == 1 && none.last?.hasSuffix("OK UID FETCH completed") == true, "\(none)")
    }

    @Test func wrongPasswordAndUnknownUserGetTheSameAnswer() async throws {
        let s = try await TestServer.start { $0.limits.authFailureDelayInitialMs = 10; $0.limits.authFailureDelayMaxMs = 20 }
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.imap()
        let wrong = try await c.command("LOGIN alice nope")
        let unknown = try await c.command("LOGIN mallory nope")
        #expect(wrong.last == "t1 NO [AUTHENTICATIONFAILED] Authentication failed")
        #expect(unknown.last == "t2 NO [AUTHENTICATIONFAILED] Authentication failed")
    }

    @Test func authenticatePlainWithInitialResponseAndContinuation() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.imap()
        let creds = Data("\0alice\0secret".utf8).base64EncodedString()
        let r = try await c.command("AUTHENTICATE PLAIN \(creds)")
        #expect(r.last?.hasPrefix("t1 OK") == true)
        let d = try await s.imap()
        try await d.send("a AUTHENTICATE PLAIN\r\n")
        #expect(try await d.readLine() == "+ ")
        try await d.send(creds + "\r\n")
        #expect(try await d.readUntilTagged("a").last?.hasPrefix("a OK") == true)
        let e = try await s.imap()
        let bad = try await e.command("AUTHENTICATE PLAIN !!!notbase64")
        #expect(bad.last?.hasPrefix("t1 BAD") == true)
    }

    @Test func selectAppendFetchRoundTripIsByteExact() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.login()
        let message = "From: Bob <bob@example.org>\r\nTo: alice@example.org\r\nSubject: Hi there\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\n\r\nHello Alice\r\n"
        try await c.send("a APPEND INBOX (\\Flagged) {\(message.utf8.count)}\r\n")
        #expect(try await c.readLine().hasPrefix("+ "))
        try await c.send(message + "\r\n")
        let appended = try await c.readUntilTagged("a")
        #expect(appended.last?.contains("[APPENDUID ") == true)
        let sel = try await c.command("SELECT INBOX")
        #expect(sel.contains("* 1 EXISTS"))
        #expect(sel.contains { $0.contains("[UIDVALIDITY ") })
        #expect(sel.last?.contains("[READ-WRITE]") == true)
        let f = try await c.command("FETCH 1 (UID FLAGS RFC822.SIZE ENVELOPE BODY.PEEK[])")
        let line = try #require(f.first)
        #expect(line.contains("FLAGS (\\Flagged)"))
        #expect(line.contains("RFC822.SIZE \(message.utf8.count)"))
        #expect(line.contains("\"Hi there\""))
        #expect(line.contains("BODY[] {\(message.utf8.count)}\r\n" + message))
        let hdr = try await c.command("UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)])")
        #expect(hdr.first?.contains("Subject: Hi there\r\n\r\n") == true)
    }

    @Test func storeSearchCopyMoveExpunge() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.login()
        for i in 1...3 {
            let m = "Subject: message \(i)\r\n\r\nbody \(i)\r\n"
            try await c.send("a\(i) APPEND INBOX {\(m.utf8.count)+}\r\n\(m)\r\n")
            #expect(try await c.readUntilTagged("a\(i)").last?.hasPrefix("a\(i) OK") == true)
        }
        _ = try await c.command("SELECT INBOX")
        let st = try await c.command("STORE 2 +FLAGS (\\Deleted)")
        #expect(st.first == "* 2 FETCH (FLAGS (\\Deleted))")
        #expect(try await c.command("SEARCH DELETED").first == "* SEARCH 2")
        #expect(try await c.command("SEARCH SUBJECT \"message 3\"").first == "* SEARCH 3")
        #expect(try await c.command("UID SEARCH RETURN (MIN MAX COUNT) ALL").first?.contains("MIN 1 MAX 3 COUNT 3") == true)
        #expect(try await c.command("CREATE Archive").last?.hasSuffix("OK CREATE completed") == true)
        let copy = try await c.command("COPY 1 Archive")
        #expect(copy.last?.contains("[COPYUID ") == true)
        let missing = try await c.command("COPY 1 Nowhere")
        #expect(missing.last?.contains("NO [TRYCREATE]") == true)
        let ex = try await c.command("EXPUNGE")
        #expect(ex.contains("* 2 EXPUNGE"))
        let mv = try await c.command("MOVE 2 Archive")
        #expect(mv.contains { $0.contains("[COPYUID ") })
        #expect(mv.contains("* 2 EXPUNGE"))
        let status = try await c.command("STATUS Archive (MESSAGES UIDNEXT)")
        #expect(status.first == "* STATUS Archive (MESSAGES 2 UIDNEXT 3)")
        let list = try await c.command("LIST \"\" \"*\"")
        #expect(list.contains("* LIST (\\HasNoChildren) \"/\" Archive"))
        #expect(list.contains("* LIST (\\HasNoChildren) \"/\" INBOX"))
    }

    @Test func commandsNeedTheRightState() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.imap()
        #expect(try await c.command("SELECT INBOX").last == "t1 BAD Log in first")
        _ = try await c.command("LOGIN alice secret")
        #expect(try await c.command("FETCH 1 FLAGS").last == "t3 BAD No mailbox selected")
        #expect(try await c.command("FROB").last == "t4 BAD Unknown command FROB")
    }

    @Test func checkIsAcceptedInTheSelectedStateAsIMAP4rev1Clients_LikeMbsync_SendIt() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.login()
        #expect(try await c.command("CHECK").last == "t2 BAD No mailbox selected")
        _ = try await c.command("SELECT INBOX")
        #expect(try await c.command("CHECK").last == "t4 OK CHECK completed")
        _ = try await c.command("ENABLE IMAP4rev2")
        #expect(try await c.command("CHECK").last == "t6 OK CHECK completed")
    }

    @Test func createMakesTheSuperiorNamesSoThatEveryLevelIsListed() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.login()
        #expect(try await c.command("CREATE NewBox/Sub").last == "t2 OK CREATE completed")
        let top = try await c.command("LIST \"\" %")
        #expect(top.contains { $0.hasPrefix("* LIST (\\HasChildren) \"/\" NewBox") }, "\(top)")
        #expect(try await c.command("SELECT NewBox").last?.hasPrefix("t4 OK") == true)
        _ = try await c.command("CREATE Other")
        #expect(try await c.command("RENAME Other Deep/Er/Other").last == "t6 OK RENAME completed")
        let all = try await c.command("LIST \"\" *")
        for name in ["Deep", "Deep/Er", "Deep/Er/Other"] {
            #expect(all.contains { $0.hasSuffix("\"/\" \(name)") }, "\(name) in \(all)")
        }
    }

    @Test func mailboxesSurviveARestart() async throws {
        let s = try await TestServer.start()
        let dir = s.directory
        let c = try await s.login()
        let m = "Subject: keep me\r\n\r\nstill here\r\n"
        try await c.send("a APPEND INBOX {\(m.utf8.count)+}\r\n\(m)\r\n")
        #expect(try await c.readUntilTagged("a").last?.hasPrefix("a OK") == true)
        await s.stop()
        let again = try await TestServer.start(directory: dir)
        defer { Task { await again.stopAndRemove() } }
        let d = try await again.login()
        _ = try await d.command("SELECT INBOX")
        let f = try await d.command("FETCH 1 BODY.PEEK[]")
        #expect(f.first?.hasSuffix(m + ")") == true)
    }
}

/// Mailbox names and trees are bounded (`imap.max_mailbox_name_length`, `max_mailbox_depth`, `max_mailboxes_per_user`).
@Suite struct MailboxLimitTests {
    @Test func overlongDeepOrTooManyMailboxesGetNOLIMIT() async throws {
        let s = try await TestServer.start {
            $0.limits.maxMailboxNameLength = 32
            $0.limits.maxMailboxDepth = 3
            $0.limits.maxMailboxesPerUser = 3
        }
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.login()
        #expect(try await c.command("CREATE " + String(repeating: "n", count: 33)).last?.hasPrefix("t2 NO [LIMIT]") == true)
        #expect(try await c.command("CREATE a/b/c/d").last?.hasPrefix("t3 NO [LIMIT]") == true)
        #expect(try await c.command("CREATE one").last == "t4 OK CREATE completed")
        #expect(try await c.command("CREATE two").last == "t5 OK CREATE completed")
        #expect(try await c.command("CREATE three").last?.hasPrefix("t6 NO [LIMIT]") == true)
    }
}

/// Large bodies travel in chunks and arrive byte-exact.
@Suite struct LargeMessageTests {
    @Test func aTwoMegabyteMessageRoundTripsByteExact() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.login()
        var body = "Subject: big\r\n\r\n"
        for i in 0..<40_000 { body += "line \(i) of a large message body.\r\n" }
        try await c.send("a APPEND INBOX {\(body.utf8.count)+}\r\n\(body)\r\n")
        #expect(try await c.readUntilTagged("a", timeout: 30).last?.hasPrefix("a OK") == true)
        _ = try await c.command("SELECT INBOX")
        let f = try await c.command("FETCH 1 (UID BODY.PEEK[] RFC822.SIZE)", timeout: 30)
        #expect(f.first == "* 1 FETCH (UID 1 BODY[] {\(body.utf8.count)}\r\n\(body) RFC822.SIZE \(body.utf8.count))")
        let p = try await c.command("FETCH 1 BODY.PEEK[]<10.20>")
        #expect(p.first == "* 1 FETCH (BODY[]<10> {20}\r\n" + String(decoding: Array(body.utf8)[10..<30], as: UTF8.self) + ")")
    }
}
