import Foundation
import KeepGuard
import KeepServer
import Testing

/// Clients that pipeline deeply and read their answers (RFC 9051 §5.5; mbsync, offlineimap, imapsync): paced by
/// back-pressure at `imap.max_pending_commands`, never reset, every answer delivered in order.
@Suite struct PipeliningTests {
    /// `count` commands `PREFIXi TEXT(i)` in one string.
    static func pipeline(_ count: Int, prefix: String, _ text: (Int) -> String) -> [UInt8] {
        Array((1...count).map { "\(prefix)\($0) \(text($0))\r\n" }.joined().utf8)
    }

    @Test func aLoggedInClientThatWritesTenThousandNOOPsAtOnceAndReadsGetsEveryAnswerInOrder() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.login()
        let sending = Task { try await c.sendWhileReading(Self.pipeline(10_000, prefix: "n") { _ in "NOOP" }) }
        let (lines, end) = await c.readLines(10_000, timeout: 30)
        try await sending.value
        #expect(end == nil, "connection ended after \(lines.count) answers: \(String(describing: end))")
        #expect(lines.count == 10_000)
        #expect(lines.enumerated().allSatisfy { $0.element == "n\($0.offset + 1) OK NOOP completed" })
        #expect(s.server.reporter.count(.pendingCommandsReset) == 0)
        #expect(try await c.command("NOOP").last == "t2 OK NOOP completed")
    }

    /// 2,500 store commands (25 times the limit) keep the debug suite short; keep-bench pipelines at any depth.
    @Test func pipelinedUIDFetchesThatNeedTheStoreAreAllAnsweredInOrder() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.login()
        for i in 1...10 { try await c.append("Subject: m\(i)\r\n\r\nbody \(i)\r\n") }
        _ = try await c.command("SELECT INBOX")
        let sending = Task {
            try await c.sendWhileReading(Self.pipeline(2_500, prefix: "f") { "UID FETCH \($0 % 10 + 1) (FLAGS)" })
        }
        // Each UID FETCH answers one untagged FETCH line and its completion.
        let (lines, end) = await c.readLines(5_000, timeout: 60)
        try await sending.value
        #expect(end == nil, "connection ended after \(lines.count) lines: \(String(describing: end))")
        let tagged = lines.filter { !$0.hasPrefix("* ") }
        #expect(tagged.count == 2_500)
        #expect(tagged.enumerated().allSatisfy { $0.element == "f\($0.offset + 1) OK UID FETCH completed" },
                "\(tagged.prefix(3))")
        #expect(lines.filter { $0.hasPrefix("* ") && $0.contains("FETCH") }.count == 2_500)
        #expect(s.server.reporter.count(.pendingCommandsReset) == 0)
    }

    /// What mbsync does when it pushes a Maildir: one APPEND per message, all in one write, LITERAL+.
    @Test func aThousandPipelinedAppendsAreAllStoredAndAnswered() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.login()
        var bytes: [UInt8] = []
        for i in 1...1_000 {
            let m = "From: up@example.org\r\nSubject: pushed \(i)\r\nMessage-ID: <p\(i)@example.org>\r\n\r\n"
                + String(repeating: "line of the body of message \(i)\r\n", count: i % 40 + 1)
            bytes += Array("p\(i) APPEND INBOX (\\Seen) {\(m.utf8.count)+}\r\n\(m)\r\n".utf8)
        }
        let sending = Task { try await c.sendWhileReading(bytes) }
        let (lines, end) = await c.readLines(1_000, timeout: 60)
        try await sending.value
        #expect(end == nil, "connection ended after \(lines.count) answers: \(String(describing: end))")
        #expect(lines.enumerated().allSatisfy { $0.element.hasPrefix("p\($0.offset + 1) OK [APPENDUID ") }, "\(lines.suffix(2))")
        #expect(try await c.command("STATUS INBOX (MESSAGES)").first == "* STATUS INBOX (MESSAGES 1000)")
    }

    @Test func lmtpPipeliningPastTheLimitIsServedInOrder() async throws {
        let s = try await TestServer.start { $0.limits.lmtpMaxPendingCommands = 10 }
        defer { Task { await s.stopAndRemove() } }
        let c = try await LineClient.connect(port: s.lmtpPort)
        _ = try await c.readLine()
        let sending = Task { try await c.sendWhileReading(Array(String(repeating: "NOOP\r\n", count: 500).utf8)) }
        let (lines, end) = await c.readLines(500)
        try await sending.value
        #expect(end == nil)
        #expect(lines.allSatisfy { $0 == "250 2.0.0 OK" })
        #expect(s.server.reporter.count(.lmtpPendingCommandsReset) == 0)
    }

    /// A client on a slow link: it reads 16 KiB every 50 ms, far slower than Keep answers, with more than the pending
    /// limit in flight and Keep's output buffer full most of the time. Its window opens each time its reads have
    /// freed a segment's worth (64 KiB on loopback, so every 200 ms here; 1,460 bytes on an Ethernet path), which
    /// restarts the stall clock (`imap.output_stall_timeout_ms`, 1 s): paced, never reset.
    @Test func aSlowReaderWithAFullPipelineIsPacedNotReset() async throws {
        let s = try await TestServer.start { $0.limits.imapMaxOutputBuffer = 16_384 }
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.login()
        try await c.append("Subject: slow\r\n\r\n" + String(repeating: "a line of a message read slowly\r\n", count: 120))
        _ = try await c.command("SELECT INBOX")
        c.readThrottle = (16_384, 0.05)
        let sending = Task { try await c.sendWhileReading(Self.pipeline(300, prefix: "s") { _ in "FETCH 1 BODY.PEEK[]" }) }
        let (lines, end) = await c.readLines(600, timeout: 60)
        try await sending.value
        #expect(end == nil, "ended after \(lines.count) lines: \(String(describing: end))")
        #expect(lines.filter { $0.hasPrefix("s") && $0.hasSuffix("OK FETCH completed") }.count == 300)
        #expect(s.server.reporter.count(.pendingCommandsReset) == 0)
    }

    /// A client that writes more than a socket buffer holds before reading (a naive blocking client) is paced, not
    /// reset, as long as it reads in time.
    @Test func aClientThatReadsOnlyAfterAPauseIsPacedNotReset() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.login()
        let sending = Task { try await c.sendWhileReading(Self.pipeline(3_000, prefix: "w") { _ in "NOOP" }) }
        try await Task.sleep(for: .milliseconds(300))
        let (lines, end) = await c.readLines(3_000, timeout: 30)
        try await sending.value
        #expect(end == nil)
        #expect(lines.count == 3_000)
        #expect(s.server.reporter.count(.pendingCommandsReset) == 0)
    }
}
