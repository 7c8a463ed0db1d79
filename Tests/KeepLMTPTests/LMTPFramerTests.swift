import KeepLMTP
import Testing

@Suite("LMTPFramer")
struct LMTPFramerTests {
    static let session = "LHLO mx\r\nMAIL FROM:<bob@example.org>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n"
        + "Subject: hi\r\n\r\n..dot-stuffed\r\nbare lf\n.\r\nQUIT\r\n"

    @Test func aSessionIsCutIntoCommandsAndTheMessage() {
        let out = verifyEveryChunking(bytes(Self.session))
        #expect(out == [
            .command(bytes("LHLO mx\r\n")), .command(bytes("MAIL FROM:<bob@example.org>\r\n")),
            .command(bytes("RCPT TO:<alice@example.org>\r\n")), .command(bytes("DATA\r\n")),
            .message(bytes("Subject: hi\r\n\r\n.dot-stuffed\r\nbare lf\r\n"), tooLarge: false),
            .command(bytes("QUIT\r\n")),
        ])
    }

    @Test func aRefusedDataLeavesTheFollowingLinesCommands() {
        let out = verifyEveryChunking(bytes("DATA\r\nNOOP\r\n.\r\n"), acceptData: false)
        #expect(out == [.command(bytes("DATA\r\n")), .command(bytes("NOOP\r\n")), .command(bytes(".\r\n"))])
    }

    @Test func pipeliningStopsAtDataUntilItIsAnswered() {
        var framer = LMTPFramer()
        try? framer.append(bytes("DATA\r\nline\r\n.\r\n"))
        #expect(framer.next() == .command(bytes("DATA\r\n")))
        #expect(framer.awaitingDataReply)
        #expect(framer.next() == nil)
        framer.dataReplied(accepted: true)
        #expect(framer.inData)
        #expect(framer.next() == .message(bytes("line\r\n"), tooLarge: false))
        #expect(!framer.inData)
    }

    @Test func anEmptyMessageAndABareLFEnd() {
        let out = verifyEveryChunking(bytes("DATA\n.\nDATA\r\n\n.\r\n"))
        #expect(out == [.command(bytes("DATA\n")), .message([], tooLarge: false),
                        .command(bytes("DATA\r\n")), .message(bytes("\r\n"), tooLarge: false)])
    }

    @Test func aLineOverTheLimitIsRefusedAndNeverHeldWhole() {
        let limits = LMTPFramingLimits.test(maxLineLength: 16, maxMessageSize: 1_024)
        let out = verifyEveryChunking(bytes("NOOP " + String(repeating: "x", count: 100) + "\r\nNOOP\r\n"), limits: limits)
        #expect(out == [.lineTooLong, .command(bytes("NOOP\r\n"))])
        var framer = LMTPFramer(limits: limits)
        for _ in 0..<1_000 {
            try? framer.append(bytes("xxxxxxxx"))
            while framer.next() != nil {}
            #expect(framer.bufferedBytes <= 16 + 8)
        }
    }

    @Test func theLimitCountsTheLineEnd() {
        let limits = LMTPFramingLimits.test(maxLineLength: 6, maxMessageSize: 1_024)
        #expect(verifyEveryChunking(bytes("NOOP\r\nNOOPS\r\n"), limits: limits) == [.command(bytes("NOOP\r\n")), .lineTooLong])
    }

    @Test func aMessageOverTheLimitIsDroppedAndReportedTooLarge() {
        let limits = LMTPFramingLimits.test(maxLineLength: 64, maxMessageSize: 20)
        let body = String(repeating: "0123456789\r\n", count: 5)
        let out = verifyEveryChunking(bytes("DATA\r\n" + body + ".\r\nNOOP\r\n"), limits: limits)
        #expect(out == [.command(bytes("DATA\r\n")), .message([], tooLarge: true), .command(bytes("NOOP\r\n"))])
    }

    @Test func messageLinesHaveNoLineLimit() {
        let long = String(repeating: "y", count: 200)
        let limits = LMTPFramingLimits.test(maxLineLength: 16, maxMessageSize: 1_024)
        #expect(verifyEveryChunking(bytes("DATA\r\n\(long)\r\n.\r\n"), limits: limits)
            == [.command(bytes("DATA\r\n")), .message(bytes(long + "\r\n"), tooLarge: false)])
    }

    @Test func unframedInputIsBounded() {
        let limits = LMTPFramingLimits.test(maxLineLength: 16, maxMessageSize: 32)
        var framer = LMTPFramer(limits: limits)
        #expect(throws: LMTPFramingError.unframedInputTooLarge(limit: 64)) {
            try framer.append([UInt8](repeating: 65, count: 65))
        }
        // A message sent before the 354 is held unframed: bounded by a message and two lines.
        var early = LMTPFramer(limits: limits)
        try? early.append(bytes("DATA\r\n"))
        _ = early.next()
        #expect(throws: LMTPFramingError.unframedInputTooLarge(limit: 64)) {
            try early.append([UInt8](repeating: 10, count: 65))
        }
    }
}
