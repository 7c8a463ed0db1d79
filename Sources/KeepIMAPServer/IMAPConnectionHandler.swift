import KeepGuard
import KeepIMAP
public import NIOCore
import NIOSSL
import NIOTLS
#if canImport(Glibc)
import Glibc
#endif

/// One IMAP connection: frames the bytes as they arrive, enforces the pending-command rule (more than
/// `imap.max_pending_commands` received and unanswered → TCP reset), runs commands one at a time through the
/// session (store work off the event loop), applies the timeouts and withholds reads and execution when the
/// client does not keep up.
public final class IMAPConnectionHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private enum Item {
        case frame([UInt8])
        case framingError(FramingError)
    }

    /// Bytes of queued commands past which reads are withheld (the pending rule bounds their number).
    private static let readBudget = 1 << 20

    private let ctx: IMAPServerContext
    private let implicitTLS: Bool
    private var session: IMAPSession!
    private var framer = CommandFramer()
    private var parser = CommandParser()
    private var queue: [Item] = []
    private var queueHead = 0
    private var queuedBytes = 0
    /// Commands received whose tagged completion has not been written.
    private var pending = 0
    private var executing = false
    private var closing = false
    private var lineSink: AsyncStream<[UInt8]>.Continuation?
    private var withheldRead = false
    private var connectionID: ConnectionRegistry.ConnectionID?
    private var lastActivity = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?
    private var handshakeTimer: Scheduled<Void>?
    private var maxPending = 100
    private var liveToken: LiveConnections.Token?
    /// The server is shutting down: no new command starts; the one running finishes, then `* BYE`.
    private var shuttingDown = false

    public init(context: IMAPServerContext, implicitTLS: Bool) {
        self.ctx = context
        self.implicitTLS = implicitTLS
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
            resetConnection(context)
            return
        }
        if ctx.floodBan.kernelFilterUsed { Self.detachInheritedFilter(context.channel) }
        let loopback = Self.isLoopback(context.remoteAddress)
        session = IMAPSession(ctx: ctx, peer: peer, peerIP: ip, isLoopback: loopback, tlsActive: implicitTLS)
        session.output = IMAPOutput(channel: context.channel, maxBuffered: ctx.limits.imapMaxOutputBuffer)
        applyLimits(authenticated: false)
        let channel = context.channel
        let (admission, id, evicted) = ctx.registry.admit(ip: ip, evict: { [weak channel] in
            // The oldest connection that has not logged in makes room: it is told why, then closed.
            guard let channel else { return }
            var e = ResponseEncoder()
            e.untagged(.condition(.bye, .unavailable, "Too many connections waiting to log in; closing the oldest"))
            channel.writeAndFlush(channel.allocator.buffer(bytes: e.bytes)).whenComplete { _ in
                channel.close(promise: nil)
            }
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
        guard let token = ctx.live.add(drain: {
            drainBound.eventLoop.execute { drainBound.value.0.beginShutdown(drainBound.value.1) }
        }) else {
            refuse(context, "Keep is shutting down", code: .unavailable)
            return
        }
        liveToken = token
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
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(bytes: e.bytes))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    // MARK: Reading

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing, !shuttingDown else { return }
        framer.append(unwrapInboundIn(data))
        drain(context)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }

    public func read(context: ChannelHandlerContext) {
        if queuedBytes > Self.readBudget {
            withheldRead = true
            return
        }
        context.read()
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { runNext(context) }
        context.fireChannelWritabilityChanged()
    }

    /// Turns buffered bytes into queued commands, applying the pending rule to each as it is framed.
    private func drain(_ context: ChannelHandlerContext) {
        while !closing, let event = framer.next() {
            switch event {
            case .command(let bytes):
                lastActivity = .now()
                if let sink = lineSink {
                    sink.yield(bytes)
                    continue
                }
                guard admitPending(context) else { return }
                queue.append(.frame(bytes))
                queuedBytes += bytes.count
            case .continuationNeeded:
                var e = ResponseEncoder()
                e.continuation("Ready for literal data")
                context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: e.bytes)), promise: nil)
            case .error(let error):
                if let sink = lineSink {
                    sink.yield([])
                    continue
                }
                guard admitPending(context) else { return }
                queue.append(.framingError(error))
                if error.framingLost {
                    // Nothing after this can be framed: stop taking input, answer what is queued, then BYE.
                    framer = CommandFramer(limits: framer.limits)
                    runNext(context)
                    return
                }
            }
        }
        runNext(context)
    }

    /// Counts one more pending command; resets the connection when that passes the limit.
    private func admitPending(_ context: ChannelHandlerContext) -> Bool {
        pending += 1
        if pending > maxPending {
            session.report(.pendingCommandsReset, limit: "imap.max_pending_commands", detail: "\(pending) pending")
            if case .banned(let duration) = ctx.floodBan.recordReset(session.peerIP) {
                session.report(.floodBan, limit: "imap.flood_ban_threshold",
                               detail: "new connections from \(session.peerIP) refused for \(duration.components.seconds) s")
            }
            resetConnection(context)
            return false
        }
        return true
    }

    /// Drops the connection with a TCP RST (SO_LINGER {on, 0} then close); queued work and responses are dropped.
    private func resetConnection(_ context: ChannelHandlerContext) {
        closing = true
        queue.removeAll()
        queueHead = 0
        queuedBytes = 0
        lineSink?.finish()
        lineSink = nil
        let channel = context.channel
        guard let provider = channel as? any SocketOptionProvider else {
            channel.close(promise: nil)
            return
        }
        provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
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

    /// Runs queued commands in order: answered inline on the loop when no store work is needed, else off the loop.
    private func runNext(_ context: ChannelHandlerContext) {
        while !executing, !closing {
            // A client that does not read its answers stops its own session (the pending rule still applies).
            guard context.channel.isWritable else { break }
            guard let item = dequeue() else { break }
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
        if withheldRead, queuedBytes <= Self.readBudget {
            withheldRead = false
            context.read()
        }
    }

    private func finishInline(_ context: ChannelHandlerContext, _ outcome: SessionOutcome) {
        let bytes = session.takeOutput()
        pending -= 1
        if !bytes.isEmpty {
            context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
        }
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
                pending -= 1
                if case .frame(let b) = item { sink.yield(b) } else { sink.yield([]) }
            }
        }
        context.flush()
        let session = self.session!
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let live = ctx.live
        live.workStarted()
        Task {
            let outcome = await session.execute(command, lines: lines)
            bound.eventLoop.execute {
                let (handler, context) = bound.value
                handler.finished(context, outcome)
                live.workFinished()
            }
        }
    }

    private func finished(_ context: ChannelHandlerContext, _ outcome: SessionOutcome) {
        executing = false
        lineSink?.finish()
        lineSink = nil
        // The completion is written and the command counted as answered in one step on the loop.
        let bytes = session.takeOutput()
        pending -= 1
        lastActivity = .now()
        guard !closing else { return }
        if !bytes.isEmpty {
            context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
        }
        if shuttingDown {
            sayGoodbye(context)
            return
        }
        apply(context, outcome)
        runNext(context)
        context.flush()
    }

    private func apply(_ context: ChannelHandlerContext, _ outcome: SessionOutcome) {
        switch outcome {
        case .proceed:
            break
        case .close:
            closing = true
            queue.removeAll()
            queueHead = 0
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
                channel.close(promise: nil)
            }
        case .authenticated:
            applyLimits(authenticated: true)
        case .startTLS:
            guard let tls = ctx.tls else { return }
            context.flush()
            // Anything the client pipelined after STARTTLS was sent in the clear: discard it (no injection).
            framer = CommandFramer(limits: framer.limits)
            queue.removeAll()
            queueHead = 0
            pending = 0
            queuedBytes = 0
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
        lineSink?.finish()
        lineSink = nil
        var e = ResponseEncoder()
        e.untagged(.condition(.bye, .unavailable, "Keep is shutting down; reconnect shortly"))
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(bytes: e.bytes))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    private func applyLimits(authenticated: Bool) {
        let l = ctx.limits
        maxPending = l.imapMaxPendingCommands
        framer.limits = FramingLimits(
            maxLineLength: l.imapMaxLineLength,
            maxLiteralSize: authenticated ? l.imapAppendLimit : l.imapMaxLiteralSizeUnauthenticated,
            maxLiteralsPerCommand: l.imapMaxLiteralsPerCommand,
            maxCommandSize: authenticated ? l.imapAppendLimit + l.imapMaxLineLength * 4 : l.imapMaxCommandSizeUnauthenticated,
            maxNestingDepth: l.imapMaxNestingDepth)
        parser.limits = GrammarLimits(maxDepth: l.imapMaxNestingDepth, maxSequenceRanges: l.imapMaxSequenceRanges,
                                      maxArguments: l.imapMaxArguments)
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
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(bytes: e.bytes))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    private func handshakeTimedOut(_ context: ChannelHandlerContext) {
        guard !closing else { return }
        session.report(.tlsHandshakeTimeout, limit: "imap.tls_handshake_timeout")
        closing = true
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

