import Foundation
import KeepGuard
import KeepServer
import Testing

/// LMTP delivery (RFC 2033) into the store, seen over IMAP.
@Suite struct LMTPDeliveryTests {
    /// Speaks one LMTP transaction; returns every reply line.
    static func deliver(_ s: TestServer, from: String = "bob@example.org", to: [String], body: String) async throws -> [String] {
        let c = try await LineClient.connect(port: s.lmtpPort)
        var replies = [try await c.readLine()]
        try await c.send("LHLO test\r\n")
        while true {
            let l = try await c.readLine()
            replies.append(l)
            if l.hasPrefix("250 ") { break }
        }
        try await c.send("MAIL FROM:<\(from)>\r\n")
        replies.append(try await c.readLine())
        for r in to {
            try await c.send("RCPT TO:<\(r)>\r\n")
            replies.append(try await c.readLine())
        }
        try await c.send("DATA\r\n")
        let dataReply = try await c.readLine()
        replies.append(dataReply)
        guard dataReply.hasPrefix("354") else { return replies }
        try await c.send(body + ".\r\n")
        let accepted = replies.filter { $0.hasPrefix("250 2.1.5") }.count
        for _ in 0..<accepted { replies.append(try await c.readLine()) }
        try await c.send("QUIT\r\n")
        replies.append(try await c.readLine())
        return replies
    }

    @Test func deliveryReachesInboxByteExactWithTraceHeaders() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let body = "From: bob@example.org\r\nSubject: via lmtp\r\n\r\n..dot-stuffed line\r\nend\r\n"
        let replies = try await Self.deliver(s, to: ["alice@example.org"], body: body)
        #expect(replies.first?.hasPrefix("220 ") == true)
        #expect(replies.contains("250-PIPELINING"))
        #expect(replies.contains { $0.hasPrefix("250 2.0.0 <alice@example.org> delivered") })
        let c = try await s.login()
        _ = try await c.command("SELECT INBOX")
        let f = try await c.command("FETCH 1 BODY.PEEK[]")
        let expected = "Return-Path: <bob@example.org>\r\nDelivered-To: alice@example.org\r\n"
            + "From: bob@example.org\r\nSubject: via lmtp\r\n\r\n.dot-stuffed line\r\nend\r\n"
        #expect(f.first == "* 1 FETCH (BODY[] {\(expected.utf8.count)}\r\n\(expected))")
    }

    @Test func unknownUserGets550AndOthersStillDeliver() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let replies = try await Self.deliver(s, to: ["nobody@example.org", "alice@example.org"], body: "Subject: x\r\n\r\ny\r\n")
        #expect(replies.contains("550 5.1.1 <nobody@example.org> User unknown"))
        #expect(replies.filter { $0.hasPrefix("250 2.0.0") }.count == 1)
    }

    @Test func oversizedMessageGets552() async throws {
        let s = try await TestServer.start { $0.limits.lmtpMaxMessageSize = 2_048 }
        defer { Task { await s.stopAndRemove() } }
        let big = "Subject: big\r\n\r\n" + String(repeating: "0123456789abcdef\r\n", count: 200)
        let replies = try await Self.deliver(s, to: ["alice@example.org"], body: big)
        #expect(replies.contains { $0.hasPrefix("552 5.3.4") })
        let c = try await s.login()
        #expect(try await c.command("SELECT INBOX").contains("* 0 EXISTS"))
    }

    @Test func localDomainsRestrictRecipients() async throws {
        let s = try await TestServer.start { $0.localDomains = ["example.org"] }
        defer { Task { await s.stopAndRemove() } }
        let replies = try await Self.deliver(s, to: ["alice@elsewhere.net"], body: "Subject: x\r\n\r\ny\r\n")
        #expect(replies.contains("550 5.1.1 <alice@elsewhere.net> is not a local address"))
    }
}
