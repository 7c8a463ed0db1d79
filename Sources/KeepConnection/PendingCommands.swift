/// The pending-command rule of one connection, as a value: commands are counted from the moment they are framed to
/// the moment their final answer is written.
///
/// At `limit` the connection takes no more commands from its input (the handler stops framing and stops reading, so
/// TCP pushes back on the client) until an answer is written. Only where the seed's rule applies as written —
/// before login (`strict`) — is a command past the limit a flood at once; after login, a connection at the limit is
/// a flood only when it does not read its answers (`CommandFlow` watches for that).
public struct PendingCommands: Sendable, Hashable {
    /// Commands that may be pending at once (`imap.max_pending_commands`, `lmtp.max_pending_commands`).
    public let limit: Int
    /// Commands framed and not yet answered.
    public private(set) var count = 0

    /// What taking one more command means.
    public enum Admission: Sendable, Hashable {
        /// Counted; run it in its turn.
        case admitted
        /// One past the limit before login: the seed's flood.
        case flood
    }

    public init(limit: Int) {
        precondition(limit > 0, "a pending-command limit is at least 1")
        self.limit = limit
    }

    /// At the limit: no further command is taken (unless `strict`).
    public var isFull: Bool { count >= limit }

    /// Whether the next command may be framed now. Under `strict` it always may: it is counted, and one past the
    /// limit is a flood; otherwise the input waits until an answer makes room.
    public func mayTake(strict: Bool) -> Bool { strict || count < limit }

    /// Counts a command just framed.
    public mutating func take() -> Admission {
        count += 1
        return count > limit ? .flood : .admitted
    }

    /// Counts a command answered (its tagged completion or final reply written).
    public mutating func answered() {
        precondition(count > 0, "answered more commands than were taken")
        count -= 1
    }

    /// Forgets every pending command (input discarded, e.g. what was pipelined after STARTTLS).
    public mutating func discardAll() { count = 0 }
}
