import ArgumentParser
import NIOCore
import NIOPosix

/// `floor-server` (hidden): the cheapest possible "IMAP server" on SwiftNIO — greets, and answers every line `TAG OK`.
/// It gives the ceiling a SwiftNIO server reaches on this machine for ping-pong traffic.
struct FloorServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "floor-server", abstract: "A bare SwiftNIO server answering every line TAG OK.", shouldDisplay: false)

    @Option(help: "Port on 127.0.0.1 (0 = any free port).")
    var port: Int = 0

    @Option(help: "Stop after this many seconds (bounded lifetime).")
    var lifetime: Double = 3600

    mutating func run() async throws {
        let channel = try await ServerBootstrap(group: benchGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(FloorHandler()) }
            }
            .bind(host: "127.0.0.1", port: port).get()
        var err = StandardError()
        print("listening imap 127.0.0.1:\(channel.localAddress?.port ?? 0)", to: &err)
        try await Task.sleep(for: .milliseconds(Int64(lifetime * 1000)))
        try await channel.close()
    }
}

/// Answers each CRLF-terminated line with `TAG OK` (LOGOUT also closes). One pass over the bytes, no allocation per
/// line: it is the ceiling the other servers are compared with.
final class FloorHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var pending = ByteBuffer()
    private var out = ByteBuffer()

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer(string: "* OK [CAPABILITY IMAP4rev1 LITERAL+] floor ready\r\n")), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = Self.unwrapInboundIn(data)
        pending.writeBuffer(&input)
        var logout = false
        let consumed = pending.withUnsafeReadableBytes { bytes in
            var start = 0
            while let lf = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = UnsafeRawBufferPointer(rebasing: bytes[start..<lf])
                let tagEnd = line.firstIndex(of: UInt8(ascii: " ")) ?? line.count
                out.writeBytes(UnsafeRawBufferPointer(rebasing: line[..<tagEnd]))
                out.writeStaticString(" OK done\r\n")
                if tagEnd < line.count, Self.isLogout(UnsafeRawBufferPointer(rebasing: line[(tagEnd + 1)...])) { logout = true }
                start = lf + 1
            }
            return start
        }
        pending.moveReaderIndex(forwardBy: consumed)
        pending.discardReadBytes()
        if pending.readableBytes > 65536 { context.close(promise: nil) }
        if logout {
            context.writeAndFlush(Self.wrapOutboundOut(out), promise: nil)
            out.clear()
            context.close(promise: nil)
        }
    }

    /// Whether the command after the tag is LOGOUT (any case).
    private static func isLogout(_ command: UnsafeRawBufferPointer) -> Bool {
        let word = command.prefix { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") }
        return word.count == 6 && zip(word, "LOGOUT".utf8).allSatisfy { $0 & 0xDF == $1 }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if out.readableBytes > 0 {
            context.writeAndFlush(Self.wrapOutboundOut(out), promise: nil)
            out = context.channel.allocator.buffer(capacity: 256)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

/// `ping`: C logged-in clients each doing NOOP round trips as fast as the server answers; with `--pipeline N`, each
/// writes N NOOPs at once and waits for all N answers before the next batch.
struct Ping: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "NOOP ping-pong at C connections: NOOPs/s, p50/p99.")

    @OptionGroup var target: TargetOptions

    @Option(help: "Connections.")
    var clients: Int = 50

    @Option(help: "Distinct users the connections log in as (PREFIX1..PREFIXn).")
    var users: Int = 50

    @Option(help: "Seconds to run (default 10; 5 with --smoke).")
    var duration: Double?

    @Option(help: "NOOPs per write: each connection writes N NOOPs (distinct tags) at once and reads all N answers before the next write; p50/p99 are those of the batch round trip, metrics under pipe<N>.* (default 1: one NOOP per round trip, metrics under ping.*).")
    var pipeline: Int = 1

    func validate() throws {
        guard (1...10_000).contains(pipeline) else { throw ValidationError("--pipeline must be 1...10000") }
    }

    mutating func run() async throws {
        let seconds = duration ?? (target.smoke ? 5 : 10)
        let scenario = pipeline == 1 ? "ping" : "pipe\(pipeline)"
        let (clients, errors) = await loginMany(
            clients, target: target, users: users, deadline: .now + .seconds(120))
        if let first = errors.first { Output.note("\(scenario): \(errors.count) logins failed, first: \(first)") }
        guard !clients.isEmpty else { throw BenchError("\(scenario): no connection logged in") }
        let start = ContinuousClock.now
        let deadline = start + .milliseconds(Int64(seconds * 1000))
        let pipeline = self.pipeline
        let stats = await withTaskGroup(of: LatencyStats.self) { group in
            for client in clients {
                group.addTask {
                    var stats = LatencyStats()
                    while ContinuousClock.now < deadline {
                        do {
                            let reply = try await pipeline == 1 ? client.command("NOOP") : client.pipelined("NOOP", count: pipeline)
                            stats.record(reply.latency)
                        } catch {
                            stats.errors += 1
                            return stats
                        }
                    }
                    return stats
                }
            }
            var total = LatencyStats()
            for await s in group { total.merge(s) }
            return total
        }
        let elapsed = (ContinuousClock.now - start).seconds
        for client in clients { await client.logout() }
        let per = pipeline == 1 ? "" : " × \(pipeline) NOOPs per write (p50/p99: the round trip of a whole write)"
        Output.note("\(scenario): \(clients.count) connections\(per), \(Output.format(elapsed)) s (\(target.label))")
        var table = CommandStats()
        table.byName["NOOP"] = stats
        Output.table(scenario, table, seconds: elapsed, opsPerSample: pipeline)
        Output.metric("\(scenario).errors", Double(stats.errors), "count")
        if stats.count == 0 { throw BenchError("\(scenario): no NOOP completed") }
    }
}

/// `print(..., to: &err)` target.
struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        var s = string
        s.withUTF8 { bytes in _ = fwriteStderr(bytes) }
    }
}
