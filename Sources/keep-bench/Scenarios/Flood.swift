import ArgumentParser
import NIOCore
import NIOPosix

/// `flood`: K connections write 1,500-byte frames of `aN NOOP` without reading; one logged-in client measures its
/// NOOP/FETCH round trips, a fresh connection's greeting+LOGIN time and the server's memory, with and without the flood.
struct Flood: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Command flood: legit client latency, flooder resets, server RSS growth, new-login time.")

    @OptionGroup var target: TargetOptions

    @Option(help: "Flooder counts to run, comma-separated (default 1,10,50,200; 10,50 with --smoke).")
    var flooders: String?

    @Option(help: "Seconds measured per phase (default 10; 3 with --smoke).")
    var duration: Double?

    @Flag(help: "Flooders log in before flooding (spread over --flood-users); default: they flood before login.")
    var floodLogin = false

    @Option(help: "With --flood-login: the users PREFIX1..PREFIXn the server has; flooders log in as PREFIX3..PREFIXn in turn (PREFIX1 is the measured client's, PREFIX2 the login probe's), so that no user gets more than ceil(K / (n - 2)) flooders at once.")
    var floodUsers: Int = 50

    @Option(help: "Seconds the flooder connections still open at the end of a phase go on flooding (no new ones are opened) before they count as never reset.")
    var resetWait: Double = 5

    @Option(help: "First part of every metric name (e.g. flood_login for a logged-in flood).")
    var metricPrefix: String = "flood"

    @Option(help: "Local IPv4 address the flooders of the first phase connect from; each further phase uses the next address, so that every phase starts with an attacker the server has not banned (default when the server is on 127.0.0.1: 127.0.0.250, or 127.0.0.240 with --flood-login so that a run right after a pre-login one does not start banned; the attacker is another host than the measured client; 'none' for the kernel's choice).")
    var floodSource: String?

    func validate() throws {
        guard floodUsers >= 1 else { throw ValidationError("--flood-users must be at least 1") }
        guard (0...600).contains(resetWait) else { throw ValidationError("--reset-wait must be 0...600 seconds") }
    }

    mutating func run() async throws {
        let seconds = duration ?? (target.smoke ? 3 : 10)
        let counts = (flooders ?? (target.smoke ? "10,50" : "1,10,50,200")).split(separator: ",").compactMap { Int($0) }
        let endpoint = try target.imapEndpoint()
        let memory = target.memory
        if !memory.isKnown { Output.note("flood: no --server-pid/--server-process: memory not measured") }
        try await ensureFilled(users: 1, messages: 5, target: target)
        let firstSource: [UInt8]?
        switch floodSource ?? (endpoint.host != "127.0.0.1" ? "none" : floodLogin ? "127.0.0.240" : "127.0.0.250") {
        case "none": firstSource = nil
        case let address:
            let octets = address.split(separator: ".").compactMap { UInt8($0) }
            guard octets.count == 4, octets[3] <= 255 - UInt8(min(counts.count, 255)) else {
                throw BenchError("--flood-source \(address): an IPv4 address with room for one more per phase, or 'none'")
            }
            firstSource = octets
        }
        /// The flooders' address in phase `i`: a new one each phase.
        func source(phase i: Int) throws -> SocketAddress? {
            guard var octets = firstSource else { return nil }
            octets[3] += UInt8(i)
            return try SocketAddress(ipAddress: octets.map(String.init).joined(separator: "."), port: 0)
        }
        Output.note("flood: flooders connect from \(try source(phase: 0).map { "\($0.ipAddress ?? "?") (the next address in each further phase)" } ?? "the kernel's choice"); the measured client and the login probe run on their own event loop")

        let login = floodLogin ? FloodLogin(target: target, users: floodUsers) : nil
        if let login {
            try await login.warmUp()
            Output.note("flood: flooders log in as \(login.user(flooder: 0))..\(login.user(flooder: max(0, login.users - 3))) in turn (each flooder user logged in once before)")
        }

        let client = try await IMAPClient.connect(to: endpoint, group: measureGroup)
        try await client.login(target.user(1), target.password)
        try await client.command("SELECT INBOX")

        let base = try await measure(client, seconds: seconds, endpoint: endpoint, memory: memory)
        Output.note("flood: unflooded client p50 \(Output.format(base.client.percentileMs(50))) ms p99 \(Output.format(base.client.percentileMs(99))) ms, greeting+LOGIN p50 \(Output.format(base.login.percentileMs(50))) ms")
        let m = metricPrefix
        Output.metric("\(m).k0.client_p50_ms", base.client.percentileMs(50), "ms")
        Output.metric("\(m).k0.client_p99_ms", base.client.percentileMs(99), "ms")
        Output.metric("\(m).k0.login_p50_ms", base.login.percentileMs(50), "ms")
        Output.metric("\(m).k0.login_max_ms", base.login.percentileMs(100), "ms")

        for (i, k) in counts.enumerated() {
            let source = try source(phase: i)
            let rssBefore = memory.residentBytes()
            let stopAt = NIODeadline.now() + .milliseconds(Int64((seconds + 1.5) * 1000))
            let holdUntil = stopAt + .milliseconds(Int64(resetWait * 1000))
            let floodTask = Task {
                await flood(k, endpoint: endpoint, stopAt: stopAt, holdUntil: holdUntil, login: login, source: source)
            }
            try await Task.sleep(for: .seconds(1))
            let phase = try await measure(client, seconds: seconds, endpoint: endpoint, memory: memory)
            let outcome = await floodTask.value
            let p99Ratio = phase.client.percentileMs(99) / max(0.001, base.client.percentileMs(99))
            let reset = outcome.timeToReset
            Output.note(
                "\(m) K=\(k): client p50 \(Output.format(phase.client.percentileMs(50))) ms p99 \(Output.format(phase.client.percentileMs(99))) ms (\(Output.format(p99Ratio))× unflooded), "
                    + "greeting+LOGIN p50 \(Output.format(phase.login.percentileMs(50))) ms max \(Output.format(phase.login.percentileMs(100))) ms (\(phase.login.errors) failed), "
                    + "flooder connections \(outcome.connections): reset \(outcome.reset), BYE \(outcome.bye), closed \(outcome.closed), never reset \(outcome.held), refused \(outcome.refused), connects unanswered \(outcome.unanswered); "
                    + "time to reset p50 \(reset.count > 0 ? Output.format(reset.percentileMs(50)) : "—") ms max \(reset.count > 0 ? Output.format(reset.percentileMs(100)) : "—") ms; \(outcome.bytes / 1024) KiB written")
            Output.note("\(m) K=\(k): errors seen by flooders: \(outcome.errors.sorted { $0.value > $1.value }.prefix(3).map { "\($0.key) ×\($0.value)" }.joined(separator: "; "))")
            Output.metric("\(m).k\(k).client_p50_ms", phase.client.percentileMs(50), "ms")
            Output.metric("\(m).k\(k).client_p99_ms", phase.client.percentileMs(99), "ms")
            Output.metric("\(m).k\(k).client_p99_ratio", p99Ratio, "x")
            Output.metric("\(m).k\(k).client_ops_per_s", Double(phase.client.count) / seconds, "ops/s")
            Output.metric("\(m).k\(k).login_p50_ms", phase.login.percentileMs(50), "ms")
            Output.metric("\(m).k\(k).login_max_ms", phase.login.percentileMs(100), "ms")
            Output.metric("\(m).k\(k).login_errors", Double(phase.login.errors), "count")
            Output.metric("\(m).k\(k).disconnects_per_s", Double(outcome.reset + outcome.bye + outcome.closed) / (seconds + 1.5), "conn/s")
            Output.metric("\(m).k\(k).unanswered_connects", Double(outcome.unanswered), "count")
            Output.metric("\(m).k\(k).reset_fraction", Double(outcome.reset) / Double(max(1, outcome.connections)), "fraction")
            Output.metric("\(m).k\(k).bye_fraction", Double(outcome.bye) / Double(max(1, outcome.connections)), "fraction")
            if reset.count > 0 {
                Output.metric("\(m).k\(k).time_to_reset_p50_ms", reset.percentileMs(50), "ms")
                Output.metric("\(m).k\(k).time_to_reset_max_ms", reset.percentileMs(100), "ms")
            }
            Output.metric("\(m).k\(k).never_reset", Double(outcome.held), "count")
            if let before = rssBefore, let peak = phase.peakRSS {
                let growth = Double(max(0, peak - before)) / 1_048_576
                Output.note("\(m) K=\(k): server RSS \(before / 1_048_576) MiB → peak \(peak / 1_048_576) MiB (+\(Output.format(growth)) MiB)")
                Output.metric("\(m).k\(k).rss_growth_mb", growth, "MiB")
            }
            if phase.client.errors > 0 { throw BenchError("\(m) K=\(k): the measured client failed") }
            try await Task.sleep(for: .seconds(1))  // let the server settle
        }
        await client.logout()
    }

    struct Phase {
        var client = LatencyStats()
        var login = LatencyStats()
        var peakRSS: Int?
    }

    /// Round trips of the logged-in client (NOOP and FETCH alternately), a new greeting+LOGIN every 500 ms, RSS
    /// sampled alongside.
    private func measure(_ client: IMAPClient, seconds: Double, endpoint: Endpoint, memory: ServerMemory) async throws -> Phase {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        let target = self.target
        @Sendable func probeLogins() async -> (LatencyStats, Int?) {
            var stats = LatencyStats()
            var peak = memory.residentBytes()
            while ContinuousClock.now < deadline {
                let start = ContinuousClock.now
                do {
                    let fresh = try await IMAPClient.connect(to: endpoint, group: measureGroup)
                    _ = try await fresh.login(target.user(2), target.password)
                    stats.record(ContinuousClock.now - start)
                    await fresh.logout()
                } catch {
                    stats.errors += 1
                }
                if let rss = memory.residentBytes() { peak = max(peak ?? 0, rss) }
                try? await Task.sleep(until: start + .milliseconds(500))
            }
            return (stats, peak)
        }
        async let logins = probeLogins()
        var phase = Phase()
        var n = 0
        while ContinuousClock.now < deadline {
            n += 1
            do {
                let reply = try await client.command(n % 2 == 0 ? "NOOP" : "FETCH 1 (FLAGS)")
                phase.client.record(reply.latency)
            } catch {
                phase.client.errors += 1
                Output.note("flood: measured client failed: \(error)")
                break
            }
        }
        let (login, peak) = await logins
        phase.login = login
        phase.peakRSS = peak
        return phase
    }
}

