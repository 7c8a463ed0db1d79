import ArgumentParser
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `hostile`: each attack class of issue 8 at the public advisories' sizes, one case after another, while one legit
/// client keeps reading (a logged-in connection doing FETCH/NOOP round trips) and logging in (a new connection and
/// LOGIN every 500 ms). Per case: the answer the attacker got, the legit client's p50/p99 and failures, the server's
/// peak memory growth and whether it returned to its baseline, and its CPU seconds. At the end, every message the
/// server acknowledged (APPEND OK, LMTP 250) is looked for in the mailbox.
struct Hostile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Hostile input (issue 8): each attack class at the advisories' sizes while a legit client logs in and reads.")

    @OptionGroup var target: TargetOptions

    @Option(help: "Cases to run, comma-separated (default all: \(HostileCase.allCases.map(\.rawValue).joined(separator: ","))).")
    var cases: String?

    @Option(help: "Seconds per case, at least (default 8; 2 with --smoke).")
    var duration: Double?

    @Option(help: "Seconds after a case for the server's memory to return to its baseline (default 5; 2 with --smoke).")
    var settle: Double?

    @Option(help: "Seconds an attack's APPEND, FETCH or delivery may take to be answered (default 120; 20 with --smoke).")
    var attackTimeout: Double?

    @Option(help: "partial-line: connections (default 1000; 100 with --smoke); capped by the fd limit (ulimit -n).")
    var partialConnections: Int?

    @Option(help: "partial-line: '(' written after 'a NOOP ' without the final LF.")
    var parens: Int = 4000

    @Option(help: "many-literals: {1+} literals in one command before login (default 10000; 1000 with --smoke).")
    var literals: Int?

    @Option(help: "many-literals: messages in one MULTIAPPEND after login (default 10000; 200 with --smoke).")
    var appendLiterals: Int?

    @Option(help: "address-headers: To: lines in the appended message (default 100000; 10000 with --smoke).")
    var addressLines: Int?

    @Option(help: "huge-header: bytes of the message's one big header field (default 10000000; 1000000 with --smoke).")
    var headerBytes: Int?

    @Option(help: "rfc2231-bomb: RFC 2231 parameter continuations in the delivered message (default 10000; 1000 with --smoke).")
    var parameters: Int?

    @Option(help: "bad-sasl: attacking connections (default 50; 5 with --smoke).")
    var saslConnections: Int?

    @Option(help: "unauth-hold: connections held open without logging in (default 2000; 200 with --smoke); capped by the fd limit.")
    var unauthConnections: Int?

    @Option(help: "Attackers connect from this many loopback addresses 127.0.0.2, 127.0.0.3, … (default 20 when the server is on 127.0.0.1, so that the total caps are tested and not only the per-IP ones; 0: the kernel's choice). The legit client connects from 127.0.0.1.")
    var attackAddresses: Int?

    mutating func run() async throws {
        let smoke = target.smoke
        let fdLimit = raiseFileLimit()
        let selected: [HostileCase]
        if let cases {
            selected = try cases.split(separator: ",").map {
                guard let c = HostileCase(rawValue: String($0)) else { throw ValidationError("unknown case \($0)") }
                return c
            }
        } else {
            selected = HostileCase.allCases
        }
        let imap = try target.imapEndpoint()
        let addresses = attackAddresses ?? (imap.host == "127.0.0.1" ? 20 : 0)
        let sources = try (0..<addresses).map { try SocketAddress(ipAddress: "127.0.0.\(2 + $0)", port: 0) }
        let sizes = HostileSizes(
            duration: duration ?? (smoke ? 2 : 8),
            settle: settle ?? (smoke ? 2 : 5),
            attackTimeout: attackTimeout ?? (smoke ? 20 : 120),
            partialConnections: cap(partialConnections ?? (smoke ? 100 : 1000), fdLimit, "partial-line"),
            parens: parens,
            literals: literals ?? (smoke ? 1000 : 10000),
            appendLiterals: appendLiterals ?? (smoke ? 200 : 10000),
            addressLines: addressLines ?? (smoke ? 10000 : 100_000),
            headerBytes: headerBytes ?? (smoke ? 1_000_000 : 10_000_000),
            parameters: parameters ?? (smoke ? 1000 : 10000),
            saslConnections: saslConnections ?? (smoke ? 5 : 50),
            unauthConnections: cap(unauthConnections ?? (smoke ? 200 : 2000), fdLimit, "unauth-hold"))
        let memory = target.memory
        if !memory.isKnown { Output.note("hostile: no --server-pid/--server-process: memory and CPU not measured") }
        Output.note("hostile: attackers connect from \(sources.isEmpty ? "the kernel's choice" : "127.0.0.2–127.0.0.\(1 + sources.count)"); legit reader \(target.user(1)), legit logins \(target.user(2)), attacker's mailbox \(target.user(3)); fd limit \(fdLimit)")
        try await ensureFilled(users: 1, messages: 5, target: target)

        let run = HostileRun(
            target: target, imap: imap, sources: sources, sizes: sizes, memory: memory,
            runID: "\(getpid()).\(wallClockMilliseconds())")
        guard let uidNext = await run.attackerUIDNext() else { throw BenchError("hostile: cannot read \(target.user(3))'s UIDNEXT") }

        var acknowledged = 0
        var uids: [UInt32] = []
        _ = await run.play(nil)  // the legit client and the server's CPU without an attack
        for c in selected {
            let outcome = await run.play(c)
            acknowledged += outcome.acknowledged
            uids += outcome.uids
        }

        // Every acknowledged message must still be there.
        guard let found = await run.attackerUIDs(from: uidNext) else {
            throw BenchError("hostile: cannot log in after the attacks to count the acknowledged messages")
        }
        let missingUIDs = uids.filter { !found.contains($0) }.count
        let lost = max(0, acknowledged - found.count, missingUIDs)
        Output.note("hostile: \(acknowledged) messages acknowledged (APPEND OK / LMTP 250), \(found.count) found in \(target.user(3))'s INBOX from UID \(uidNext), \(missingUIDs) acknowledged UIDs missing: \(lost) lost")
        Output.metric("hostile.acknowledged_messages", Double(acknowledged), "count")
        Output.metric("hostile.lost_messages", Double(lost), "count")
        if lost > 0 { throw BenchError("hostile: \(lost) acknowledged messages lost") }
    }

    private func cap(_ wanted: Int, _ fdLimit: Int, _ name: String) -> Int {
        let allowed = max(1, fdLimit - 200)
        if wanted > allowed { Output.note("hostile \(name): fd limit \(fdLimit) allows \(allowed) of \(wanted) connections (raise ulimit -n)") }
        return min(wanted, allowed)
    }
}

