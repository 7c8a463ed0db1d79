import Testing
@testable import KeepIMAP

/// Inputs a hostile or broken client may send. Each must be refused within its bound; none may crash.
@Suite("Hostile input")
struct HostileInputTests {
    static let corpus: [String] = [
        "a LOGIN {4}\r\nfred {6}\r\nsecret\r\n",
        "a AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n",
        "a SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500 15000,22500)) CONDSTORE)\r\n",
        "a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"INBOX\" %) RETURN (CHILDREN STATUS (MESSAGES UNSEEN))\r\n",
        "a APPEND INBOX (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {3+}\r\none ~{2+}\r\n\0\u{1}\r\n",
        "a UID FETCH 1:*,7 (BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.100> BINARY[1.2] MODSEQ) (CHANGEDSINCE 5 VANISHED)\r\n",
        "a UID STORE 1,3 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Seen $Junk)\r\n",
        "a SEARCH RETURN (MIN COUNT) CHARSET UTF-8 OR (SEEN NOT FROM {3}\r\nabc) UID 1:5 SINCE \"1-Feb-1994\" MODSEQ 5\r\n",
        "a SETMETADATA INBOX (/private/comment \"x\" /shared/y NIL)\r\n",
        "a GETMETADATA (MAXSIZE 1024 DEPTH 1) INBOX (/a /b)\r\n",
        "a ID (\"name\" \"x\" \"v\" NIL)\r\n",
        "a SETQUOTA \"\" (STORAGE 512)\r\n",
        "a CREATE x (USE (\\Archive))\r\n",
    ]

    @Test func theCorpusParses() throws {
        for line in Self.corpus {
            _ = try parse(line)
        }
    }

    @Test func everyTruncationFailsCleanly() {
        for line in Self.corpus {
            let b = bytes(line)
            for i in 0..<b.count {
                // Only must not crash; a cut right before the final LF may still parse (bare CR is skipped).
                _ = try? parse(Array(b[..<i]))
            }
        }
        #expect(parseError("a LOGIN {10}\r\nab")?.reason == .syntax(hint: "literal shorter than announced"))
    }

