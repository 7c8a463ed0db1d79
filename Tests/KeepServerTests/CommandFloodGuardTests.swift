import Foundation
import KeepGuard
import KeepServer
import KeepGuard
import Testing

/// The seed's rule where it belongs: a flood of commands from a client that does not read is reset (TCP RST) —
/// before login at one command past `imap.max_pending_commands`, after login when it also leaves its answers unread
/// for `imap.output_stall_timeout_ms`. And the other bounds a stranger meets, each with its documented answer, while
/// the server keeps serving others.
@Suite struct CommandFloodGuardTests {
    /// 1,500-byte frames packed with `aN NOOP\r\n`, as in the seed.
    static func floodFrame(start: Int) -> (bytes: [UInt8], next: Int) {
        var out: [UInt8] = []
        var n = start
        while true {
            let cmd = Array("a\(n) NOOP\r\n".utf8)
            if out.count + cmd.count > 1_500 { break }
            out += cmd
            n += 1
        }
        return (out, n)
    }

    @Test func packedNoopFramesAreResetWhileALoggedInClientKeepsWorking() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let legit = try await s.login()
        _ = try await legit.command("SELECT INBOX")
        let flooder = try await s.imap()
        let started = Date()
        var n = 1
        var sendError: (any Error)?
        for _ in 0..<20 {
            let frame = Self.floodFrame(start: n)
            n = frame.next
            do { try await flooder.send(frame.bytes) } catch { sendError = error; break }
        }
        let end = await flooder.waitForEnd(timeout: 2)
        #expect(end == .reset || (sendError as? LineClient.ReadError) == .reset)
        #expect(Date().timeIntervalSince(started) < 1.5)
        #expect(s.server.reporter.count(.pendingCommandsReset) >= 1)
        #expect(try await legit.command("NOOP").last == "t3 OK NOOP completed")
        let fresh = try await s.login()
        #expect(try await fresh.command("NOOP").last == "t2 OK NOOP completed")
    }

    @Test func beforeLoginPipeliningUpToTheLimitIsServedAndOneMoreIsReset() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let ok = try await s.imap()
        try await ok.send((1...50).map { "p\($0) NOOP\r\n" }.joined())
        let answers = try await ok.readUntilTagged("p50")
        #expect(answers.count == 50)
        let tooMany = try await s.imap()
        try? await tooMany.send((1...101).map { "q\($0) NOOP\r\n" }.joined())
        #expect(await tooMany.waitForEnd(timeout: 2) == .reset)
        #expect(s.server.reporter.count(.pendingCommandsReset) == 1)
    }

    /// The seed's flooder after login: packed NOOP frames, never reading. Its answers back up, its window closes,
    /// and after `imap.output_stall_timeout_ms` it is reset; the logged-in client next to it never notices. (How
    /// fast, with the defaults on a release build, is what `keep-bench flood --flood-login` measures: a timed test
    /// in a debug suite sharing two cores would measure the suite.)
    @Test func aLoggedInFlooderThatNeverReadsIsResetOnceItsAnswersBackUp() async throws {
        let s = try await TestServer.start {
            $0.limits.imapMaxOutputBuffer = 16_384
            $0.limits.imapOutputStallTimeoutMs = 500
        }
        defer { Task { await s.stopAndRemove() } }
        let legit = try await s.login()
        _ = try await legit.command("SELECT INBOX")
        let flooder = try await LineClient.connect(port: s.imapPort, receiveBuffer: 4_096)
        _ = try await flooder.readLine()
        #expect(try await flooder.command("LOGIN alice secret").last?.contains("OK") == true)
        let started = Date()
        var n = 1
        var ended: LineClient.ReadError?
        while ended == nil, Date().timeIntervalSince(started) < 10 {
            let frame = Self.floodFrame(start: n)
            n = frame.next
            do { try await flooder.send(frame.bytes) } catch let e as LineClient.ReadError { ended = e }
        }
        if ended == nil { ended = await flooder.waitForEnd(timeout: 2) }
        #expect(ended == .reset)
        #expect(s.server.reporter.count(.pendingCommandsReset) == 1)
        #expect(try await legit.command("NOOP").last == "t3 OK NOOP completed")
    }

    @Test func theLimitIsConfigurable() async throws {
        let s = try await TestServer.start { $0.limits.imapMaxPendingCommands = 5 }
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.imap()
        try? await c.send((1...6).map { "q\($0) NOOP\r\n" }.joined())
        #expect(await c.waitForEnd(timeout: 2) == .reset)
        let d = try await s.imap()
        try await d.send((1...5).map { "p\($0) NOOP\r\n" }.joined())
        #expect(try await d.readUntilTagged("p5").count == 5)
        // After login the same client is paced at 5, not reset.
        let e = try await s.login()
        try await e.send((1...40).map { "r\($0) NOOP\r\n" }.joined())
        #expect(try await e.readUntilTagged("r40").count == 40)
    }

    /// Floods from `source` once: a packed frame on a new connection, until it is reset.
    static func floodOnce(_ s: TestServer, source: String) async throws -> LineClient.ReadError {
        let c = try await LineClient.connect(port: s.imapPort, source: source)
        try? await c.send((1...150).map { "f\($0) NOOP\r\n" }.joined())
        return await c.waitForEnd(timeout: 2)
    }

    @Test func anAddressThatKeepsFloodingIsBannedWhileOthersAndItsLoggedInClientsGoOn() async throws {
        let s = try await TestServer.start {
            $0.limits.floodBanThreshold = 3
            $0.limits.floodBanSeconds = 1
            $0.limits.floodBanDropSYN = 0  // the reset on arrival; the kernel drop is the next test
        }
        defer { Task { await s.stopAndRemove() } }
        let attacker = "127.0.0.3"
        let loggedIn = try await LineClient.connect(port: s.imapPort, source: attacker)
        _ = try await loggedIn.readLine()
        #expect(try await loggedIn.command("LOGIN alice secret").last?.contains("OK") == true)
        for _ in 0..<3 { #expect(try await Self.floodOnce(s, source: attacker) == .reset) }
        #expect(s.server.reporter.count(.floodBan) == 1)

        // Banned: a new connection from the address is reset before any greeting.
        let banned = try await LineClient.connect(port: s.imapPort, source: attacker)
        #expect(await banned.waitForEnd(timeout: 2) == .reset)
        #expect(s.server.reporter.count(.bannedConnectionReset) >= 1)
        // Its logged-in connection and every other address go on.
        #expect(try await loggedIn.command("NOOP").last?.hasSuffix("OK NOOP completed") == true)
        let other = try await LineClient.connect(port: s.imapPort, source: "127.0.0.4")
        #expect(try await other.readLine().hasPrefix("* OK"))

        // After the ban the address is greeted again.
        try await Task.sleep(for: .milliseconds(1_200))
        let again = try await LineClient.connect(port: s.imapPort, source: attacker)
        #expect(try await again.readLine().hasPrefix("* OK"))
    }

    @Test func aBannedAddressesConnectionAttemptsGoUnansweredUntilTheBanEnds() async throws {
        let s = try await TestServer.start {
            $0.limits.floodBanThreshold = 3
            $0.limits.floodBanSeconds = 3
        }
        defer { Task { await s.stopAndRemove() } }
        let attacker = "127.0.0.6"
        for _ in 0..<3 { #expect(try await Self.floodOnce(s, source: attacker) == .reset) }
        #expect(s.server.reporter.count(.floodBan) == 1)
        // The listener's filter is rebuilt on its own event loop, just after the ban.
        let deadline = Date().addingTimeInterval(5)
        while s.server.droppedAtListeners != [SourceFilter.Address(attacker)!], Date() < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(s.server.droppedAtListeners == [SourceFilter.Address(attacker)!])

        // The SYN gets no answer: the connect waits, and the server never sees the connection.
        await #expect(throws: LineClient.ReadError.timeout) {
            _ = try await LineClient.connect(port: s.imapPort, source: attacker, timeout: 0.5)
        }
        #expect(s.server.reporter.count(.bannedConnectionReset) == 0)
        let other = try await LineClient.connect(port: s.imapPort, source: "127.0.0.7", timeout: 5)
        #expect(try await other.readLine().hasPrefix("* OK"))

        // When the ban ends the filter is taken away and the address is greeted again.
        while !s.server.droppedAtListeners.isEmpty, Date() < deadline.addingTimeInterval(5) {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(s.server.droppedAtListeners.isEmpty)
        let again = try await LineClient.connect(port: s.imapPort, source: attacker, timeout: 5)
        #expect(try await again.readLine().hasPrefix("* OK"))
    }

    @Test func aZeroThresholdNeverBans() async throws {
        let s = try await TestServer.start { $0.limits.floodBanThreshold = 0 }
        defer { Task { await s.stopAndRemove() } }
        for _ in 0..<12 { #expect(try await Self.floodOnce(s, source: "127.0.0.5") == .reset) }
        let fresh = try await LineClient.connect(port: s.imapPort, source: "127.0.0.5")
        #expect(try await fresh.readLine().hasPrefix("* OK"))
        #expect(s.server.reporter.count(.floodBan) == 0)
    }

    /// A whole office behind one address: the flooder among them is reset each time, but a trusted network is never
    /// banned, so the others go on connecting.
    @Test func aFlooderInATrustedNetworkIsResetButItsAddressIsNeverBanned() async throws {
        let s = try await TestServer.start {
            $0.limits.floodBanThreshold = 2
            $0.trustedNetworks = [NetworkRange("127.0.0.0/29")!]
        }
        defer { Task { await s.stopAndRemove() } }
        let office = "127.0.0.5"
        for _ in 0..<5 { #expect(try await Self.floodOnce(s, source: office) == .reset) }
        #expect(s.server.reporter.count(.floodBan) == 0)
        #expect(s.server.floodBans.isEmpty)
        let colleague = try await LineClient.connect(port: s.imapPort, source: office)
        #expect(try await colleague.readLine().hasPrefix("* OK"))
        // Outside the trusted network the same floods earn a ban.
        for _ in 0..<2 { #expect(try await Self.floodOnce(s, source: "127.0.0.9") == .reset) }
        #expect(s.server.reporter.count(.floodBan) == 1)
    }

    @Test func banToolsListABanAndLiftItAtOnce() async throws {
        let s = try await TestServer.start {
            $0.limits.floodBanThreshold = 2
            $0.limits.floodBanSeconds = 600
            $0.limits.floodBanDropSYN = 0
        }
        defer { Task { await s.stopAndRemove() } }
        let attacker = "127.0.0.12"
        for _ in 0..<2 { #expect(try await Self.floodOnce(s, source: attacker) == .reset) }
        let bans = s.server.floodBans
        #expect(bans.map(\.address) == [attacker])
        #expect((590...600).contains(bans.first?.remainingSeconds ?? 0))
        // Through the admin endpoint, as `keep ban list` / `keep ban lift` use it.
        let listed = AdminClient.send(AdminRequest(op: "bans"), dataDirectory: s.directory)
        #expect(listed?.ok == true && listed?.result?.contains(attacker) == true)
        let refused = AdminClient.send(AdminRequest(op: "lift-ban", address: "127.0.0.99"), dataDirectory: s.directory)
        #expect(refused?.ok == false && refused?.error == "127.0.0.99 is not banned")
        #expect(AdminClient.send(AdminRequest(op: "lift-ban", address: attacker), dataDirectory: s.directory)?.ok == true)
        #expect(s.server.floodBans.isEmpty)
        let again = try await LineClient.connect(port: s.imapPort, source: attacker)
        #expect(try await again.readLine().hasPrefix("* OK"))
    }

    @Test func overlongLineGetsBADAndTheConnectionContinues() async throws {
        let s = try await TestServer.start { $0.limits.imapMaxLineLength = 1_024 }
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.imap()
        try await c.send("x LOGIN " + String(repeating: "a", count: 5_000) + " b\r\n")
        #expect(try await c.readLine().hasPrefix("x BAD Command line too long"))
        #expect(try await c.command("NOOP").last == "t1 OK NOOP completed")
    }

    @Test func oversizedLiteralBeforeLoginIsRefusedWithoutContinuation() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.imap()
        try await c.send("x LOGIN {4294967296}\r\n")
        #expect(try await c.readLine().hasPrefix("x BAD [TOOBIG]"))
        let d = try await s.imap()
        try await d.send("y LOGIN {100000+}\r\n")
        let bye = try await d.readLine()
        #expect(bye.hasPrefix("* BYE [LIMIT]"))
    }

    @Test func oversizedAppendGetsTOOBIGBeforeAnyContinuation() async throws {
        let s = try await TestServer.start { $0.limits.imapAppendLimit = 4_096 }
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.login()
        try await c.send("a APPEND INBOX {5000}\r\n")
        #expect(try await c.readLine() == "a NO [TOOBIG] Literal of 5000 bytes exceeds the limit of 4096 bytes")
        #expect(try await c.command("NOOP").last == "t2 OK NOOP completed")
    }

    @Test func tenBadCommandsBeforeLoginEndWithBYE() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.imap()
        for i in 1...10 { #expect(try await c.command("BOGUS\(i)").last?.contains("BAD") == true) }
        try await c.send("z BOGUS\r\n")
        #expect(try await c.readLine() == "* BYE Too many invalid commands")
    }

    @Test func commandsBeforeLoginAreBounded() async throws {
        let s = try await TestServer.start { $0.limits.imapMaxCommandsBeforeLogin = 5 }
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.imap()
        for _ in 1...5 { _ = try await c.command("NOOP") }
        try await c.send("z NOOP\r\n")
        #expect(try await c.readLine() == "* BYE [LIMIT] Too many commands before login")
        #expect(await c.waitForEnd(timeout: 2) == .closed)
    }

    @Test func unauthenticatedIdleConnectionIsClosed() async throws {
        let s = try await TestServer.start { $0.limits.imapUnauthenticatedIdleTimeout = 1 }
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.imap()
        try await c.send("a NOOP") // a partial line is not activity (slowloris)
        #expect(try await c.readLine(timeout: 3) == "* BYE Autologout; idle for too long")
    }

    @Test func perUserConnectionLimitRefusesLogin() async throws {
        let s = try await TestServer.start { $0.limits.imapMaxConnectionsPerUser = 2 }
        defer { Task { await s.stopAndRemove() } }
        let a = try await s.login()
        let b = try await s.login()
        let c = try await s.imap()
        #expect(try await c.command("LOGIN alice secret").last?.hasPrefix("t1 NO [LIMIT]") == true)
        _ = (a, b)
    }
}

/// Connection-level bounds: totals, unauthenticated per IP and in total (oldest evicted), LMTP's own pending rule.
@Suite struct ConnectionBoundTests {
    @Test func totalConnectionLimitRefusesWithBYE() async throws {
        let s = try await TestServer.start { $0.limits.imapMaxConnections = 2 }
        defer { Task { await s.stopAndRemove() } }
        let a = try await s.imap()
        let b = try await s.imap()
        let c = try await LineClient.connect(port: s.imapPort)
        #expect(try await c.readLine() == "* BYE [LIMIT] Too many connections")
        _ = (a, b)
    }

    @Test func unauthenticatedConnectionsPerIPAreBounded() async throws {
        let s = try await TestServer.start { $0.limits.imapMaxUnauthenticatedConnectionsPerIP = 2 }
        defer { Task { await s.stopAndRemove() } }
        let a = try await s.imap()
        let b = try await s.imap()
        let c = try await LineClient.connect(port: s.imapPort)
        #expect(try await c.readLine() == "* BYE [LIMIT] Too many connections from your address")
        // Logging in frees the slot.
        _ = try await a.command("LOGIN alice secret")
        let d = try await s.imap()
        #expect(try await d.command("NOOP").last == "t1 OK NOOP completed")
        _ = b
    }

    @Test func atTheUnauthenticatedCapTheOldestIsDropped() async throws {
        let s = try await TestServer.start { $0.limits.imapMaxUnauthenticatedConnections = 2 }
        defer { Task { await s.stopAndRemove() } }
        let oldest = try await s.imap()
        let middle = try await s.imap()
        let newcomer = try await s.imap()
        #expect(try await oldest.readLine().hasPrefix("* BYE [UNAVAILABLE] Too many connections waiting to log in"))
        #expect(await oldest.waitForEnd(timeout: 2) == .closed)
        #expect(s.server.reporter.count(.unauthenticatedConnectionEvicted) == 1)
        #expect(try await newcomer.command("NOOP").last == "t1 OK NOOP completed")
        #expect(try await middle.command("NOOP").last == "t1 OK NOOP completed")
    }

    /// LMTP's own pending rule: a client that pipelines past the limit and never reads its replies is reset once they
    /// back up for `lmtp.output_stall_timeout_ms`; others are served meanwhile.
    @Test func lmtpPipelineFloodThatNeverReadsIsReset() async throws {
        let s = try await TestServer.start {
            $0.limits.lmtpMaxPendingCommands = 10
            $0.limits.lmtpMaxOutputBuffer = 4_096
            $0.limits.lmtpOutputStallTimeoutMs = 300
        }
        defer { Task { await s.stopAndRemove() } }
        let c = try await LineClient.connect(port: s.lmtpPort, receiveBuffer: 4_096)
        _ = try await c.readLine()
        let started = Date()
        var ended: LineClient.ReadError?
        while ended == nil, Date().timeIntervalSince(started) < 5 {
            do { try await c.send(String(repeating: "NOOP\r\n", count: 1_000)) } catch let e as LineClient.ReadError { ended = e }
        }
        if ended == nil { ended = await c.waitForEnd(timeout: 2) }
        #expect(ended == .reset)
        #expect(s.server.reporter.count(.lmtpPendingCommandsReset) == 1)
        let d = try await LineClient.connect(port: s.lmtpPort)
        #expect(try await d.readLine().hasPrefix("220 "))
    }
}

/// A client that stops reading stops its own session; it loses nothing and others are unaffected.
@Suite struct SlowReaderTests {
    /// A logged-in client with INBOX selected and holding one ~700 KB message.
    static func loggedInWithBigMessage(_ s: TestServer) async throws -> (LineClient, String) {
        let c = try await s.login()
        var body = "Subject: big\r\n\r\n"
        for i in 0..<20_000 { body += "line \(i) of a large message body.\r\n" }
        try await c.send("a APPEND INBOX {\(body.utf8.count)+}\r\n\(body)\r\n")
        _ = try await c.readUntilTagged("a", timeout: 30)
        _ = try await c.command("SELECT INBOX")
        return (c, body)
    }

    @Test func aClientThatDoesNotReadIsPausedNotServedWithoutBound() async throws {
        let s = try await TestServer.start { $0.limits.imapMaxOutputBuffer = 65_536 }
        defer { Task { await s.stopAndRemove() } }
        let (c, body) = try await Self.loggedInWithBigMessage(s)
        try await c.send((1...40).map { "f\($0) FETCH 1 BODY.PEEK[]\r\n" }.joined())
        try await Task.sleep(for: .milliseconds(500))
        let other = try await s.login()
        #expect(try await other.command("NOOP").last == "t2 OK NOOP completed")
        let all = try await c.readUntilTagged("f40", timeout: 30)
        #expect(all.filter { $0.hasPrefix("* 1 FETCH (BODY[] {\(body.utf8.count)}") }.count == 40)
    }

    @Test func aFlooderThatNeverReadsIsResetByThePendingRule() async throws {
        let s = try await TestServer.start { $0.limits.imapMaxOutputBuffer = 65_536 }
        defer { Task { await s.stopAndRemove() } }
        let (c, _) = try await Self.loggedInWithBigMessage(s)
        for batch in 0..<10 {
            try? await c.send((1...50).map { "f\(batch)x\($0) FETCH 1 BODY.PEEK[]\r\n" }.joined())
            try await Task.sleep(for: .milliseconds(50))
        }
        // Without reading a byte: the server must have given up on this connection by the pending rule.
        var resets = 0
        for _ in 0..<50 where resets == 0 {
            resets = s.server.reporter.count(.pendingCommandsReset)
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(resets == 1)
    }
}
