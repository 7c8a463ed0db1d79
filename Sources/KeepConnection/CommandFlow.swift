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
///   connection sits at the limit with its answers backed up — the channel not writable, the peer's receive window
///   closed and its right edge not moving (`PeerReading.windowEnd`) — and they have been so, without a break, for
///   `stallTimeout` since they stopped flowing: a client that does not read its answers. A client that has shown
///   it reads (its peer acknowledged `provenReaderBytes` since it connected) is given `readerStallTimeout` instead,
///   for a reader may stop for a while (a disk flush, a pause) with its pipeline full; a flooder that never reads
///   cannot earn that without reading. A client that reads, however slowly, opens its window or acknowledges bytes,
///   and the clock starts again.
///
/// Loop-bound: every method runs on the channel's event loop.
public final class CommandFlow {
    /// The bounds of one protocol's connections.
    public struct Settings: Sendable, Hashable {
        /// Commands pending at once (`*.max_pending_commands`).
        public var limit: Int
        /// How long a connection at the limit that has never read may leave its answers unread before it counts as
        /// a flood (`*.output_stall_timeout_ms`).
        public var stallTimeout: TimeAmount
        /// The same for a connection that has shown it reads (`*.reader_stall_timeout_ms`).
        public var readerStallTimeout: TimeAmount
        /// Bytes the peer must have acknowledged since it connected to count as a reader (`server.proven_reader_bytes`).
        public var provenReaderBytes: UInt64
        /// Input bytes held (framed or not) past which reads are withheld (`*.max_input_buffer`).
        public var readBudget: Int
        /// Commands one connection runs on its event loop before the loop's other connections and timers get a turn
        /// (`server.commands_per_turn`).
        public var commandsPerTurn: Int
        /// The output buffer of a connection whose peer has shown it reads (`*.max_output_buffer`); until then the
        /// listener's smaller one (`*.max_output_buffer_before_reading`) applies, so that a client that never reads
        /// backs up — and is found — after little work.
        public var readerOutputBuffer: Int

        public init(limit: Int, stallTimeout: TimeAmount, readerStallTimeout: TimeAmount, provenReaderBytes: UInt64,
                    readBudget: Int, commandsPerTurn: Int, readerOutputBuffer: Int) {
            self.limit = limit
            self.stallTimeout = stallTimeout
            self.readerStallTimeout = readerStallTimeout
            self.provenReaderBytes = provenReaderBytes
            self.readBudget = readBudget
            self.commandsPerTurn = commandsPerTurn
            self.readerOutputBuffer = readerOutputBuffer
        }
    }

    public private(set) var pending: PendingCommands
    public let settings: Settings

    private var readWithheld = false
    /// The peer has shown it reads: the connection has the reader's output buffer.
    private var provenReader = false
    private var ranThisTurn = 0
    /// The last turn was used up and the rest of the work waits for the next: read nothing more until it ran.
    private var workWaiting = false
    private var channel: (any Channel)?
    private var onStall: (() -> Void)?
    private var watch: Scheduled<Void>?
    /// When the peer last showed that it takes our output (writable, window open, or its window's right edge moved).
    private var lastSignOfReading = NIODeadline.uptimeNanoseconds(0)
    private var lastWindowEnd: UInt64?

    public init(_ settings: Settings) {
        self.pending = PendingCommands(limit: settings.limit)
        self.settings = settings
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
        if pending.isFull, channel?.isWritable == false { watchForStall() }
        return admission
    }

    /// Counts a command answered.
    public func answered() {
        pending.answered()
    }

    /// The handler's `channelWritabilityChanged`. The watch runs while the output is backed up (or the peer's
    /// window is closed), so that the stall clock counts from when the answers stopped flowing, not from when the
    /// pending count later reached the limit (a flooder's inline commands fill it only after its output backed up).
    public func writabilityChanged(writable: Bool) {
        guard !writable, let channel else { return }
        noteProgress(PeerReading.read(channel))
        watchForStall()
    }

    /// Forgets every pending command (input discarded, e.g. what was pipelined after STARTTLS).
    public func discardAll() {
        pending.discardAll()
    }

    // MARK: Turns

    /// A new turn begins (the handler was called by the event loop: a read, a write, a result).
    public func beginTurn() {
        ranThisTurn = 0
        workWaiting = false
    }

