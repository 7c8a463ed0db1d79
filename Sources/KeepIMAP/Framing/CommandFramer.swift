public import NIOCore

/// The bounds the framer enforces while bytes arrive. Each is a named setting of the server (`imap.*` in `Limits`);
/// this module has no defaults of its own.
public struct FramingLimits: Sendable, Hashable {
    /// Longest command line (bytes up to and including CRLF, literals not counted).
    public var maxLineLength: Int
    /// Largest literal accepted (after login this is APPENDLIMIT; before login it is small).
    public var maxLiteralSize: Int
    /// Most literals one command may carry.
    public var maxLiteralsPerCommand: Int
    /// Most bytes one command may hold in total (lines and literals).
    public var maxCommandSize: Int
    /// Deepest parenthesis nesting; checked as the bytes arrive, so a line of 4,000 `(` is answered at the 33rd
    /// and its bytes are not kept (the grammar checks the same bound again on whole commands).
    public var maxNestingDepth: Int

    public init(maxLineLength: Int, maxLiteralSize: Int, maxLiteralsPerCommand: Int, maxCommandSize: Int,
                maxNestingDepth: Int) {
        self.maxLineLength = maxLineLength
        self.maxLiteralSize = maxLiteralSize
        self.maxLiteralsPerCommand = maxLiteralsPerCommand
        self.maxCommandSize = maxCommandSize
        self.maxNestingDepth = maxNestingDepth
    }
}

/// What the framer found in the bytes fed to it so far.
public enum FramingEvent: Sendable, Equatable {
    /// One whole command: its lines with their CRLFs and its literals inline, exactly as sent.
    case command([UInt8])
    /// A synchronising literal of this many bytes was announced; the server must answer `+` before the client sends it.
    case continuationNeeded(Int)
    /// The command could not be framed; see `FramingError.framingLost` for whether the connection can continue.
    case error(FramingError)
}

/// Why a command could not be framed. `framingLost` says whether the stream can continue (→ `BAD` / `NO`) or not
/// (→ `BYE` and close).
public enum FramingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The line grew past `maxLineLength`; its bytes were skipped to the next LF.
    case lineTooLong(tag: String?, limit: Int)
    /// A literal was announced larger than `maxLiteralSize`. Synchronising: the command is refused, nothing to skip.
    /// Non-synchronising (`{n+}`): the client is already sending the bytes, so framing is lost.
    case literalTooLarge(tag: String?, size: Int, limit: Int, synchronising: Bool)
    /// More literals in one command than `maxLiteralsPerCommand`.
    case tooManyLiterals(tag: String?, limit: Int)
    /// The command as a whole grew past `maxCommandSize`.
    case commandTooLarge(tag: String?, limit: Int)
    /// A literal size that is not a number or does not fit.
    case invalidLiteralSize(tag: String?)
    /// Parentheses nested deeper than `maxNestingDepth`, found while the line arrives: answered at once, and the
    /// rest of the line is skipped to the next LF.
    case nestingTooDeep(tag: String?, limit: Int)

    public var tag: String? {
        switch self {
        case .lineTooLong(let t, _), .literalTooLarge(let t, _, _, _), .tooManyLiterals(let t, _),
             .commandTooLarge(let t, _), .invalidLiteralSize(let t), .nestingTooDeep(let t, _):
            return t
        }
    }

    /// True when the byte stream can no longer be cut into commands and the connection must close.
    public var framingLost: Bool {
        switch self {
        case .lineTooLong, .nestingTooDeep: return false
        case .literalTooLarge(_, _, _, let sync): return !sync
        case .tooManyLiterals(_, _), .commandTooLarge, .invalidLiteralSize:
            // The refused command may still have literal bytes in flight; we cannot tell them from commands.
            return true
        }
    }

    /// The name of the limit that tripped, as the config calls it.
    public var limitName: String {
        switch self {
        case .lineTooLong: return "max_line_length"
        case .literalTooLarge: return "max_literal_size"
        case .tooManyLiterals: return "max_literals_per_command"
        case .commandTooLarge: return "max_command_size"
        case .invalidLiteralSize: return "literal_syntax"
        case .nestingTooDeep: return "max_nesting_depth"
        }
    }

    public var description: String {
        switch self {
        case .lineTooLong(_, let limit): return "Command line too long (limit \(limit) bytes)"
        case .literalTooLarge(_, let size, let limit, _): return "Literal of \(size) bytes exceeds the limit of \(limit) bytes"
        case .tooManyLiterals(_, let limit): return "Too many literals in one command (limit \(limit))"
        case .commandTooLarge(_, let limit): return "Command too large (limit \(limit) bytes)"
        case .invalidLiteralSize: return "Invalid literal size"
        case .nestingTooDeep(_, let limit): return "Too deeply nested (limit \(limit) levels)"
        }
    }
}

