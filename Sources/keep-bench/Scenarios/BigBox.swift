import ArgumentParser
import NIOCore

/// `bigbox`: large mailboxes at several sizes in one run, each its own mailbox `PREFIX-N` of user PREFIX1 (filled once
/// — by the server's own import tool when given, else by pipelined APPENDs — and reused by later runs): `STATUS`,
/// `SELECT`, `FETCH 1:* (FLAGS)`, `UID SEARCH UNSEEN`, a header search, `UID FETCH 1:* (FLAGS) (CHANGEDSINCE m)` after
/// 10 flag changes, and last `EXPUNGE` of 10,000 messages (the next run refills them).
struct BigBox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bigbox",
        abstract: "Large mailboxes at several sizes: STATUS, SELECT, FETCH 1:* FLAGS, UID SEARCH, header SEARCH, CHANGEDSINCE, EXPUNGE.")

    @OptionGroup var target: TargetOptions
    @OptionGroup var filling: BigBoxFill

    @Option(help: "Mailbox sizes, comma-separated, e.g. 10000,100000,1000000 (default 100000; 2000 with --smoke).")
    var messages: String?

    @Option(help: "Mailbox name prefix: size N is the mailbox PREFIX-N of user PREFIX1.")
    var mailbox: String = "bigbox"

    @Option(help: "Times each command is run per size (default 5; 3 with --smoke).")
    var repeats: Int?

    @Option(help: "Messages whose flags change before each UID FETCH (CHANGEDSINCE).")
    var changed: Int = 10

    @Option(help: "Messages flagged \\Deleted and expunged at the end of each size (default 10000; 500 with --smoke; at most the mailbox).")
    var expunge: Int?

    /// The commands in the order of the tables, and the ones whose cost per message is reported.
    static let commands = ["STATUS", "SELECT", "FETCH_FLAGS", "UID_SEARCH", "SEARCH_HEADER", "CHANGEDSINCE", "STORE_DELETED", "EXPUNGE"]
    static let perMessage: Set<String> = ["FETCH_FLAGS", "UID_SEARCH", "SEARCH_HEADER"]

    func sizes() throws -> [Int] {
        guard let messages else { return [target.smoke ? 2000 : 100_000] }
        let sizes = messages.split(separator: ",").map { Int($0.filter { $0 != " " }) }
        guard !sizes.isEmpty, sizes.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw ValidationError("--messages must be positive counts separated by commas, e.g. 10000,100000")
        }
        return Array(Set(sizes.compactMap { $0 })).sorted()
    }

    mutating func run() async throws {
        let sizes = try sizes()
        for size in sizes {
            let name = "\(mailbox)-\(size)"
            let count = try await prepare(name, size: size)
            try await measure(name, size: size, count: count, legacy: sizes.count == 1)
        }
    }

    /// Creates mailbox `name` when missing and fills it up to `size` messages; returns its message count.
    private func prepare(_ name: String, size: Int) async throws -> Int {
        let have = try await statusMessages(name, create: true)
        guard have < size else { return have }
        let method = filling.method
        let start = ContinuousClock.now
        try await filling.fill(have..<size, mailbox: name, target: target, method: method)
        let seconds = (ContinuousClock.now - start).seconds
        let now = try await statusMessages(name, create: false)
        Output.note("bigbox: \(name) filled from \(have) to \(now) messages by \(method.rawValue) in \(Output.format(seconds)) s")
        Output.metric("bigbox.n\(size).fill_msgs_per_s", Double(now - have) / seconds, "msg/s")
        if now < size {
            // APPEND stops at --fill-timeout and the run goes on with what is there; an import must be complete.
            guard method == .append else { throw BenchError("bigbox: \(name) has \(now) messages after the import, not \(size)") }
            Output.note("bigbox: \(name) short of \(size) (fill timeout); measuring \(now)")
        }
        return now
    }

    /// MESSAGES of `STATUS name`, on a connection of its own (a long fill runs without an idle IMAP connection).
    private func statusMessages(_ name: String, create: Bool) async throws -> Int {
        let client = try await IMAPClient.connect(to: target.imapEndpoint(), group: benchGroup)
        try await client.login(target.user(1), target.password)
        let status = try await client.command("STATUS \(name.imapQuoted) (MESSAGES)", allowNo: true)
        if status.status != .ok, create { try await client.command("CREATE \(name.imapQuoted)") }
        await client.logout()
        return status.untaggedText.lazy.compactMap { $0.statusMessages }.first ?? 0
    }

    private func measure(_ name: String, size: Int, count: Int, legacy: Bool) async throws {
        let repeats = self.repeats ?? (target.smoke ? 3 : 5)
        let box = name.imapQuoted
        let client = try await IMAPClient.connect(to: target.imapEndpoint(), group: benchGroup)
        try await client.login(target.user(1), target.password)
        var stats = CommandStats()
        var count = count
        for _ in 0..<repeats {
            stats.record("STATUS", try await client.command("STATUS \(box) (MESSAGES UNSEEN UIDNEXT)").latency)
            let select = try await client.command("SELECT \(box)")
            stats.record("SELECT", select.latency)
            count = select.untaggedText.lazy.compactMap { $0.existsCount }.first ?? 0
            guard count > 0 else { throw BenchError("bigbox: \(name) is empty") }
            let fetch = try await client.command("FETCH 1:* (FLAGS)")
            stats.record("FETCH_FLAGS", fetch.latency)
            if fetch.untagged.count < count { throw BenchError("bigbox: FETCH 1:* returned \(fetch.untagged.count) of \(count)") }
            stats.record("UID_SEARCH", try await client.command("UID SEARCH UNSEEN").latency)
            stats.record("SEARCH_HEADER", try await client.command("UID SEARCH HEADER Message-ID \"<bench.1000077.\"").latency)
            try await client.command("UNSELECT", allowNo: true)
        }
        let capabilities = try await client.command("CAPABILITY").untaggedText.joined().uppercased()
        if capabilities.contains(" CONDSTORE") {
            try await changedSince(box, count: count, repeats: repeats, into: &stats)
        } else {
            Output.note("bigbox: no CONDSTORE in the server's capabilities: CHANGEDSINCE not measured")
        }
        try await expungeTail(client, box: box, count: count, into: &stats)
        await client.logout()
        report(stats, size: size, count: count, name: name, legacy: legacy)
    }

    /// `UID FETCH 1:* (FLAGS) (CHANGEDSINCE m)` with m the HIGHESTMODSEQ of a `SELECT (CONDSTORE)` after which
    /// `--changed` messages spread over the mailbox had their flags changed. On a connection of its own, so that the
    /// other commands run without CONDSTORE enabled.
    private func changedSince(_ box: String, count: Int, repeats: Int, into stats: inout CommandStats) async throws {
        let client = try await IMAPClient.connect(to: target.imapEndpoint(), group: benchGroup)
        try await client.login(target.user(1), target.password)
        let changed = min(max(1, self.changed), count)
        let set = (0..<changed).map { String(1 + $0 * count / changed) }.joined(separator: ",")
        var answered: Set<Int> = []
        for _ in 0..<repeats {
            let select = try await client.command("SELECT \(box) (CONDSTORE)")
            guard let modseq = select.untaggedText.lazy.compactMap({ $0.highestModSeq }).first else {
                throw BenchError("bigbox: SELECT (CONDSTORE) gave no HIGHESTMODSEQ")
            }
            // -FLAGS then +FLAGS: each of the messages changes at least once, whatever its flags were.
            try await client.command("STORE \(set) -FLAGS.SILENT (\\Flagged)")
            try await client.command("STORE \(set) +FLAGS.SILENT (\\Flagged)")
            let reply = try await client.command("UID FETCH 1:* (FLAGS) (CHANGEDSINCE \(modseq))")
            stats.record("CHANGEDSINCE", reply.latency)
            answered.insert(reply.untaggedText.filter { $0.contains(" FETCH ") }.count)
            try await client.command("UNSELECT", allowNo: true)
        }
        if answered != [changed] {
            Output.note("bigbox: CHANGEDSINCE answered \(answered.sorted()) messages, not the \(changed) changed")
        }
        await client.logout()
    }

    /// The last `--expunge` messages flagged `\Deleted` by one `UID STORE a:b` and expunged; only the EXPUNGE counts
    /// as such (the STORE is `STORE_DELETED`). Runs last: the next run refills the mailbox.
    private func expungeTail(_ client: IMAPClient, box: String, count: Int, into stats: inout CommandStats) async throws {
        let wanted = min(expunge ?? (target.smoke ? 500 : 10_000), count)
        guard wanted > 0 else { return }
        let select = try await client.command("SELECT \(box)")
        let exists = select.untaggedText.lazy.compactMap { $0.existsCount }.first ?? 0
        guard exists >= wanted else { throw BenchError("bigbox: \(exists) messages left, \(wanted) to expunge") }
        let uids = try await client.command("FETCH \(exists - wanted + 1),\(exists) (UID)").untaggedText.compactMap { $0.fetchUID }
        guard let first = uids.min(), let last = uids.max() else { throw BenchError("bigbox: no UIDs from FETCH (UID)") }
        stats.record("STORE_DELETED", try await client.command("UID STORE \(first):\(last) +FLAGS.SILENT (\\Deleted)").latency)
        let reply = try await client.command("EXPUNGE")
        stats.record("EXPUNGE", reply.latency)
        let expunged = reply.untaggedText.filter { $0.hasSuffix(" EXPUNGE\r\n") }.count
        if expunged != wanted { Output.note("bigbox: EXPUNGE answered \(expunged) messages, not \(wanted)") }
        try await client.command("UNSELECT", allowNo: true)
    }

    /// `bigbox.nN.CMD.p50_ms`/`p99_ms` (and `us_per_msg` for the per-message commands); with one size also today's
    /// `bigbox.CMD.*` names.
    private func report(_ stats: CommandStats, size: Int, count: Int, name: String, legacy: Bool) {
        Output.note("bigbox: \(count) messages in \(name) (\(target.label)); times per command in ms")
        Output.note("command          runs   p50 ms   p99 ms   µs/msg")
        for command in Self.commands {
            guard let s = stats.byName[command] else { continue }
            let p50 = s.percentileMs(50), p99 = s.percentileMs(99)
            let perMessage = Self.perMessage.contains(command) ? p50 * 1000 / Double(count) : nil
            Output.note(
                "\(command.padding(14)) \(String(s.count).padding(6, left: true)) \(Output.format(p50).padding(8, left: true)) "
                    + "\(Output.format(p99).padding(8, left: true)) \((perMessage.map(Output.format) ?? "").padding(8, left: true))")
            for prefix in ["bigbox.n\(size)"] + (legacy ? ["bigbox"] : []) {
                Output.metric("\(prefix).\(command).p50_ms", p50, "ms")
                Output.metric("\(prefix).\(command).p99_ms", p99, "ms")
                if let perMessage { Output.metric("\(prefix).\(command).us_per_msg", perMessage, "us/msg") }
            }
        }
        Output.metric("bigbox.n\(size).messages", Double(count), "count")
        if legacy { Output.metric("bigbox.messages", Double(count), "count") }
    }
}

extension String {
    /// `m` of `* OK [HIGHESTMODSEQ m] …`.
    var highestModSeq: UInt64? {
        guard hasPrefix("* OK [HIGHESTMODSEQ "), let range = firstRange(of: "HIGHESTMODSEQ ") else { return nil }
        return UInt64(self[range.upperBound...].prefix(while: \.isNumber))
    }

    /// The UID of `* n FETCH (… UID u …)`.
    var fetchUID: UInt32? {
        guard hasPrefix("* "), contains(" FETCH ("), let range = firstRange(of: "UID ") else { return nil }
        return UInt32(self[range.upperBound...].prefix(while: \.isNumber))
    }
}
