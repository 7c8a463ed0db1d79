import NIOCore
import Testing
@testable import KeepIMAP

@Suite("CommandFramer")
struct CommandFramerTests {
    // MARK: Chunking

    static let transcripts: [String] = [
        "a NOOP\r\n",
        "a1 CAPABILITY\r\nb2 NOOP\r\nc3 LOGOUT\r\n",
        "a LOGIN {4}\r\nfred {6}\r\nsecret\r\n",
        "a APPEND INBOX (\\Seen) {11+}\r\nhello\r\nworld\r\n",
        "a APPEND INBOX {5-}\r\nhello\r\nb NOOP\r\n",
        "a APPEND INBOX ~{4}\r\n\0\r\n\0\r\n",
        "a SETMETADATA INBOX (/private/comment {0}\r\n)\r\n",
        "a NOOP\nb NOOP\n",
        "a LOGIN {3}\nabc {3+}\ndef\n",
        "a LOGIN {2}\r\n{3}\r\n{2+}\r\nok\r\nb NOOP\r\n",
        "\r\n\r\na NOOP\r\n",
    ]

    @Test("a command split at every byte position yields the same events as whole", arguments: transcripts)
    func everyChunkingAgrees(_ transcript: String) {
        let events = verifyEveryChunking(bytes(transcript))
        #expect(!events.isEmpty)
    }

