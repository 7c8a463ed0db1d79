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

    @Test func idleSeesAnLMTPDeliveryWithinASecond() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let a = try await s.login()
        _ = try await a.command("SELECT INBOX")
        try await a.send("i IDLE\r\n")
        #expect(try await a.readLine() == "+ idling")
        _ = try await LMTPDeliveryTests.deliver(s, to: ["alice@example.org"], body: "Subject: push\r\n\r\nx\r\n")
        #expect(try await a.readLine(timeout: 1) == "* 1 EXISTS")
        try await a.send("DONE\r\n")
        #expect(try await a.readUntilTagged("i").last == "i OK IDLE terminated")
    }
}