enum HostileCase: String, CaseIterable, Sendable {
    case partialLine = "partial-line"
    case manyLiterals = "many-literals"
    case addressHeaders = "address-headers"
    case hugeHeader = "huge-header"
    case rfc2231Bomb = "rfc2231-bomb"
    case badSASL = "bad-sasl"
    case unauthHold = "unauth-hold"

    /// The public case it replays.
    var advisory: String {
        switch self {
        case .partialLine: "Dovecot CVE-2026-27857/-42006"
        case .manyLiterals: "Cyrus CVE-2024-34055, James CVE-2024-37358"
        case .addressHeaders: "Dovecot CVE-2024-23184"
        case .hugeHeader: "Dovecot CVE-2024-23185"
        case .rfc2231Bomb: "Dovecot CVE-2026-27859"
        case .badSASL: "Dovecot CVE-2025-59028"
        case .unauthHold: "Dovecot 2.4.6 login_unauthenticated_client_limit"
        }
    }
}

struct HostileSizes: Sendable {
    var duration: Double
    var settle: Double
    var attackTimeout: Double
    var partialConnections: Int
    var parens: Int
    var literals: Int
    var appendLiterals: Int
    var addressLines: Int
    var headerBytes: Int
    var parameters: Int
    var saslConnections: Int
    var unauthConnections: Int
}

/// What the attacker got in one case.
struct AttackOutcome: Sendable {
    var connections = 0
    /// Answer class → count: OK/NO/BAD/BYE by the first answer, else reset/closed/no answer.
    var answers: [String: Int] = [:]
    /// How the attacker's connections ended: closed or reset by the server, refused at connect, or open at the end.
    var ends: [String: Int] = [:]
    /// First answer line → count.
    var firstLines: [String: Int] = [:]
    /// Named timings: e.g. append → time from the command to its answer.
    var timings: [(name: String, duration: Duration)] = []
    var notes: [String] = []
    var acknowledged = 0
    var uids: [UInt32] = []

    mutating func add(_ label: String, answer: String?, end: RawHandler.End?) {
        let cls = classify(answer, end: end ?? .open)
        answers[label.isEmpty ? cls : "\(label) \(cls)", default: 0] += 1
        if let answer {
            // The tag replaced by TAG, so that the same answer to different tags is counted once.
            var words = answer.prefix(160).split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            if let first = words.first, first != "*", first != "+", Int(first.prefix(3)) == nil { words[0] = "TAG" }
            firstLines[(label.isEmpty ? "" : "\(label): ") + words.joined(separator: " "), default: 0] += 1
        }
        if let end {
            ends[end == .open ? "open at the end" : end == .reset ? "reset" : "closed by the server", default: 0] += 1
        }
    }
}

/// OK / NO / BAD / BYE from an answer line, else how the connection ended.
func classify(_ line: String?, end: RawHandler.End) -> String {
    if let line {
        let words = line.split(separator: " ", maxSplits: 2)
        if words.count >= 2 {
            if words[0] == "*" { return words[1].uppercased() == "BYE" ? "BYE" : "untagged" }
            switch words[1].uppercased() {
            case "OK": return "OK"
            case "NO": return "NO"
            case "BAD": return "BAD"
            default: break
            }
        }
        if line.hasPrefix("+") { return "continuation" }
        if let code = Int(line.prefix(3)) { return "\(code)" }
        return "other"
    }
    switch end {
    case .reset: return "reset"
    case .closed: return "closed"
    case .open: return "no answer"
    }
}

/// The legit client's figures during one case.
struct LegitFigures: Sendable {
    var reads = LatencyStats()
    var logins = LatencyStats()
    var failures: [String] = []
}

/// One hostile run against one server.
struct HostileRun: Sendable {
    var target: TargetOptions
    var imap: Endpoint
    var sources: [SocketAddress]
    var sizes: HostileSizes
    var memory: ServerMemory
    var runID: String

    func source(_ i: Int) -> SocketAddress? { sources.isEmpty ? nil : sources[i % sources.count] }

