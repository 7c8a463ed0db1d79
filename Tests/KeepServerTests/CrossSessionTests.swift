import Foundation
import KeepGuard
import KeepServer
import Testing

/// Several sessions on one mailbox see each other's changes (RFC 9051 §7.5.1 rules).
@Suite struct CrossSessionTests {
    @Test func noopReportsNewMessagesFlagChangesAndExpunges() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let a = try await s.login()
        let b = try await s.login()
        _ = try await a.command("SELECT INBOX")
        _ = try await b.command("SELECT INBOX")
        let m = "Subject: one\r\n\r\nx\r\n"
        try await b.send("p APPEND INBOX {\(m.utf8.count)+}\r\n\(m)\r\n")
        _ = try await b.readUntilTagged("p")
        let n1 = try await a.command("NOOP")
        #expect(n1.contains("* 1 EXISTS"))
        _ = try await b.command("NOOP")
        _ = try await b.command("STORE 1 +FLAGS (\\Deleted)")
        let n2 = try await a.command("NOOP")
        #expect(n2.contains { $0.hasPrefix("* 1 FETCH (FLAGS (\\Deleted)") })
        // FETCH must not report the expunge; NOOP then does.
        _ = try await b.command("EXPUNGE")
        let f = try await a.command("FETCH 1 FLAGS")
        #expect(!f.contains { $0.contains("EXPUNGE") })
        let n3 = try await a.command("NOOP")
        #expect(n3.contains("* 1 EXPUNGE"))
    }

    /// FETCH skips its trip for changes when the folder's modseq is the one the session knows; when another session
    /// changed anything, the FETCH still reports it (flags, new messages), and holds expunges back (RFC 9051 §7.5.1).
    @Test func fetchReportsAnotherSessionsChangesAndOnlyThose() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let a = try await s.login()
        let b = try await s.login()
        for i in 1...3 {
            let m = "Subject: m\(i)\r\n\r\nx\r\n"
            try await b.send("p\(i) APPEND INBOX {\(m.utf8.count)+}\r\n\(m)\r\n")
            _ = try await b.readUntilTagged("p\(i)")
        }
        _ = try await a.command("SELECT INBOX")
        _ = try await b.command("SELECT INBOX")
        // Nothing changed: only the FETCH asked for.
        let quiet = try await a.command("FETCH 2 (FLAGS)")
        #expect(quiet.filter { $0.hasPrefix("* ") } == ["* 2 FETCH (FLAGS ())"])
        // B flags message 1: A's FETCH of message 2 also tells of message 1.
        _ = try await b.command("STORE 1 +FLAGS (\\Flagged)")
        let told = try await a.command("FETCH 2 (FLAGS)")
        #expect(told.contains("* 2 FETCH (FLAGS ())"))
        #expect(told.contains { $0.hasPrefix("* 1 FETCH (FLAGS (\\Flagged)") }, "\(told)")
        // Told once: the next FETCH is quiet again.
        #expect(try await a.command("FETCH 2 (FLAGS)").filter { $0.hasPrefix("* ") } == ["* 2 FETCH (FLAGS ())"])
        // A new message by B: EXISTS on A's next FETCH.
        let m = "Subject: m4\r\n\r\nx\r\n"
        try await b.send("p4 APPEND INBOX {\(m.utf8.count)+}\r\n\(m)\r\n")
        _ = try await b.readUntilTagged("p4")
        #expect(try await a.command("FETCH 2 (FLAGS)").contains("* 4 EXISTS"))
        // An expunge by B is held back during FETCH and reported by NOOP.
        _ = try await b.command("STORE 3 +FLAGS.SILENT (\\Deleted)")
        _ = try await b.command("EXPUNGE")
        let during = try await a.command("FETCH 2 (FLAGS)")
        #expect(!during.contains { $0.hasSuffix("EXPUNGE") }, "\(during)")
        #expect(try await a.command("NOOP").contains("* 3 EXPUNGE"))
    }

    /// STORE and EXPUNGE read no changes back when the session knew the folder as their write found it; when another
    /// session changed it first, they still tell of that (STORE: flags and new messages; EXPUNGE: also expunges),
    /// and nothing is told twice.
    @Test func storeAndExpungeTellOfAnotherSessionsChangesAndNotOfTheirOwnAgain() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let a = try await s.login()
        let b = try await s.login()
        for i in 1...4 { _ = try await b.append("Subject: m\(i)\r\n\r\nx\r\n") }
        _ = try await a.command("SELECT INBOX")
        _ = try await b.command("SELECT INBOX")
        // Nothing else changed: A's STOREs tell only of themselves, and NOOP then has nothing to say.
        #expect(try await a.command("STORE 2 +FLAGS (\\Seen)").filter { $0.hasPrefix("* ") }
                == ["* 2 FETCH (FLAGS (\\Seen))"])
        #expect(try await a.command("STORE 2 +FLAGS.SILENT (\\Answered)").filter { $0.hasPrefix("* ") } == [])
        #expect(try await a.command("NOOP").filter { $0.hasPrefix("* ") } == [])
        // B flags message 1 and adds message 5: A's next STORE tells of both, once.
        _ = try await b.command("STORE 1 +FLAGS (\\Flagged)")
        _ = try await b.append("Subject: m5\r\n\r\nx\r\n")
        let told = try await a.command("STORE 3 +FLAGS (\\Seen)")
        #expect(told.contains("* 3 FETCH (FLAGS (\\Seen))"), "\(told)")
        #expect(told.contains { $0.hasPrefix("* 1 FETCH (FLAGS (\\Flagged)") }, "\(told)")
        #expect(told.contains("* 5 EXISTS"), "\(told)")
        #expect(try await a.command("NOOP").filter { $0.hasPrefix("* ") } == [])
        // A's own EXPUNGE: its EXPUNGE responses and nothing more.
        _ = try await a.command("STORE 2 +FLAGS.SILENT (\\Deleted)")
        #expect(try await a.command("EXPUNGE").filter { $0.hasPrefix("* ") } == ["* 2 EXPUNGE"])
        #expect(try await a.command("NOOP").filter { $0.hasPrefix("* ") } == [])
        // B deleted and expunged a message first: A's EXPUNGE tells of it too.
        _ = try await b.command("NOOP")
        _ = try await b.command("STORE 1 +FLAGS.SILENT (\\Deleted)")
        _ = try await b.command("EXPUNGE")
        let expunged = try await a.command("EXPUNGE")
        #expect(expunged.contains("* 1 EXPUNGE"), "\(expunged)")
        #expect(try await a.command("NOOP").filter { $0.hasPrefix("* ") } == [])
    }

    /// APPEND to the selected folder tells of its own message (EXISTS) without reading changes back when nothing
    /// else changed; a message another session added first is told of too, once.
    @Test func appendToTheSelectedFolderTellsOfItsMessagesAndAnotherSessionsOnce() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let a = try await s.login()
        let b = try await s.login()
        _ = try await a.command("SELECT INBOX")
        let own = try await a.append("Subject: a1\r\n\r\nx\r\n")
        #expect(own.filter { $0.hasPrefix("* ") } == ["* 1 EXISTS"], "\(own)")
        #expect(try await a.command("NOOP").filter { $0.hasPrefix("* ") } == [])
        _ = try await b.append("Subject: b1\r\n\r\nx\r\n")
        let both = try await a.append("Subject: a2\r\n\r\nx\r\n")
        #expect(both.contains("* 3 EXISTS"), "\(both)")
        #expect(try await a.command("NOOP").filter { $0.hasPrefix("* ") } == [])
        // Into another folder: the selected one is still looked at (B flagged a message meanwhile).
        _ = try await a.command("CREATE Other")
        _ = try await b.command("SELECT INBOX")
        _ = try await b.command("STORE 2 +FLAGS (\\Flagged)")
        let elsewhere = try await a.append("Subject: a3\r\n\r\nx\r\n", to: "Other")
        #expect(elsewhere.contains { $0.hasPrefix("* 2 FETCH (FLAGS (\\Flagged)") }, "\(elsewhere)")
        #expect(!elsewhere.contains { $0.hasSuffix("EXISTS") }, "\(elsewhere)")
    }

    @Test func idleIsToldOfAnLMTPDeliveryWithoutPolling() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let a = try await s.login()
        _ = try await a.command("SELECT INBOX")
        try await a.send("i IDLE\r\n")
        #expect(try await a.readLine() == "+ idling")
        let started = ContinuousClock.now
        let replies = try await LMTPDeliveryTests.deliver(s, to: ["alice@example.org"], body: "Subject: push\r\n\r\nx\r\n")
        let delivered = ContinuousClock.now
        let pushed = try? await a.readLine(timeout: 10)
        #expect(pushed == "* 1 EXISTS", "after \(ContinuousClock.now - started): \(replies)")
        // Pushed, not polled: well inside the 30 s a polling client would wait. How fast (5 ms p50 at 1,000 IDLE
        // connections) is measured by `keep-bench idle`; this suite shares 2 cores with 60 servers at once.
        #expect(ContinuousClock.now - delivered < .seconds(5), "push took \(ContinuousClock.now - delivered) (delivery \(delivered - started))")
        try await a.send("DONE\r\n")
        #expect(try await a.readUntilTagged("i").last == "i OK IDLE terminated")
    }
}
