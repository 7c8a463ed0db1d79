import ArgumentParser
import NIOCore
import NIOPosix

/// `lmtp`: D parallel LMTP sessions delivering corpus messages; durable deliveries/s (the server answers 250 only
/// after the commit) and the latency of one transaction (MAIL, RCPT, DATA pipelined, then the message).
struct LMTP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lmtp", abstract: "Parallel LMTP delivery: deliveries/s, p50/p99.")

    @OptionGroup var target: TargetOptions

    @Option(help: "Parallel LMTP sessions.")
    var sessions: Int = 10

    @Option(help: "Seconds to run (default 20; 5 with --smoke).")
    var duration: Double?

    @Option(help: "Recipients are RCPT-PREFIX1..RCPT-PREFIXn (default: the user prefix).")
    var rcptPrefix: String?

    @Option(help: "Number of distinct recipients.")
    var recipients: Int = 10

    @Option(help: "Largest message delivered (bytes); the corpus mix is 1 KB–1 MB.")
    var maxSize: Int = 1_000_000

    mutating func run() async throws {
        let seconds = duration ?? (target.smoke ? 5 : 20)
        let endpoint = try target.lmtpEndpoint()
        let prefix = rcptPrefix ?? target.userPrefix
        let (domain, recipients, maxSize) = (target.domain, self.recipients, self.maxSize)
        let start = ContinuousClock.now
        let deadline = start + .milliseconds(Int64(seconds * 1000))
        let (stats, bytes) = await withTaskGroup(of: (LatencyStats, Int).self) { group in
            for s in 0..<sessions {
                group.addTask {
                    var stats = LatencyStats()
                    var bytes = 0
                    var rng = SplitMix64(seed: UInt64(s) &* 31 &+ 7)
                    var reported = false
                    while ContinuousClock.now < deadline {
                        do {
                            let client = try await LMTPClient.connect(to: endpoint)
                            defer { client.close() }
                            try await client.expect(client.greeting, 220)
                            try await client.expect(client.send(["LHLO bench.test"]).first!, 250)
                            while ContinuousClock.now < deadline {
                                let n = Int.random(in: 1...recipients, using: &rng)
                                let message = Corpus.message(Int.random(in: 0..<1_000_000, using: &rng), maxSize: maxSize, recipient: "\(prefix)\(n)@\(domain)")
                                let took = try await client.deliver(from: "sender@example.org", to: ["\(prefix)\(n)@\(domain)"], message: message)
                                stats.record(took)
                                bytes += message.readableBytes
                            }
                            _ = try? await client.send(["QUIT"]).first?.get()
                        } catch {
                            stats.errors += 1
                            if !reported {
                                reported = true
                                Output.note("lmtp session \(s): \(error)")
                            }
                            try? await Task.sleep(for: .milliseconds(100))
                        }
                    }
                    return (stats, bytes)
                }
            }
            var total = LatencyStats()
            var bytes = 0
            for await (s, b) in group {
                total.merge(s)
                bytes += b
            }
            return (total, bytes)
        }
        let elapsed = (ContinuousClock.now - start).seconds
        Output.note("lmtp: \(sessions) sessions, \(Output.format(elapsed)) s, \(stats.count) deliveries, \(bytes / 1_048_576) MiB (\(target.label))")
        var table = CommandStats()
        table.byName["DELIVERY"] = stats
        Output.table("lmtp", table, seconds: elapsed)
        Output.metric("lmtp.MiB_per_s", Double(bytes) / 1_048_576 / elapsed, "MiB/s")
        Output.metric("lmtp.errors", Double(stats.errors), "count")
        if stats.count == 0 { throw BenchError("lmtp: no delivery completed") }
    }
}

/// One LMTP reply: the code and the text of its last line.
struct LMTPReply: Sendable {
    var code: Int
    var text: String
}

/// An LMTP connection: replies are matched to commands in order.
final class LMTPClient: Sendable {
    let channel: any Channel
    let greeting: EventLoopFuture<LMTPReply>
    private let handler: NIOLoopBound<LMTPClientHandler>

    private init(channel: any Channel, handler: NIOLoopBound<LMTPClientHandler>, greeting: EventLoopFuture<LMTPReply>) {
        self.channel = channel
        self.handler = handler
        self.greeting = greeting
    }