    /// Plays one case: baseline, attack and legit client together (at least `duration`), then the settling time.
    func play(_ c: HostileCase?) async -> AttackOutcome {
        let name = c?.rawValue ?? "baseline"
        let reader = await LegitReader.open(target: target, endpoint: imap)
        let baseRSS = memory.residentBytes()
        let baseCPU = memory.cpuSeconds()
        let start = ContinuousClock.now
        let deadline = start + .milliseconds(Int64(sizes.duration * 1000))
        let memory = self.memory
        let sampler = Task {
            var peak = memory.residentBytes()
            while !Task.isCancelled {
                if let rss = memory.residentBytes() { peak = max(peak ?? 0, rss) }
                try? await Task.sleep(for: .milliseconds(200))
            }
            return peak
        }
        let (target, imap) = (self.target, self.imap)
        let legit = Task { await legitClient(reader: reader, target: target, endpoint: imap) }
        var outcome = c == nil ? AttackOutcome() : await attack(c!, deadline: deadline)
        if ContinuousClock.now < deadline { try? await Task.sleep(until: deadline) }
        legit.cancel()
        let figures = await legit.value
        sampler.cancel()
        let peak = await sampler.value
        let elapsed = (ContinuousClock.now - start).seconds
        let cpu = baseCPU.flatMap { b in memory.cpuSeconds().map { $0 - b } }
        await reader.close()

        // Settle: does the memory come back to the baseline (within 8 MiB)?
        var after = memory.residentBytes()
        let settleStart = ContinuousClock.now
        let settleEnd = settleStart + .milliseconds(Int64(sizes.settle * 1000))
        let slack = 8 * 1_048_576
        while let rss = after, let base = baseRSS, rss > base + slack, ContinuousClock.now < settleEnd {
            try? await Task.sleep(for: .milliseconds(250))
            after = memory.residentBytes()
        }
        let settled = (ContinuousClock.now - settleStart).seconds

        // Report.
        let summary = outcome.answers.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let ends = outcome.ends.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        if c == nil {
            Output.note("hostile baseline, \(Output.format(elapsed)) s: no attack")
        } else {
            Output.note("hostile \(name) (\(c?.advisory ?? "")), \(Output.format(elapsed)) s: attacker \(outcome.connections) connection(s): answers: \(summary.isEmpty ? "none" : summary); connections: \(ends.isEmpty ? "—" : ends)")
        }
        for (line, count) in outcome.firstLines.sorted(by: { $0.value > $1.value }).prefix(3) {
            Output.note("hostile \(name): attacker got: \(line)\(count > 1 ? " (×\(count))" : "")")
        }
        for note in outcome.notes { Output.note("hostile \(name): \(note)") }
        for (label, duration) in outcome.timings {
            Output.metric("hostile.\(name).\(label)_ms", duration.milliseconds, "ms")
        }
        if c != nil { Output.metric("hostile.\(name).attacker_connections", Double(outcome.connections), "count") }
        let r = figures.reads, l = figures.logins
        Output.note(
            "hostile \(name): legit reads p50 \(Output.format(r.percentileMs(50))) ms p99 \(Output.format(r.percentileMs(99))) ms max \(Output.format(r.percentileMs(100))) ms (\(r.count) round trips, \(r.errors) failed); "
                + "greeting+LOGIN p50 \(Output.format(l.percentileMs(50))) ms p99 \(Output.format(l.percentileMs(99))) ms (\(l.count) logins, \(l.errors) failed)")
        for failure in figures.failures.prefix(3) { Output.note("hostile \(name): legit client: \(failure)") }
        if r.count > 0 {
            Output.metric("hostile.\(name).legit_read_p50_ms", r.percentileMs(50), "ms")
            Output.metric("hostile.\(name).legit_read_p99_ms", r.percentileMs(99), "ms")
        }
        if l.count > 0 {
            Output.metric("hostile.\(name).legit_login_p50_ms", l.percentileMs(50), "ms")
            Output.metric("hostile.\(name).legit_login_p99_ms", l.percentileMs(99), "ms")
        }
        // The target figure: the worse p99 of the two; a case where the legit client got nothing done has no p99.
        if r.count > 0 || l.count > 0 {
            Output.metric("hostile.\(name).legit_p99_ms", max(r.count > 0 ? r.percentileMs(99) : 0, l.count > 0 ? l.percentileMs(99) : 0), "ms")
        }
        Output.metric("hostile.\(name).legit_failures", Double(r.errors + l.errors), "count")
        if let base = baseRSS, let peak {
            let growth = Double(max(0, peak - base)) / 1_048_576
            let residual = Double(max(0, (after ?? peak) - base)) / 1_048_576
            let returned = (after ?? peak) <= base + slack
            Output.note(
                "hostile \(name): server memory \(Output.format(Double(base) / 1_048_576)) MiB → peak \(Output.format(Double(peak) / 1_048_576)) MiB (+\(Output.format(growth)) MiB), "
                    + "\(Output.format(settled)) s after the case: +\(Output.format(residual)) MiB (\(returned ? "back at the baseline" : "NOT back at the baseline"))")
            Output.metric("hostile.\(name).mem_growth_mb", growth, "MiB")
            Output.metric("hostile.\(name).mem_residual_mb", residual, "MiB")
        }
        if let cpu {
            Output.note("hostile \(name): server CPU \(Output.format(cpu)) s during the case")
            Output.metric("hostile.\(name).cpu_s", cpu, "s")
        }
        outcome.notes = []
        return outcome
    }

    private func attack(_ c: HostileCase, deadline: ContinuousClock.Instant) async -> AttackOutcome {
        switch c {
        case .partialLine:
            var payload = ByteBuffer(string: "a NOOP ")
            payload.writeRepeatingByte(UInt8(ascii: "("), count: sizes.parens)
            return await holdMany(sizes.partialConnections, payload: payload, deadline: deadline)
        case .unauthHold:
            return await holdMany(sizes.unauthConnections, payload: nil, deadline: deadline)
        case .manyLiterals: return await manyLiterals(deadline: deadline)
        case .addressHeaders:
            let message = HostileMessages.addressHeaders(sizes.addressLines, id: "\(runID).address-headers", to: recipient)
            return await appendThenFetch(message, fetch: "ENVELOPE", deadline: deadline)
        case .hugeHeader:
            let message = HostileMessages.hugeHeader(sizes.headerBytes, id: "\(runID).huge-header", to: recipient)
            return await appendThenFetch(message, fetch: "BODYSTRUCTURE", deadline: deadline)
        case .rfc2231Bomb: return await rfc2231Bomb(deadline: deadline)
        case .badSASL: return await badSASL(deadline: deadline)
        }
    }

    var recipient: String { "\(target.user(3))@\(target.domain)" }
    var attackTimeout: Duration { .milliseconds(Int64(sizes.attackTimeout * 1000)) }

    // MARK: connections held open (partial-line, unauth-hold)

    /// Opens `count` connections (64 connects in flight, until `deadline`), writes `payload` on each after the greeting
    /// and holds them until `deadline` (at least 1 s after the last one opened); then reads how each was answered.
    private func holdMany(_ count: Int, payload: ByteBuffer?, deadline: ContinuousClock.Instant) async -> AttackOutcome {
        let (imap, sourceList) = (self.imap, self.sources)
        let opened: ([RawConn], Int, Int) = await withTaskGroup(of: (RawConn?, Bool).self) { group in
            var started = 0
            func start() {
                let i = started
                started += 1
                group.addTask {
                    let source = sourceList.isEmpty ? nil : sourceList[i % sourceList.count]
                    guard let conn = try? await RawConn.connect(to: imap, from: source, group: benchGroup) else { return (nil, false) }
                    let greeted = await conn.greeting(timeout: .seconds(5)) != nil
                    if let payload { conn.send(payload) }
                    return (conn, greeted)
                }
            }
            for _ in 0..<min(64, count) { start() }
            var conns: [RawConn] = []
            var refused = 0, ungreeted = 0
            while let (conn, greeted) = await group.next() {
                if let conn { conns.append(conn) } else { refused += 1 }
                if conn != nil, !greeted { ungreeted += 1 }
                if started < count, ContinuousClock.now < deadline { start() }
            }
            return (conns, refused, ungreeted)
        }
        let (conns, refused, ungreeted) = opened
        let holdUntil = max(deadline, ContinuousClock.now + .seconds(1))
        try? await Task.sleep(until: holdUntil)
        var outcome = AttackOutcome()
        outcome.connections = conns.count + refused
        for conn in conns {
            let s = await conn.state()
            outcome.add("", answer: s.firstAnswer ?? (s.greeting?.hasPrefix("* BYE") == true ? s.greeting : nil), end: s.end)
        }
        if refused > 0 {
            outcome.answers["refused at connect", default: 0] += refused
            outcome.ends["refused at connect", default: 0] += refused
        }
        if ungreeted > 0 { outcome.notes.append("\(ungreeted) connections got no greeting within 5 s") }
        await withTaskGroup(of: Void.self) { group in
            for conn in conns { group.addTask { await conn.close() } }
        }
        return outcome
    }