/// What happened to the flooders' connections.
struct FloodOutcome: Sendable {
    /// `held`: still open when the phase and its `--reset-wait` were over (never reset).
    var connections = 0, reset = 0, bye = 0, closed = 0, held = 0, refused = 0
    /// Connects that got no answer before their timeout (the server dropped the SYN).
    var unanswered = 0
    var bytes = 0
    /// Per connection the server ended: from its first flood byte written to its reset, BYE+close or close being seen.
    var timeToReset = LatencyStats()
    var errors: [String: Int] = [:]
}

/// How logged-in flooders log in: flooder I as user PREFIX(3 + I mod (n - 2)), so that they stay off the measured
/// client's user 1 and the login probe's user 2 and spread evenly over the rest (all n users when n < 3).
struct FloodLogin: Sendable {
    var target: TargetOptions
    var users: Int

    func user(flooder i: Int) -> String {
        users >= 3 ? target.user(3 + i % (users - 2)) : target.user(1 + i % users)
    }

    /// Logs every user PREFIX1..PREFIXn in once (4 at a time, bounded by 120 s), so that a server with a login cache
    /// (Keep) does not spend the first phases hashing the flooders' passwords.
    func warmUp() async throws {
        let (clients, errors) = await loginMany(users, target: target, users: users, concurrency: 4, deadline: .now + .seconds(120))
        for client in clients { await client.logout() }
        if let first = errors.first { throw BenchError("flood: \(errors.count) of \(users) users could not log in, first: \(first)") }
    }
}

