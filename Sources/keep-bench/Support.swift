import ArgumentParser
import Histogram
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The server under test and the identity the scenarios use; shared by every subcommand.
struct TargetOptions: ParsableArguments {
    @Option(help: "IMAP endpoint host:port.")
    var imap: String = "127.0.0.1:1143"

    @Option(help: "LMTP endpoint host:port.")
    var lmtp: String = "127.0.0.1:2424"

    @Option(help: "User name prefix: users are PREFIX1, PREFIX2, ...")
    var userPrefix: String = "u"

    @Option(help: "Password of every benchmark user.")
    var password: String = "bench-password"

    @Option(help: "Domain for LMTP recipients.")
    var domain: String = "bench.test"

    @Option(name: .customLong("server-pid"), help: "Server process id; its resident memory includes all descendants (repeatable).")
    var serverPIDs: [Int32] = []

    @Option(help: "Server process name (comm) to sum resident memory over, when no --server-pid is given (e.g. dovecot).")
    var serverProcess: String?

    @Flag(help: "Short run (about 10 s per scenario) for CI.")
    var smoke = false

    @Option(help: "Label printed with every metric line (e.g. keep, dovecot).")
    var label: String = "server"

    func imapEndpoint() throws -> Endpoint {
        guard let e = Endpoint(imap) else { throw ValidationError("--imap must be host:port") }
        return e
    }

    func lmtpEndpoint() throws -> Endpoint {
        guard let e = Endpoint(lmtp) else { throw ValidationError("--lmtp must be host:port") }
        return e
    }

    func user(_ n: Int) -> String { "\(userPrefix)\(n)" }

    var memory: ServerMemory { ServerMemory(pids: serverPIDs, processName: serverProcess) }
}

/// The event loops of the load generator (one per core; Swift concurrency runs on them too, see main.swift).
var benchGroup: any EventLoopGroup { MultiThreadedEventLoopGroup.singleton }

/// Latencies of one kind of command, in microseconds.
struct LatencyStats: Sendable {
    var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
    var errors = 0

    mutating func record(_ duration: Duration) {
        histogram.record(UInt64(max(1, duration.microseconds)))
    }

    mutating func merge(_ other: LatencyStats) {
        histogram.add(other.histogram)
        errors += other.errors
    }

    var count: UInt64 { histogram.totalCount }
    func percentileMs(_ p: Double) -> Double { Double(histogram.valueAtPercentile(p)) / 1000 }
}

/// Per-command statistics keyed by command name.
struct CommandStats: Sendable {
    var byName: [String: LatencyStats] = [:]

    mutating func record(_ name: String, _ duration: Duration) { byName[name, default: LatencyStats()].record(duration) }
    mutating func error(_ name: String) { byName[name, default: LatencyStats()].errors += 1 }

    mutating func merge(_ other: CommandStats) {
        for (name, stats) in other.byName { byName[name, default: LatencyStats()].merge(stats) }
    }
}

extension Duration {
    var microseconds: Int64 { components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000 }
    var milliseconds: Double { Double(microseconds) / 1000 }
    var seconds: Double { Double(microseconds) / 1_000_000 }
}

/// Prints results: a human line and `metric SCENARIO.KEY VALUE UNIT` lines that bench/compare.sh reads.
enum Output {
    static func metric(_ key: String, _ value: Double, _ unit: String) {
        emitLine("metric \(key) \(format(value)) \(unit)")
    }

    static func note(_ text: String) {
        emitLine("# \(text)")
    }

    static func format(_ value: Double) -> String {
        if value.isNaN || value.isInfinite { return "nan" }
        if value >= 100 { return String(Int(value.rounded())) }
        let scaled = (value * 1000).rounded() / 1000
        return "\(scaled)"
    }

    /// Throughput and percentiles per command, sorted by name. Each latency sample stands for `opsPerSample`
    /// commands (a pipelined write of that many), which count and ops/s count one by one.
    static func table(_ scenario: String, _ stats: CommandStats, seconds: Double, opsPerSample: Int = 1) {
        emitLine("# command          count      ops/s   p50 ms   p99 ms  errors")
        for (name, s) in stats.byName.sorted(by: { $0.key < $1.key }) {
            let count = s.count * UInt64(opsPerSample)
            let rate = Double(count) / seconds
            emitLine(
                "# \(name.padding(14)) \(String(count).padding(8, left: true)) \(format(rate).padding(10, left: true)) "
                    + "\(format(s.percentileMs(50)).padding(8, left: true)) \(format(s.percentileMs(99)).padding(8, left: true)) "
                    + "\(String(s.errors).padding(7, left: true))")
            metric("\(scenario).\(name).ops_per_s", rate, "ops/s")
            metric("\(scenario).\(name).p50_ms", s.percentileMs(50), "ms")
            metric("\(scenario).\(name).p99_ms", s.percentileMs(99), "ms")
        }
    }
}

extension String {
    func padding(_ width: Int, left: Bool = false) -> String {
        count >= width ? self : left ? String(repeating: " ", count: width - count) + self : self + String(repeating: " ", count: width - count)
    }
}

/// Resident memory of the server: the given pids and all their descendants, or every process with a given name.
struct ServerMemory: Sendable {
    var pids: [Int32]
    var processName: String?

