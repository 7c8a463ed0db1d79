import NIOCore
import NIOPosix

/// A failure of the benchmark itself or of the server under test, in words.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Cuts IMAP server output into responses: one line plus the literals it announces (`{n}` / `{n+}` / `~{n}`).
/// Each response is passed on whole, CRLF included.
struct IMAPResponseDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    /// Bytes of the response being cut that are already known to belong to it (lines and literals).
    private var scanned = 0

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        while true {
            if scanned > buffer.readableBytes { return .needMoreData }  // inside a literal
            let found: (lineEnd: Int, literal: Int?)? = buffer.withUnsafeReadableBytes { bytes in
                guard let lf = bytes[scanned...].firstIndex(of: UInt8(ascii: "\n")) else { return nil }
                return (lf + 1, Self.literalLength(bytes, lineFeed: lf))
            }
            guard let found else {
                scanned = buffer.readableBytes
                return .needMoreData
            }
            if let literal = found.literal {
                scanned = found.lineEnd + literal
                continue
            }
            let response = buffer.readSlice(length: found.lineEnd)!
            scanned = 0
            context.fireChannelRead(Self.wrapInboundOut(response))
            return .continue
        }
    }

    /// `n` when the line ending at `lineFeed` ends with `{n}` or `{n+}` (before CRLF).
    static func literalLength(_ bytes: UnsafeRawBufferPointer, lineFeed: Int) -> Int? {
        var i = lineFeed - 1
        if i >= 0, bytes[i] == UInt8(ascii: "\r") { i -= 1 }
        guard i >= 0, bytes[i] == UInt8(ascii: "}") else { return nil }
        i -= 1
        if i >= 0, bytes[i] == UInt8(ascii: "+") { i -= 1 }
        var value = 0, digits = 0
        var scale = 1
        while i >= 0, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9"), digits < 12 {
            value += Int(bytes[i] - UInt8(ascii: "0")) * scale
            scale *= 10
            digits += 1
            i -= 1
        }
        guard digits > 0, i >= 0, bytes[i] == UInt8(ascii: "{") else { return nil }
        return value
    }
}

/// The server's tagged answer to one command, with the untagged responses that came before it.
struct Reply: Sendable {
    enum Status: Sendable { case ok, no, bad }
    var status: Status
    var line: String
    var untagged: [ByteBuffer]
    /// From the write of the command to the arrival of its tagged answer, both taken on the event loop.
    var latency: Duration
    /// Bytes of all responses to the command.
    var bytes: Int

    /// The untagged responses as text (literals included), for the few callers that parse them.
    var untaggedText: [String] { untagged.map { String(buffer: $0) } }
}