    @Test func commandsComeOutExactlyAsSentWithLiteralsInline() {
        let input = "a LOGIN {4}\r\nfred {6}\r\nsecret\r\nb NOOP\r\n"
        let events = verifyEveryChunking(bytes(input))
        #expect(events == [
            .continuationNeeded(4),
            .continuationNeeded(6),
            .command(bytes("a LOGIN {4}\r\nfred {6}\r\nsecret\r\n")),
            .command(bytes("b NOOP\r\n")),
        ])
    }

    @Test func manyCommandsInOneChunkComeOutInOrder() {
        let input = (0..<2000).map { "t\($0) NOOP\r\n" }.joined()
        let events = frame([bytes(input)])
        #expect(events == (0..<2000).map { .command(bytes("t\($0) NOOP\r\n")) })
    }

    @Test func aPartialLineYieldsNothingUntilItsLineEnd() {
        var framer = CommandFramer()
        framer.append(bytes("a NO"))
        #expect(framer.next() == nil)
        #expect(!framer.isIdle)
        framer.append(bytes("OP\r"))
        #expect(framer.next() == nil)
        framer.append(bytes("\n"))
        #expect(framer.next() == .command(bytes("a NOOP\r\n")))
        #expect(framer.next() == nil)
        #expect(framer.isIdle)
    }

    @Test func byteBufferAndByteArrayAppendsFrameAlike() {
        let input = bytes("a LOGIN {4}\r\nfred {6+}\r\nsecret\r\nb NOOP\r\n")
        var framer = CommandFramer()
        var events: [FramingEvent] = []
        for c in chunks(input, size: 5) {
            framer.append(ByteBuffer(bytes: c))
            while let e = framer.next() { events.append(e) }
        }
        #expect(events == frame(chunks(input, size: 5)))
    }

    // MARK: Literals

    @Test func synchronisingLiteralAsksForContinuationThenYieldsTheCommand() {
        var framer = CommandFramer()
        framer.append(bytes("a LOGIN {4}\r\n"))
        #expect(framer.next() == .continuationNeeded(4))
        #expect(framer.next() == nil)
        framer.append(bytes("fred \"pw\"\r\n"))
        #expect(framer.next() == .command(bytes("a LOGIN {4}\r\nfred \"pw\"\r\n")))
    }

    @Test("non-synchronising literals need no continuation", arguments: ["{5+}", "{5-}", "~{5+}"])
    func nonSynchronisingLiteral(_ announcement: String) {
        let input = "a APPEND INBOX \(announcement)\r\nhello\r\n"
        #expect(verifyEveryChunking(bytes(input)) == [.command(bytes(input))])
    }

    @Test func literal8CarriesNulAndLineBreaksVerbatim() {
        let payload: [UInt8] = [0, 13, 10, 10, 0xFF, 0]
        let input = bytes("a APPEND INBOX ~{6}\r\n") + payload + bytes("\r\n")
        #expect(verifyEveryChunking(input) == [.continuationNeeded(6), .command(input)])
    }

    @Test func literalBytesThatLookLikeCommandsOrAnnouncementsStayInTheLiteral() {
        let input = "a APPEND INBOX {18+}\r\nb NOOP\r\nc X {99}\r\n\r\n"
        #expect(verifyEveryChunking(bytes(input)) == [.command(bytes(input))])
    }

    @Test func emptyLiteral() {
        #expect(verifyEveryChunking(bytes("a LOGIN {0}\r\n {0+}\r\n\r\n"))
            == [.continuationNeeded(0), .command(bytes("a LOGIN {0}\r\n {0+}\r\n\r\n"))])
    }

    @Test func bareLineFeedsEndLines() {
        #expect(verifyEveryChunking(bytes("a NOOP\nb LOGIN {2}\nab x\n"))
            == [.command(bytes("a NOOP\n")), .continuationNeeded(2), .command(bytes("b LOGIN {2}\nab x\n"))])
    }

    @Test("lines that merely end near a brace are not literals",
          arguments: ["a NOOP }\r\n", "a NOOP {\r\n", "a NOOP {x}\r\n", "a NOOP 5}\r\n", "a NOOP {5 }\r\n"])
    func notALiteral(_ line: String) {
        #expect(frame([bytes(line)]) == [.command(bytes(line))])
    }

    // MARK: Limits

    @Test func overLongLineIsSkippedToItsLineFeedAndTheNextCommandParses() {
        let limits = FramingLimits.test(maxLineLength: 64)
        let long = "a1 SEARCH " + String(repeating: "x", count: 100) + "\r\n"
        let events = verifyEveryChunking(bytes(long + "b2 NOOP\r\n"), limits: limits)
        #expect(events == [.error(.lineTooLong(tag: "a1", limit: 64)), .command(bytes("b2 NOOP\r\n"))])
        if case .error(let e) = events.first {
            #expect(!e.framingLost)
            #expect(e.limitName == "max_line_length")
        }
    }

    @Test func lineOfExactlyTheLimitIsAccepted() {
        let line = "a NOOP " + String(repeating: "x", count: 64 - 9) + "\r\n"
        #expect(line.utf8.count == 64)
        #expect(frame([bytes(line)], limits: FramingLimits.test(maxLineLength: 64)) == [.command(bytes(line))])
        #expect(frame([bytes("a" + line)], limits: FramingLimits.test(maxLineLength: 64))
            == [.error(.lineTooLong(tag: "aa", limit: 64))])
    }

    @Test func overLongContinuationLineAfterALiteralDropsTheWholeCommand() {
        let limits = FramingLimits.test(maxLineLength: 40)
        let input = "a LOGIN {3}\r\nabc " + String(repeating: "y", count: 60) + "\r\nb NOOP\r\n"
        #expect(verifyEveryChunking(bytes(input), limits: limits)
            == [.continuationNeeded(3), .error(.lineTooLong(tag: "a", limit: 40)), .command(bytes("b NOOP\r\n"))])
    }

    @Test func overLongLineEndingInNonSynchronisingLiteralLosesFraming() {
        let limits = FramingLimits.test(maxLineLength: 64)
        let input = "a APPEND INBOX " + String(repeating: "x", count: 100) + " {5+}\r\nhello\r\n"
        let events = verifyEveryChunking(bytes(input), limits: limits)
        #expect(events.count == 1)
        guard case .error(let e) = events.first else { Issue.record("expected an error"); return }
        #expect(e == .literalTooLarge(tag: "a", size: 5, limit: limits.maxLiteralSize, synchronising: false))
        #expect(e.framingLost)
    }

    @Test func overLongLineEndingInSynchronisingLiteralIsOnlyTooLong() {
        let limits = FramingLimits.test(maxLineLength: 64)
        let input = "a APPEND INBOX " + String(repeating: "x", count: 100) + " {5}\r\nb NOOP\r\n"
        #expect(verifyEveryChunking(bytes(input), limits: limits)
            == [.error(.lineTooLong(tag: "a", limit: 64)), .command(bytes("b NOOP\r\n"))])
    }

    @Test func hugeAnnouncedLiteralCostsNothingAndIsRefusedAsTooLarge() {
        var framer = CommandFramer()
        framer.append(bytes("a APPEND INBOX {4294967296}\r\n"))
        let event = framer.next()
        #expect(event == .error(.literalTooLarge(tag: "a", size: 4_294_967_296, limit: 8192, synchronising: true)))
        #expect(framer.bufferedBytes < 64)
        #expect(framer.isIdle)
        if case .error(let e) = event { #expect(!e.framingLost) }
        framer.append(bytes("b NOOP\r\n"))
        #expect(framer.next() == .command(bytes("b NOOP\r\n")))
    }

    @Test func absurdlyLongLiteralSizeSaturates() {
        let events = frame([bytes("a APPEND INBOX {123456789012345678901234567890+}\r\n")])
        #expect(events == [.error(.literalTooLarge(tag: "a", size: Int.max, limit: 8192, synchronising: false))])
    }

    @Test func literalOverTheLimitIsRefusedBeforeAnyByteIsHeld() {
        let limits = FramingLimits.test(maxLiteralSize: 100)
        #expect(verifyEveryChunking(bytes("a APPEND INBOX {101}\r\nb NOOP\r\n"), limits: limits)
            == [.error(.literalTooLarge(tag: "a", size: 101, limit: 100, synchronising: true)),
                .command(bytes("b NOOP\r\n"))])
        let plus = frame([bytes("a APPEND INBOX {101+}\r\n")], limits: limits)
        #expect(plus == [.error(.literalTooLarge(tag: "a", size: 101, limit: 100, synchronising: false))])
        #expect(frame([bytes("a APPEND INBOX {100}\r\n")], limits: limits) == [.continuationNeeded(100)])
    }

    @Test func tooManyLiteralsInOneCommand() {
        let limits = FramingLimits.test(maxLiteralsPerCommand: 2)
        let events = verifyEveryChunking(bytes("a X {1}\r\nx {1}\r\ny {1}\r\nz\r\n"), limits: limits)
        #expect(events == [.continuationNeeded(1), .continuationNeeded(1),
                           .error(.tooManyLiterals(tag: "a", limit: 2))])
        // The count starts over with each command.
        #expect(frame([bytes("a X {1+}\r\nx {1+}\r\ny\r\nb X {1+}\r\nx {1+}\r\ny\r\n")], limits: limits).count == 2)
    }

    @Test func commandTooLargeByAnnouncedLiteral() {
        let limits = FramingLimits.test(maxLineLength: 100, maxLiteralSize: 1000, maxCommandSize: 200)
        #expect(frame([bytes("a APPEND INBOX {190}\r\n")], limits: limits)
            == [.error(.commandTooLarge(tag: "a", limit: 200))])
    }

    @Test func commandTooLargeByManyLines() {
        let limits = FramingLimits.test(maxLineLength: 100, maxLiteralSize: 1000, maxLiteralsPerCommand: 100, maxCommandSize: 200)
        let line = String(repeating: "x", count: 80) + " {1+}\r\n"
        let input = "a X {1+}\r\n" + String(repeating: "y" + line, count: 3)
        let events = verifyEveryChunking(bytes(input), limits: limits)
        #expect(events == [.error(.commandTooLarge(tag: "a", limit: 200))])
        if case .error(let e) = events.first {
            #expect(e.framingLost)
            #expect(e.limitName == "max_command_size")
        }
    }

    @Test func emptyBracesAreNotALiteral() {
        // `{}` announces nothing (see FuzzRegressionTests): the line is an ordinary command for the parser to refuse.
        #expect(verifyEveryChunking(bytes("a LOGIN {}\r\nb NOOP {+}\r\n"))
            == [.command(bytes("a LOGIN {}\r\n")), .command(bytes("b NOOP {+}\r\n"))])
        #expect(parseError("a LOGIN {}\r\n") != nil)
    }

    @Test func eightyKilobyteLineWithoutNewlineStaysBounded() {
        let limits = FramingLimits.test()
        var framer = CommandFramer(limits: limits)
        framer.append(bytes("a SEARCH "))
        for _ in 0..<80 {
            framer.append([UInt8](repeating: UInt8(ascii: "x"), count: 1024))
            #expect(framer.next() == nil)
            #expect(framer.bufferedBytes <= limits.maxLineLength)
        }
        framer.append(bytes("\r\nb NOOP\r\n"))
        #expect(framer.next() == .error(.lineTooLong(tag: "a", limit: limits.maxLineLength)))
        #expect(framer.next() == .command(bytes("b NOOP\r\n")))
        #expect(framer.isIdle)
    }

    @Test func eightyKilobyteLineInOneChunkIsDroppedAtOnce() {
        var framer = CommandFramer()
        framer.append(bytes("a SEARCH ") + [UInt8](repeating: UInt8(ascii: "x"), count: 80 * 1024))
        #expect(framer.next() == nil)
        #expect(framer.bufferedBytes == 0)
    }

    @Test func nestingBombWithoutLineFeedIsAnsweredAtTheDepthLimitAndKeepsNothing() {
        let limits = FramingLimits.test(maxLineLength: 1024, maxNestingDepth: 32)
        var framer = CommandFramer(limits: limits)
        framer.append(bytes("a NOOP "))
        var events: [FramingEvent] = []
        for _ in 0..<4000 {
            framer.append([UInt8(ascii: "(")])
            while let e = framer.next() { events.append(e) }
            #expect(framer.bufferedBytes <= 64)
        }
        #expect(events == [.error(.nestingTooDeep(tag: "a", limit: 32))])
        // The line's end is skipped silently; the next command frames normally.
        framer.append(bytes("))\r\nb NOOP\r\n"))
        #expect(framer.next() == .command(bytes("b NOOP\r\n")))
    }

    @Test func theNestingBoundGivesTheSameAnswerInEveryChunkingBesideTheLineAndCommandBounds() {
        let deep = "a SEARCH ((((\"((\" ALL))))\r\nb NOOP\r\nc X ((((((((((((\r\nd NOOP\r\n"
        for limits in [FramingLimits.test(maxNestingDepth: 3), FramingLimits.test(maxLineLength: 14, maxNestingDepth: 3),
                       FramingLimits.test(maxLineLength: 1024, maxCommandSize: 12, maxNestingDepth: 3),
                       FramingLimits.test(maxLineLength: 1024, maxCommandSize: 13, maxNestingDepth: 3)] {
            verifyEveryChunking(bytes(deep), limits: limits)
        }
        #expect(verifyEveryChunking(bytes(deep), limits: FramingLimits.test(maxNestingDepth: 3)) == [
            .error(.nestingTooDeep(tag: "a", limit: 3)), .command(bytes("b NOOP\r\n")),
            .error(.nestingTooDeep(tag: "c", limit: 3)), .command(bytes("d NOOP\r\n")),
        ])
    }

    @Test func parenthesesInQuotedStringsAndLiteralsDoNotCount() {
        var framer = CommandFramer(limits: FramingLimits.test(maxLiteralSize: 1024, maxNestingDepth: 2))
        let quoted = "a SEARCH SUBJECT \"(((\\\"(((\" (ALL (ALL))\r\n"
        framer.append(bytes(quoted))
        #expect(framer.next() == .command(bytes(quoted)))
        let literal = "b SEARCH SUBJECT {6+}\r\n((((((( (ALL)\r\n"
        framer.append(bytes(literal))
        #expect(framer.next() == .command(bytes(literal)))
        framer.append(bytes("c SEARCH (((ALL)))\r\n"))
        #expect(framer.next() == .error(.nestingTooDeep(tag: "c", limit: 2)))
        framer.append(bytes("d NOOP\r\n"))
        #expect(framer.next() == .command(bytes("d NOOP\r\n")))
    }

    @Test func aTooDeepLineEndingInANonSynchronisingLiteralLosesFraming() {
        var framer = CommandFramer(limits: FramingLimits.test(maxNestingDepth: 2))
        framer.append(bytes("a APPEND x (((\\Seen))) {5+}\r\nhello\r\n"))
        #expect(framer.next() == .error(.nestingTooDeep(tag: "a", limit: 2)))
        #expect(framer.next() == .error(.literalTooLarge(tag: "a", size: 5, limit: 8 * 1024, synchronising: false)))
    }

    @Test func inputStorageDoesNotGrowWithTrafficOverTime() {
        var framer = CommandFramer()
        for i in 0..<20_000 {
            framer.append(bytes("t\(i) NOOP\r\n"))
            while framer.next() != nil {}
        }
        #expect(framer.inputCapacity < 4096)
    }

    @Test func tagStraddlingChunksIsStillReportedOnError() {
        let limits = FramingLimits.test(maxLineLength: 32)
        let events = frame([bytes("ab"), bytes("c1 SEARCH " + String(repeating: "x", count: 40) + "\r\n")], limits: limits)
        #expect(events == [.error(.lineTooLong(tag: "abc1", limit: 32))])
    }

    @Test func untaggedGarbageReportsNoTag() {
        let events = frame([bytes(String(repeating: "(", count: 100) + "\r\n")], limits: FramingLimits.test(maxLineLength: 32))
        #expect(events == [.error(.lineTooLong(tag: nil, limit: 32))])
    }

    // MARK: FramingError

    @Test func errorsNameTheirLimitAndSayWhetherFramingIsLost() {
        let cases: [(FramingError, String, Bool)] = [
            (.lineTooLong(tag: "a", limit: 1), "max_line_length", false),
            (.literalTooLarge(tag: "a", size: 2, limit: 1, synchronising: true), "max_literal_size", false),
            (.literalTooLarge(tag: "a", size: 2, limit: 1, synchronising: false), "max_literal_size", true),
            (.tooManyLiterals(tag: "a", limit: 1), "max_literals_per_command", true),
            (.commandTooLarge(tag: "a", limit: 1), "max_command_size", true),
            (.invalidLiteralSize(tag: "a"), "literal_syntax", true),
        ]
        for (error, name, lost) in cases {
            #expect(error.limitName == name)
            #expect(error.framingLost == lost)
            #expect(error.tag == "a")
            #expect(!error.description.isEmpty)
        }
        #expect(FramingError.literalTooLarge(tag: nil, size: 9, limit: 5, synchronising: true).description
            == "Literal of 9 bytes exceeds the limit of 5 bytes")
    }
}