    // MARK: many literals, before and after login

    private func manyLiterals(deadline: ContinuousClock.Instant) async -> AttackOutcome {
        var outcome = AttackOutcome()
        // Before login: one LOGIN command with `literals` one-byte literals.
        if let conn = try? await RawConn.connect(to: imap, from: source(0), group: benchGroup) {
            outcome.connections += 1
            _ = await conn.greeting(timeout: .seconds(5))
            let plus = await conn.literalPlus()
            let one = ByteBuffer(string: "x")
            let answer = await conn.commandWithLiterals(
                tag: "m1", head: "LOGIN", literals: Array(repeating: one, count: sizes.literals), literalPlus: plus,
                timeout: max(.seconds(5), deadline - .now))
            if let answer { outcome.timings.append(("prelogin_answer", answer.latency)) }
            outcome.add("before login", answer: answer?.line, end: await conn.state().end)
            outcome.notes.append("before login: one LOGIN with \(sizes.literals) {1\(plus ? "+" : "")} literals")
            await conn.close()
        } else {
            outcome.answers["before login: refused at connect", default: 0] += 1
        }
        // After login: one MULTIAPPEND of `appendLiterals` small messages.
        if let conn = await loggedIn() {
            outcome.connections += 1
            let plus = await conn.literalPlus()
            let messages = (0..<sizes.appendLiterals).map { HostileMessages.small(id: "\(runID).many-literals.\($0)", to: recipient) }
            let answer = await conn.commandWithLiterals(tag: "m2", head: "APPEND INBOX", literals: messages, literalPlus: plus, timeout: attackTimeout)
            if let answer { outcome.timings.append(("multiappend", answer.latency)) }
            outcome.add("MULTIAPPEND", answer: answer?.line, end: await conn.state().end)
            outcome.notes.append("after login: one MULTIAPPEND of \(sizes.appendLiterals) messages (\(messages.reduce(0) { $0 + $1.readableBytes } / 1024) KiB)")
            if let line = answer?.line, classify(line, end: .open) == "OK" {
                outcome.acknowledged += sizes.appendLiterals
                outcome.uids += appendUIDs(line)
            }
            await conn.close()
        } else {
            outcome.notes.append("after login: the attacker could not log in")
        }
        return outcome
    }

    // MARK: APPEND of a hostile message, then FETCH of it (address-headers, huge-header)

    private func appendThenFetch(_ message: ByteBuffer, fetch: String, deadline: ContinuousClock.Instant) async -> AttackOutcome {
        var outcome = AttackOutcome()
        guard let conn = await loggedIn(select: true) else {
            outcome.notes.append("the attacker could not log in")
            return outcome
        }
        outcome.connections = 1
        outcome.notes.append("APPEND of a \(message.readableBytes / 1024) KiB message, then FETCH \(fetch)")
        let plus = await conn.literalPlus()
        let append = await conn.commandWithLiterals(tag: "h1", head: "APPEND INBOX", literals: [message], literalPlus: plus, timeout: attackTimeout)
        if let append { outcome.timings.append(("append", append.latency)) }
        outcome.add("APPEND", answer: append?.line, end: append == nil ? await conn.state().end : nil)
        if let line = append?.line, classify(line, end: .open) == "OK" {
            outcome.acknowledged += 1
            let uids = appendUIDs(line)
            outcome.uids += uids
            let command = uids.first.map { "h2 UID FETCH \($0) (\(fetch))" } ?? "h2 FETCH * (\(fetch))"
            let before = await conn.state().bytesIn
            let answer = await conn.request(command, timeout: attackTimeout, match: answers("h2"))
            if let answer { outcome.timings.append(("fetch", answer.latency)) }
            let state = await conn.state()
            outcome.add("FETCH", answer: answer?.line, end: state.end)
            outcome.notes.append("FETCH \(fetch): \(Output.format(Double(state.bytesIn - before) / 1024)) KiB of answer")
        } else {
            outcome.ends[classify(nil, end: await conn.state().end) == "no answer" ? "open at the end" : "closed by the server", default: 0] += 1
        }
        await conn.close()
        return outcome
    }

    // MARK: RFC 2231 parameter bomb over LMTP, then FETCH BODYSTRUCTURE

