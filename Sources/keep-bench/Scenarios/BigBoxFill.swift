import ArgumentParser
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How `bigbox` fills its mailboxes with the small corpus messages (≤ 4 KB, each its own Message-ID): pipelined
/// APPENDs (any server, also a remote one), or fast and still through the server's own storage code, from generated
/// folders of `--import-chunk` messages: `keep mailbox import` (Keep's export format, through the running server's
/// admin socket) or `doveadm import` (from a Maildir), `--import-parallel` folders at a time.
struct BigBoxFill: ParsableArguments {
    enum Method: String, ExpressibleByArgument, CaseIterable, Sendable {
        case auto, append, keep, doveadm
    }

    @Option(help: "auto (keep with --keep-bin, doveadm with --doveadm-config, else append), append, keep or doveadm.")
    var fill: Method = .auto

    @Option(help: "The keep executable for `keep mailbox import` (fill keep).")
    var keepBin: String?

    @Option(help: "The data folder of the running Keep (its `serve --data`), for the import.")
    var keepData: String?

    @Option(help: "The Dovecot configuration for `doveadm -c CONF import` (fill doveadm).")
    var doveadmConfig: String?

    @Option(help: "The doveadm executable.")
    var doveadm: String = "doveadm"

    @Option(help: "Folder for the generated import folders (default $TMPDIR, else /tmp).")
    var fillDir: String?

    @Option(help: "Messages per generated import folder.")
    var importChunk: Int = 50_000

    @Option(help: "Import folders written and imported at a time.")
    var importParallel: Int = 2

    @Option(help: "Connections filling a mailbox by APPEND in parallel (16 APPENDs in flight on each).")
    var fillConnections: Int = 4

    @Option(help: "Seconds allowed for one mailbox's fill; past it an APPEND fill stops and the run goes on with what is there.")
    var fillTimeout: Double = 7200

    var method: Method {
        guard fill == .auto else { return fill }
        if keepBin != nil { return .keep }
        if doveadmConfig != nil { return .doveadm }
        return .append
    }

    /// The corpus message number `index` of the big mailboxes (user 1's corpus, at most 4 KB).
    static func message(_ index: Int, target: TargetOptions) -> ByteBuffer {
        Corpus.message(1_000_000 + index, maxSize: 4096, recipient: "\(target.user(1))@\(target.domain)")
    }

    /// Adds corpus messages `range` to `mailbox` of user PREFIX1.
    func fill(_ range: Range<Int>, mailbox: String, target: TargetOptions, method: Method) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int64(fillTimeout * 1000))
        switch method {
        case .auto, .append: try await append(range, mailbox: mailbox, target: target, deadline: deadline)
        case .keep, .doveadm: try await importChunks(range, mailbox: mailbox, target: target, method: method, deadline: deadline)
        }
    }

    private func append(_ range: Range<Int>, mailbox: String, target: TargetOptions, deadline: ContinuousClock.Instant) async throws {
        let endpoint = try target.imapEndpoint()
        let connections = max(1, fillConnections)
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

    /// Writes `range` in folders of `--import-chunk` messages and has the server's tool import each.
    private func importChunks(
        _ range: Range<Int>, mailbox: String, target: TargetOptions, method: Method, deadline: ContinuousClock.Instant
    ) async throws {
        let user = target.user(1)
        let tool: @Sendable (String) -> [String]
        switch method {
        case .keep:
            guard let keepBin, let keepData else { throw ValidationError("--fill keep needs --keep-bin and --keep-data") }
            tool = { [keepBin, "mailbox", "import", user, $0, "--data", keepData] }
        default:
            guard let doveadmConfig else { throw ValidationError("--fill doveadm needs --doveadm-config") }
            // Maildir++: the folder `.NAME` of the generated Maildir is the mailbox NAME, imported under the same name.
            let doveadm = self.doveadm
            tool = { [doveadm, "-c", doveadmConfig, "import", "-u", user, "maildir:\($0):INDEX=MEMORY", "", "mailbox", mailbox] }
        }
        let base = "\(fillDir ?? ProcessInfoLite.environment("TMPDIR") ?? "/tmp")/keep-bench-fill-\(getpid())-\(mailbox)"
        let step = max(1, importChunk)
        let chunks = stride(from: range.lowerBound, to: range.upperBound, by: step).map { $0..<min($0 + step, range.upperBound) }
        // Folder k: written on the thread pool, imported by the tool, removed.
        let load: @Sendable (Int) async throws -> Void = { k in
            let dir = "\(base)-\(k)"
            let argv = tool(dir)
            let (status, output) = try await NIOThreadPool.singleton.runIfActive {
                defer { _ = try? ChildProcess.run(["rm", "-rf", dir]) }
                try ImportFolder.create(chunks[k], in: dir, mailbox: mailbox, maildir: method == .doveadm, target: target)
                return try ChildProcess.run(argv)
            }
            guard status == 0 else { throw BenchError("bigbox: \(argv.joined(separator: " ")) exited \(status): \(output.suffix(500))") }
            if method == .keep, !output.contains("\"imported\":\(chunks[k].count)") {
                throw BenchError("bigbox: keep mailbox import of \(chunks[k].count) messages answered \(output.suffix(500))")
            }
            Output.note("bigbox: \(mailbox): imported messages \(chunks[k].lowerBound)..<\(chunks[k].upperBound) (\(method.rawValue))")
        }
        // `--import-parallel` folders at a time: one is written while another is imported.
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            while next < min(max(1, importParallel), chunks.count) {
                group.addTask { [next] in try await load(next) }
                next += 1
            }
            while try await group.next() != nil, next < chunks.count {
                guard ContinuousClock.now < deadline else { throw BenchError("bigbox: fill of \(mailbox) past --fill-timeout") }
                group.addTask { [next] in try await load(next) }
                next += 1
            }
            try await group.waitForAll()
        }
    }
}