/// The measured client's own event loop: the flooders' loops are busy writing, and a round trip measured on them
/// would time the load generator, not the server.
private let measureGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

/// Runs `k` flooders, connecting from `source` when given; each reconnects when the server drops it, until `stopAt`;
/// connections still open then go on until `holdUntil`.
private func flood(_ k: Int, endpoint: Endpoint, stopAt: NIODeadline, holdUntil: NIODeadline, login: FloodLogin?,
                   source: SocketAddress?) async -> FloodOutcome {
    await withTaskGroup(of: FloodOutcome.self) { group in
        for i in 0..<k {
            group.addTask {
                var outcome = FloodOutcome()
                while NIODeadline.now() < stopAt {
                    do {
                        // A connect never outlives the phase (a dropped SYN is retried by the kernel for minutes).
                        let timeout = min(.seconds(5), max(TimeAmount.milliseconds(10), stopAt - NIODeadline.now()))
                        let channel: any Channel
                        if let login {  // log in first, then hand the channel to the flood handler
                            let client = try await IMAPClient.connect(
                                to: endpoint, group: benchGroup, source: source, connectTimeout: timeout)
                            let limit = client.channel.eventLoop.scheduleTask(deadline: holdUntil) { client.channel.close(promise: nil) }
                            defer { limit.cancel() }
                            do {
                                try await client.login(login.user(flooder: i), login.target.password)
                            } catch {
                                await client.close()
                                throw error
                            }
                            channel = client.channel
                        } else {
                            var bootstrap = ClientBootstrap(group: benchGroup)
                                .channelOption(.autoRead, value: false)
                                .connectTimeout(timeout)
                            if let source { bootstrap = bootstrap.bind(to: source) }
                            channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
                        }
                        outcome.add(try await startFlood(on: channel, stopAt: holdUntil))
                    } catch ChannelError.connectTimeout {
                        outcome.unanswered += 1
                    } catch {
                        outcome.refused += 1
                        outcome.errors["refused: \("\(error)".trimmingSuffixCRLF)", default: 0] += 1
                        try? await Task.sleep(for: .milliseconds(50))
                    }
                }
                return outcome
            }
        }
        var total = FloodOutcome()
        for await o in group {
            total.connections += o.connections
            total.reset += o.reset
            total.bye += o.bye
            total.closed += o.closed
            total.held += o.held
            total.refused += o.refused
            total.unanswered += o.unanswered
            total.bytes += o.bytes
            total.timeToReset.merge(o.timeToReset)
            total.errors.merge(o.errors, uniquingKeysWith: +)
        }
        return total
    }
}

