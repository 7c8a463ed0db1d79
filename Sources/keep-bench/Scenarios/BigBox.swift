import ArgumentParser
import NIOCore

/// `bigbox`: SELECT, FETCH 1:* FLAGS, UID SEARCH and a header search in one large mailbox (filled once with
/// pipelined APPENDs of small corpus messages; a later run reuses it).
struct BigBox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bigbox", abstract: "Large mailbox: SELECT, FETCH 1:* FLAGS, UID SEARCH, header SEARCH.")

    @OptionGroup var target: TargetOptions

    @Option(help: "Messages in the mailbox (default 100000; 2000 with --smoke).")
    var messages: Int?

    @Option(help: "Mailbox name (of user PREFIX1).")
    var mailbox: String = "bigbox"

    @Option(help: "Times each command is run (default 5; 3 with --smoke).")
    var repeats: Int?

    @Option(help: "Connections filling the mailbox in parallel (16 APPENDs in flight on each).")
    var fillConnections: Int = 4

    @Option(help: "Seconds allowed for the fill; past it the scenario runs on what is there.")
    var fillTimeout: Double = 1800

    mutating func run() async throws {
        let wanted = messages ?? (target.smoke ? 2000 : 100_000)
        let repeats = self.repeats ?? (target.smoke ? 3 : 5)
        let endpoint = try target.imapEndpoint()
        let client = try await IMAPClient.connect(to: endpoint, group: benchGroup)
        try await client.login(target.user(1), target.password)
        let status = try await client.command("STATUS \(mailbox.imapQuoted) (MESSAGES)", allowNo: true)
        if status.status != .ok { try await client.command("CREATE \(mailbox.imapQuoted)") }
        let have = status.untaggedText.lazy.compactMap { $0.statusMessages }.first ?? 0
        if have < wanted {
            let start = ContinuousClock.now
            try await fill(have..<wanted, deadline: start + .milliseconds(Int64(fillTimeout * 1000)))
            let seconds = (ContinuousClock.now - start).seconds
            Output.note("bigbox: appended \(wanted - have) messages in \(Output.format(seconds)) s")
            Output.metric("bigbox.fill_appends_per_s", Double(wanted - have) / seconds, "msg/s")
        }
        var stats = CommandStats()
        var count = 0
        for _ in 0..<repeats {
            let select = try await client.command("SELECT \(mailbox.imapQuoted)")
            stats.record("SELECT", select.latency)
            count = select.untaggedText.lazy.compactMap { $0.existsCount }.first ?? 0
            let fetch = try await client.command("FETCH 1:* (FLAGS)")
            stats.record("FETCH_FLAGS", fetch.latency)
            if fetch.untagged.count < count { throw BenchError("bigbox: FETCH 1:* returned \(fetch.untagged.count) of \(count)") }
            stats.record("UID_SEARCH", try await client.command("UID SEARCH UNSEEN").latency)
            let header = try await client.command("UID SEARCH HEADER Message-ID \"<bench.1000077.\"")
            stats.record("SEARCH_HEADER", header.latency)
            try await client.command("UNSELECT", allowNo: true)
        }
        await client.logout()
        Output.note("bigbox: \(count) messages in \(mailbox) (\(target.label)); times are per command, in ms")
        Output.table("bigbox", stats, seconds: 1)
        Output.metric("bigbox.messages", Double(count), "count")
    }

    private func fill(_ range: Range<Int>, deadline: ContinuousClock.Instant) async throws {
        let endpoint = try target.imapEndpoint()
        let (target, mailbox, connections) = (self.target, self.mailbox, max(1, fillConnections))
        let per = (range.count + connections - 1) / connections
        try await withThrowingTaskGroup(of: Void.self) { group in
            for c in 0..<connections {
                let part = (range.lowerBound + c * per)..<min(range.upperBound, range.lowerBound + (c + 1) * per)
                guard !part.isEmpty else { continue }
                group.addTask {
                    let client = try await IMAPClient.connect(to: endpoint, group: benchGroup)
                    try await client.login(target.user(1), target.password)
                    var next = part.lowerBound
                    while next < part.upperBound, ContinuousClock.now < deadline {
                        let chunk = next..<min(part.upperBound, next + 1000)
                        try await appendMany(client, mailbox: mailbox, range: chunk, user: 1, maxSize: 4096, target: target)
                        next = chunk.upperBound
                    }
                    await client.logout()
                }
            }
            try await group.waitForAll()
        }
    }
}
