import Testing
@testable import KeepIMAP

/// Property-style tests: random values are rendered as a client would write them, then parsed back equal.
@Suite("Round trips")
struct RoundTripTests {
    // MARK: Generators

    struct Gen {
        var rng: SeededGenerator

        mutating func int(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &rng) }
        mutating func bool() -> Bool { Bool.random(using: &rng) }
        mutating func pick<T>(_ xs: [T]) -> T { xs[int(0...(xs.count - 1))] }

        mutating func number() -> UInt32 {
            bool() ? UInt32(int(1...100)) : UInt32.random(in: 1...UInt32.max, using: &rng)
        }

        mutating func seqNumber() -> SequenceNumber { int(0...5) == 0 ? .last : .number(number()) }

        mutating func sequenceSet(allowDollar: Bool = true) -> SequenceSet {
            if allowDollar, int(0...15) == 0 { return .lastSearchResult }
            return .ranges((0..<int(1...6)).map { _ in
                let a = seqNumber()
                return SequenceRange(a, bool() ? a : seqNumber())
            })
        }

        mutating func atom(_ first: String = "abcXYZ$_", length: ClosedRange<Int> = 1...8) -> String {
            let rest = Array("abcdefXYZ0189$_-.'&!#|~^`")
            return String(pick(Array(first))) + String((1..<int(length)).map { _ in pick(rest) })
        }

        mutating func flag() -> Flag {
            switch int(0...7) {
            case 0: return .seen
            case 1: return .answered
            case 2: return .flagged
            case 3: return .deleted
            case 4: return .draft
            case 5: return .recent
            case 6: return .extension("X" + atom())
            default: return .keyword(atom())
            }
        }

        /// Text with the characters that need quoting, escaping, or a literal.
        mutating func text() -> String {
            let chars: [Character] = ["a", "Z", "0", " ", "\"", "\\", "(", ")", "{", "}", "*", "%", "]", "é", "語", "😀", "\r", "\n", "\t"]
            return String((0..<int(0...10)).map { _ in pick(chars) })
        }

        mutating func date() -> IMAPDate {
            while true {
                let d = IMAPDate(year: int(1000...9999), month: int(1...12), day: int(1...31))
                if d.isValid { return d }
            }
        }

        mutating func searchKey(depth: Int) -> SearchKey {
            let leaf = depth <= 0 || int(0...2) > 0
            if !leaf {
                switch int(0...2) {
                case 0: return .not(searchKey(depth: depth - 1))
                case 1: return .or(searchKey(depth: depth - 1), searchKey(depth: depth - 1))
                default: return .and((0..<int(2...4)).map { _ in searchKey(depth: depth - 1) })
                }
            }
            let simple: [SearchKey] = [.all, .answered, .deleted, .draft, .flagged, .seen, .recent, .new, .old, .unanswered,
                                       .undeleted, .undraft, .unflagged, .unseen]
            switch int(0...22) {
            case 0: return .keyword(atom())
            case 1: return .unkeyword(atom())
            case 2: return .bcc(text())
            case 3: return .cc(text())
            case 4: return .from(text())
            case 5: return .to(text())
            case 6: return .subject(text())
            case 7: return .body(text())
            case 8: return .text(text())
            case 9: return .header(atom(), text())
            case 10: return .before(date())
            case 11: return .on(date())
            case 12: return .since(date())
            case 13: return .sentBefore(date())
            case 14: return .sentOn(date())
            case 15: return .sentSince(date())
            case 16: return .larger(UInt64(int(0...Int(Int64.max / 2))))
            case 17: return .smaller(UInt64(int(0...1000)))
            case 18: return .uid(sequenceSet())
            case 19: return .sequence(sequenceSet())
            case 20: return .modSeq(UInt64(int(0...Int(Int64.max))))
            default: return pick(simple)
            }
        }

        mutating func sectionPart() -> [Int] { (0..<int(1...4)).map { _ in int(1...30) } }

        mutating func partial() -> Partial? {
            switch int(0...2) {
            case 0: return nil
            case 1: return Partial(offset: int(0...100_000), length: nil)
            default: return Partial(offset: int(0...100_000), length: int(1...100_000))
            }
        }