/// The client side of one IMAP connection; lives on its channel's event loop.
final class IMAPClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private struct Waiter {
        var tag: String
        var sent: ContinuousClock.Instant
        var promise: EventLoopPromise<Reply>
        var untagged: [ByteBuffer] = []
        var bytes = 0
    }

    /// A pipelined batch in flight: `count` commands tagged `a<first>`… written at once, answered as a whole.
    private struct Batch {
        var first: Int
        var count: Int
        var sent: ContinuousClock.Instant
        var promise: EventLoopPromise<Reply>
        var answered = 0
        var bytes = 0
        /// The first tagged answer that was not OK, else the last one.
        var line: ByteBuffer?
        var failed = false
    }

    private var greeting: EventLoopPromise<String>?
    /// The greeting, kept after it arrived.
    private(set) var greetingFuture: EventLoopFuture<String>?
    private var waiters: [Waiter] = []
    private var batch: Batch?
    private var continuation: EventLoopPromise<Void>?
    private var pushWaiter: (match: [UInt8], promise: EventLoopPromise<ContinuousClock.Instant>)?
    private var nextTag = 1
    private var closedReason: String?
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        greeting = context.eventLoop.makePromise()
        greetingFuture = greeting?.futureResult
    }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Writes `TAG text CRLF` (plus `literal` and CRLF after it when given, for LITERAL+).
    func send(_ text: String, literal: ByteBuffer? = nil, promise: EventLoopPromise<Reply>) {
        guard let context, closedReason == nil else {
            return promise.fail(BenchError("connection closed: \(closedReason ?? "gone")"))
        }
        let tag = "a\(nextTag)"
        nextTag += 1
        var out = context.channel.allocator.buffer(capacity: text.utf8.count + 16 + (literal?.readableBytes ?? 0))
        out.writeString(tag)
        out.writeInteger(UInt8(ascii: " "))
        out.writeString(text)
        out.writeString("\r\n")
        if var literal {
            out.writeBuffer(&literal)
            out.writeString("\r\n")
        }
        waiters.append(Waiter(tag: tag, sent: .now, promise: promise))
        context.writeAndFlush(Self.wrapOutboundOut(out), promise: nil)
    }

    /// Writes `count` copies of `TAG text CRLF` under consecutive fresh tags in one write; `promise` gets one reply for
    /// them all once every tagged answer arrived (OK only when all were OK; latency from the write to the last answer).
    func sendBatch(_ text: String, count: Int, promise: EventLoopPromise<Reply>) {
        guard let context, closedReason == nil else {
            return promise.fail(BenchError("connection closed: \(closedReason ?? "gone")"))
        }
        guard waiters.isEmpty, batch == nil, count > 0 else {
            return promise.fail(BenchError("a batch needs an idle connection and at least one command"))
        }
        var out = context.channel.allocator.buffer(capacity: count * (text.utf8.count + 12))
        for n in nextTag..<nextTag + count {
            out.writeString("a\(n) \(text)\r\n")
        }
        batch = Batch(first: nextTag, count: count, sent: .now, promise: promise)
        nextTag += count
        context.writeAndFlush(Self.wrapOutboundOut(out), promise: nil)
    }

    /// Takes a response while a batch is in flight: untagged ones count in its bytes, its tagged answers towards its
    /// end; false when there is no batch or the answer is not one of its own (the caller handles it then).
    private func batchAnswer(_ response: ByteBuffer, at now: ContinuousClock.Instant) -> Bool {
        guard var batch else { return false }
        batch.bytes += response.readableBytes
        self.batch = batch
        guard let (tag, statusAt) = Self.tag(response) else { return true }  // an untagged line: counted in bytes
        guard tag >= batch.first, tag < batch.first + batch.count else { return false }
        let ok = response.readableBytesView.dropFirst(statusAt).starts(with: "OK".utf8)
        if !batch.failed { batch.line = response }
        batch.failed = batch.failed || !ok
        batch.answered += 1
        guard batch.answered == batch.count else {
            self.batch = batch
            return true
        }
        self.batch = nil
        batch.promise.succeed(
            Reply(
                status: batch.failed ? .bad : .ok, line: batch.line.map { String(buffer: $0).trimmingSuffixCRLF } ?? "", untagged: [],
                latency: now - batch.sent, bytes: batch.bytes))
        return true
    }

    /// N of a response tagged `aN` and the offset of its status (after the space), nil for any other response.
    private static func tag(_ response: ByteBuffer) -> (number: Int, statusAt: Int)? {
        response.withUnsafeReadableBytes { bytes in
            guard bytes.first == UInt8(ascii: "a") else { return nil }
            var value = 0
            for i in 1..<min(bytes.count, 20) {
                let byte = bytes[i]
                if byte == UInt8(ascii: " ") { return i > 1 ? (value, i + 1) : nil }
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return nil
        }
    }

    /// Writes raw bytes (the rest of a synchronising literal, `DONE`).
    func sendRaw(_ bytes: ByteBuffer) {
        context?.writeAndFlush(Self.wrapOutboundOut(bytes), promise: nil)
    }

    func expectContinuation(_ promise: EventLoopPromise<Void>) {
        continuation?.fail(BenchError("unexpected second continuation wait"))
        continuation = promise
    }

    /// Fulfilled with the arrival time of the next untagged response containing `match` (e.g. `EXISTS`).
    func expectPush(_ match: String, _ promise: EventLoopPromise<ContinuousClock.Instant>) {
        pushWaiter?.promise.fail(BenchError("replaced"))
        pushWaiter = (Array(match.utf8), promise)
    }

    func cancelPush(_ promise: EventLoopPromise<ContinuousClock.Instant>) {
        guard let push = pushWaiter, push.promise.futureResult === promise.futureResult else { return }
        pushWaiter = nil
        promise.fail(BenchError("no push within the timeout"))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let now = ContinuousClock.now
        let response = Self.unwrapInboundIn(data)
        if let greeting {
            self.greeting = nil
            greeting.succeed(String(buffer: response))
            return
        }
        if batchAnswer(response, at: now) { return }
        let first = response.getInteger(at: response.readerIndex, as: UInt8.self)
        if first == UInt8(ascii: "+") {
            if let continuation {
                self.continuation = nil
                continuation.succeed(())
            }
            return
        }
        if first == UInt8(ascii: "*") {
            if let push = pushWaiter, response.readableBytesView.firstRange(of: push.match) != nil {
                pushWaiter = nil
                push.promise.succeed(now)
            }
            if !waiters.isEmpty {
                waiters[0].untagged.append(response)
                waiters[0].bytes += response.readableBytes
            }
            return
        }
        let line = String(buffer: response)
        let parts = line.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let index = waiters.firstIndex(where: { $0.tag == parts[0] }) else { return }
        let waiter = waiters.remove(at: index)
        if let continuation {  // a synchronising literal the server refused
            self.continuation = nil
            continuation.fail(BenchError("refused: \(line)"))
        }
        let status: Reply.Status = parts[1].uppercased() == "OK" ? .ok : parts[1].uppercased() == "NO" ? .no : .bad
        waiter.promise.succeed(
            Reply(
                status: status, line: line.trimmingSuffixCRLF, untagged: waiter.untagged,
                latency: now - waiter.sent, bytes: waiter.bytes + response.readableBytes))
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(closedReason ?? "connection closed by the server")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll("\(error)")
        context.close(promise: nil)
    }

    private func failAll(_ reason: String) {
        if closedReason == nil { closedReason = reason }
        let error = BenchError("connection closed: \(reason)")
        greeting?.fail(error)
        greeting = nil
        continuation?.fail(error)
        continuation = nil
        pushWaiter?.promise.fail(error)
        pushWaiter = nil
        batch?.promise.fail(error)
        batch = nil
        let waiters = self.waiters
        self.waiters = []
        for waiter in waiters { waiter.promise.fail(error) }
    }
}