    private func rfc2231Bomb(deadline: ContinuousClock.Instant) async -> AttackOutcome {
        var outcome = AttackOutcome()
        let message = HostileMessages.rfc2231Bomb(sizes.parameters, id: "\(runID).rfc2231-bomb", to: recipient)
        outcome.notes.append("LMTP delivery of a \(message.readableBytes / 1024) KiB message with \(sizes.parameters) RFC 2231 continuations in each of two header fields, then FETCH BODYSTRUCTURE")
        guard let lmtp = try? target.lmtpEndpoint(), let client = try? await LMTPClient.connect(to: lmtp) else {
            outcome.notes.append("LMTP not reachable: case skipped (give --lmtp)")
            return outcome
        }
        outcome.connections = 1
        defer { client.close() }
        let channel = client.channel
        let timeout = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(sizes.attackTimeout * 1000))) { channel.close(promise: nil) }
        defer { timeout.cancel() }
        do {
            try await client.expect(client.greeting, 220)
            try await client.expect(client.send(["LHLO bench.test"]).first!, 250)
            let replies = client.send(["MAIL FROM:<attacker@example.org>", "RCPT TO:<\(recipient)>", "DATA"])
            for reply in replies.dropLast() { try await client.expect(reply, 250) }
            try await client.expect(replies.last!, 354)
            let start = ContinuousClock.now
            let final = try await client.send([], payload: LMTPClient.dotStuffed(message), extraReplies: 1)[0].get()
            outcome.timings.append(("deliver", ContinuousClock.now - start))
            outcome.add("LMTP DATA", answer: final.text, end: nil)
            if final.code == 250 { outcome.acknowledged += 1 }
            _ = client.send(["QUIT"])
        } catch {
            outcome.add("LMTP", answer: "\(error)", end: .closed)
            return outcome
        }
        guard let conn = await loggedIn(select: true) else {
            outcome.notes.append("the FETCH connection could not log in")
            return outcome
        }
        let before = await conn.state().bytesIn
        let answer = await conn.request("b1 FETCH * (BODYSTRUCTURE)", timeout: attackTimeout, match: answers("b1"))
        if let answer { outcome.timings.append(("fetch", answer.latency)) }
        let state = await conn.state()
        outcome.add("FETCH", answer: answer?.line, end: state.end)
        outcome.notes.append("FETCH BODYSTRUCTURE: \(Output.format(Double(state.bytesIn - before) / 1024)) KiB of answer")
        await conn.close()
        return outcome
    }

    // MARK: invalid base64 in AUTHENTICATE PLAIN

    private func badSASL(deadline: ContinuousClock.Instant) async -> AttackOutcome {
        let (imap, sourceList, count) = (self.imap, self.sources, sizes.saslConnections)
        return await withTaskGroup(of: AttackOutcome.self) { group in
            for i in 0..<count {
                group.addTask {
                    var outcome = AttackOutcome()
                    let source = sourceList.isEmpty ? nil : sourceList[i % sourceList.count]
                    var connects = 0
                    while ContinuousClock.now < deadline, connects < 1000 {
                        connects += 1
                        guard let conn = try? await RawConn.connect(to: imap, from: source, group: benchGroup) else {
                            outcome.answers["refused at connect", default: 0] += 1
                            try? await Task.sleep(for: .milliseconds(100))
                            continue
                        }
                        outcome.connections += 1
                        _ = await conn.greeting(timeout: .seconds(5))
                        var n = 0
                        while ContinuousClock.now < deadline, n < 1000 {
                            n += 1
                            let tag = "s\(n)"
                            let left = max(.milliseconds(100), deadline - .now)
                            var answer = await conn.request("\(tag) AUTHENTICATE PLAIN", timeout: left) {
                                $0.hasPrefix("+") || $0.hasPrefix("\(tag) ") || $0.hasPrefix("* BYE")
                            }
                            if let line = answer?.line, line.hasPrefix("+") {
                                answer = await conn.request(nil, raw: "!!!not*base64===\r\n", timeout: left, match: answers(tag))
                            }
                            let end = await conn.state().end
                            let cls = classify(answer?.line, end: end)
                            outcome.add("", answer: answer?.line, end: nil)
                            if answer == nil || cls == "BYE" || end != .open { break }
                        }
                        let end = await conn.state().end
                        outcome.ends[end == .open ? "open at the end" : end == .reset ? "reset" : "closed by the server", default: 0] += 1
                        await conn.close()
                    }
                    return outcome
                }
            }
            var total = AttackOutcome()
            for await o in group {
                total.connections += o.connections
                total.answers.merge(o.answers, uniquingKeysWith: +)
                total.ends.merge(o.ends, uniquingKeysWith: +)
                total.firstLines.merge(o.firstLines, uniquingKeysWith: +)
            }
            let attempts = total.answers.filter { $0.key != "refused at connect" }.values.reduce(0, +)
            total.notes.append("\(attempts) AUTHENTICATE PLAIN attempts with invalid base64 on \(total.connections) connections (\(count) at a time)")
            return total
        }
    }

    // MARK: helpers

    /// A connection of the attacker logged in as user 3 (optionally with INBOX selected), from an attacker address.
    private func loggedIn(select: Bool = false) async -> RawConn? {
        guard let conn = try? await RawConn.connect(to: imap, from: source(0), group: benchGroup) else { return nil }
        guard await conn.greeting(timeout: .seconds(5)) != nil,
              let login = await conn.request("l1 LOGIN \(target.user(3).imapQuoted) \(target.password.imapQuoted)", timeout: .seconds(30), match: answers("l1")),
              classify(login.line, end: .open) == "OK"
        else {
            await conn.close()
            return nil
        }
        if select {
            guard let reply = await conn.request("l2 SELECT INBOX", timeout: .seconds(30), match: answers("l2")),
                  classify(reply.line, end: .open) == "OK"
            else {
                await conn.close()
                return nil
            }
        }
        return conn
    }

    /// UIDNEXT of user 3's INBOX before the run.
    func attackerUIDNext() async -> UInt32? {
        guard let conn = await loggedIn() else { return nil }
        defer { Task { await conn.close() } }
        let reply = await conn.request("u1 STATUS INBOX (UIDNEXT)", timeout: .seconds(30), capture: { $0.hasPrefix("* STATUS") }, match: answers("u1"))
        guard let status = reply?.captured.first, let range = status.firstRange(of: "UIDNEXT ") else { return nil }
        return UInt32(status[range.upperBound...].prefix(while: \.isNumber))
    }

    /// The UIDs of user 3's INBOX from `uid` on, after the run (on a connection of the legit client's address).
    func attackerUIDs(from uid: UInt32) async -> Set<UInt32>? {
        guard let conn = try? await RawConn.connect(to: imap, from: nil, group: legitGroup, maxLineBytes: 64 * 1024 * 1024) else { return nil }
        defer { Task { await conn.close() } }
        guard await conn.greeting(timeout: .seconds(10)) != nil,
              let login = await conn.request("c1 LOGIN \(target.user(3).imapQuoted) \(target.password.imapQuoted)", timeout: .seconds(30), match: answers("c1")),
              classify(login.line, end: .open) == "OK",
              let select = await conn.request("c2 SELECT INBOX", timeout: .seconds(60), match: answers("c2")),
              classify(select.line, end: .open) == "OK",
              let search = await conn.request("c3 UID SEARCH UID \(uid):4294967295", timeout: .seconds(120), capture: { $0.hasPrefix("* SEARCH") }, match: answers("c3")),
              classify(search.line, end: .open) == "OK"
        else { return nil }
        var uids = Set<UInt32>()
        for line in search.captured {
            for word in line.split(separator: " ").dropFirst(2) { if let u = UInt32(word) { uids.insert(u) } }
        }
        return uids
    }
}

