import ArgumentParser
import NIOCore

/// `mix`: N clients (users u1..uN) run an imaptest-like session mix for S seconds against pre-filled INBOXes.
struct Mix: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "imaptest-like command mix: commands/s and p50/p99 per command.")

    @OptionGroup var target: TargetOptions

    @Option(help: "Concurrent clients; client i is user PREFIXi.")
    var clients: Int = 10

    @Option(help: "Seconds to run (default 30; 8 with --smoke).")
    var duration: Double?

    @Option(help: "Messages each INBOX is filled to before the run (default 100; 20 with --smoke).")
    var messages: Int?

    @Option(help: "Command rounds per login session (each round is 9 commands) before LOGOUT and a new LOGIN.")
    var rounds: Int = 50

    mutating func run() async throws {
        let seconds = duration ?? (target.smoke ? 8 : 30)
        let fill = messages ?? (target.smoke ? 20 : 100)
        let endpoint = try target.imapEndpoint()
        let target = self.target
        let rounds = self.rounds

        let fillStart = ContinuousClock.now
        try await ensureFilled(users: clients, messages: fill, target: target)
        Output.note("mix: \(clients) INBOXes hold ≥\(fill) messages (fill took \(Output.format((ContinuousClock.now - fillStart).seconds)) s)")

        let memory = target.memory
        let cpuBefore = memory.cpuSeconds()
        let start = ContinuousClock.now
        let deadline = start + .milliseconds(Int64(seconds * 1000))
        let stats = await withTaskGroup(of: CommandStats.self) { group in
            for n in 1...clients {
                group.addTask { await mixClient(n, endpoint: endpoint, target: target, rounds: rounds, deadline: deadline) }
            }
            var total = CommandStats()
            for await s in group { total.merge(s) }
            return total
        }
        let elapsed = (ContinuousClock.now - start).seconds
        let cpu = cpuBefore.flatMap { before in memory.cpuSeconds().map { $0 - before } }
        Output.note("mix: \(clients) clients, \(Output.format(elapsed)) s against \(endpoint) (\(target.label))")
        Output.table("mix", stats, seconds: elapsed)
        let total = stats.byName.values.reduce(0) { $0 + $1.count }
        let errors = stats.byName.values.reduce(0) { $0 + $1.errors }
        Output.metric("mix.total.ops_per_s", Double(total) / elapsed, "ops/s")
        Output.metric("mix.errors", Double(errors), "count")
        // Server CPU (user + system, its processes and their reaped children, from /proc) per 1,000 commands.
        if let cpu, total > 0 {
            Output.note("mix: server CPU \(Output.format(cpu)) s for \(total) commands")
            Output.metric("mix.cpu_ms_per_1000", cpu * 1000 / (Double(total) / 1000), "ms")
        }
        if total == 0 { throw BenchError("mix: no command completed") }
        if errors > 0 { Output.note("mix: \(errors) errors (see above)") }
    }
}

