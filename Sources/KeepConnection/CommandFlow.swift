public import NIOCore

/// The pending-command rule and back-pressure of one connection, shared by IMAP and LMTP (and POP3 later).
///
/// - **What is counted:** commands from the moment they are framed to the moment their final answer is written
///   (`PendingCommands`).
/// - **When Keep pauses:** at `limit` the handler takes no more commands from its input (`mayTake`) and `read`
///   withholds the socket read, so the client's bytes wait in the kernel and TCP pushes back on it; reads are also
///   withheld while more than `readBudget` bytes of input are held. Both resume as answers are written.
/// - **When Keep resets** (TCP RST): before login, at the command past the limit — the seed's rule as written, for
///   a stranger has no business with that many commands in flight (`take(strict: true)`); otherwise when the
///   connection stays at the limit with its answers backed up — the channel not writable, the peer's receive window
///   closed and nothing more acknowledged (`PeerReading`) — for `stallTimeout` without a break: a client that does
///   not read its answers. A client that reads, however slowly, opens its window or acknowledges bytes, and is
///   never reset.
///
/// Loop-bound: every method runs on the channel's event loop.
public final class CommandFlow {
    public private(set) var pending: PendingCommands
    /// How long a connection at the limit may leave its answers unread before it counts as a flood.
    public let stallTimeout: TimeAmount
    /// Input bytes held (framed or not) past which reads are withheld.
    public let readBudget: Int

    private var readWithheld = false
    private var channel: (any Channel)?
    private var onStall: (() -> Void)?
    private var watch: Scheduled<Void>?
    /// When the peer last showed that it takes our output (writable, window open, or bytes acknowledged).
    private var lastSignOfReading = NIODeadline.uptimeNanoseconds(0)
    private var lastAcknowledged: UInt64?

    public init(limit: Int, stallTimeout: TimeAmount, readBudget: Int) {
        self.pending = PendingCommands(limit: limit)
        self.stallTimeout = stallTimeout
        self.readBudget = readBudget
    }

    /// Begins watching `channel`; `onStall` is called (once) when it is found not reading its answers at the limit.
    /// The handler then reports the flood and resets the connection (`Channel.resetConnection`).
    public func start(channel: any Channel, onStall: @escaping () -> Void) {
        self.channel = channel
        self.onStall = onStall
    }

    /// Stops watching (connection closed or closing); breaks the references to the channel and the handler.
    public func stop() {
        watch?.cancel()
        watch = nil
        channel = nil
        onStall = nil
    }

    // MARK: Input

    /// Whether the handler may frame another command now (see `PendingCommands.mayTake`).
    public func mayTake(strict: Bool) -> Bool { pending.mayTake(strict: strict) }

    /// Counts a command just framed. `.flood` only under `strict`, one past the limit.
    public func take() -> PendingCommands.Admission {
        let admission = pending.take()
        if pending.isFull { watchForStall() }
        return admission
    }

    /// Counts a command answered; at the limit no longer, a stall watch ends.
    public func answered() {
        pending.answered()
        if !pending.isFull { endWatch() }
    }

    /// Forgets every pending command (input discarded, e.g. what was pipelined after STARTTLS).
    public func discardAll() {
        pending.discardAll()
        endWatch()
    }

    // MARK: Reads

    /// The handler's `read(context:)`: passes the read on, or withholds it while the connection is at the limit or
    /// holds more than `readBudget` bytes of input (`buffered`).
    public func read(_ context: ChannelHandlerContext, buffered: Int) {
        if pending.isFull || buffered > readBudget {
            readWithheld = true
            return
        }
        context.read()
    }

    /// After answers were written or input consumed: passes on a withheld read once its reason is gone.
    public func resumeReading(_ context: ChannelHandlerContext, buffered: Int) {
        guard readWithheld, !pending.isFull, buffered <= readBudget else { return }
        readWithheld = false
        context.read()
    }

    /// Whether a read is being withheld now.
    public var isReadWithheld: Bool { readWithheld }

    // MARK: Stall watch

    /// How often a connection at the limit is looked at: often enough that a flood is reset within an eighth of
    /// `stallTimeout` of its deadline, and only while it sits at the limit.
    private var tick: TimeAmount { max(.milliseconds(10), .nanoseconds(stallTimeout.nanoseconds / 8)) }

    private func watchForStall() {
        guard watch == nil, let channel else { return }
        lastSignOfReading = channel.eventLoop.now
        lastAcknowledged = nil
        schedule(on: channel.eventLoop)
    }

    private func schedule(on loop: any EventLoop) {
        let bound = NIOLoopBound(self, eventLoop: loop)
        watch = loop.scheduleTask(in: tick) { bound.value.check() }
    }

    private func endWatch() {
        watch?.cancel()
        watch = nil
        lastAcknowledged = nil
    }

    private func check() {
        watch = nil
        guard let channel, channel.isActive, pending.isFull else { return }
        let now = channel.eventLoop.now
        if peerTakesOutput(channel) { lastSignOfReading = now }
        if now - lastSignOfReading >= stallTimeout {
            let action = onStall
            stop()
            action?()
            return
        }
        schedule(on: channel.eventLoop)
    }

    /// Whether the peer shows that it takes our output: our buffer is below its high watermark, or — where the
    /// kernel tells — its receive window is open or it acknowledged bytes since the last look. Without the kernel's
    /// word, a buffer past its high watermark is taken as not reading.
    private func peerTakesOutput(_ channel: any Channel) -> Bool {
        guard !channel.isWritable else {
            lastAcknowledged = nil
            return true
        }
        guard let reading = PeerReading.read(channel) else { return false }
        defer { lastAcknowledged = reading.bytesAcknowledged }
        if let last = lastAcknowledged, reading.bytesAcknowledged != last { return true }
        return !reading.windowClosed
    }
}

@available(*, unavailable)
extension CommandFlow: Sendable {}