/// Cuts an IMAP client byte stream into commands (RFC 9051 §2.2, §4.3): lines ending in CRLF (a bare LF is
/// accepted), with `{n}`, `{n+}` and `~{n}` literals. Bounds are checked as bytes arrive, so the memory it holds is
/// bounded by the limits, never by what a client announces. Feed it chunks in any split; pull events with `next()`.
public struct CommandFramer: Sendable {
    public var limits: FramingLimits

    private enum State: Sendable {
        /// Reading a line; `lineStart` is where the current line begins in `command`.
        case line
        /// Reading literal bytes; `remaining` still to come.
        case literal(remaining: Int)
        /// Discarding a line until LF; `tail` keeps its last bytes to spot a trailing `{n+}`. `answered`: the error
        /// was reported already (nesting), so the LF ends the skip silently; else it reports the over-long line.
        case skipping(tag: String?, tail: [UInt8], answered: Bool)
    }

    /// Where the scan of the command so far stands, for the nesting bound: parenthesis depth outside quoted
    /// strings, and whether it is inside a quoted string (just after a backslash).
    private struct Nesting: Sendable {
        var depth = 0
        var inQuote = false
        var escaped = false

        /// Scans `bytes`; returns the offset of the byte that took the depth past `limit`, if one did.
        mutating func scan(_ bytes: ByteBufferView, limit: Int) -> Int? {
            var offset = 0
            for b in bytes {
                if inQuote {
                    if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inQuote = false }
                } else {
                    switch b {
                    case UInt8(ascii: "\""): inQuote = true
                    case UInt8(ascii: "("):
                        depth += 1
                        if depth > limit { return offset }
                    case UInt8(ascii: ")"): depth = max(0, depth - 1)
                    case UInt8(ascii: "\n"): inQuote = false  // a line end closes nothing, but never leaves a quote open
                    default: break
                    }
                }
                offset += 1
            }
            return nil
        }
    }

    private var state: State = .line
    /// The command being assembled (lines + literals).
    private var command: [UInt8] = []
    private var lineStart = 0
    private var literalCount = 0
    private var nesting = Nesting()
    /// Bytes received but not yet consumed.
    private var input: ByteBuffer

    public init(limits: FramingLimits) {
        self.limits = limits
        self.input = ByteBufferAllocator().buffer(capacity: 0)
    }

    /// Bytes held for the command in progress plus unread input: what one connection costs us right now.
    public var bufferedBytes: Int { command.count + input.readableBytes }

    /// Bytes received and not yet looked at: what waits while the connection takes no more commands.
    public var unframedBytes: Int { input.readableBytes }

    /// Storage held by the input buffer (consumed bytes included): what tests check stays bounded.
    var inputCapacity: Int { input.capacity }

    /// True when no partial command is held (the framer is between commands).
    public var isIdle: Bool {
        if case .line = state, command.isEmpty, input.readableBytes == 0 { return true }
        return false
    }

    /// Appends received bytes. Call `next()` until it returns nil to drain events.
    public mutating func append(_ buffer: ByteBuffer) {
        if input.readableBytes == 0 {
            input = buffer
        } else {
            var b = buffer
            input.writeBuffer(&b)
        }
    }

    public mutating func append(_ bytes: [UInt8]) {
        // A ByteBuffer never drops consumed bytes by itself: without this, its storage would grow with every byte
        // the connection ever received.
        if input.readableBytes == 0 {
            input.clear()
        } else if input.readerIndex > 4096 {
            input.discardReadBytes()
        }
        input.writeBytes(bytes)
    }

    /// The next event, or nil when more bytes are needed.
    public mutating func next() -> FramingEvent? {
        while input.readableBytes > 0 {
            switch state {
            case .literal(let remaining):
                let n = min(remaining, input.readableBytes)
                let chunk = input.readBytes(length: n)!
                command.append(contentsOf: chunk)
                if n == remaining {
                    state = .line
                    lineStart = command.count
                } else {
                    state = .literal(remaining: remaining - n)
                }
            case .skipping(let tag, var tail, let answered):
                let view = input.readableBytesView
                if let lf = view.firstIndex(of: UInt8(ascii: "\n")) {
                    let upTo = lf - view.startIndex
                    let consumed = input.readBytes(length: upTo + 1)!
                    tail.append(contentsOf: consumed.suffix(24))
                    resetCommand()
                    // A `{n+}` at the end of the skipped line means literal bytes follow that we cannot tell apart.
                    if let lit = Self.literalAnnouncement(in: tail.suffix(24), endingAt: tail.count - 1), !lit.synchronising {
                        return .error(.literalTooLarge(tag: tag, size: lit.size ?? Int.max, limit: limits.maxLiteralSize,
                                                       synchronising: false))
                    }
                    if answered { continue }
                    return .error(.lineTooLong(tag: tag, limit: limits.maxLineLength))
                } else {
                    let all = input.readBytes(length: input.readableBytes)!
                    tail.append(contentsOf: all.suffix(24))
                    if tail.count > 48 { tail.removeFirst(tail.count - 24) }
                    state = .skipping(tag: tag, tail: tail, answered: answered)
                }
            case .line:
                if let event = scanLine() { return event }
            }
        }
        return nil
    }

    /// Consumes line bytes from `input`; returns an event when the line ends or a bound trips.
    private mutating func scanLine() -> FramingEvent? {
        let view = input.readableBytesView
        let lfIndex = view.firstIndex(of: UInt8(ascii: "\n"))
        let available = lfIndex.map { $0 - view.startIndex + 1 } ?? view.count
        let lineSoFar = command.count - lineStart
        // The nesting bound is checked on the bytes taken one at a time before the line or command bound would
        // trip, in the order a byte-by-byte arrival meets them, so every chunking gives the same answer.
        let scannable = max(0, min(available, limits.maxLineLength - lineSoFar, limits.maxCommandSize - command.count + 1))
        if let past = nesting.scan(view.prefix(scannable), limit: limits.maxNestingDepth) {
            // Answer now; the rest of the line (if any has come) is skipped without being kept.
            var head = Array(command.prefix(80))
            if head.count < 80 { head.append(contentsOf: view.prefix(min(past + 1, 80 - head.count))) }
            let tag = Self.tag(of: head[...])
            let taken = input.readBytes(length: past + 1)!
            let tail = Array((command.suffix(24) + taken).suffix(24))
            resetCommand()
            state = .skipping(tag: tag, tail: tail, answered: true)
            return .error(.nestingTooDeep(tag: tag, limit: limits.maxNestingDepth))
        }
        if lineSoFar + available > limits.maxLineLength {
            // Over the line limit: skip the rest of this line.
            // The tag may straddle what is held and what just arrived (`a` | `b1 NOOP …`): read it across both.
            var head = Array(command.prefix(80))
            if head.count < 80 { head.append(contentsOf: view.prefix(80 - head.count)) }
            let tag = Self.tag(of: head[...])
            let take = lfIndex == nil ? available : 0
            var tail = Array(command.suffix(24))
            if take > 0 { tail.append(contentsOf: input.readBytes(length: take)!.suffix(24)) }
            command.removeAll(keepingCapacity: false)
            state = .skipping(tag: tag, tail: tail, answered: false)
            return nil
        }
        let bytes = input.readBytes(length: available)!
        command.append(contentsOf: bytes)
        if command.count > limits.maxCommandSize {
            let tag = Self.tag(of: command[...])
            resetCommand()
            return .error(.commandTooLarge(tag: tag, limit: limits.maxCommandSize))
        }
        guard lfIndex != nil else { return nil }
        // A whole line is in `command[lineStart...]`. Does it end with a literal announcement?
        let lfAt = command.count - 1
        guard let lit = Self.literalAnnouncement(in: command[lineStart...], endingAt: lfAt) else {
            let done = command
            resetCommand()
            return .command(done)
        }
        let tag = Self.tag(of: command[...])
        guard let size = lit.size else {
            resetCommand()
            return .error(.invalidLiteralSize(tag: tag))
        }
        literalCount += 1
        if literalCount > limits.maxLiteralsPerCommand {
            resetCommand()
            return .error(.tooManyLiterals(tag: tag, limit: limits.maxLiteralsPerCommand))
        }
        if size > limits.maxLiteralSize {
            resetCommand()
            return .error(.literalTooLarge(tag: tag, size: size, limit: limits.maxLiteralSize,
                                           synchronising: lit.synchronising))
        }
        if command.count + size > limits.maxCommandSize {
            resetCommand()
            return .error(.commandTooLarge(tag: tag, limit: limits.maxCommandSize))
        }
        if size == 0 {
            lineStart = command.count
        } else {
            state = .literal(remaining: size)
        }
        return lit.synchronising ? .continuationNeeded(size) : nil
    }

    private mutating func resetCommand() {
        command.removeAll(keepingCapacity: command.count <= 4096)
        lineStart = 0
        literalCount = 0
        nesting = Nesting()
        state = .line
    }

    /// Finds `{n}`, `{n+}`, `{n-}` or `~{n}` right before the line end at `lf` (CRLF or bare LF).
    /// Returns nil when the line does not end with a literal; `size` nil when the digits are invalid.
    static func literalAnnouncement<C: RandomAccessCollection>(in line: C, endingAt lf: C.Index)
        -> (size: Int?, synchronising: Bool)? where C.Element == UInt8, C.Index == Int
    {
        var i = lf
        guard i >= line.startIndex, line[i] == UInt8(ascii: "\n") else { return nil }
        i -= 1
        if i >= line.startIndex, line[i] == UInt8(ascii: "\r") { i -= 1 }
        guard i >= line.startIndex, line[i] == UInt8(ascii: "}") else { return nil }
        i -= 1
        var synchronising = true
        if i >= line.startIndex, line[i] == UInt8(ascii: "+") || line[i] == UInt8(ascii: "-") {
            // `{n-}` is LITERAL- : non-synchronising, at most 4096 bytes (checked by the caller's limit).
            synchronising = false
            i -= 1
        }
        let digitsEnd = i
        while i >= line.startIndex, line[i] >= UInt8(ascii: "0"), line[i] <= UInt8(ascii: "9") { i -= 1 }
        guard i >= line.startIndex, line[i] == UInt8(ascii: "{") else { return nil }
        let digits = line[(i + 1)..<(digitsEnd + 1)]
        // `{}` announces nothing: the line is an ordinary (bad) command, not a literal (found by the fuzzer).
        if digits.isEmpty { return nil }
        guard !digits.isEmpty else { return (nil, synchronising) }
        // `number64` is valid syntax at any size; a huge one is simply too large (saturated at Int.max), which the
        // caller refuses against its limit without holding a byte of it.
        var value = 0
        for d in digits {
            let digit = Int(d - UInt8(ascii: "0"))
            value = value > (Int.max - digit) / 10 ? Int.max : value * 10 + digit
        }
        return (value, synchronising)
    }

    /// The tag at the start of a command, if one can be read (for error replies).
    static func tag(of bytes: ArraySlice<UInt8>) -> String? {
        var end = bytes.startIndex
        while end < bytes.endIndex, end - bytes.startIndex < 64, Grammar.isTagChar(bytes[end]) { end += 1 }
        guard end > bytes.startIndex, end < bytes.endIndex, bytes[end] == UInt8(ascii: " ") else { return nil }
        return String(decoding: bytes[bytes.startIndex..<end], as: UTF8.self)
    }
}