    var isKnown: Bool { !pids.isEmpty || processName != nil }

    /// Sum of VmRSS in bytes, nil when no server process is known or found.
    func residentBytes() -> Int? { usage()?.rss }

    /// Sums of VmRSS and of Pss (shared pages divided among their users; fairer for multi-process servers).
    func usage() -> (rss: Int, pss: Int)? {
        let selected = selectedPIDs()
        guard !selected.isEmpty else { return nil }
        var rss = 0, pss = 0
        func kib(_ text: String?, _ key: String) -> Int {
            guard let text else { return 0 }
            for line in text.split(separator: "\n") where line.hasPrefix(key) {
                return (line.dropFirst(key.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) } ?? 0) * 1024
            }
            return 0
        }
        for pid in selected {
            rss += kib(readFile("/proc/\(pid)/status"), "VmRSS:")
            pss += kib(readFile("/proc/\(pid)/smaps_rollup"), "Pss:")
        }
        return (rss, pss)
    }

    /// pid → (parent, command name) of every process.
    static func processes() -> [Int32: (ppid: Int32, comm: String)] {
        var result: [Int32: (ppid: Int32, comm: String)] = [:]
        guard let dir = opendir("/proc") else { return result }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard let pid = Int32(name), let stat = readFile("/proc/\(pid)/stat") else { continue }
            // pid (comm) state ppid ...
            guard let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { continue }
            let comm = String(stat[stat.index(after: open)..<close])
            let rest = stat[stat.index(after: close)...].split(separator: " ")
            guard rest.count > 2, let ppid = Int32(rest[1]) else { continue }
            result[pid] = (ppid, comm)
        }
        return result
    }
}

/// The whole content of a small file (e.g. under /proc), nil when unreadable.
func readFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
        if n <= 0 { break }
        bytes += chunk[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// The soft limit on open files of this process, raised to the hard limit first.
func raiseFileLimit() -> Int {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
    return Int(limit.rlim_cur)
}

/// Opens logged-in connections, `concurrency` logins at a time.
func loginMany(
    _ count: Int, target: TargetOptions, users: Int, concurrency: Int = 16, deadline: ContinuousClock.Instant,
    select: String? = nil
) async -> (clients: [IMAPClient], errors: [String]) {
    let endpoint = try? target.imapEndpoint()
    guard let endpoint else { return ([], ["bad endpoint"]) }
    return await withTaskGroup(of: (IMAPClient?, String?).self) { group in
        var clients: [IMAPClient] = []
        var errors: [String] = []
        var started = 0
        func start() {
            let n = started
            started += 1
            group.addTask {
                do {
                    let client = try await IMAPClient.connect(to: endpoint, group: benchGroup)
                    do {
                        try await client.login(target.user(n % users + 1), target.password)
                        if let select { try await client.command("SELECT \(select.imapQuoted)") }
                        return (client, nil)
                    } catch {
                        await client.close()
                        throw error
                    }
                } catch {
                    return (nil, "\(error)")
                }
            }
        }
        for _ in 0..<min(concurrency, count) { start() }
        while let (client, error) = await group.next() {
            if let client { clients.append(client) }
            if let error { errors.append(error) }
            if started < count, ContinuousClock.now < deadline, errors.count < max(10, count / 10) { start() }
        }
        return (clients, errors)
    }
}

/// Writes bytes to standard error.
func fwriteStderr(_ bytes: UnsafeBufferPointer<UInt8>) -> Int { write(2, bytes.baseAddress, bytes.count) }

/// Writes one line to standard output unbuffered, so that an interrupted run keeps every line already printed.
func emitLine(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let n = write(1, bytes.baseAddress! + offset, bytes.count - offset)
            if n <= 0 { return }
            offset += n
        }
    }
}

extension ServerMemory {
    /// The server's processes (what `usage()` and `cpuSeconds()` sum over): the given pids and all their
    /// descendants, or every process with the given name.
    func selectedPIDs() -> Set<Int32> {
        let all = Self.processes()
        var selected = Set<Int32>()
        if !pids.isEmpty {
            var frontier = pids.filter { all[$0] != nil }
            while let pid = frontier.popLast() {
                guard selected.insert(pid).inserted else { continue }
                frontier += all.filter { $0.value.ppid == pid }.map(\.key)
            }
        } else if let processName {
            selected = Set(all.filter { $0.value.comm == processName }.map(\.key))
        }
        return selected
    }

    /// CPU seconds (user + system) the server's processes have used, including their exited children that they have
    /// waited for (cutime + cstime), so that a process-per-connection server's finished processes still count; nil when
    /// no server process is known or found.
    func cpuSeconds() -> Double? {
        let selected = selectedPIDs()
        guard !selected.isEmpty else { return nil }
        let ticksPerSecond = Double(max(1, sysconf(Int32(_SC_CLK_TCK))))
        var ticks = 0
        for pid in selected {
            // pid (comm) state ppid ... field 14 utime, 15 stime, 16 cutime, 17 cstime (1-based, comm counted as 2).
            guard let stat = readFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { continue }
            let rest = stat[stat.index(after: close)...].split(separator: " ")
            guard rest.count > 14 else { continue }
            for field in 11...14 { ticks += Int(rest[field]) ?? 0 }
        }
        return Double(ticks) / ticksPerSecond
    }
}
