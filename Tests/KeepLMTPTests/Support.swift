import KeepLMTP
import Testing

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Feeds the chunks one by one, taking every frame after each as the connection handler does, and answers each
/// DATA command with `354` when `acceptData` says so. Stops where the framer gives up (`nil` frame appended).
func frames(_ chunks: [[UInt8]], limits: LMTPFramingLimits = LMTPFramingLimits.test(),
            acceptData: Bool = true) -> [LMTPFrame?] {
    var framer = LMTPFramer(limits: limits)
    var out: [LMTPFrame?] = []
    for chunk in chunks {
        do {
            try framer.append(chunk)
        } catch {
            out.append(nil)
            return out
        }
        while let frame = framer.next() {
            out.append(frame)
            if case .command(let line) = frame, LMTPCommand(line: line).verb == .data {
                framer.dataReplied(accepted: acceptData)
            }
        }
    }
    return out
}

/// Decoder verifier: frames `input` in 1-byte chunks, whole and split in two at every byte position; every
/// chunking must give the same frames, except that one that makes the framer give up earlier (a bigger chunk holds
/// more unframed bytes) gives a prefix of them. Returns the frames of the 1-byte chunking.
@discardableResult
func verifyEveryChunking(_ input: [UInt8], limits: LMTPFramingLimits = LMTPFramingLimits.test(), acceptData: Bool = true,
                         sourceLocation: SourceLocation = #_sourceLocation) -> [LMTPFrame?] {
    let reference = frames(input.map { [$0] }, limits: limits, acceptData: acceptData)
    func check(_ chunks: [[UInt8]], _ what: String) {
        let out = frames(chunks, limits: limits, acceptData: acceptData)
        if out.last == .some(nil) {
            #expect(reference.starts(with: out.dropLast()), "\(what) gave up with other frames", sourceLocation: sourceLocation)
        } else {
            #expect(out == reference, "\(what)", sourceLocation: sourceLocation)
        }
    }
    check([input], "whole")
    for split in 0...input.count {
        check([Array(input[..<split]), Array(input[split...])], "split at \(split)")
    }
    return reference
}

/// The bounds these tests were written against (a server's come from `Limits`); an argument overrides one.
extension LMTPFramingLimits {
    static func test(maxLineLength: Int = 4_096, maxMessageSize: Int = 50 * 1024 * 1024) -> LMTPFramingLimits {
        LMTPFramingLimits(maxLineLength: maxLineLength, maxMessageSize: maxMessageSize)
    }
}

extension LMTPFramer {
    init() { self.init(limits: .test()) }
}