/// Matches the tagged answer to `tag` or an untagged BYE.
func answers(_ tag: String) -> @Sendable (String) -> Bool {
    let prefix = tag + " "
    return { $0.hasPrefix(prefix) || $0.hasPrefix("* BYE") }
}

/// The UIDs of `[APPENDUID validity uid-set]` in a tagged OK (`1:3,7`).
func appendUIDs(_ line: String) -> [UInt32] {
    guard let range = line.firstRange(of: "[APPENDUID ") else { return [] }
    let words = line[range.upperBound...].split(separator: " ")
    guard words.count >= 2 else { return [] }
    var uids: [UInt32] = []
    for part in words[1].prefix(while: { $0 != "]" }).split(separator: ",") {
        let bounds = part.split(separator: ":").compactMap { UInt32($0) }
        if bounds.count == 2, bounds[0] <= bounds[1], bounds[1] - bounds[0] < 1_000_000 {
            uids += Array(bounds[0]...bounds[1])
        } else if bounds.count == 1 {
            uids.append(bounds[0])
        }
    }
    return uids
}

// MARK: the legit client

/// The legit client's own event loop: the attackers' loops may be busy writing megabytes, and a round trip measured
/// on them would time the load generator, not the server.
private let legitGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

/// The logged-in reader (user 1, INBOX selected); reconnects when its connection fails.
final class LegitReader: Sendable {
    let target: TargetOptions
    let endpoint: Endpoint
    let first: RawConn?

    private init(target: TargetOptions, endpoint: Endpoint, first: RawConn?) {
        self.target = target
        self.endpoint = endpoint
        self.first = first
    }

    static func open(target: TargetOptions, endpoint: Endpoint) async -> LegitReader {
        LegitReader(target: target, endpoint: endpoint, first: try? await connect(target: target, endpoint: endpoint))
    }

    static func connect(target: TargetOptions, endpoint: Endpoint) async throws -> RawConn {
        let conn = try await RawConn.connect(to: endpoint, from: nil, group: legitGroup)
        guard await conn.greeting(timeout: .seconds(10)) != nil,
              let login = await conn.request("r0 LOGIN \(target.user(1).imapQuoted) \(target.password.imapQuoted)", timeout: .seconds(10), match: answers("r0")),
              classify(login.line, end: .open) == "OK",
              let select = await conn.request("r00 SELECT INBOX", timeout: .seconds(10), match: answers("r00")),
              classify(select.line, end: .open) == "OK"
        else {
            await conn.close()
            throw BenchError("legit reader: no greeting, LOGIN or SELECT within 10 s")
        }
        return conn
    }

    func close() async { await first?.close() }
}

