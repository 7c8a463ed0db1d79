import Foundation
import KeepLMTP
import Testing

/// The LMTP fuzzer's seed corpus replayed, and inputs the fuzzer found failing; each must only not crash and frame
/// the same in every chunking.
@Suite struct LMTPFuzzRegressionTests {
    /// The limits `KeepLMTPFuzz` runs with.
    static let fuzzLimits = LMTPFramingLimits.test(maxLineLength: 64, maxMessageSize: 256)

    @Test func fuzzCorpusReplays() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/lmtp")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(files.count >= 8)
        for file in files {
            let input = Array(try Data(contentsOf: folder.appendingPathComponent(file)))
            for frame in verifyEveryChunking(input, limits: Self.fuzzLimits) {
                guard case .command(let line)? = frame else { continue }
                let command = LMTPCommand(line: line)
                _ = try? LMTPPath.mailFrom(command.argument)
                _ = try? LMTPPath.rcptTo(command.argument)
            }
        }
    }
}

extension LMTPFuzzRegressionTests {
    /// `KeepLMTPFuzz` crash 2: a line `\rDATA` made the framer stop for a DATA reply (it trimmed the line) that the
    /// session never gave (its verb is empty: an unknown command); nothing after it was framed again.
    @Test func aDataLineWithLeadingControlBytesDoesNotStopTheFramer() {
        for line in ["\rDATA\r\n", " DATA\r\n", "\tdata\n", "DATA\u{85}\r\n"] {
            let out = verifyEveryChunking(bytes(line + "NOOP\r\n"), limits: Self.fuzzLimits)
            #expect(out == [.command(bytes(line)), .command(bytes("NOOP\r\n"))], "\(line.debugDescription)")
        }
        // Whatever its verb says is DATA stops the framer, arguments or not, as the session answers it as DATA.
        for line in ["DATA\r\n", "data\n", "DATA \r\n", "DATA:\r\n", "DATA x\r\n"] {
            var framer = LMTPFramer(limits: Self.fuzzLimits)
            try? framer.append(bytes(line + "NOOP\r\n"))
            #expect(framer.next() == .command(bytes(line)))
            #expect(framer.awaitingDataReply && framer.next() == nil, "\(line.debugDescription)")
        }
    }

    /// `KeepLMTPFuzz` crash 1 (a harness error: it compared how many bytes of a dropped over-long line were held,
    /// which depends on the chunking): a long line without LF frames the same in every chunking.
    @Test func aLongLineWithoutEndFramesTheSameInEveryChunking() {
        let input = [0xAF, 0xB7, 0xB3, 0xB0, 0xDF, 0x87, 0xF2, 0xD5] + bytes("MAIL ") + [UInt8](repeating: 0, count: 105)
            + bytes("FR") + [UInt8](repeating: 0, count: 31)
        #expect(verifyEveryChunking(input, limits: Self.fuzzLimits).isEmpty)
        #expect(verifyEveryChunking(input + [10, 10], limits: Self.fuzzLimits) == [.lineTooLong, .command([10])])
    }
}
