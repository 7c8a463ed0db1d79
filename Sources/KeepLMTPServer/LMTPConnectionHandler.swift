import KeepConnection
import KeepGuard
import KeepLMTP
import KeepStore
import Logging
public import NIOCore

/// One LMTP connection (RFC 2033): LHLO, MAIL, RCPT, DATA with one reply per accepted recipient, RSET, NOOP,
/// QUIT. Pipelined commands are answered in order and paced by the connection layer's `CommandFlow`: at
/// `lmtp.max_pending_commands` unanswered Keep stops reading until replies are written; a client that also leaves
/// its replies unread for `lmtp.output_stall_timeout_ms` is reset. A delivery is acknowledged (`250`) only after the
/// store committed it.
public final class LMTPConnectionHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let ctx: LMTPServerContext
    /// Lines, DATA and the message: the protocol's framing, without I/O.
    private var framer: LMTPFramer
    private let flow: CommandFlow
    private var queue: [LMTPFrame] = []
    private var executing = false
    private var closing = false
    private var peer = "unknown"
    private var transaction = Transaction()
    private var idleTimer: Scheduled<Void>?
    private var lastActivity = NIODeadline.now()
    private var liveToken: LiveConnections.Token?
    /// The server is stopping: a delivery being committed finishes and is answered, then `421`.
    private var shuttingDown = false
    /// This turn's commands are used up (`server.commands_per_turn`): the rest runs in the loop's next turn.
    private var turnUsedUp = false

    /// The envelope of the mail transaction in progress.
    struct Transaction {
        var greeted = false
        var sender: String?
        var recipients: [(address: String, user: String)] = []
    }

    public init(context: LMTPServerContext) {
        self.ctx = context
        let limits = context.limits
        self.framer = LMTPFramer(limits: LMTPFramingLimits(maxLineLength: limits.lmtpMaxLineLength,
                                                           maxMessageSize: limits.lmtpMaxMessageSize))
        self.flow = CommandFlow(CommandFlow.Settings(lmtp: limits))
    }

    public func channelActive(context: ChannelHandlerContext) {
        peer = context.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "unknown"
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        switch ctx.live.add(limit: ctx.limits.lmtpMaxConnections, drain: {
            bound.eventLoop.execute { bound.value.0.beginShutdown(bound.value.1) }
        }) {
        case .admitted(let token):
            liveToken = token
        case .full:
            report(.connectionLimit, limit: "lmtp.max_connections")
            closing = true
            context.channel.close(afterWriting: line(context, "421 4.3.2 Too many connections, try again later"))
            return
        case .shuttingDown:
            closing = true
            context.channel.close(afterWriting: line(context, "421 4.3.2 \(ctx.hostname) shutting down, try again later"))
            return
        }
        flow.start(channel: context.channel) { bound.value.0.floodedWithoutReading(bound.value.1) }
        send(context, "220 \(ctx.hostname) LMTP Keep ready")
        context.flush()
        armIdleTimer(context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if let token = liveToken { ctx.live.remove(token) }
        liveToken = nil
        closing = true
        flow.stop()
        idleTimer?.cancel()
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func report(_ kind: GuardEventKind, limit: String, detail: String = "") {
        ctx.reporter.report(GuardEvent(kind: kind, peer: peer, state: "lmtp", user: nil, limit: limit, detail: detail))
    }

    private func line(_ context: ChannelHandlerContext, _ text: String) -> ByteBuffer {
        context.channel.allocator.buffer(string: text + "\r\n")
    }

    private func send(_ context: ChannelHandlerContext, _ text: String) {
        context.write(wrapOutboundOut(line(context, text)), promise: nil)
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
        pump(context)
    }

    public func read(context: ChannelHandlerContext) {
        flow.read(context, buffered: framer.unframedBytes)
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        flow.writabilityChanged(writable: context.channel.isWritable)
        if context.channel.isWritable { pump(context) }
        context.fireChannelWritabilityChanged()
    }

    /// Frames what the flow allows and runs it, alternately, until neither goes on (the input waits, a command
    /// runs off the loop, or the client stopped reading); then passes on a withheld read if there is room again.
    private func pump(_ context: ChannelHandlerContext) {
        flow.beginTurn()
        var progress = true
        while progress, !closing, !turnUsedUp {
            progress = frame(context)
            if runNext(context) { progress = true }
        }
        guard !closing else { return }
        context.flush()
        if turnUsedUp {
            // The rest waits for the loop's next turn: other connections and timers go first.
            turnUsedUp = false
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.execute {
                let (handler, context) = bound.value
                if !handler.closing { handler.pump(context) }
            }
        } else {
            flow.resumeReading(context, buffered: framer.unframedBytes)
        }
    }

    /// Takes lines (commands) and, in DATA, the message up to `CRLF.CRLF` from the framer, which enforces the line
    /// and message bounds; it stops at a DATA command until that is answered, and at the pending limit. True when
    /// it took anything.
    @discardableResult
    private func frame(_ context: ChannelHandlerContext) -> Bool {
        var took = false
        while !closing, framer.inData || flow.mayTake(strict: false), let frame = framer.next() {
            took = true
            if case .message = frame {} else {
                _ = flow.take()  // never `.flood` when not strict: the limit pauses the input instead
            }
            queue.append(frame)
        }
        return took
    }

    /// The flow found this connection at the limit with its replies unread for `lmtp.output_stall_timeout_ms`.
    private func floodedWithoutReading(_ context: ChannelHandlerContext) {
        guard !closing else { return }
        report(.lmtpPendingCommandsReset, limit: "lmtp.output_stall_timeout_ms",
               detail: "\(flow.pending.count) pending (lmtp.max_pending_commands), replies unread past the stall timeout")
        reset(context)
    }

    private func reset(_ context: ChannelHandlerContext) {
        closing = true
        flow.stop()
        queue.removeAll()
        context.channel.resetConnection()
    }

    // MARK: Commands

    /// Runs queued frames in order while nothing runs off the loop and the client reads; true when it ran any.
    private func runNext(_ context: ChannelHandlerContext) -> Bool {
        var ran = false
        while !executing, !closing, context.channel.isWritable, !queue.isEmpty {
            guard flow.mayRunAnother() else {
                turnUsedUp = true
                break
            }
            ran = true
            let item = queue.removeFirst()
            switch item {
            case .lineTooLong:
                flow.answered()
                report(.lmtpLineTooLong, limit: "lmtp.max_line_length")
                send(context, "500 5.5.2 Line too long (limit \(ctx.limits.lmtpMaxLineLength) bytes)")
            case .command(let line):
                handle(context, line)
            case .message(let bytes, let tooLarge):
                deliver(context, bytes, tooLarge: tooLarge)
            }
        }
        return ran
    }

    private func handle(_ context: ChannelHandlerContext, _ raw: [UInt8]) {
        let command = LMTPCommand(line: raw)
        let arg = command.argument
        func reply(_ s: String) {
            flow.answered()
            send(context, s)
        }
        switch command.verb {
        case .lhlo:
            guard !arg.isEmpty else { return reply("501 5.5.4 LHLO needs a domain") }
            transaction = Transaction()
            transaction.greeted = true
            flow.answered()
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
            // The message follows only a 354; the framer takes it (not a command) as soon as it is told.
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
            flow.stop()
            context.channel.close(afterWriting: nil)
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
        OffLoopWork.run(on: context.eventLoop, counting: ctx.live, work) { result in
            bound.value.0.asyncFinished(bound.value.1, result)
        }
    }

    private func asyncFinished(_ context: ChannelHandlerContext, _ result: AsyncResult) {
        executing = false
        guard !closing else { return }
        defer { if shuttingDown { sayGoodbye(context) } }
        switch result {
        case .recipient(let address, let user):
            transaction.recipients.append((address, user))
            flow.answered()
            send(context, "250 2.1.5 <\(address)> OK")
        case .unknownUser(let address):
            flow.answered()
            send(context, "550 5.1.1 <\(address)> User unknown")
        case .temporaryFailure(let line):
            flow.answered()
            send(context, line)
        case .deliveries(let lines):
            for l in lines { send(context, l) }
            transaction = Transaction(greeted: true)
        }
        if shuttingDown { return }
        // Input that arrived while waiting may now be framed differently (e.g. DATA after an accepted RCPT).
        pump(context)
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
        flow.stop()
        context.channel.close(afterWriting: line(context, "421 4.3.2 \(ctx.hostname) shutting down, try again later"))
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
            handler.closing = true
            handler.flow.stop()
            context.channel.close(afterWriting: handler.line(context, "421 4.4.2 Idle for too long, closing"))
        }
    }
}
