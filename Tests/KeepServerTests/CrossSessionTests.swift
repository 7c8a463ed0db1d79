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