extension FloodOutcome {
    mutating func add(_ r: FloodHandler.Result) {
        connections += 1
        bytes += r.bytes
        errors[r.error ?? "none", default: 0] += 1
        switch r.end {
        case .reset: reset += 1
        case .bye: bye += 1
        case .closed: closed += 1
        case .held: held += 1
        }
        if r.end != .held, let time = r.timeToEnd { timeToReset.record(time) }
    }
}

private func startFlood(on channel: any Channel, stopAt: NIODeadline) async throws -> FloodHandler.Result {
    let done = channel.eventLoop.makePromise(of: FloodHandler.Result.self)
    try await channel.eventLoop.submit {
        _ = channel.setOption(.autoRead, value: false)
        // First in the pipeline: it sees the errors and the close before any IMAP client handler.
        try channel.pipeline.syncOperations.addHandler(FloodHandler(stopAt: stopAt, done: done), position: .first)
    }.get()
    return try await done.futureResult.get()
}

/// Writes 1,500-byte frames of `aN NOOP\r\n` while the socket takes them, never reads; reports how the connection ended.
final class FloodHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// reset: ECONNRESET/EPIPE; bye: the server said BYE and closed; closed: any other close; held: open at the end.
    enum End: Sendable { case reset, bye, closed, held }
    struct Result: Sendable {
        var end: End
        /// From the first flood byte written to the end being seen; nil when the connection ended before any.
        var timeToEnd: Duration?
        var bytes: Int
        var error: String?
    }

    private let stopAt: NIODeadline
    private let done: EventLoopPromise<Result>
    /// When the first frame was written.
    private var started: ContinuousClock.Instant?
    /// The frames this flooder sends over and over, built once: an attacker's CPU is its own, and building every
    /// command afresh here made the load generator, not the server, the limit on a 2-core machine.
    private var frames: [ByteBuffer] = []
    private var next = 0
    private var bytes = 0
    private var sawReset = false
    private var sawBye = false
    private var error: String?
    private var stopping = false
    private static let frameSize = 1500
    private static let maxBytes = 256 * 1024 * 1024  // bound per connection

    /// Sixteen 1,500-byte frames of `aN NOOP` with tags running on from frame to frame (repeating after the last).
    private static func makeFrames(_ allocator: ByteBufferAllocator) -> [ByteBuffer] {
        var tag = 1
        return (0..<16).map { _ in
            var frame = allocator.buffer(capacity: frameSize + 32)
            while frame.readableBytes < frameSize {
                frame.writeString("a\(tag) NOOP\r\n")
                tag += 1
            }
            return frame
        }
    }

    init(stopAt: NIODeadline, done: EventLoopPromise<Result>) {
        self.stopAt = stopAt
        self.done = done
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard context.channel.isActive else {
            // Dropped between connect and now (e.g. reset on arrival): no channelInactive will come to this handler.
            done.succeed(Result(end: .closed, timeToEnd: nil, bytes: 0, error: error))
            return
        }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(deadline: stopAt) {
            let (handler, context) = loopBound.value
            handler.stopping = true
            context.close(promise: nil)
        }
        if context.channel.isActive { writeMore(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        writeMore(context)
        context.fireChannelActive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { writeMore(context) }
    }

    private func writeMore(_ context: ChannelHandlerContext) {
        var wrote = false
        if frames.isEmpty { frames = Self.makeFrames(context.channel.allocator) }
        while context.channel.isWritable, !stopping, bytes < Self.maxBytes {
            let frame = frames[next % frames.count]
            next += 1
            bytes += frame.readableBytes
            context.write(Self.wrapOutboundOut(frame), promise: nil)
            wrote = true
        }
        if wrote {
            if started == nil { started = .now }
            // The close error (ECONNRESET, EPIPE) reaches only the promises of pending writes: watch the last one.
            let promise = context.eventLoop.makePromise(of: Void.self)
            let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
            promise.futureResult.whenFailure { error in loopBound.value.noteError(error) }
            context.write(Self.wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: promise)
            context.flush()
        }
    }

    private func noteError(_ error: any Error) {
        let text = "\(error)"
        if text.contains("reset") || text.contains("ECONNRESET") || text.contains("Broken pipe") || text.contains("EPIPE") {
            sawReset = true
        }
        if self.error == nil, !(error is ChannelError) { self.error = text }
    }

    /// Only reached when NIO drains the socket at EOF or reset (reads are otherwise off).
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = Self.unwrapInboundIn(data)
        if bytes.readableBytesView.firstRange(of: Array("* BYE".utf8)) != nil { sawBye = true }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        noteError(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let end: End = stopping ? .held : sawReset ? .reset : sawBye ? .bye : .closed
        done.succeed(Result(end: end, timeToEnd: started.map { ContinuousClock.now - $0 }, bytes: bytes, error: error))
        context.fireChannelInactive()
    }
}

@available(*, unavailable) extension FloodHandler: Sendable {}