        mutating func fetchAttribute() -> FetchAttribute {
            switch int(0...14) {
            case 0: return .envelope
            case 1: return .flags
            case 2: return .internalDate
            case 3: return .rfc822Size
            case 4: return .uid
            case 5: return .bodyStructure
            case 6: return .body
            case 7: return .rfc822
            case 8: return .rfc822Header
            case 9: return .rfc822Text
            case 10: return .modSeq
            case 11: return .binary(part: bool() ? [] : sectionPart(), partial(), peek: bool())
            case 12: return .binarySize(part: bool() ? [] : sectionPart())
            default:
                var spec = SectionSpec()
                if bool() { spec.part = sectionPart() }
                switch int(0...5) {
                case 0: spec.text = .header
                case 1: spec.text = .headerFields((0..<int(1...3)).map { _ in atom("ABCxyz", length: 1...6) })
                case 2: spec.text = .headerFieldsNot((0..<int(1...3)).map { _ in atom("ABCxyz", length: 1...6) })
                case 3: spec.text = .text
                case 4: spec.text = spec.part.isEmpty ? nil : .mime
                default: spec.text = nil
                }
                return .bodySection(spec, partial(), peek: bool())
            }
        }
    }

    // MARK: Renderers (the client side)

    static func render(_ n: SequenceNumber) -> String {
        switch n {
        case .number(let x): return "\(x)"
        case .last: return "*"
        }
    }

    static func render(_ s: SequenceSet) -> String {
        switch s {
        case .lastSearchResult: return "$"
        case .ranges(let rs): return rs.map { $0.from == $0.to ? render($0.from) : "\(render($0.from)):\(render($0.to))" }.joined(separator: ",")
        }
    }

    /// A quoted string, or a non-synchronising literal when the text holds CR or LF.
    static func string(_ s: String) -> String {
        if s.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) { return "{\(s.utf8.count)+}\r\n" + s }
        return "\"" + s.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
    }

    static func render(_ d: IMAPDate) -> String {
        "\(d.day)-\(ResponseEncoder.monthNames[d.month - 1])-\(d.year)"
    }

    static func render(_ k: SearchKey) -> String {
        switch k {
        case .all: return "ALL"
        case .answered: return "ANSWERED"
        case .deleted: return "DELETED"
        case .draft: return "DRAFT"
        case .flagged: return "FLAGGED"
        case .seen: return "SEEN"
        case .recent: return "RECENT"
        case .new: return "NEW"
        case .old: return "OLD"
        case .unanswered: return "UNANSWERED"
        case .undeleted: return "UNDELETED"
        case .undraft: return "UNDRAFT"
        case .unflagged: return "UNFLAGGED"
        case .unseen: return "UNSEEN"
        case .keyword(let s): return "KEYWORD \(s)"
        case .unkeyword(let s): return "UNKEYWORD \(s)"
        case .bcc(let s): return "BCC \(string(s))"
        case .cc(let s): return "CC \(string(s))"
        case .from(let s): return "FROM \(string(s))"
        case .to(let s): return "TO \(string(s))"
        case .subject(let s): return "SUBJECT \(string(s))"
        case .body(let s): return "BODY \(string(s))"
        case .text(let s): return "TEXT \(string(s))"
        case .header(let f, let v): return "HEADER \(f) \(string(v))"
        case .before(let d): return "BEFORE \(render(d))"
        case .on(let d): return "ON \"\(render(d))\""
        case .since(let d): return "SINCE \(render(d))"
        case .sentBefore(let d): return "SENTBEFORE \(render(d))"
        case .sentOn(let d): return "SENTON \(render(d))"
        case .sentSince(let d): return "SENTSINCE \(render(d))"
        case .larger(let n): return "LARGER \(n)"
        case .smaller(let n): return "SMALLER \(n)"
        case .uid(let s): return "UID \(render(s))"
        case .sequence(let s): return render(s)
        case .not(let k): return "NOT \(render(k))"
        case .or(let a, let b): return "OR \(render(a)) \(render(b))"
        case .and(let ks): return "(" + ks.map(render).joined(separator: " ") + ")"
        case .modSeq(let n): return "MODSEQ \(n)"
        }
    }

    static func render(_ p: Partial?) -> String {
        guard let p else { return "" }
        return p.length.map { "<\(p.offset).\($0)>" } ?? "<\(p.offset)>"
    }

    static func render(_ a: FetchAttribute) -> String {
        switch a {
        case .envelope: return "ENVELOPE"
        case .flags: return "FLAGS"
        case .internalDate: return "INTERNALDATE"
        case .rfc822Size: return "RFC822.SIZE"
        case .uid: return "UID"
        case .bodyStructure: return "BODYSTRUCTURE"
        case .body: return "BODY"
        case .rfc822: return "RFC822"
        case .rfc822Header: return "RFC822.HEADER"
        case .rfc822Text: return "RFC822.TEXT"
        case .modSeq: return "MODSEQ"
        case .binary(let part, let p, let peek):
            return "BINARY\(peek ? ".PEEK" : "")[\(part.map(String.init).joined(separator: "."))]\(render(p))"
        case .binarySize(let part): return "BINARY.SIZE[\(part.map(String.init).joined(separator: "."))]"
        case .bodySection(let spec, let p, let peek):
            var s = spec.part.map(String.init).joined(separator: ".")
            if let t = spec.text {
                if !s.isEmpty { s += "." }
                switch t {
                case .header: s += "HEADER"
                case .headerFields(let f): s += "HEADER.FIELDS (\(f.joined(separator: " ")))"
                case .headerFieldsNot(let f): s += "HEADER.FIELDS.NOT (\(f.joined(separator: " ")))"
                case .text: s += "TEXT"
                case .mime: s += "MIME"
                }
            }
            return "BODY\(peek ? ".PEEK" : "")[\(s)]\(render(p))"
        }
    }

    /// Parses `line`, and checks the framer cuts it, whole and byte by byte, into exactly that one command.
    static func parseFramed(_ line: String, sourceLocation: SourceLocation = #_sourceLocation) -> CommandKind? {
        let b = Array(line.utf8)
        let limits = FramingLimits.test(maxLiteralsPerCommand: 10_000, maxCommandSize: 1 << 20)
        #expect(frame([b], limits: limits) == [.command(b)], sourceLocation: sourceLocation)
        #expect(frame(chunks(b, size: 1), limits: limits) == [.command(b)], sourceLocation: sourceLocation)
        do {
            return try CommandParser().parse(b).kind
        } catch {
            Issue.record("\(line.debugDescription) failed: \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    // MARK: Properties

    @Test("sequence sets round-trip", arguments: 0..<4)
    func sequenceSets(seed: UInt64) {
        var g = Gen(rng: SeededGenerator(seed: seed))
        for _ in 0..<250 {
            let s = g.sequenceSet()
            #expect(Self.parseFramed("a UID EXPUNGE \(Self.render(s))\r\n") == .uidExpunge(s))
            #expect(Self.parseFramed("a COPY \(Self.render(s)) Trash\r\n") == .copy(s, MailboxName("Trash"), uid: false))
        }
    }

    @Test("flag lists round-trip", arguments: 0..<4)
    func flagLists(seed: UInt64) {
        var g = Gen(rng: SeededGenerator(seed: 100 + seed))
        for _ in 0..<250 {
            let flags = (0..<g.int(0...6)).map { _ in g.flag() }
            let list = "(" + flags.map(\.text).joined(separator: " ") + ")"
            let op = g.pick([StoreOperation.add, .remove, .replace])
            let silent = g.bool()
            let prefix = op == .add ? "+" : op == .remove ? "-" : ""
            #expect(Self.parseFramed("a STORE 1:* \(prefix)FLAGS\(silent ? ".SILENT" : "") \(list)\r\n")
                == .store(set((n(1), .last)), StoreRequest(operation: op, silent: silent, flags: flags), uid: false))
            #expect(Self.parseFramed("a APPEND INBOX \(list) {2+}\r\nhi\r\n")
                == .append(MailboxName("INBOX"), [AppendMessage(flags: flags, internalDate: nil, data: Array("hi".utf8))]))
        }
    }

    @Test("search programs round-trip", arguments: 0..<8)
    func searchPrograms(seed: UInt64) {
        var g = Gen(rng: SeededGenerator(seed: 200 + seed))
        for _ in 0..<150 {
            let key = g.searchKey(depth: 4)
            let program: String
            if case .and(let keys) = key {
                program = keys.map(Self.render).joined(separator: " ")
            } else {
                program = Self.render(key)
            }
            let uid = g.bool()
            #expect(Self.parseFramed("a \(uid ? "UID " : "")SEARCH \(program)\r\n")
                == .search(SearchRequest(returnOptions: nil, charset: nil, key: key), uid: uid))
        }
    }

    @Test("fetch attribute lists round-trip", arguments: 0..<4)
    func fetchAttributes(seed: UInt64) {
        var g = Gen(rng: SeededGenerator(seed: 300 + seed))
        for _ in 0..<200 {
            let attrs = (0..<g.int(1...6)).map { _ in g.fetchAttribute() }
            let s = g.sequenceSet()
            let line = "a UID FETCH \(Self.render(s)) (\(attrs.map(Self.render).joined(separator: " ")))\r\n"
            #expect(Self.parseFramed(line) == .fetch(s, attrs, FetchModifiers(), uid: true))
        }
    }

    @Test("mailbox names round-trip through the encoder", arguments: 0..<2)
    func mailboxNames(seed: UInt64) throws {
        var g = Gen(rng: SeededGenerator(seed: 400 + seed))
        for _ in 0..<300 {
            let name = g.text()
            var e = ResponseEncoder()
            e.astringOrString(Array(name.utf8))
            let line = Array("a SELECT ".utf8) + e.bytes + Array("\r\n".utf8)
            #expect(try CommandParser().parse(line).kind == .select(MailboxName(name), SelectParameters()))
        }
    }
}
