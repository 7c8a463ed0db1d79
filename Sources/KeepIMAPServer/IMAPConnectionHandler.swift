import KeepConnection
import KeepGuard
import KeepIMAP
public import NIOCore
import NIOSSL
import NIOTLS
#if canImport(Glibc)
import Glibc
#endif

/// One IMAP connection: frames the bytes as they arrive, runs commands one at a time through the session (store
/// work off the event loop), and paces the client with the connection layer's `CommandFlow`: at
/// `imap.max_pending_commands` commands received and unanswered it stops reading until answers are written; a
/// connection is reset (TCP RST) only when it floods — one command past the limit before login, or at the limit
/// with its answers left unread for `imap.output_stall_timeout_ms` after. It also applies the timeouts.
public final class IMAPConnectionHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private enum Item {
        case frame([UInt8])
        case framingError(FramingError)
    }

    private let ctx: IMAPServerContext
    private let implicitTLS: Bool
    private var session: IMAPSession!
    private var framer: CommandFramer
    private var parser: CommandParser
    private let flow: CommandFlow
    private var queue: [Item] = []
    private var queueHead = 0
    /// Bytes of the framed commands waiting in `queue`.
    private var queuedBytes = 0
    private var executing = false
    private var closing = false
    /// A framing error made the rest of the input meaningless: nothing more is read into commands.
    private var inputLost = false
    /// `pump` is running (it is re-entered from writes that complete at once).
    private var pumping = false
    /// A `pump` for the rest of this connection's work is queued on the loop (its turn was used up).
    private var pumpQueued = false
    private var lineSink: AsyncStream<[UInt8]>.Continuation?
    private var connectionID: ConnectionRegistry.ConnectionID?
    private var lastActivity = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?
    private var handshakeTimer: Scheduled<Void>?
    private var liveToken: LiveConnections.Token?
    /// The server is shutting down: no new command starts; the one running finishes, then `* BYE`.
    private var shuttingDown = false

    public init(context: IMAPServerContext, implicitTLS: Bool) {
        self.ctx = context
        self.implicitTLS = implicitTLS
        let limits = context.limits
        self.framer = CommandFramer(limits: FramingLimits(limits, authenticated: false))
        self.parser = CommandParser(limits: GrammarLimits(limits))
        self.flow = CommandFlow(CommandFlow.Settings(imap: limits))
    }

    // MARK: Lifecycle

    public func channelActive(context: ChannelHandlerContext) {
        let peer = context.remoteAddress.map(Self.describe) ?? "unknown"
        let ip = context.remoteAddress?.ipAddress ?? "unknown"
        if ctx.floodBan.isBanned(ip) {
            // Reset before a session, a greeting or any parsing: a banned flooder costs an accept and a close.
            ctx.reporter.report(GuardEvent(kind: .bannedConnectionReset, peer: peer,
                                           state: IMAPSession.State.notAuthenticated.rawValue, user: nil,
                                           limit: "imap.flood_ban_seconds"))
            closing = true
            context.channel.resetConnection()
            return
        }
        if ctx.floodBan.kernelFilterUsed { Self.detachInheritedFilter(context.channel) }
        let loopback = Self.isLoopback(context.remoteAddress)
        session = IMAPSession(ctx: ctx, peer: peer, peerIP: ip, isLoopback: loopback, tlsActive: implicitTLS)
        session.output = IMAPOutput(channel: context.channel, maxBuffered: ctx.limits.imapMaxOutputBuffer)
        let channel = context.channel
        let (admission, id, evicted) = ctx.registry.admit(ip: ip, evict: { [weak channel] in
            // The oldest connection that has not logged in makes room: it is told why, then closed.
            guard let channel else { return }
            var e = ResponseEncoder()
            e.untagged(.condition(.bye, .unavailable, "Too many connections waiting to log in; closing the oldest"))
            channel.close(afterWriting: channel.allocator.buffer(bytes: e.bytes))
        })
        if evicted {
            session.report(.unauthenticatedConnectionEvicted, limit: "imap.max_unauthenticated_connections",
                           detail: "oldest unauthenticated connection dropped for \(peer)")
        }
        switch admission {
        case .admitted:
            connectionID = id
            session.connectionID = id!
        case .refusedTotal(let limit):
            session.report(.connectionLimit, limit: "imap.max_connections", detail: "\(limit)")
            refuse(context, "Too many connections")
            return
        case .refusedPerIP(let limit):
            session.report(.unauthenticatedConnectionLimit, limit: "imap.max_unauthenticated_connections_per_ip", detail: "\(limit)")
            refuse(context, "Too many connections from your address")
            return
        }
        let drainBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        guard case .admitted(let token) = ctx.live.add(drain: {
            drainBound.eventLoop.execute { drainBound.value.0.beginShutdown(drainBound.value.1) }
        }) else {
            refuse(context, "Keep is shutting down", code: .unavailable)
            return
        }
        liveToken = token
        let stallBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        flow.start(channel: channel) { stallBound.value.0.floodedWithoutReading(stallBound.value.1) }
        if implicitTLS {
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            handshakeTimer = context.eventLoop.scheduleTask(in: .seconds(Int64(ctx.limits.tlsHandshakeTimeout))) {
                bound.value.0.handshakeTimedOut(bound.value.1)
            }
        }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: session.greeting())), promise: nil)
        armIdleTimer(context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        closing = true
        flow.stop()
        if let id = connectionID { ctx.registry.closed(id) }
        connectionID = nil
        if let token = liveToken { ctx.live.remove(token) }
        liveToken = nil
        lineSink?.finish()
        lineSink = nil
        idleTimer?.cancel()
        handshakeTimer?.cancel()
        queue.removeAll()
        context.fireChannelInactive()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? TLSUserEvent, case .handshakeCompleted = tls {
            handshakeTimer?.cancel()
            handshakeTimer = nil
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Connection-level errors (resets by the peer, TLS failures) end the connection quietly.
        context.close(promise: nil)
    }

    private func refuse(_ context: ChannelHandlerContext, _ text: String, code: ResponseCode = .limit) {
        closing = true
        var e = ResponseEncoder()
        e.untagged(.condition(.bye, code, text))
        context.channel.close(afterWriting: context.channel.allocator.buffer(bytes: e.bytes))
    }

    // MARK: Reading

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing, !shuttingDown, !inputLost else { return }
        framer.append(unwrapInboundIn(data))
        pump(context)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }

    public func read(context: ChannelHandlerContext) {
        flow.read(context, buffered: queuedBytes + framer.unframedBytes)
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        flow.writabilityChanged(writable: context.channel.isWritable)
        if context.channel.isWritable { pump(context) }
        context.fireChannelWritabilityChanged()
    }

    /// Takes commands from the input and runs them, alternately, until neither can go on: the input waits (the
    /// pending limit, or nothing whole yet), a command runs off the loop, or the client stopped reading.
    private func pump(_ context: ChannelHandlerContext) {
        guard !pumping else { return }
        pumping = true
        flow.beginTurn()
        var progress = true
        var turnUsedUp = false
        while progress, !closing, !turnUsedUp {
            progress = frame(context)
            switch runQueued(context) {
            case .ranSome: progress = true
            case .ranNone: break
            case .turnUsedUp: turnUsedUp = true
            }
        }
        pumping = false
        guard !closing else { return }
        sendOutbox(context)
        context.flush()
        if turnUsedUp {
            // The rest waits for the loop's next turn: other connections and timers go first.
            queuePump(context)
        } else {
            flow.resumeReading(context, buffered: queuedBytes + framer.unframedBytes)
        }
    }

    private func queuePump(_ context: ChannelHandlerContext) {
        guard !pumpQueued else { return }
        pumpQueued = true
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (handler, context) = bound.value
            handler.pumpQueued = false
            if !handler.closing { handler.pump(context) }
        }
    }

    /// Frames commands while the pending rule allows; true when it took anything from the input.
    private func frame(_ context: ChannelHandlerContext) -> Bool {
        var took = false
        let strict = session.user == nil
        defer { if took { lastActivity = .now() } }
        while !closing, !inputLost {
            // A command's own lines (IDLE's DONE, a SASL response) are not commands: they are always taken.
            if lineSink == nil, !flow.mayTake(strict: strict) { break }
            guard let event = framer.next() else { break }
            took = true
            switch event {
            case .command(let bytes):
                if let sink = lineSink {
                    sink.yield(bytes)
                    continue
                }
                guard admit(context) else { return true }
                queue.append(.frame(bytes))
                queuedBytes += bytes.count
            case .continuationNeeded:
                // Written only now that the command is being taken: literal admission follows back-pressure.
                sendOutbox(context)
                var e = ResponseEncoder()
                e.continuation("Ready for literal data")
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: e.bytes)), promise: nil)
            case .error(let error):
                if let sink = lineSink {
                    sink.yield([])
                    continue
                }
                guard admit(context) else { return true }
                queue.append(.framingError(error))
                if error.framingLost {
                    // Nothing after this can be framed: answer what is queued (the session ends with BYE).
                    inputLost = true
                }
            }
        }
        return took
    }

    /// Counts one more pending command; false when that is a flood (the connection is being reset).
    private func admit(_ context: ChannelHandlerContext) -> Bool {
        guard case .flood = flow.take() else { return true }
        floodReset(context, limit: "imap.max_pending_commands", detail: "\(flow.pending.count) pending before login")
        return false
    }

    /// The flow found this connection at the limit with its answers unread for `imap.output_stall_timeout_ms`.
    private func floodedWithoutReading(_ context: ChannelHandlerContext) {
        guard !closing else { return }
        floodReset(context, limit: "imap.output_stall_timeout_ms",
                   detail: "\(flow.pending.count) pending (imap.max_pending_commands), answers unread past the stall timeout")
    }

    /// A flood: reported (event 1001), counted towards the address's flood ban, and reset.
    private func floodReset(_ context: ChannelHandlerContext, limit: String, detail: String) {
        session.report(.pendingCommandsReset, limit: limit, detail: detail)
        if case .banned(let duration, let resets) = ctx.floodBan.recordReset(session.peerIP) {
            session.report(.floodBan, limit: "imap.flood_ban_threshold",
                           detail: "\(session.peerIP) banned for \(duration.components.seconds) s after \(resets) flood resets within \(ctx.limits.floodBanWindowSeconds) s")
        }
        resetConnection(context)
    }

    /// Drops the connection with a TCP RST; queued work and responses are dropped.
    private func resetConnection(_ context: ChannelHandlerContext) {
        closing = true
        flow.stop()
        queue.removeAll()
        queueHead = 0
        queuedBytes = 0
        lineSink?.finish()
        lineSink = nil
        context.channel.resetConnection()
    }

    /// An accepted socket shares the listener's flood-ban filter (`ListenerSourceFilter`), which would run on every
    /// packet of this connection although its peer is not banned: drop it (ENOENT when there was none is fine).
    private static func detachInheritedFilter(_ channel: any Channel) {
        #if os(Linux)
        guard let provider = channel as? any SocketOptionProvider else { return }
        _ = provider.unsafeSetSocketOption(level: .init(rawValue: 1 /* SOL_SOCKET */),
                                           name: .init(rawValue: 27 /* SO_DETACH_FILTER */), value: CInt(0))
        #endif
    }

    // MARK: Running commands

    private func dequeue() -> Item? {
        guard queueHead < queue.count else { return nil }
        let item = queue[queueHead]
        queueHead += 1
        if queueHead == queue.count {
            queue.removeAll(keepingCapacity: queue.count <= 128)
            queueHead = 0
        }
        if case .frame(let b) = item { queuedBytes -= b.count }
        return item
    }

    private enum RunResult { case ranSome, ranNone, turnUsedUp }

    /// Runs queued commands in order: answered inline on the loop when no store work is needed, else off the loop.
    private func runQueued(_ context: ChannelHandlerContext) -> RunResult {
        var ran = false
        while !executing, !closing {
            // A client that does not read its answers stops its own session (the flow watches for a flood).
            guard context.channel.isWritable else { break }
            guard queueHead < queue.count else { break }
            guard flow.mayRunAnother() else { return .turnUsedUp }
            guard let item = dequeue() else { break }
            ran = true
            switch item {
            case .framingError(let error):
                finishInline(context, session.framingError(error))
            case .frame(let bytes):
                switch session.begin(frame: bytes, parser: parser) {
                case .done(let outcome):
                    finishInline(context, outcome)
                case .async(let command):
                    start(context, command)
                }
            }
        }
        return ran ? .ranSome : .ranNone
    }

    /// Hands the answers of the commands run inline so far — gathered in the session's encoder, in order — to the
    /// channel as one buffer (not flushed). Never while a command runs off the loop: that one owns the encoder (and
    /// everything answered inline before it was sent when it started).
    private func sendOutbox(_ context: ChannelHandlerContext) {
        guard !executing else { return }
        let bytes = session.takeOutput()
        guard !bytes.isEmpty else { return }
        context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
    }

    private func finishInline(_ context: ChannelHandlerContext, _ outcome: SessionOutcome) {
        // The completion is in the encoder and the command counted as answered in one step on the loop.
        flow.answered()
        apply(context, outcome)
    }

    private func start(_ context: ChannelHandlerContext, _ command: Command) {
        executing = true
        var lines: AsyncStream<[UInt8]>?
        let wantsLines: Bool
        switch command.kind {
        case .idle: wantsLines = true
        case .authenticate(_, let initial): wantsLines = initial == nil
        default: wantsLines = false
        }
        if wantsLines {
            let (stream, sink) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .bufferingNewest(8))
            lines = stream
            lineSink = sink
            // Lines the client sent right behind the command (e.g. `DONE`) are already queued: hand them over.
            while let item = dequeue() {
                flow.answered()
                if case .frame(let b) = item { sink.yield(b) } else { sink.yield([]) }
            }
        }
        sendOutbox(context)
        context.flush()
        let session = self.session!
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        OffLoopWork.run(on: context.eventLoop, counting: ctx.live, { [lines] in
            await session.execute(command, lines: lines)
        }, then: { outcome in
            bound.value.0.finished(bound.value.1, outcome)
        })
    }

    private func finished(_ context: ChannelHandlerContext, _ outcome: SessionOutcome) {
        executing = false
        lineSink?.finish()
        lineSink = nil
        // The completion is in the encoder and the command counted as answered in one step on the loop.
        flow.answered()
        lastActivity = .now()
        guard !closing else {
            _ = session.takeOutput()
            return
        }
        if shuttingDown {
            sendOutbox(context)
            sayGoodbye(context)
            return
        }
        apply(context, outcome)
        pump(context)
    }

    private func apply(_ context: ChannelHandlerContext, _ outcome: SessionOutcome) {
        switch outcome {
        case .proceed:
            break
        case .close:
            closing = true
            flow.stop()
            queue.removeAll()
            queueHead = 0
            let farewell = session.takeOutput()
            context.channel.close(afterWriting: context.channel.allocator.buffer(bytes: farewell))
        case .authenticated:
            applyLimits(authenticated: true)
        case .startTLS:
            guard let tls = ctx.tls else { return }
            sendOutbox(context)
            context.flush()
            // Anything the client pipelined after STARTTLS was sent in the clear: discard it (no injection).
            framer = CommandFramer(limits: framer.limits)
            queue.removeAll()
            queueHead = 0
            queuedBytes = 0
            flow.discardAll()
            session.tlsActive = true
            let handler = NIOSSLServerHandler(context: tls)
            do {
                try context.pipeline.syncOperations.addHandler(handler, position: .first)
            } catch {
                context.close(promise: nil)
                return
            }
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            handshakeTimer = context.eventLoop.scheduleTask(in: .seconds(Int64(ctx.limits.tlsHandshakeTimeout))) {
                bound.value.0.handshakeTimedOut(bound.value.1)
            }
        }
    }

    // MARK: Shutdown

    /// The server is stopping: commands not yet started are dropped (the client was not answered, so it knows
    /// they did not happen); a command doing store work finishes and is answered, then `* BYE` and close. IDLE or
    /// a SASL exchange waiting on the client ends at once.
    private func beginShutdown(_ context: ChannelHandlerContext) {
        guard !closing, !shuttingDown else { return }
        shuttingDown = true
        queue.removeAll()
        queueHead = 0
        queuedBytes = 0
        if executing && lineSink == nil { return }  // `finished` says goodbye
        sayGoodbye(context)
    }

    private func sayGoodbye(_ context: ChannelHandlerContext) {
        closing = true
        flow.stop()
        lineSink?.finish()
        lineSink = nil
        var e = ResponseEncoder()
        e.untagged(.condition(.bye, .unavailable, "Keep is shutting down; reconnect shortly"))
        context.channel.close(afterWriting: context.channel.allocator.buffer(bytes: e.bytes))
    }

    /// After login the framer takes messages up to APPENDLIMIT.
    private func applyLimits(authenticated: Bool) {
        framer.limits = FramingLimits(ctx.limits, authenticated: authenticated)
    }

    // MARK: Timers

    private func armIdleTimer(_ context: ChannelHandlerContext) {
        let timeout = TimeAmount.seconds(Int64(session.user == nil ? ctx.limits.imapUnauthenticatedIdleTimeout
                                                                    : ctx.limits.imapAuthenticatedIdleTimeout))
        let deadline = lastActivity + timeout
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(deadline: deadline) {
            bound.value.0.idleTimerFired(bound.value.1)
        }
    }

    private func idleTimerFired(_ context: ChannelHandlerContext) {
        guard !closing else { return }
        let timeout = TimeAmount.seconds(Int64(session.user == nil ? ctx.limits.imapUnauthenticatedIdleTimeout
                                                                    : ctx.limits.imapAuthenticatedIdleTimeout))
        // A running command (e.g. IDLE, which has its own timeout) is activity.
        if executing || NIODeadline.now() < lastActivity + timeout {
            if executing { lastActivity = .now() }
            armIdleTimer(context)
            return
        }
        session.report(.idleTimeout, limit: session.user == nil ? "imap.unauthenticated_idle_timeout" : "imap.authenticated_idle_timeout")
        var e = ResponseEncoder()
        e.untagged(.condition(.bye, nil, "Autologout; idle for too long"))
        closing = true
        flow.stop()
        context.channel.close(afterWriting: context.channel.allocator.buffer(bytes: e.bytes))
    }

    private func handshakeTimedOut(_ context: ChannelHandlerContext) {
        guard !closing else { return }
        session.report(.tlsHandshakeTimeout, limit: "imap.tls_handshake_timeout")
        closing = true
        flow.stop()
        context.close(promise: nil)
    }

    // MARK: Addresses

    static func describe(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress else { return "\(address)" }
        let port = address.port ?? 0
        if case .v6 = address { return "[\(ip)]:\(port)" }
        return "\(ip):\(port)"
    }

    static func isLoopback(_ address: SocketAddress?) -> Bool {
        guard let ip = address?.ipAddress else { return false }
        return ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.")
    }
}

