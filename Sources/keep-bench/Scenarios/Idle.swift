import ArgumentParser
import NIOCore

/// `idle`: C connections logged in and in IDLE; the server's resident memory per connection, and how long an
/// EXISTS push takes to reach an IDLE client after an LMTP delivery.
struct Idle: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "C connections in IDLE: server memory, EXISTS push delay.")

    @OptionGroup var target: TargetOptions

    @Option(help: "Connection counts, comma-separated (default 1000,10000; 200 with --smoke). Capped by the fd limit.")
    var connections: String?

    @Option(help: "Distinct users the connections log in as.")
    var users: Int = 50

    @Option(help: "Seconds allowed to open and log in all connections (default 300; 30 with --smoke).")
    var rampTimeout: Double?

    @Option(help: "LMTP deliveries timed to the EXISTS push (default 20; 5 with --smoke).")
    var pushes: Int?

    @Option(help: "Logins in flight while connecting (keep below the server's unauthenticated-per-IP cap).")
    var concurrency: Int = 16

    mutating func run() async throws {
        let counts = (connections ?? (target.smoke ? "200" : "1000,10000")).split(separator: ",").compactMap { Int($0) }
        let ramp = rampTimeout ?? (target.smoke ? 30 : 300)
        let pushes = self.pushes ?? (target.smoke ? 5 : 20)
        let fdLimit = raiseFileLimit()
        let memory = target.memory
        if !memory.isKnown { Output.note("idle: no --server-pid/--server-process: memory not measured") }

        for c in counts {
            let wanted = min(c, fdLimit - 100)
            if wanted < c { Output.note("idle: fd limit \(fdLimit) allows \(wanted) of \(c) connections (raise ulimit -n)") }
            let before = memory.usage()
            let rampStart = ContinuousClock.now
            let (clients, errors) = await loginMany(
                wanted, target: target, users: users, concurrency: concurrency, deadline: rampStart + .milliseconds(Int64(ramp * 1000)),
                select: "INBOX")
            let rampSeconds = (ContinuousClock.now - rampStart).seconds
            if let first = errors.first { Output.note("idle C=\(c): \(errors.count) connections failed, first: \(first)") }
            // Enter IDLE everywhere.
            let idling = await withTaskGroup(of: (IMAPClient, EventLoopFuture<Reply>)?.self) { group in
                for client in clients { group.addTask { (try? await client.idle()).map { (client, $0) } } }
                var result: [(IMAPClient, EventLoopFuture<Reply>)] = []
                for await r in group { if let r { result.append(r) } }
                return result
            }
            try await Task.sleep(for: .seconds(2))
            let after = memory.usage()
            Output.note("idle C=\(c): \(idling.count) connections in IDLE (logins took \(Output.format(rampSeconds)) s, \(Output.format(Double(clients.count) / rampSeconds)) logins/s)")
            Output.metric("idle.c\(c).connections", Double(idling.count), "count")
            Output.metric("idle.c\(c).logins_per_s", Double(clients.count) / rampSeconds, "logins/s")
            if let before, let after, !idling.isEmpty {
                let perConnection = Double(after.rss - before.rss) / Double(idling.count) / 1024
                let pssPerConnection = Double(after.pss - before.pss) / Double(idling.count) / 1024
                Output.note(
                    "idle C=\(c): server RSS \(before.rss / 1_048_576) MiB → \(after.rss / 1_048_576) MiB, \(Output.format(perConnection)) KiB per connection"
                        + " (PSS \(before.pss / 1_048_576) → \(after.pss / 1_048_576) MiB, \(Output.format(pssPerConnection)) KiB per connection)")
                Output.metric("idle.c\(c).rss_mb", Double(after.rss) / 1_048_576, "MiB")
                Output.metric("idle.c\(c).kib_per_connection", perConnection, "KiB")
                Output.metric("idle.c\(c).pss_mb", Double(after.pss) / 1_048_576, "MiB")
                Output.metric("idle.c\(c).pss_kib_per_connection", pssPerConnection, "KiB")
            }
            let push = try await measurePushes(pushes)
            Output.note("idle C=\(c): EXISTS push after LMTP delivery p50 \(Output.format(push.percentileMs(50))) ms p99 \(Output.format(push.percentileMs(99))) ms (\(push.count) pushes, \(push.errors) missed)")
            if push.count > 0 {
                Output.metric("idle.c\(c).push_p50_ms", push.percentileMs(50), "ms")
                Output.metric("idle.c\(c).push_p99_ms", push.percentileMs(99), "ms")
            }
            Output.metric("idle.c\(c).push_missed", Double(push.errors), "count")
            await withTaskGroup(of: Void.self) { group in
                for client in clients { group.addTask { await client.close() } }
            }
            if idling.isEmpty { throw BenchError("idle C=\(c): no connection reached IDLE") }
            if push.count == 0 { throw BenchError("idle C=\(c): no EXISTS push arrived") }
            try await Task.sleep(for: .seconds(2))
        }
    }

    /// A watcher of user 1 in IDLE; each LMTP delivery to user 1 is timed from the end of its data to the EXISTS.
    private func measurePushes(_ count: Int) async throws -> LatencyStats {
        var stats = LatencyStats()
        let watcher = try await IMAPClient.connect(to: try target.imapEndpoint(), group: benchGroup)
        try await watcher.login(target.user(1), target.password)
        try await watcher.command("SELECT INBOX")
        var idle = try await watcher.idle()
        let lmtp = try await LMTPClient.connect(to: try target.lmtpEndpoint())
        defer { lmtp.close() }
        try await lmtp.expect(lmtp.greeting, 220)
        try await lmtp.expect(lmtp.send(["LHLO bench.test"]).first!, 250)
        let rcpt = "\(target.user(1))@\(target.domain)"
        for i in 0..<count {
            // At most 5 s for the push (Dovecot may poll when inotify is unavailable).
            let push = watcher.expectPush("EXISTS", timeout: .seconds(5))
            let replies = lmtp.send(["MAIL FROM:<push@example.org>", "RCPT TO:<\(rcpt)>", "DATA"])
            for r in replies.dropLast() { try await lmtp.expect(r, 250) }
            try await lmtp.expect(replies.last!, 354)
            let sent = ContinuousClock.now
            let message = Corpus.message(900_000 + i, maxSize: 8192, recipient: rcpt)
            try await lmtp.expect(lmtp.send([], payload: LMTPClient.dotStuffed(message), extraReplies: 1)[0], 250)
            let arrived = try? await push.get()
            if let arrived {
                stats.record(arrived - sent)
            } else {
                stats.errors += 1
            }
            // Restart IDLE so that the next push is not folded into this one.
            try await watcher.done(idle)
            idle = try await watcher.idle()
        }
        try await watcher.done(idle)
        await watcher.logout()
        return stats
    }
}
