public import KeepGuard
import KeepLMTP
public import KeepStore
public import Logging
public import NIOCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What LMTP connections share: the store, the limits, the guard's reporter and the local domains.
public final class LMTPServerContext: Sendable {
    public let store: any MailStore
    public let limits: Limits
    public let reporter: GuardReporter
    public let logger: Logger
    public let hostname: String
    /// When non-empty, only recipients in these domains are local; otherwise any domain reaches the local part.
    public let localDomains: [String]
    let connections = ConnectionCounter()
    /// Open connections, for a graceful shutdown.
    public let live = LiveConnections()

    public init(store: any MailStore, limits: Limits, reporter: GuardReporter, logger: Logger, hostname: String = "keep",
                localDomains: [String] = []) {
        self.store = store
        self.limits = limits
        self.reporter = reporter
        self.logger = logger
        self.hostname = hostname
        self.localDomains = localDomains.map { $0.lowercased() }
    }
}

/// One LMTP connection (RFC 2033): LHLO, MAIL, RCPT, DATA with one reply per accepted recipient, RSET, NOOP,
/// QUIT. Pipelined commands are answered in order; more than `lmtp.max_pending_commands` unanswered resets the
/// connection. A delivery is acknowledged (`250`) only after the store committed it.
public final class LMTPConnectionHandler: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let ctx: LMTPServerContext
    /// Lines, DATA and the message: the protocol's framing, without I/O.
    private var framer: LMTPFramer
    private var queue: [LMTPFrame] = []
    private var pending = 0
    private var executing = false
    private var closing = false
    private var peer = "unknown"
    private var transaction = Transaction()
    private var admitted = false
    private var idleTimer: Scheduled<Void>?
    private var lastActivity = NIODeadline.now()
    private var liveToken: LiveConnections.Token?
    /// The server is stopping: a delivery being committed finishes and is answered, then `421`.
    private var shuttingDown = false

    /// The envelope of the mail transaction in progress.
    struct Transaction {
        var greeted = false
        var sender: String?
        var recipients: [(address: String, user: String)] = []
    }

    public init(context: LMTPServerContext) {
        self.ctx = context
        self.framer = LMTPFramer(limits: LMTPFramingLimits(maxLineLength: context.limits.lmtpMaxLineLength,
                                                           maxMessageSize: context.limits.lmtpMaxMessageSize))
    }

    public func channelActive(context: ChannelHandlerContext) {
        peer = context.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "unknown"
        guard ctx.connections.increment(limit: ctx.limits.lmtpMaxConnections) else {
            report(.connectionLimit, limit: "lmtp.max_connections")
            send(context, "421 4.3.2 Too many connections, try again later")
            closing = true
            context.close(promise: nil)
            return
        }
        admitted = true
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        guard let token = ctx.live.add(drain: {
            bound.eventLoop.execute { bound.value.0.beginShutdown(bound.value.1) }
        }) else {
            send(context, "421 4.3.2 \(ctx.hostname) shutting down, try again later")
            closing = true
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
                channel.close(promise: nil)
            }
            return
        }
        liveToken = token
        send(context, "220 \(ctx.hostname) LMTP Keep ready")
        context.flush()
        armIdleTimer(context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if admitted { ctx.connections.decrement() }
        admitted = false
        if let token = liveToken { ctx.live.remove(token) }
        liveToken = nil
        closing = true
        idleTimer?.cancel()
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func report(_ kind: GuardEventKind, limit: String, detail: String = "") {
        ctx.reporter.report(GuardEvent(kind: kind, peer: peer, state: "lmtp", user: nil, limit: limit, detail: detail))
    }

    private func send(_ context: ChannelHandlerContext, _ line: String) {
        context.write(wrapOutboundOut(context.channel.allocator.buffer(string: line + "\r\n")), promise: nil)
    }

    // MARK: Framing

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing, !shuttingDown else { return }
        let buffer = unwrapInboundIn(data)
        lastActivity = .now()
        do {
            try framer.append(buffer.readableBytesView)
        } catch {
            // Bytes held unframed (a client sending its message before our 354) are bounded too.
            report(.lmtpMessageTooLarge, limit: "lmtp.max_message_size", detail: "unframed input")
            reset(context)
            return
        }
        frame(context)
        guard !closing else { return }
        runNext(context)
        context.flush()
    }

    /// Takes lines (commands) and, in DATA, the message up to `CRLF.CRLF` from the framer, which enforces the line
    /// and message bounds; it stops at a DATA command until that is answered.
    private func frame(_ context: ChannelHandlerContext) {
        while !closing, let frame = framer.next() {
            enqueue(context, frame)
        }
    }

    private func enqueue(_ context: ChannelHandlerContext, _ item: LMTPFrame) {
        if case .message = item {} else {
            pending += 1
            if pending > ctx.limits.lmtpMaxPendingCommands {
                report(.lmtpPendingCommandsReset, limit: "lmtp.max_pending_commands", detail: "\(pending) pending")
                reset(context)
                return
            }
        }
        queue.append(item)
    }

    private func reset(_ context: ChannelHandlerContext) {
        closing = true
        queue.removeAll()
        let channel = context.channel
        guard let provider = channel as? any SocketOptionProvider else {
            channel.close(promise: nil)
            return
        }
        provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
    }

    // MARK: Commands

    private func runNext(_ context: ChannelHandlerContext) {
        while !executing, !closing, !queue.isEmpty {
            let item = queue.removeFirst()
            switch item {
            case .lineTooLong:
                pending -= 1
                report(.lmtpLineTooLong, limit: "lmtp.max_line_length")
                send(context, "500 5.5.2 Line too long (limit \(ctx.limits.lmtpMaxLineLength) bytes)")
            case .command(let line):
                handle(context, line)
            case .message(let bytes, let tooLarge):
                deliver(context, bytes, tooLarge: tooLarge)
            }
        }
    }

    private func handle(_ context: ChannelHandlerContext, _ raw: [UInt8]) {
        let command = LMTPCommand(line: raw)
        let arg = command.argument
        func reply(_ s: String) {
            pending -= 1
            send(context, s)
        }
        switch command.verb {
        case .lhlo:
            guard !arg.isEmpty else { return reply("501 5.5.4 LHLO needs a domain") }
            transaction = Transaction()
            transaction.greeted = true
            pending -= 1
            send(context, "250-\(ctx.hostname)")
            send(context, "250-PIPELINING")
            send(context, "250-8BITMIME")
            send(context, "250-ENHANCEDSTATUSCODES")
            send(context, "250 SIZE \(ctx.limits.lmtpMaxMessageSize)")
        case .helo, .ehlo:
            reply("500 5.5.1 This is LMTP: use LHLO")
        case .mail:
            guard transaction.greeted else { return reply("503 5.5.1 Send LHLO first") }
            guard transaction.sender == nil else { return reply("503 5.5.1 Nested MAIL command") }
            guard let path = try? LMTPPath.mailFrom(arg) else { return reply("501 5.5.4 Syntax: MAIL FROM:<address>") }
            if let n = path.sizes.first(where: { $0 > ctx.limits.lmtpMaxMessageSize }) {
                report(.lmtpMessageTooLarge, limit: "lmtp.max_message_size", detail: "SIZE=\(n)")
                return reply("552 5.3.4 Message size exceeds the limit of \(ctx.limits.lmtpMaxMessageSize) bytes")
            }
            transaction.sender = path.address
            reply("250 2.1.0 Sender OK")
        case .rcpt:
            guard transaction.sender != nil else { return reply("503 5.5.1 Send MAIL first") }
            guard let address = try? LMTPPath.rcptTo(arg).address else { return reply("501 5.5.4 Syntax: RCPT TO:<address>") }
            guard transaction.recipients.count < ctx.limits.lmtpMaxRecipients else {
                return reply("452 4.5.3 Too many recipients (limit \(ctx.limits.lmtpMaxRecipients))")
            }
            guard let userName = localUser(address) else {
                return reply("550 5.1.1 <\(address)> is not a local address")
            }
            executing = true
            runAsync(context) { [store = ctx.store] in
                do {
                    return try await store.user(named: userName).map { .recipient(address, $0.name) } ?? .unknownUser(address)
                } catch {
                    return .temporaryFailure("451 4.3.0 <\(address)> cannot be checked now, try again later")
                }
            }
        case .data:
            framer.dataReplied(accepted: transaction.sender != nil && !transaction.recipients.isEmpty)
            defer { frame(context) }
            guard transaction.sender != nil else { return reply("503 5.5.1 Send MAIL first") }
            guard !transaction.recipients.isEmpty else { return reply("554 5.5.1 No valid recipients") }
            reply("354 2.0.0 Start mail input; end with <CRLF>.<CRLF>")
        case .rset:
            transaction = Transaction(greeted: transaction.greeted)
            reply("250 2.0.0 OK")
        case .noop:
            reply("250 2.0.0 OK")
        case .vrfy:
            reply("252 2.5.2 Cannot VRFY; send some mail")
        case .quit:
            reply("221 2.0.0 Bye")
            closing = true
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in channel.close(promise: nil) }
        case nil:
            reply("500 5.5.2 Unknown command")
        }
    }

    /// The local user an address reaches: its local part, when the domain is local (or no domains are configured).
    private func localUser(_ address: String) -> String? {
        let parts = address.split(separator: "@", maxSplits: 1).map(String.init)
        guard let local = parts.first, !local.isEmpty else { return nil }
        if parts.count == 2, !ctx.localDomains.isEmpty, !ctx.localDomains.contains(parts[1].lowercased()) { return nil }
        return local
    }

    private enum AsyncResult: Sendable {
        case recipient(String, String)
        case unknownUser(String)
        case temporaryFailure(String)
        case deliveries([String])
    }

    private func runAsync(_ context: ChannelHandlerContext, _ work: @escaping @Sendable () async -> AsyncResult) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let live = ctx.live
        live.workStarted()  // a shutdown waits for it, even when the client has gone
        Task {
            let result = await work()
            bound.eventLoop.execute {
                let (handler, context) = bound.value
                handler.asyncFinished(context, result)
                live.workFinished()
            }
        }
    }

    private func asyncFinished(_ context: ChannelHandlerContext, _ result: AsyncResult) {
        executing = false
        guard !closing else { return }
        defer { if shuttingDown { sayGoodbye(context) } }
        switch result {
        case .recipient(let address, let user):
            transaction.recipients.append((address, user))
            pending -= 1
            send(context, "250 2.1.5 <\(address)> OK")
        case .unknownUser(let address):
            pending -= 1
            send(context, "550 5.1.1 <\(address)> User unknown")
        case .temporaryFailure(let line):
            pending -= 1
            send(context, line)
        case .deliveries(let lines):
            for l in lines { send(context, l) }
            transaction = Transaction(greeted: true)
        }
        if shuttingDown { return }
        // Input that arrived while waiting may now be framed differently (e.g. DATA after an accepted RCPT).
        frame(context)
        runNext(context)
        context.flush()
    }

    /// Delivers a message to every accepted recipient; one reply each, sent only after the store committed.
    private func deliver(_ context: ChannelHandlerContext, _ message: [UInt8], tooLarge: Bool) {
        let recipients = transaction.recipients
        guard !recipients.isEmpty else { return }
        if tooLarge {
            report(.lmtpMessageTooLarge, limit: "lmtp.max_message_size")
            for r in recipients {
                send(context, "552 5.3.4 <\(r.address)> Message exceeds the limit of \(ctx.limits.lmtpMaxMessageSize) bytes")
            }
            transaction = Transaction(greeted: true)
            return
        }
        let sender = transaction.sender ?? ""
        executing = true
        let logger = ctx.logger
        runAsync(context) { [store = ctx.store] in
            var lines: [String] = []
            for r in recipients {
                let header = "Return-Path: <\(sender)>\r\nDelivered-To: \(r.address)\r\n"
                do {
                    let result = try await store.append(user: r.user, folder: "INBOX", message: Array(header.utf8) + message,
                                                        flags: MessageFlags(), internalDate: nil,
                                                        principal: .unauthenticated(sender))
                    lines.append("250 2.0.0 <\(r.address)> delivered as UID \(result.uid)")
                } catch StoreError.databaseUnavailable(let db) {
                    lines.append("451 4.2.0 <\(r.address)> mailbox database \(db) is not mounted; try again later")
                } catch StoreError.messageTooLarge(_, let limit) {
                    lines.append("552 5.3.4 <\(r.address)> Message exceeds the limit of \(limit) bytes")
                } catch {
                    logger.error("LMTP delivery to \(r.user) failed: \(error)")
                    lines.append("451 4.3.0 <\(r.address)> temporary failure; try again later")
                }
            }
            return .deliveries(lines)
        }
    }

    // MARK: Shutdown

    /// The server is stopping: a delivery being committed finishes and its replies are sent; anything else (a
    /// transaction not yet at the end of its DATA) is dropped unacknowledged, so the MTA retries it; then `421`.
    private func beginShutdown(_ context: ChannelHandlerContext) {
        guard !closing, !shuttingDown else { return }
        shuttingDown = true
        queue.removeAll()
        if executing { return }  // `asyncFinished` says goodbye
        sayGoodbye(context)
    }

    private func sayGoodbye(_ context: ChannelHandlerContext) {
        closing = true
        send(context, "421 4.3.2 \(ctx.hostname) shutting down, try again later")
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    // MARK: Idle timeout

    private func armIdleTimer(_ context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(deadline: lastActivity + .seconds(Int64(ctx.limits.lmtpIdleTimeout))) {
            let (handler, context) = bound.value
            guard !handler.closing else { return }
            if handler.executing || NIODeadline.now() < handler.lastActivity + .seconds(Int64(handler.ctx.limits.lmtpIdleTimeout)) {
                handler.armIdleTimer(context)
                return
            }
            handler.report(.idleTimeout, limit: "lmtp.idle_timeout")
            handler.send(context, "421 4.4.2 Idle for too long, closing")
            handler.closing = true
            let channel = context.channel
            context.writeAndFlush(handler.wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }
}

/// A bounded connection count.
final class ConnectionCounter: Sendable {
    private let value = Mutex(0)
    func increment(limit: Int) -> Bool {
        value.withLock { v in
            guard v < limit else { return false }
            v += 1
            return true
        }
    }
    func decrement() { value.withLock { $0 -= 1 } }
}