/// Until cancelled: the reader's round trips (FETCH 1 (FLAGS), FETCH 1 BODY.PEEK[HEADER], NOOP; one every 5 ms at
/// most, so that the server's CPU figure is mostly the attack's; 10 s allowed each)
/// and a new connection's greeting+LOGIN (user 2) every 500 ms. Bounded by the caller's cancellation and by 100,000
/// round trips.
func legitClient(reader: LegitReader, target: TargetOptions, endpoint: Endpoint) async -> LegitFigures {
    async let logins: LegitFigures = {
        var figures = LegitFigures()
        var n = 0
        while !Task.isCancelled, n < 10000 {
            n += 1
            let start = ContinuousClock.now
            do {
                let conn = try await RawConn.connect(to: endpoint, from: nil, group: legitGroup)
                let greeting = await conn.greeting(timeout: .seconds(10))
                let login = greeting == nil ? nil : await conn.request(
                    "p1 LOGIN \(target.user(2).imapQuoted) \(target.password.imapQuoted)", timeout: .seconds(10), match: answers("p1"))
                let end = await conn.state().end
                if let login, classify(login.line, end: .open) == "OK" {
                    figures.logins.record(ContinuousClock.now - start)
                    conn.send(ByteBuffer(string: "p2 LOGOUT\r\n"))
                } else {
                    figures.logins.errors += 1
                    figures.failures.append("LOGIN: \(greeting == nil ? "no greeting: \(classify(nil, end: end))" : login?.line ?? classify(nil, end: end))")
                }
                await conn.close()
            } catch {
                figures.logins.errors += 1
                figures.failures.append("connect: \(error)")
            }
            try? await Task.sleep(until: start + .milliseconds(500))
        }
        return figures
    }()
    var figures = LegitFigures()
    var conn = reader.first
    var n = 0
    let commands = ["FETCH 1 (FLAGS)", "FETCH 1 BODY.PEEK[HEADER]", "NOOP"]
    while !Task.isCancelled, n < 100_000 {
        if conn == nil {
            do {
                conn = try await LegitReader.connect(target: target, endpoint: endpoint)
            } catch {
                figures.reads.errors += 1
                figures.failures.append("reader reconnect: \(error)")
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
        }
        guard let c = conn else { continue }
        n += 1
        let tag = "r\(n)"
        let started = ContinuousClock.now
        let answer = await c.request("\(tag) \(commands[n % 3])", timeout: .seconds(10), match: answers(tag))
        if let answer, classify(answer.line, end: .open) == "OK" {
            figures.reads.record(answer.latency)
            try? await Task.sleep(until: started + .milliseconds(5))
        } else {
            figures.reads.errors += 1
            let end = await c.state().end
            figures.failures.append("\(commands[n % 3]): \(answer?.line ?? "no answer within 10 s (\(classify(nil, end: end)))")")
            if c !== reader.first { await c.close() }
            conn = nil
        }
    }
    if let c = conn, c !== reader.first { await c.close() }
    let loginFigures = await logins
    figures.logins = loginFigures.logins
    figures.failures += loginFigures.failures
    return figures
}

// MARK: a raw IMAP connection

/// One answer line and the time from the write of the command to its arrival (both taken on the event loop).
struct RawAnswer: Sendable {
    var line: String
    var latency: Duration
    var captured: [String]
}

/// Reads lines (each kept to `maxLineBytes`), hands them to waiters, remembers the greeting, the first line after it
/// and how the connection ended. Never buffers more than one line.
final class RawHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum End: Sendable { case open, closed, reset }

    struct Waiter {
        var id: Int
        var sent: ContinuousClock.Instant
        var match: @Sendable (String) -> Bool
        var capture: (@Sendable (String) -> Bool)?
        var captured: [String] = []
        var promise: EventLoopPromise<RawAnswer?>
    }

    private(set) var greeting: String?
    private(set) var firstAnswer: String?
    private(set) var end: End = .open
    private(set) var bytesIn = 0
    private var current: [UInt8] = []
    private let maxLineBytes: Int
    private var waiters: [Waiter] = []
    private var nextID = 0

    init(maxLineBytes: Int) { self.maxLineBytes = maxLineBytes }

    func addWaiter(sent: ContinuousClock.Instant, match: @escaping @Sendable (String) -> Bool, capture: (@Sendable (String) -> Bool)?,
                   promise: EventLoopPromise<RawAnswer?>) -> Int {
        nextID += 1
        guard end == .open else {
            promise.succeed(nil)
            return nextID
        }
        waiters.append(Waiter(id: nextID, sent: sent, match: match, capture: capture, promise: promise))
        return nextID
    }

    func expire(_ id: Int) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).promise.succeed(nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = Self.unwrapInboundIn(data)
        bytesIn += buffer.readableBytes
        buffer.withUnsafeReadableBytes { bytes in
            var start = 0
            while start < bytes.count {
                guard let lf = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) else {
                    let room = maxLineBytes - current.count
                    if room > 0 { current += bytes[start..<min(bytes.count, start + room)] }
                    return
                }
                let room = maxLineBytes - current.count
                if room > 0 { current += bytes[start..<min(lf, start + room)] }
                if current.last == UInt8(ascii: "\r") { current.removeLast() }
                let line = String(decoding: current, as: UTF8.self)
                current.removeAll(keepingCapacity: true)
                handle(line)
                start = lf + 1
            }
        }
    }

    private func handle(_ line: String) {
        if greeting == nil {
            greeting = line
        } else if firstAnswer == nil {
            firstAnswer = line
        }
        guard !waiters.isEmpty else { return }
        let now = ContinuousClock.now
        var remaining: [Waiter] = []
        var done: [(EventLoopPromise<RawAnswer?>, RawAnswer)] = []
        for var waiter in waiters {
            if let capture = waiter.capture, capture(line) { waiter.captured.append(line) }
            if waiter.match(line) {
                done.append((waiter.promise, RawAnswer(line: line, latency: now - waiter.sent, captured: waiter.captured)))
            } else {
                remaining.append(waiter)
            }
        }
        waiters = remaining
        for (promise, answer) in done { promise.succeed(answer) }
    }

    func noteError(_ error: any Error) {
        if let io = error as? IOError, io.errnoCode == ECONNRESET || io.errnoCode == EPIPE {
            end = .reset
            return
        }
        let text = "\(error)"
        if text.contains("reset") || text.contains("ECONNRESET") || text.contains("Broken pipe") || text.contains("EPIPE") {
            end = .reset
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        noteError(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if end == .open { end = .closed }
        let waiters = self.waiters
        self.waiters = []
        for waiter in waiters { waiter.promise.succeed(nil) }
        context.fireChannelInactive()
    }
}

@available(*, unavailable) extension RawHandler: Sendable {}

/// A connection that writes raw bytes and waits for lines; every wait has a timeout.
final class RawConn: Sendable {
    let channel: any Channel
    private let handler: NIOLoopBound<RawHandler>

    private init(channel: any Channel, handler: NIOLoopBound<RawHandler>) {
        self.channel = channel
        self.handler = handler
    }

    static func connect(to endpoint: Endpoint, from source: SocketAddress?, group: any EventLoopGroup,
                        maxLineBytes: Int = 512) async throws -> RawConn {
        var bootstrap = ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RawHandler(maxLineBytes: maxLineBytes))
                }
            }
        if let source { bootstrap = bootstrap.bind(to: source) }
        let channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        let handler = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: RawHandler.self), eventLoop: channel.eventLoop)
        }.get()
        return RawConn(channel: channel, handler: handler)
    }

    /// Writes the bytes; a failed write (reset, broken pipe) is remembered as the connection's end.
    func send(_ bytes: ByteBuffer) {
        let handler = self.handler
        let channel = self.channel
        channel.eventLoop.execute {
            let promise = channel.eventLoop.makePromise(of: Void.self)
            promise.futureResult.whenFailure { handler.value.noteError($0) }
            channel.writeAndFlush(bytes, promise: promise)
        }
    }

    /// Writes `text` CRLF (or `raw` as is) and waits up to `timeout` for a line that `match`es; nil on timeout or close.
    func request(_ text: String?, raw: String? = nil, timeout: Duration, capture: (@Sendable (String) -> Bool)? = nil,
                 match: @escaping @Sendable (String) -> Bool) async -> RawAnswer? {
        var bytes: ByteBuffer?
        if let text { bytes = ByteBuffer(string: text + "\r\n") }
        if let raw { bytes = ByteBuffer(string: raw) }
        return await request(bytes: bytes, timeout: timeout, capture: capture, match: match)
    }

    func request(bytes: ByteBuffer?, timeout: Duration, capture: (@Sendable (String) -> Bool)? = nil,
                 match: @escaping @Sendable (String) -> Bool) async -> RawAnswer? {
        let handler = self.handler
        let channel = self.channel
        let promise = channel.eventLoop.makePromise(of: RawAnswer?.self)
        channel.eventLoop.execute {
            let id = handler.value.addWaiter(sent: .now, match: match, capture: capture, promise: promise)
            channel.eventLoop.scheduleTask(in: .milliseconds(max(1, Int64(timeout.milliseconds)))) { handler.value.expire(id) }
            if let bytes {
                let written = channel.eventLoop.makePromise(of: Void.self)
                written.futureResult.whenFailure { handler.value.noteError($0) }
                channel.writeAndFlush(bytes, promise: written)
            }
        }
        return (try? await promise.futureResult.get()) ?? nil
    }

    /// The greeting line, waiting up to `timeout` for it.
    func greeting(timeout: Duration) async -> String? {
        let handler = self.handler
        let channel = self.channel
        let promise = channel.eventLoop.makePromise(of: RawAnswer?.self)
        channel.eventLoop.execute {
            if let greeting = handler.value.greeting {
                promise.succeed(RawAnswer(line: greeting, latency: .zero, captured: []))
                return
            }
            let id = handler.value.addWaiter(sent: .now, match: { _ in true }, capture: nil, promise: promise)
            channel.eventLoop.scheduleTask(in: .milliseconds(max(1, Int64(timeout.milliseconds)))) { handler.value.expire(id) }
        }
        return ((try? await promise.futureResult.get()) ?? nil)?.line
    }

    /// Whether the server offers LITERAL+ (from the greeting's CAPABILITY, else a CAPABILITY command).
    func literalPlus() async -> Bool {
        if let g = await state().greeting, g.uppercased().contains("[CAPABILITY ") { return g.uppercased().contains("LITERAL+") }
        let reply = await request("cap CAPABILITY", timeout: .seconds(10), capture: { $0.hasPrefix("* CAPABILITY") }, match: answers("cap"))
        return reply?.captured.contains { $0.uppercased().contains("LITERAL+") } ?? false
    }

    /// `tag head {n+}CRLF lit1 {n+}CRLF lit2 … CRLF` with LITERAL+; with synchronising literals, each literal waits for
    /// the continuation (5 s each). Returns the tagged answer (or BYE) within `timeout`, measured from the first write.
    func commandWithLiterals(tag: String, head: String, literals: [ByteBuffer], literalPlus: Bool, timeout: Duration) async -> RawAnswer? {
        let started = ContinuousClock.now
        if literalPlus {
            var out = ByteBuffer()
            out.reserveCapacity(literals.reduce(64) { $0 + $1.readableBytes + 16 })
            out.writeString("\(tag) \(head)")
            for var literal in literals {
                out.writeString(" {\(literal.readableBytes)+}\r\n")
                out.writeBuffer(&literal)
            }
            out.writeString("\r\n")
            return await request(bytes: out, timeout: timeout, match: answers(tag))
        }
        var segment = ByteBuffer(string: "\(tag) \(head)")
        let endOfCommand = answers(tag)
        for var literal in literals {
            segment.writeString(" {\(literal.readableBytes)}\r\n")
            let step = await request(bytes: segment, timeout: .seconds(5)) { $0.hasPrefix("+") || endOfCommand($0) }
            guard let step, step.line.hasPrefix("+"), ContinuousClock.now - started < timeout else {
                return step.map { RawAnswer(line: $0.line, latency: ContinuousClock.now - started, captured: []) }
            }
            segment = ByteBuffer()
            segment.writeBuffer(&literal)
        }
        segment.writeString("\r\n")
        let answer = await request(bytes: segment, timeout: max(.seconds(1), timeout - (ContinuousClock.now - started)), match: endOfCommand)
        return answer.map { RawAnswer(line: $0.line, latency: ContinuousClock.now - started, captured: []) }
    }

    func state() async -> (greeting: String?, firstAnswer: String?, end: RawHandler.End, bytesIn: Int) {
        let handler = self.handler
        return (try? await channel.eventLoop.submit {
            let h = handler.value
            return (h.greeting, h.firstAnswer, h.end, h.bytesIn)
        }.get()) ?? (nil, nil, .closed, 0)
    }

    func close() async { try? await channel.close() }
}