/// The folders the import tools read.
enum ImportFolder {
    /// Corpus messages `range` in `dir`: Keep's export format (`NNNNNNN.eml`, `messages.jsonl`, `folders.jsonl`
    /// naming the one folder `mailbox`), or a Maildir whose folder `.mailbox` holds them (world-writable, since
    /// Dovecot reads it as its mail user and keeps its uidlist there).
    static func create(_ range: Range<Int>, in dir: String, mailbox: String, maildir: Bool, target: TargetOptions) throws {
        let messageDir = maildir ? "\(dir)/.\(mailbox)/cur" : dir
        for path in maildir ? [dir, "\(dir)/cur", "\(dir)/new", "\(dir)/tmp", "\(dir)/.\(mailbox)", messageDir, "\(dir)/.\(mailbox)/new", "\(dir)/.\(mailbox)/tmp"] : [dir] {
            guard mkdir(path, 0o777) == 0 || errno == EEXIST, chmod(path, 0o777) == 0 else { throw BenchError("cannot create \(path): errno \(errno)") }
        }
        var lines = ByteBuffer()
        for i in range {
            let message = BigBoxFill.message(i, target: target)
            let file = maildir ? "\(1_700_000_000 + i).M\(i)P\(getpid()).keepbench,S=\(message.readableBytes):2," : "\(String(i).leftPadded(7)).eml"
            try writeFile("\(messageDir)/\(file)", message)
            if !maildir {
                let day = String(1 + i % 28).leftPadded(2)
                lines.writeString(#"{"file":"\#(file)","flags":[],"folder":\#(mailbox.jsonQuoted),"internal_date":"2024-01-\#(day)T10:00:00Z","keywords":[]}"# + "\n")
            }
        }
        if !maildir {
            try writeFile("\(dir)/messages.jsonl", lines)
            try writeFile("\(dir)/folders.jsonl", ByteBuffer(string: #"{"name":\#(mailbox.jsonQuoted),"special_use":null,"subscribed":false,"uidvalidity":0}"# + "\n"))
        }
    }

    static func writeFile(_ path: String, _ bytes: ByteBuffer) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw BenchError("cannot create \(path): errno \(errno)") }
        defer { close(fd) }
        try bytes.withUnsafeReadableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                guard n > 0 else { throw BenchError("cannot write \(path): errno \(errno)") }
                offset += n
            }
        }
    }
}

/// A child process run to its end (posix_spawnp), its standard output and error gathered in a temporary file.
enum ChildProcess {
    static func run(_ argv: [String]) throws -> (status: Int32, output: String) {
        let log = "\(ProcessInfoLite.environment("TMPDIR") ?? "/tmp")/keep-bench-child-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).log"
        defer { unlink(log) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let args = argv.map { strdup($0) } + [nil]
        let env = ProcessInfoLite.environ.map { strdup($0) } + [nil]
        defer { for p in args + env { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], &actions, nil, args, env)
        guard rc == 0 else { throw BenchError("cannot start \(argv[0]): error \(rc)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let exited = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (exited, readFile(log) ?? "")
    }
}

/// The process environment, read from /proc (no global C state touched).
enum ProcessInfoLite {
    static var environ: [String] {
        (readFile("/proc/self/environ") ?? "").split(separator: "\0").map(String.init)
    }

    static func environment(_ name: String) -> String? {
        environ.first { $0.hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) }
    }
}

extension String {
    /// A JSON string literal.
    var jsonQuoted: String {
        var out = "\""
        for c in unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where c.value < 0x20: out += "\\u" + String(String(c.value, radix: 16).leftPadded(4))
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }

    /// Padded with leading zeros to `width`.
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