    static func connect(to endpoint: Endpoint) async throws -> LMTPClient {
        let channel = try await ClientBootstrap(group: benchGroup)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(LMTPClientHandler()) }
            }
            .connect(host: endpoint.host, port: endpoint.port).get()
        return try await channel.eventLoop.submit {
            let handler = try channel.pipeline.syncOperations.handler(type: LMTPClientHandler.self)
            let greeting = handler.greeting ?? channel.eventLoop.makeFailedFuture(BenchError("no LMTP greeting"))
            return LMTPClient(channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop), greeting: greeting)
        }.get()
    }

    /// Writes the lines (pipelined) and returns one future reply per line, plus `extraReplies` more.
    func send(_ lines: [String], payload: ByteBuffer? = nil, extraReplies: Int = 0) -> [EventLoopFuture<LMTPReply>] {
        var promises: [EventLoopPromise<LMTPReply>] = []
        for _ in 0..<(lines.count + extraReplies) { promises.append(channel.eventLoop.makePromise()) }
        var out = channel.allocator.buffer(capacity: 256 + (payload?.readableBytes ?? 0))
        for line in lines { out.writeString(line + "\r\n") }
        if var payload { out.writeBuffer(&payload) }
        let bytes = out
        let queued = promises
        let handler = self.handler
        let channel = self.channel
        channel.eventLoop.execute {
            handler.value.waiters.append(contentsOf: queued)
            channel.writeAndFlush(bytes, promise: nil)
        }
        return promises.map(\.futureResult)
    }

    func expect(_ reply: EventLoopFuture<LMTPReply>, _ code: Int) async throws {
        // Bounded: a reply that does not come within 120 s closes the connection (which fails every waiter).
        let channel = self.channel
        let timeout = channel.eventLoop.scheduleTask(in: .seconds(120)) { channel.close(promise: nil) }
        defer { timeout.cancel() }
        let r = try await reply.get()
        guard r.code == code else { throw BenchError("LMTP expected \(code), got \(r.code) \(r.text)") }
    }

    /// MAIL, RCPT… and DATA pipelined; after 354 the dot-stuffed message; one 250 per recipient.
    func deliver(from: String, to: [String], message: ByteBuffer) async throws -> Duration {
        let start = ContinuousClock.now
        let replies = send(["MAIL FROM:<\(from)>"] + to.map { "RCPT TO:<\($0)>" } + ["DATA"])
        for reply in replies.dropLast() { try await expect(reply, 250) }
        try await expect(replies.last!, 354)
        let finals = send([], payload: Self.dotStuffed(message), extraReplies: to.count)
        for reply in finals { try await expect(reply, 250) }
        return ContinuousClock.now - start
    }

    /// The message with leading dots doubled, CRLF-terminated, followed by `.CRLF`.
    static func dotStuffed(_ message: ByteBuffer) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(message.readableBytes + 16)
        var atLineStart = true
        message.withUnsafeReadableBytes { bytes in
            var runStart = 0
            for (i, b) in bytes.enumerated() {
                if atLineStart, b == UInt8(ascii: ".") {
                    out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[runStart..<i]))
                    out.writeInteger(UInt8(ascii: "."))
                    runStart = i
                }
                atLineStart = b == UInt8(ascii: "\n")
            }
            out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[runStart...]))
        }
        if !atLineStart { out.writeString("\r\n") }
        out.writeString(".\r\n")
        return out
    }

    func close() { channel.close(promise: nil) }
}

/// Cuts LMTP replies (multi-line `250-…` up to `250 …`) and fulfils waiters in order.
final class LMTPClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    var waiters: [EventLoopPromise<LMTPReply>] = []
    /// The 220 greeting; its waiter is queued before the connection can deliver it.
    private(set) var greeting: EventLoopFuture<LMTPReply>?
    private var buffer = ByteBuffer()

    func handlerAdded(context: ChannelHandlerContext) {
        let promise = context.eventLoop.makePromise(of: LMTPReply.self)
        waiters.append(promise)
        greeting = promise.futureResult
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = Self.unwrapInboundIn(data)
        buffer.writeBuffer(&input)
        while let lf = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let line = buffer.readString(length: lf - buffer.readerIndex + 1)!.trimmingSuffixCRLF
            let bytes = Array(line.utf8)
            if bytes.count >= 4, bytes[3] == UInt8(ascii: "-") { continue }
            let reply = LMTPReply(code: Int(line.prefix(3)) ?? 0, text: line)
            if !waiters.isEmpty { waiters.removeFirst().succeed(reply) }
        }
        buffer.discardReadBytes()
        if buffer.readableBytes > 65536 { context.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let waiters = self.waiters
        self.waiters = []
        for w in waiters { w.fail(BenchError("LMTP connection closed")) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

@available(*, unavailable) extension LMTPClientHandler: Sendable {}
