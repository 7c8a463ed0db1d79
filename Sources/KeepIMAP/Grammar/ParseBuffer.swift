/// Bounds the grammar parser enforces on one framed command. Each is a named server setting (`Limits`); this module
/// has no defaults of its own.
public struct GrammarLimits: Sendable, Hashable {
    /// Deepest nesting of parentheses (both in search keys and lists).
    public var maxDepth: Int
    /// Most ranges in one sequence set.
    public var maxSequenceRanges: Int
    /// Most arguments in one list (fetch items, flags, search keys, STATUS items, …).
    public var maxArguments: Int
    public init(maxDepth: Int, maxSequenceRanges: Int, maxArguments: Int) {
        self.maxDepth = maxDepth
        self.maxSequenceRanges = maxSequenceRanges
        self.maxArguments = maxArguments
    }
}

/// Why a framed command was refused by the grammar. Every case is answered `BAD` and the connection continues
/// (framing is intact); `tag` is nil when even the tag was unreadable (answered `* BAD`).
public struct CommandParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// The bytes do not follow the grammar; `hint` says what was expected.
        case syntax(hint: String)
        case unknownCommand(String)
        case tooDeep(limit: Int)
        case tooManySequenceRanges(limit: Int)
        case tooManyArguments(limit: Int)
    }
    public var tag: String?
    public var reason: Reason

    public init(tag: String?, reason: Reason) {
        self.tag = tag
        self.reason = reason
    }

    /// The config name of the bound that tripped, nil for plain syntax errors.
    public var limitName: String? {
        switch reason {
        case .tooDeep: return "max_nesting_depth"
        case .tooManySequenceRanges: return "max_sequence_ranges"
        case .tooManyArguments: return "max_arguments"
        case .syntax, .unknownCommand: return nil
        }
    }

    public var description: String {
        switch reason {
        case .syntax(let hint): return "Syntax error: \(hint)"
        case .unknownCommand(let name): return "Unknown command \(name)"
        case .tooDeep(let limit): return "Nesting deeper than \(limit) levels"
        case .tooManySequenceRanges(let limit): return "Sequence set has more than \(limit) ranges"
        case .tooManyArguments(let limit): return "More than \(limit) arguments in one list"
        }
    }
}

/// A cursor over one framed command (lines and inline literals). Grammar functions take it `inout` and either
/// advance past what they read or throw.
struct ParseBuffer {
    let bytes: [UInt8]
    var position: Int
    var depth = 0
    let limits: GrammarLimits
    var tag: String?

    init(_ bytes: [UInt8], limits: GrammarLimits) {
        self.bytes = bytes
        self.position = 0
        self.limits = limits
    }

    var atEnd: Bool { position >= bytes.count }
    var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    func fail(_ hint: String) -> CommandParseError {
        CommandParseError(tag: tag, reason: .syntax(hint: hint))
    }

    mutating func enter() throws {
        depth += 1
        if depth > limits.maxDepth { throw CommandParseError(tag: tag, reason: .tooDeep(limit: limits.maxDepth)) }
    }

    mutating func leave() { depth -= 1 }

    func checkCount(_ n: Int) throws {
        if n > limits.maxArguments {
            throw CommandParseError(tag: tag, reason: .tooManyArguments(limit: limits.maxArguments))
        }
    }

    mutating func expect(_ c: UInt8, _ what: String) throws {
        guard peek == c else { throw fail("expected \(what)") }
        position += 1
    }

    mutating func skip(_ c: UInt8) -> Bool {
        if peek == c { position += 1; return true }
        return false
    }

    mutating func space() throws { try expect(UInt8(ascii: " "), "space") }

    /// Matches a case-insensitive ASCII keyword; advances only on a match.
    mutating func keyword(_ word: String) -> Bool {
        let w = Array(word.utf8)
        guard position + w.count <= bytes.count else { return false }
        for (i, c) in w.enumerated() where Grammar.upper(bytes[position + i]) != c { return false }
        position += w.count
        return true
    }

    /// The end of the command: CRLF (or bare LF) and nothing after.
    mutating func end() throws {
        _ = skip(UInt8(ascii: "\r"))
        guard skip(UInt8(ascii: "\n")), atEnd else { throw fail("expected end of command") }
    }

    var atLineEnd: Bool { peek == UInt8(ascii: "\r") || peek == UInt8(ascii: "\n") || atEnd }

    /// `atom = 1*ATOM-CHAR`
    mutating func atom() throws -> String {
        let start = position
        while let c = peek, Grammar.isAtomChar(c) { position += 1 }
        guard position > start else { throw fail("expected atom") }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    /// `number = 1*DIGIT` (32-bit unsigned)
    mutating func number() throws -> UInt32 {
        let v = try number64()
        guard v <= UInt64(UInt32.max) else { throw fail("number too large") }
        return UInt32(v)
    }

    /// `number64 = 1*DIGIT` (63-bit)
    mutating func number64() throws -> UInt64 {
        let start = position
        var v: UInt64 = 0
        while let c = peek, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
            guard position - start < 19 else { throw fail("number too large") }
            v = v * 10 + UInt64(c - UInt8(ascii: "0"))
            position += 1
        }
        guard position > start else { throw fail("expected number") }
        return v
    }

    /// `nz-number = digit-nz *DIGIT`
    mutating func nzNumber() throws -> UInt32 {
        let n = try number()
        guard n > 0 else { throw fail("expected non-zero number") }
        return n
    }

