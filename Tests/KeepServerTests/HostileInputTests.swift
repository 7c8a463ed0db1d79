import Foundation
import KeepGuard
import KeepServer
import Testing

/// The resource-exhaustion classes of the public advisories, at their sizes, over real sockets: the attacker gets a
/// clear answer or a closed connection, a legit client keeps working, and mail is never lost.
@Suite struct HostileInputTests {
    /// Dovecot CVE-2026-27857 / -42006: `NOOP` + 4,000 `(` without the final LF, from many connections.
    @Test func unfinishedNestingBombsAreAnsweredAtOnceAndLoggedOutByTheTimeout() async throws {
        // 5 s: long enough that a loaded test machine answers the bombs before the timeout ends them.
        let s = try await TestServer.start { $0.limits.imapUnauthenticatedIdleTimeout = 5 }
        defer { Task { await s.stopAndRemove() } }
        var attackers: [LineClient] = []
        for _ in 0..<50 {
            let a = try await s.imap()
            try await a.send("a NOOP " + String(repeating: "(", count: 4_000))
            attackers.append(a)
        }
        // Each is told at the 33rd `(`, without waiting for a line end that never comes; nothing of it is kept.
        for a in attackers {
            let answer = try await a.readLine(timeout: 5)
            #expect(answer == "a BAD Too deeply nested (limit 32 levels)")
        }
        let legit = try await s.login()
        #expect(try await legit.command("NOOP").last == "t2 OK NOOP completed")
        // The partial lines are not activity: every attacker is logged out by the not-authenticated timeout.
        for a in attackers.prefix(3) { #expect(try await a.readLine(timeout: 10) == "* BYE Autologout; idle for too long") }
    }

    /// Cyrus CVE-2024-34055 / James CVE-2024-37358: many literals in one command.
    @Test func manyLiteralsInOneCommandEndTheConnection() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.login()
        var cmd = "a APPEND INBOX"
        for _ in 0..<40 { cmd += " {1+}\r\nx" }
        try? await c.send(cmd + "\r\n")
        #expect(try await c.readLine().hasPrefix("* BYE [LIMIT] Too many literals"))
    }

    /// Dovecot CVE-2024-23184: 100,000 address header lines, delivered over LMTP; stored byte-exact, quickly.
    @Test func hundredThousandAddressHeadersAreDeliveredAndIndexedBoundedly() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        var body = "Subject: many addresses\r\n"
        for i in 0..<100_000 { body += "To: user\(i)@example.org\r\n" }
        body += "\r\nhi\r\n"
        let started = Date()
        let replies = try await LMTPDeliveryTests.deliver(s, to: ["alice@example.org"], body: body)
        #expect(replies.contains { $0.hasPrefix("250 2.0.0 <alice@example.org> delivered") })
        #expect(Date().timeIntervalSince(started) < 30)
        let c = try await s.login()
        _ = try await c.command("SELECT INBOX")
        let f = try await c.command("FETCH 1 (RFC822.SIZE ENVELOPE)", timeout: 30)
        #expect(f.first?.contains("RFC822.SIZE \(body.utf8.count + "Return-Path: <bob@example.org>\r\nDelivered-To: alice@example.org\r\n".utf8.count)") == true)
    }

    /// Dovecot CVE-2026-27859: an RFC 2231 parameter bomb in a delivered message.
    @Test func rfc2231ParameterBombIsDeliveredAndBounded() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        var params = ""
        for i in 0..<10_000 { params += ";\r\n name*\(i)*=utf-8''%41%42" }
        let body = "Subject: params\r\nContent-Type: application/octet-stream" + params + "\r\n\r\ndata\r\n"
        let replies = try await LMTPDeliveryTests.deliver(s, to: ["alice@example.org"], body: body)
        #expect(replies.contains { $0.hasPrefix("250 2.0.0") })
        let c = try await s.login()
        _ = try await c.command("SELECT INBOX")
        let f = try await c.command("FETCH 1 BODYSTRUCTURE", timeout: 30)
        #expect(f.last == "t3 OK FETCH completed")
    }

    /// Dovecot CVE-2025-59028: invalid base64 in SASL fails that login only.
    @Test func malformedSASLFailsOnlyThatLogin() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let bad = try await s.imap()
        #expect(try await bad.command("AUTHENTICATE PLAIN ====").last?.hasPrefix("t1 BAD") == true)
        #expect(try await bad.command("AUTHENTICATE PLAIN " + Data("only-one-field".utf8).base64EncodedString()).last?.hasPrefix("t2 BAD") == true)
        let good = try await s.imap()
        let creds = Data("\0alice\0secret".utf8).base64EncodedString()
        #expect(try await good.command("AUTHENTICATE PLAIN \(creds)").last?.hasPrefix("t1 OK") == true)
    }
}