    @Test func mutatedCommandsNeverCrashTheParser() {
        var rng = SeededGenerator(seed: 99)
        let interesting = Array("(){}[]<>\"\\ *$%:,.+-~0123456789\r\n\0".utf8) + [0x80, 0xFF]
        for _ in 0..<20_000 {
            var b = bytes(Self.corpus.randomElement(using: &rng)!)
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let i = Int.random(in: 0..<b.count, using: &rng)
                switch Int.random(in: 0...3, using: &rng) {
                case 0: b[i] = interesting.randomElement(using: &rng)!
                case 1: b.insert(interesting.randomElement(using: &rng)!, at: i)
                case 2: if b.count > 1 { b.remove(at: i) }
                default: b.insert(contentsOf: b[i..<min(b.count, i + 8)], at: i)
                }
            }
            _ = try? CommandParser().parse(b)
        }
    }

    @Test func randomBytesThroughFramerAndParserStayBounded() {
        var rng = SeededGenerator(seed: 1234)
        let limits = FramingLimits.test(maxLineLength: 256, maxLiteralSize: 64, maxLiteralsPerCommand: 4, maxCommandSize: 512)
        let alphabet = Array("a NOOP{}+~-()\"\\ 0123456789".utf8) + [13, 10, 10, 0, 0xFF]
        for _ in 0..<300 {
            var framer = CommandFramer(limits: limits)
            for _ in 0..<40 {
                let chunk = (0..<Int.random(in: 1...64, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
                framer.append(chunk)
                while let e = framer.next() {
                    if case .command(let c) = e {
                        #expect(c.count <= limits.maxCommandSize)
                        _ = try? CommandParser().parse(c)
                    }
                }
                #expect(framer.bufferedBytes <= limits.maxCommandSize)
            }
        }
    }

    // MARK: Size and number bombs

    @Test func giantLiteralSizesAreRefusedWithoutTrapping() {
        // A 19-digit size used to trap converting to Int; 20 digits is not a number64.
        #expect(parseError("a LOGIN {9999999999999999999}\r\nx y\r\n")?.reason == .syntax(hint: "literal shorter than announced"))
        #expect(parseError("a LOGIN {9223372036854775807}\r\nx y\r\n")?.reason == .syntax(hint: "literal shorter than announced"))
        #expect(parseError("a LOGIN {99999999999999999999}\r\nx y\r\n")?.reason == .syntax(hint: "number too large"))
        #expect(parseError("a APPEND INBOX ~{9999999999999999999+}\r\nx\r\n") != nil)
    }

    @Test func giantNumbersAreRefused() {
        #expect(parseError("a FETCH 99999999999999999999999 FLAGS\r\n")?.reason == .syntax(hint: "number too large"))
        #expect(parseError("a SEARCH LARGER 99999999999999999999\r\n")?.reason == .syntax(hint: "number too large"))
        #expect(parseError("a FETCH 1 BODY[]<9223372036854775807.1>\r\n")?.reason == .syntax(hint: "partial too large"))
        #expect(parseError("a FETCH 1 BODY[99999999999]\r\n")?.reason == .syntax(hint: "number too large"))
        #expect(parseError("a GETMETADATA (MAXSIZE 99999999999) INBOX /a\r\n")?.reason == .syntax(hint: "number too large"))
        #expect(parseError("a SELECT INBOX (QRESYNC (1 99999999999999999999))\r\n")?.reason == .syntax(hint: "number too large"))
    }

    @Test func longTagIsRefused() {
        #expect(parseError(String(repeating: "t", count: 129) + " NOOP\r\n") == CommandParseError(tag: nil, reason: .syntax(hint: "expected tag")))
        #expect((try? parse(String(repeating: "t", count: 128) + " NOOP\r\n")) != nil)
    }

    @Test func nestingBombIsCutAtTheDepthLimit() {
        let e = parseError("a SEARCH " + String(repeating: "(", count: 4000) + "\r\n")
        #expect(e == CommandParseError(tag: "a", reason: .tooDeep(limit: 32)))
        #expect(parseError("a SEARCH " + String(repeating: "NOT ", count: 50_000) + "ALL\r\n")?.reason == .tooDeep(limit: 32))
        #expect(parseError("a SEARCH " + String(repeating: "OR ALL ", count: 50_000) + "ALL\r\n")?.reason == .tooDeep(limit: 32))
        #expect(parseError("a FETCH 1 BODY[" + Array(repeating: "1", count: 1000).joined(separator: ".") + "]\r\n")?.reason
            == .tooDeep(limit: 32))
    }

    @Test func nestingBombIsAnsweredByTheFramerBeforeItsLineEnds() {
        var framer = CommandFramer()
        framer.append(bytes("a NOOP " + String(repeating: "(", count: 4000)))
        #expect(framer.next() == .error(.nestingTooDeep(tag: "a", limit: 32)))
        #expect(framer.next() == nil)
        #expect(framer.bufferedBytes == 0)
        framer.append(bytes("\r\nb NOOP\r\n"))
        #expect(framer.next() == .command(bytes("b NOOP\r\n")))
    }

    @Test func manySequenceRangesAreCut() {
        let ranges = Array(repeating: "1", count: 20_000).joined(separator: ",")
        #expect(parseError("a FETCH \(ranges) FLAGS\r\n")?.reason == .tooManySequenceRanges(limit: 10_000))
    }

    @Test func manyArgumentsAreCut() {
        #expect(parseError("a SEARCH " + Array(repeating: "SEEN", count: 2000).joined(separator: " ") + "\r\n")?.reason
            == .tooManyArguments(limit: 1000))
        #expect(parseError("a STORE 1 FLAGS (" + Array(repeating: "x", count: 2000).joined(separator: " ") + ")\r\n")?.reason
            == .tooManyArguments(limit: 1000))
    }

    @Test func controlBytesAndNulAreRefused() {
        #expect(parseError("a NOOP\0\r\n") != nil)
        #expect(parseError("a LOGIN \"a\0b\" c\r\n")?.reason == .syntax(hint: "CR, LF or NUL in quoted string"))
        #expect(parseError("\0\r\n")?.tag == nil)
        #expect(parseError("\r\n")?.tag == nil)
        #expect(parseError("a\tNOOP\r\n") != nil)
    }

    @Test func pipelinedCommandsFramedByteByByteParseAsSent() throws {
        let transcript = Self.corpus.joined()
        let events = frame(chunks(bytes(transcript), size: 1))
        let frames = events.compactMap { e -> [UInt8]? in if case .command(let c) = e { return c } else { return nil } }
        #expect(frames.count == Self.corpus.count)
        for (f, line) in zip(frames, Self.corpus) {
            #expect(f == bytes(line))
            #expect(try CommandParser().parse(f) == parse(line))
        }
    }
}