    /// `quoted = DQUOTE *QUOTED-CHAR DQUOTE` (UTF-8 allowed, IMAP4rev2)
    mutating func quoted() throws -> [UInt8] {
        try expect(UInt8(ascii: "\""), "quoted string")
        var out: [UInt8] = []
        while let c = peek {
            position += 1
            switch c {
            case UInt8(ascii: "\""):
                return out
            case UInt8(ascii: "\\"):
                guard let e = peek, e == UInt8(ascii: "\"") || e == UInt8(ascii: "\\") else {
                    throw fail("invalid escape in quoted string")
                }
                out.append(e)
                position += 1
            case UInt8(ascii: "\r"), UInt8(ascii: "\n"), 0:
                throw fail("CR, LF or NUL in quoted string")
            default:
                out.append(c)
            }
        }
        throw fail("unterminated quoted string")
    }

    /// `literal = "{" number64 ["+" / "-"] "}" CRLF *CHAR8` and `literal8 = "~{" number64 "}" CRLF *OCTET`.
    /// Returns the bytes and whether it was a literal8.
    mutating func literal() throws -> (bytes: [UInt8], binary: Bool) {
        let binary = skip(UInt8(ascii: "~"))
        try expect(UInt8(ascii: "{"), "literal")
        let size = try number64()
        _ = skip(UInt8(ascii: "+")) || skip(UInt8(ascii: "-"))
        try expect(UInt8(ascii: "}"), "}")
        _ = skip(UInt8(ascii: "\r"))
        try expect(UInt8(ascii: "\n"), "CRLF after literal size")
        // Compare before converting: a 19-digit size does not fit an Int, and `position + n` could overflow.
        guard size <= UInt64(bytes.count - position) else { throw fail("literal shorter than announced") }
        let n = Int(size)
        let out = Array(bytes[position..<(position + n)])
        position += n
        if !binary, out.contains(0) { throw fail("NUL in literal (use literal8)") }
        return (out, binary)
    }

    /// `string = quoted / literal` (a `literal8` is not a string: only APPEND and SETMETADATA take one, explicitly)
    mutating func string() throws -> [UInt8] {
        switch peek {
        case UInt8(ascii: "\""): return try quoted()
        case UInt8(ascii: "{"): return try literal().bytes
        default: throw fail("expected string")
        }
    }

    /// `astring = 1*ASTRING-CHAR / string`
    mutating func astring() throws -> [UInt8] {
        switch peek {
        case UInt8(ascii: "\""), UInt8(ascii: "{"): return try string()
        default:
            let start = position
            while let c = peek, Grammar.isAStringChar(c) { position += 1 }
            guard position > start else { throw fail("expected astring") }
            return Array(bytes[start..<position])
        }
    }

    mutating func astringText() throws -> String { String(decoding: try astring(), as: UTF8.self) }

    /// `nstring = string / nil`
    mutating func nstring() throws -> [UInt8]? {
        if keyword("NIL") { return nil }
        return try string()
    }

    /// `mailbox = "INBOX" / astring`
    mutating func mailbox() throws -> MailboxName { MailboxName(raw: try astring()) }

    /// `list-mailbox = 1*list-char / string`
    mutating func listMailbox() throws -> [UInt8] {
        switch peek {
        case UInt8(ascii: "\""), UInt8(ascii: "{"): return try string()
        default:
            let start = position
            while let c = peek, Grammar.isListChar(c) { position += 1 }
            guard position > start else { throw fail("expected mailbox pattern") }
            return Array(bytes[start..<position])
        }
    }

    /// A parenthesised, space-separated list: `"(" [item *(SP item)] ")"`.
    mutating func list<T>(allowEmpty: Bool = true, _ item: (inout ParseBuffer) throws -> T) throws -> [T] {
        try expect(UInt8(ascii: "("), "(")
        try enter()
        defer { leave() }
        var out: [T] = []
        if skip(UInt8(ascii: ")")) {
            guard allowEmpty else { throw fail("empty list") }
            return out
        }
        repeat {
            out.append(try item(&self))
            try checkCount(out.count)
        } while skip(UInt8(ascii: " "))
        try expect(UInt8(ascii: ")"), ")")
        return out
    }
}

/// Character classes of the IMAP grammar (RFC 9051 §9).
enum Grammar {
    static func upper(_ c: UInt8) -> UInt8 {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) ? c - 32 : c
    }

    /// `ATOM-CHAR = <any CHAR except atom-specials>`; atom-specials = "(" ")" "{" SP CTL list-wildcards
    /// quoted-specials resp-specials. 8-bit bytes are accepted (UTF8=ACCEPT mailbox names).
    static func isAtomChar(_ c: UInt8) -> Bool {
        switch c {
        case 0...0x20, 0x7F, UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "{"), UInt8(ascii: "%"),
             UInt8(ascii: "*"), UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "]"):
            return false
        default:
            return true
        }
    }

    /// `ASTRING-CHAR = ATOM-CHAR / resp-specials`
    static func isAStringChar(_ c: UInt8) -> Bool { isAtomChar(c) || c == UInt8(ascii: "]") }

    /// `list-char = ATOM-CHAR / list-wildcards / resp-specials`
    static func isListChar(_ c: UInt8) -> Bool {
        isAtomChar(c) || c == UInt8(ascii: "%") || c == UInt8(ascii: "*") || c == UInt8(ascii: "]")
    }

    /// `tag = 1*<any ASTRING-CHAR except "+">`
    static func isTagChar(_ c: UInt8) -> Bool { isAStringChar(c) && c != UInt8(ascii: "+") && c < 0x80 }
}