    /// Counts one command about to run; false when this turn is used up (`commandsPerTurn`): the handler then
    /// continues in a later turn (`EventLoop.execute`), so that one connection's deep pipeline cannot hold its loop —
    /// the loop's other connections, the stall watches and the timers — for long. Until that turn ran, nothing more
    /// is read from the connection.
    public func mayRunAnother() -> Bool {
        guard ranThisTurn < settings.commandsPerTurn else {
            workWaiting = true
            watchIfWindowClosed()
            return false
        }
        ranThisTurn += 1
        return true
    }

    /// After a full turn the peer may already have stopped taking output (its window closed) while our buffers
    /// still take the answers: the stall clock starts then, not only once our buffers are full too — a flooder's
    /// answers fill them at the server's expense. One look at the socket per turn; reading clients are not slowed.
    private func watchIfWindowClosed() {
        guard watch == nil, let channel else { return }
        let reading = PeerReading.read(channel)
        noteProgress(reading)
        if reading?.windowClosed == true { watchForStall() }
    }

    /// A peer that has acknowledged `provenReaderBytes` reads: its connection gets the reader's output buffer.
    private func noteProgress(_ reading: PeerReading?) {
        guard !provenReader, let channel, let reading, reading.bytesAcknowledged >= settings.provenReaderBytes else { return }
        provenReader = true
        channel.setOutputBuffer(settings.readerOutputBuffer)
    }

    // MARK: Reads

    /// The handler's `read(context:)`: passes the read on, or withholds it while the connection is at the limit, has
    /// work waiting for its next turn, or holds more than `readBudget` bytes of input (`buffered`).
    public func read(_ context: ChannelHandlerContext, buffered: Int) {
        if pending.isFull || workWaiting || buffered > settings.readBudget {
            readWithheld = true
            return
        }
        context.read()
    }

    /// After answers were written or input consumed: passes on a withheld read once its reason is gone.
    public func resumeReading(_ context: ChannelHandlerContext, buffered: Int) {
        guard readWithheld, !pending.isFull, !workWaiting, buffered <= settings.readBudget else { return }
        readWithheld = false
        context.read()
    }

    /// Whether a read is being withheld now.
    public var isReadWithheld: Bool { readWithheld }

    // MARK: Stall watch

    /// How often a backed-up connection is looked at: often enough that a flood is reset within an eighth of
    /// `stallTimeout` of its deadline.
    private var tick: TimeAmount { max(.milliseconds(10), .nanoseconds(settings.stallTimeout.nanoseconds / 8)) }

    private func watchForStall() {
        guard watch == nil, let channel else { return }
        lastSignOfReading = channel.eventLoop.now
        lastWindowEnd = nil
        schedule(on: channel.eventLoop)
    }

    private func schedule(on loop: any EventLoop) {
        let bound = NIOLoopBound(self, eventLoop: loop)
        watch = loop.scheduleTask(in: tick) { bound.value.check() }
    }

    private func endWatch() {
        watch?.cancel()
        watch = nil
        lastWindowEnd = nil
    }

    private func check() {
        watch = nil
        guard let channel, channel.isActive else { return }
        let now = channel.eventLoop.now
        let reading = PeerReading.read(channel)
        noteProgress(reading)
        if peerTakesOutput(reading, writable: channel.isWritable) {
            lastSignOfReading = now
            // Nothing backed up and the peer takes what it is sent: nothing to watch.
            if channel.isWritable {
                endWatch()
                return
            }
        }
        let timeout = provenReader ? settings.readerStallTimeout : settings.stallTimeout
        if pending.isFull, now - lastSignOfReading >= timeout {
            let action = onStall
            stop()
            action?()
            return
        }
        schedule(on: channel.eventLoop)
    }

    /// Whether the peer shows that it takes our output: where the kernel tells, its receive window is open or its
    /// right edge moved since the last look. Acknowledgements alone do not count: a peer that does not read still
    /// acknowledges what fits in the last of its window (and the kernel's window probes), each shrinking the window
    /// by as much — the edge stays put. Without the kernel's word, only a channel below its high watermark counts.
    private func peerTakesOutput(_ reading: PeerReading?, writable: Bool) -> Bool {
        guard let reading else { return writable }
        defer { lastWindowEnd = reading.windowEnd }
        if let last = lastWindowEnd, reading.windowEnd > last { return true }
        return !reading.windowClosed
    }
}

@available(*, unavailable)
extension CommandFlow: Sendable {}