@available(*, unavailable) extension IMAPClientHandler: Sendable {}

extension String {
    var trimmingSuffixCRLF: String {
        var s = Substring(self)
        while let last = s.last, last == "\r\n" || last == "\n" || last == "\r" { s = s.dropLast() }
        return String(s)
    }
}

/// One IMAP connection with an `async` command API. Commands may be pipelined from several tasks.
final class IMAPClient: Sendable {
    let channel: any Channel
    let greeting: String
    let literalPlus: Bool
    private let handler: NIOLoopBound<IMAPClientHandler>

    private init(channel: any Channel, handler: NIOLoopBound<IMAPClientHandler>, greeting: String) {
        self.channel = channel
        self.handler = handler
        self.greeting = greeting
        self.literalPlus = greeting.uppercased().contains("LITERAL+")
    }

    /// Connects (from `source` when given) and waits for the greeting.
    static func connect(
        to endpoint: Endpoint, group: any EventLoopGroup, source: SocketAddress? = nil,
        connectTimeout: TimeAmount = .seconds(10)
    ) async throws -> IMAPClient {
        var bootstrap = ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(IMAPResponseDecoder()))
                    try channel.pipeline.syncOperations.addHandler(IMAPClientHandler())
                }
            }
        if let source { bootstrap = bootstrap.bind(to: source) }
        let channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        let (handler, greeting) = try await channel.eventLoop.submit {
            let handler = try channel.pipeline.syncOperations.handler(type: IMAPClientHandler.self)
            return (
                NIOLoopBound(handler, eventLoop: channel.eventLoop),
                handler.greetingFuture ?? channel.eventLoop.makeFailedFuture(BenchError("no greeting"))
            )
        }.get()
        do {
            let text = try await greeting.get()
            guard text.hasPrefix("* OK") || text.hasPrefix("* PREAUTH") else { throw BenchError("greeting: \(text)") }
            return IMAPClient(channel: channel, handler: handler, greeting: text)
        } catch {
            channel.close(promise: nil)
            throw error
        }
    }

    private func onLoop(_ body: @escaping @Sendable (IMAPClientHandler) -> Void) {
        let handler = self.handler
        if channel.eventLoop.inEventLoop {
            body(handler.value)
        } else {
            channel.eventLoop.execute { body(handler.value) }
        }
    }

    /// Sends `text` under a fresh tag and waits for the tagged answer; NO/BAD throw unless `allowNo`.
    @discardableResult
    func command(_ text: String, allowNo: Bool = false) async throws -> Reply {
        try await answer(to: text, allowNo: allowNo) { $0.send(text, promise: $1) }
    }

    /// Writes `count` commands `text` (each under its own tag) in one write and waits for all their tagged answers:
    /// one reply whose latency runs from the write to the last answer; throws unless every answer was OK. Needs a
    /// connection with no other command in flight.
    @discardableResult
    func pipelined(_ text: String, count: Int) async throws -> Reply {
        try await answer(to: "\(count) × \(text)", allowNo: false) { $0.sendBatch(text, count: count, promise: $1) }
    }

    /// Runs `send` on the event loop with a fresh promise and waits for it, bounded: no answer within 300 s closes the
    /// connection (which fails every waiter).
    private func answer(
        to text: String, allowNo: Bool, _ send: @escaping @Sendable (IMAPClientHandler, EventLoopPromise<Reply>) -> Void
    ) async throws -> Reply {
        let promise = channel.eventLoop.makePromise(of: Reply.self)
        onLoop { send($0, promise) }
        let channel = self.channel
        let timeout = channel.eventLoop.scheduleTask(in: .seconds(300)) { channel.close(promise: nil) }
        defer { timeout.cancel() }
        let reply = try await promise.futureResult.get()
        if reply.status != .ok, !allowNo { throw BenchError("\(text.prefix(60)) → \(reply.line)") }
        return reply
    }

    @discardableResult
    func login(_ user: String, _ password: String) async throws -> Reply {
        try await command("LOGIN \(user.imapQuoted) \(password.imapQuoted)")
    }

    /// APPEND with LITERAL+ when the server offers it, else a synchronising literal.
    @discardableResult
    func append(to mailbox: String, message: ByteBuffer, flags: String = "") async throws -> Reply {
        let flagList = flags.isEmpty ? "" : " (\(flags))"
        let promise = channel.eventLoop.makePromise(of: Reply.self)
        if literalPlus {
            let text = "APPEND \(mailbox.imapQuoted)\(flagList) {\(message.readableBytes)+}"
            onLoop { $0.send(text, literal: message, promise: promise) }
        } else {
            let text = "APPEND \(mailbox.imapQuoted)\(flagList) {\(message.readableBytes)}"
            let ready = channel.eventLoop.makePromise(of: Void.self)
            onLoop {
                $0.expectContinuation(ready)
                $0.send(text, promise: promise)
            }
            try await ready.futureResult.get()
            var rest = message
            rest.writeString("\r\n")
            let bytes = rest
            onLoop { $0.sendRaw(bytes) }
        }
        let reply = try await promise.futureResult.get()
        if reply.status != .ok { throw BenchError("APPEND → \(reply.line)") }
        return reply
    }

    /// Starts IDLE; returns once the server said `+`. `done()` ends it.
    func idle() async throws -> EventLoopFuture<Reply> {
        let promise = channel.eventLoop.makePromise(of: Reply.self)
        let ready = channel.eventLoop.makePromise(of: Void.self)
        onLoop {
            $0.expectContinuation(ready)
            $0.send("IDLE", promise: promise)
        }
        try await ready.futureResult.get()
        return promise.futureResult
    }

    func done(_ idle: EventLoopFuture<Reply>) async throws {
        var bytes = channel.allocator.buffer(capacity: 6)
        bytes.writeString("DONE\r\n")
        let out = bytes
        onLoop { $0.sendRaw(out) }
        _ = try await idle.get()
    }

    /// A future fulfilled with the arrival time of the next untagged response containing `match`, or failed after
    /// `timeout`.
    func expectPush(_ match: String, timeout: TimeAmount) -> EventLoopFuture<ContinuousClock.Instant> {
        let promise = channel.eventLoop.makePromise(of: ContinuousClock.Instant.self)
        let handler = self.handler
        onLoop { $0.expectPush(match, promise) }
        channel.eventLoop.scheduleTask(in: timeout) { handler.value.cancelPush(promise) }
        return promise.futureResult
    }

    func logout() async {
        _ = try? await command("LOGOUT", allowNo: true)
        try? await channel.close()
    }

    func close() async { try? await channel.close() }
}

extension String {
    /// An IMAP quoted string.
    var imapQuoted: String {
        var out = "\""
        for c in self {
            if c == "\\" || c == "\"" { out.append("\\") }
            out.append(c)
        }
        return out + "\""
    }
}

/// `host:port`.
struct Endpoint: Sendable, CustomStringConvertible {
    var host: String
    var port: Int
    var description: String { "\(host):\(port)" }

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let number = Int(text[text.index(after: colon)...]) else { return nil }
        host = String(text[..<colon])
        port = number
    }
}