// MARK: the hostile messages

enum HostileMessages {
    static func head(id: String, subject: String, to: String) -> String {
        "Message-ID: <\(id)@hostile.bench>\r\nX-Hostile-Id: \(id)\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
            + "From: Attacker <attacker@example.org>\r\nSubject: \(subject)\r\n"
    }

    /// A small message (MULTIAPPEND).
    static func small(id: String, to: String) -> ByteBuffer {
        ByteBuffer(string: head(id: id, subject: "hostile \(id)", to: to) + "To: <\(to)>\r\n\r\nhostile input benchmark\r\n")
    }

    /// `lines` To: header fields of one address each (CVE-2024-23184).
    static func addressHeaders(_ lines: Int, id: String, to: String) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(lines * 40 + 512)
        out.writeString(head(id: id, subject: "hostile: \(lines) address headers", to: to))
        for i in 0..<lines { out.writeString("To: r\(i) <r\(i)@example.org>\r\n") }
        out.writeString("MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhostile input benchmark\r\n")
        return out
    }

    /// One header field `X-Huge` of about `bytes` bytes, folded into 80-byte lines (CVE-2024-23185).
    static func hugeHeader(_ bytes: Int, id: String, to: String) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(bytes + 1024)
        out.writeString(head(id: id, subject: "hostile: one \(bytes)-byte header field", to: to))
        out.writeString("To: <\(to)>\r\nX-Huge: start\r\n")
        let line = " " + String(repeating: "a", count: 77) + "\r\n"
        for _ in 0..<(bytes / line.utf8.count) { out.writeString(line) }
        out.writeString("MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhostile input benchmark\r\n")
        return out
    }

    /// A multipart message whose attachment has `n` RFC 2231 continuations in Content-Type (`name*i*`) and in
    /// Content-Disposition (`filename*i*`) (CVE-2026-27859). Lines stay short (LMTP line limits).
    static func rfc2231Bomb(_ n: Int, id: String, to: String) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(n * 50 + 1024)
        out.writeString(head(id: id, subject: "hostile: \(n) RFC 2231 continuations", to: to))
        out.writeString("To: <\(to)>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"hostile-boundary\"\r\n\r\n")
        out.writeString("--hostile-boundary\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nhostile input benchmark\r\n")
        out.writeString("--hostile-boundary\r\nContent-Type: application/octet-stream;\r\n name*0*=utf-8''a%41")
        for i in 1..<max(2, n) { out.writeString(";\r\n name*\(i)*=%42b") }
        out.writeString("\r\nContent-Disposition: attachment;\r\n filename*0*=utf-8''a%41")
        for i in 1..<max(2, n) { out.writeString(";\r\n filename*\(i)*=%42b") }
        out.writeString("\r\nContent-Transfer-Encoding: base64\r\n\r\naG9zdGlsZQ==\r\n--hostile-boundary--\r\n")
        return out
    }
}

/// Wall-clock milliseconds (for unique message ids only).
private func wallClockMilliseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
}
