import KeepLMTP

/// libFuzzer entry for the LMTP input path: the bytes, as a client's stream, go through the framer and the command
/// parser in 1-byte chunks, in one chunk and in chunks the bytes choose, with a minimal session answering DATA as
/// the server would. Beside never crashing, hanging or leaking, it checks: every chunking gives the same frames
/// (one that gives up early gives a prefix of them), memory held stays within the line and message bounds, frames
/// respect the bounds, and a DATA reply is awaited only after a DATA command. Build: see Fuzz/README.md.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLMTP(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    LMTPFuzzCase.run(Array(UnsafeBufferPointer(start: data, count: count)))
    return 0
}

enum LMTPFuzzCase {
    static let limits = LMTPFramingLimits(maxLineLength: 64, maxMessageSize: 256)

    struct Outcome: Equatable {
        var frames: [LMTPFrame] = []
        var gaveUp = false
        var inData = false
    }

    static func run(_ bytes: [UInt8]) {
        let reference = feed(bytes) { _ in 1 }
        guard !bytes.isEmpty else { return }
        let chunkings: [(Int) -> Int] = [{ _ in bytes.count }, { i in Int(bytes[i % bytes.count] % 23) + 1 }]
        for chunking in chunkings {
            let other = feed(bytes, chunkSize: chunking)
            if other.gaveUp {
                precondition(reference.frames.starts(with: other.frames), "a chunking gave other frames")
            } else {
                precondition(!reference.gaveUp && other == reference, "a chunking gave other frames")
            }
        }
    }

    /// A session as far as framing needs one: it accepts DATA after LHLO, MAIL and a RCPT.
    struct Session {
        var greeted = false
        var sender = false
        var recipients = 0

        mutating func handle(_ command: LMTPCommand) -> Bool? {
            switch command.verb {
            case .lhlo:
                if !command.argument.isEmpty { self = Session(greeted: true) }
            case .mail:
                guard greeted, !sender, let path = try? LMTPPath.mailFrom(command.argument) else { break }
                checkPath(path, command.argument)
                sender = path.sizes.allSatisfy { $0 <= LMTPFuzzCase.limits.maxMessageSize }
            case .rcpt:
                guard sender, let path = try? LMTPPath.rcptTo(command.argument) else { break }
                precondition(!path.address.isEmpty, "RCPT TO:<>")
                checkPath(path, command.argument)
                recipients += 1
            case .data:
                return sender && recipients > 0
            case .rset:
                self = Session(greeted: greeted)
            case .helo, .ehlo, .noop, .vrfy, .quit, nil:
                break
            }
            return nil
        }

        func checkPath(_ path: LMTPPath, _ argument: String) {
            precondition(!path.address.contains(">"), "address holds a >")
            precondition(!path.parameters.contains { $0.isEmpty || $0.contains(" ") }, "parameter holds a space")
        }
    }

    /// Feeds `bytes` in chunks of `chunkSize(i)` bytes, taking every frame after each, as the connection handler does.
    static func feed(_ bytes: [UInt8], chunkSize: (Int) -> Int) -> Outcome {
        var framer = LMTPFramer(limits: limits)
        var session = Session()
        var outcome = Outcome()
        var offset = 0
        var i = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + max(1, chunkSize(i)))
            do {
                try framer.append(bytes[offset..<end])
            } catch {
                precondition(error == .unframedInputTooLarge(limit: limits.maxUnframedInput), "unexpected error")
                precondition(framer.bufferedBytes > limits.maxUnframedInput, "gave up within the bound")
                outcome.gaveUp = true
                return outcome
            }
            precondition(framer.bufferedBytes <= limits.maxUnframedInput + limits.maxMessageSize, "holds too much")
            offset = end
            i += 1
            while let frame = framer.next() {
                outcome.frames.append(frame)
                switch frame {
                case .command(let line):
                    precondition(line.count <= limits.maxLineLength && line.last == 10, "command line out of bounds")
                    precondition(!line.dropLast().contains(10), "two lines in one")
                    let command = LMTPCommand(line: line)
                    let accepted = session.handle(command)
                    precondition(!framer.awaitingDataReply || accepted != nil, "awaits a DATA reply after \(command.verbText)")
                    if let accepted { framer.dataReplied(accepted: accepted) }
                case .lineTooLong:
                    precondition(!framer.inData, "line too long in DATA")
                case .message(let message, let tooLarge):
                    precondition(message.count <= limits.maxMessageSize && !(tooLarge && !message.isEmpty), "message bound")
                    precondition(message.isEmpty || message.suffix(2) == [13, 10], "message does not end in CRLF")
                    for (j, b) in message.enumerated() where b == 10 {
                        precondition(j > 0 && message[j - 1] == 13, "bare LF in a message")
                    }
                    session = Session(greeted: true)
                }
            }
            precondition(framer.inData || framer.awaitingDataReply || framer.bufferedBytes <= limits.maxLineLength,
                         "holds more than a line between commands")
        }
        outcome.inData = framer.inData
        return outcome
    }
}
