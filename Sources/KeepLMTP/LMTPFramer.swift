/// What the framer cuts from an LMTP byte stream.
public enum LMTPFrame: Hashable, Sendable {
    /// A command line as sent, its line end included.
    case command([UInt8])
    /// A command line longer than the limit; its bytes are dropped.
    case lineTooLong
    /// The message of a DATA command, dot-unstuffed, every line ending in CRLF, without the final `.` line; empty
    /// (and `tooLarge`) when it grew past the message limit.
    case message([UInt8], tooLarge: Bool)
}

/// Why the framer gives up on a connection.
public enum LMTPFramingError: Error, Hashable, Sendable {
    /// More bytes are held unframed than a message and two lines, e.g. a client sending its message before the
    /// `354`, or a message line without end.
    case unframedInputTooLarge(limit: Int)
}

/// The bounds the framer enforces (`lmtp.max_line_length`, `lmtp.max_message_size`); this module has no defaults of
/// its own.
public struct LMTPFramingLimits: Hashable, Sendable {
    /// A command line longer than this, its CRLF included, is refused (`lineTooLong`) and never held whole.
    public var maxLineLength: Int
    /// A message larger than this, after dot-unstuffing, is dropped and reported `tooLarge`.
    public var maxMessageSize: Int

    public init(maxLineLength: Int, maxMessageSize: Int) {
        self.maxLineLength = maxLineLength
        self.maxMessageSize = maxMessageSize
    }

    /// The most bytes held unframed before the connection is given up: a message and two lines.
    public var maxUnframedInput: Int { maxMessageSize + maxLineLength * 2 }
}

/// The framing state machine of an LMTP connection (RFC 2033, SMTP RFC 5321 §4.5.2): cuts command lines and, once
/// the session accepted a DATA command, the message up to `CRLF.CRLF`. It does no I/O: the connection handler
/// appends what it reads and takes frames with `next()` until it returns nil.
///
/// Pipelining stops at DATA (RFC 2920 §3.1): after a DATA command `next()` returns nil until the session says how it
/// answered (`dataReplied(accepted:)`), because what follows is a message only if the answer was `354`.
///
/// Memory held is bounded: input not yet framed by `maxUnframedInput` (plus the last appended chunk), the message
/// being collected by `maxMessageSize`.
public struct LMTPFramer: Sendable {
    public let limits: LMTPFramingLimits
    private var input: [UInt8] = []
    /// Where the unframed input starts.
    private var start = 0
    /// Bytes before this index (from `start`) are known to hold no LF.
    private var scanned = 0
    private var message: [UInt8] = []
    private var messageTooLarge = false
    private var skippingLongLine = false
    /// Between the `354` and the final `.` line.
    public private(set) var inData = false
    /// A DATA command was framed and not yet answered: the client waits for the reply before sending its message.
    public private(set) var awaitingDataReply = false

    public init(limits: LMTPFramingLimits) {
        self.limits = limits
    }

    /// Bytes held: input not yet framed and the message being collected.
    public var bufferedBytes: Int { input.count - start + message.count }

    /// Bytes received and not yet framed: what waits while the connection takes no more commands.
    public var unframedBytes: Int { input.count - start }

    /// Adds bytes read from the connection. Throws when more bytes are held unframed than `maxUnframedInput`; the
    /// connection is to be given up then.
    public mutating func append<C: Collection>(_ bytes: C) throws(LMTPFramingError) where C.Element == UInt8 {
        input.append(contentsOf: bytes)
        let limit = limits.maxUnframedInput
        if input.count - start > limit { throw .unframedInputTooLarge(limit: limit) }
    }

    /// The session answered the DATA command: `accepted` when it sent `354` (the message follows), false when it
    /// refused it (commands follow).
    public mutating func dataReplied(accepted: Bool) {
        awaitingDataReply = false
        if accepted { inData = true }
    }

    /// The next frame, or nil when more input is needed (or a DATA command awaits its reply).
    public mutating func next() -> LMTPFrame? {
        while !awaitingDataReply {
            guard let lf = input[max(start, scanned)...].firstIndex(of: 10) else {
                scanned = input.count
                if !inData && input.count - start > limits.maxLineLength {
                    // Over-long command line: drop what we have and the rest of it.
                    skippingLongLine = true
                    input.removeAll(keepingCapacity: false)
                    start = 0
                    scanned = 0
                }
                break
            }
            var line = Array(input[start...lf])
            start = lf + 1
            if skippingLongLine {
                skippingLongLine = false
                return .lineTooLong
            }
            if inData {
                if line == [46, 13, 10] || line == [46, 10] {
                    inData = false
                    let done = LMTPFrame.message(message, tooLarge: messageTooLarge)
                    message = []
                    messageTooLarge = false
                    return done
                }
                if line.first == 46 { line.removeFirst() }
                if line.count < 2 || line[line.count - 2] != 13 { line.insert(13, at: line.count - 1) }
                if message.count + line.count > limits.maxMessageSize {
                    messageTooLarge = true
                    message = []
                } else if !messageTooLarge {
                    message.append(contentsOf: line)
                }
                continue
            }
            if line.count > limits.maxLineLength { return .lineTooLong }
            if Self.isDataCommand(line) { awaitingDataReply = true }
            return .command(line)
        }
        compact()
        return nil
    }

    /// Whether a command line is DATA, the end of pipelining: decided by its verb, exactly as the session decides
    /// which command it answers. (Trimming the line instead let `\rDATA` or ` DATA` stop the framer for a reply
    /// the session never gave, as an unknown command: the connection hung until a limit tripped.)
    static func isDataCommand(_ line: [UInt8]) -> Bool {
        LMTPCommand.verbText(of: line) == LMTPVerb.data.rawValue
    }

    private mutating func compact() {
        guard start > 0 else { return }
        input.removeFirst(start)
        scanned = max(0, scanned - start)
        start = 0
    }
}

/// `text` without the leading and trailing Unicode scalars that `drop` matches.
func trimmed<S: StringProtocol>(_ text: S, where drop: (Unicode.Scalar) -> Bool) -> String {
    let scalars = text.unicodeScalars
    guard let first = scalars.firstIndex(where: { !drop($0) }), let last = scalars.lastIndex(where: { !drop($0) }) else {
        return ""
    }
    var kept = String.UnicodeScalarView()
    kept.append(contentsOf: scalars[first...last])
    return String(kept)
}