/// One mix client: login sessions of `rounds` rounds until the deadline.
private func mixClient(
    _ n: Int, endpoint: Endpoint, target: TargetOptions, rounds: Int, deadline: ContinuousClock.Instant
) async -> CommandStats {
    var stats = CommandStats()
    var rng = SplitMix64(seed: UInt64(n) &* 104_729)
    var firstErrorPrinted = false
    while ContinuousClock.now < deadline {
        var client: IMAPClient?
        var current = "CONNECT"
        do {
            let connected = try await IMAPClient.connect(to: endpoint, group: benchGroup)
            client = connected
            current = "LOGIN"
            stats.record("LOGIN", try await connected.login(target.user(n), target.password).latency)
            for _ in 0..<rounds where ContinuousClock.now < deadline {
                current = "LIST"
                stats.record("LIST", try await connected.command(#"LIST "" "*""#).latency)
                current = "STATUS"
                stats.record("STATUS", try await connected.command("STATUS INBOX (MESSAGES UIDNEXT UNSEEN)").latency)
                current = "SELECT"
                let select = try await connected.command("SELECT INBOX")
                stats.record("SELECT", select.latency)
                let exists = select.untaggedText.lazy.compactMap { $0.existsCount }.first ?? 0
                guard exists > 0 else { throw BenchError("INBOX of \(target.user(n)) is empty") }
                let from = Int.random(in: 1...exists, using: &rng)
                current = "FETCH_ENV"
                stats.record("FETCH_ENV", try await connected.command("FETCH \(from):\(min(exists, from + 9)) (FLAGS ENVELOPE)").latency)
                current = "FETCH_BODY"
                let one = Int.random(in: 1...exists, using: &rng)
                stats.record("FETCH_BODY", try await connected.command("FETCH \(one) (UID RFC822.SIZE BODY.PEEK[])").latency)
                current = "STORE"
                let flag = Bool.random(using: &rng) ? "+FLAGS" : "-FLAGS"
                stats.record("STORE", try await connected.command("STORE \(Int.random(in: 1...exists, using: &rng)) \(flag) (\\Seen \\Flagged)").latency)
                current = "APPEND"
                let message = Corpus.message(Int.random(in: 0..<100_000, using: &rng), maxSize: 256 * 1024, recipient: "\(target.user(n))@\(target.domain)")
                let append = try await connected.append(to: "INBOX", message: message)
                stats.record("APPEND", append.latency)
                current = "STORE"
                // Delete the message just appended (by UID from APPENDUID, else the last one) to keep the size stable.
                if let uid = append.line.appendUID {
                    stats.record("STORE", try await connected.command("UID STORE \(uid) +FLAGS.SILENT (\\Deleted)").latency)
                } else {
                    stats.record("STORE", try await connected.command("STORE \(exists + 1) +FLAGS.SILENT (\\Deleted)").latency)
                }
                current = "EXPUNGE"
                stats.record("EXPUNGE", try await connected.command("EXPUNGE").latency)
            }
            current = "LOGOUT"
            stats.record("LOGOUT", try await connected.command("LOGOUT").latency)
            await connected.close()
        } catch {
            stats.error(current)
            if !firstErrorPrinted {
                firstErrorPrinted = true
                Output.note("mix client \(n): \(current) failed: \(error)")
            }
            await client?.close()
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
    return stats
}

/// Fills INBOX of users 1...users up to `messages` messages with pipelined APPENDs.
func ensureFilled(users: Int, messages: Int, target: TargetOptions, mailbox: String = "INBOX", maxSize: Int = 1_000_000) async throws {
    let endpoint = try target.imapEndpoint()
    try await withThrowingTaskGroup(of: Void.self) { group in
        var next = 1
        func start() {
            let n = next
            next += 1
            group.addTask {
                let client = try await IMAPClient.connect(to: endpoint, group: benchGroup)
                try await client.login(target.user(n), target.password)
                let status = try await client.command("STATUS \(mailbox.imapQuoted) (MESSAGES)", allowNo: true)
                if status.status != .ok {
                    try await client.command("CREATE \(mailbox.imapQuoted)")
                }
                let have = status.untaggedText.lazy.compactMap { $0.statusMessages }.first ?? 0
                try await appendMany(client, mailbox: mailbox, range: have..<max(have, messages), user: n, maxSize: maxSize, target: target)
                await client.logout()
            }
        }
        for _ in 0..<min(4, users) { start() }
        while try await group.next() != nil {
            if next <= users { start() }
        }
    }
}

/// Appends corpus messages `range` (of user `user`'s corpus) with up to 16 APPENDs in flight.
func appendMany(
    _ client: IMAPClient, mailbox: String, range: Range<Int>, user: Int, maxSize: Int, target: TargetOptions
) async throws {
    guard !range.isEmpty else { return }
    let window = client.literalPlus ? 16 : 1
    try await withThrowingTaskGroup(of: Void.self) { group in
        var next = range.lowerBound
        for _ in 0..<window where next < range.upperBound {
            let i = next
            next += 1
            group.addTask {
                try await client.append(to: mailbox, message: Corpus.message(user * 1_000_000 + i, maxSize: maxSize, recipient: "\(target.user(user))@\(target.domain)"))
            }
        }
        while try await group.next() != nil {
            if next < range.upperBound {
                let i = next
                next += 1
                group.addTask {
                    try await client.append(to: mailbox, message: Corpus.message(user * 1_000_000 + i, maxSize: maxSize, recipient: "\(target.user(user))@\(target.domain)"))
                }
            }
        }
    }
}

extension String {
    /// `N` of `* N EXISTS`.
    var existsCount: Int? {
        let parts = trimmingSuffixCRLF.split(separator: " ")
        guard parts.count == 3, parts[0] == "*", parts[2].uppercased() == "EXISTS" else { return nil }
        return Int(parts[1])
    }

    /// `N` of `* STATUS box (MESSAGES N ...)`.
    var statusMessages: Int? {
        guard hasPrefix("* STATUS"), let range = firstRange(of: "MESSAGES ") else { return nil }
        return Int(self[range.upperBound...].prefix(while: \.isNumber))
    }

    /// The UID of `[APPENDUID validity uid]` in a tagged OK.
    var appendUID: String? {
        guard let range = firstRange(of: "[APPENDUID ") else { return nil }
        let rest = self[range.upperBound...].split(separator: " ")
        guard rest.count >= 2 else { return nil }
        return String(rest[1].prefix(while: \.isNumber))
    }
}
