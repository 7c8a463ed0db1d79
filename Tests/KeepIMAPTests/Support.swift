import Testing
@testable import KeepIMAP

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Feeds the chunks one by one, draining events after each (as the connection handler does). Stops at the first
/// error that loses framing: the connection closes there, so nothing after it is meaningful.
func frame(_ chunks: [[UInt8]], limits: FramingLimits = FramingLimits.test()) -> [FramingEvent] {
    var framer = CommandFramer(limits: limits)
    var events: [FramingEvent] = []
    for chunk in chunks {
        framer.append(chunk)
        while let e = framer.next() {
            events.append(e)
            if case .error(let error) = e, error.framingLost { return events }
        }
    }
    return events
}

/// The input cut into pieces of `size` bytes.
func chunks(_ input: [UInt8], size: Int) -> [[UInt8]] {
    stride(from: 0, to: input.count, by: size).map { Array(input[$0..<min($0 + size, input.count)]) }
}

/// Decoder verifier: frames `input` whole, split in two at every byte position, split in three at a spread of
/// position pairs, and in 1-byte chunks; every chunking must yield the same events. Returns them.
@discardableResult
func verifyEveryChunking(_ input: [UInt8], limits: FramingLimits = FramingLimits.test(),
                         sourceLocation: SourceLocation = #_sourceLocation) -> [FramingEvent] {
    let whole = frame([input], limits: limits)
    var chunkings: [[[UInt8]]] = [chunks(input, size: 1), chunks(input, size: 7)]
    for i in 0...input.count {
        chunkings.append([Array(input[..<i]), Array(input[i...])])
    }
    let step = max(1, input.count / 16)
    for i in stride(from: 0, through: input.count, by: step) {
        for j in stride(from: i, through: input.count, by: step) {
            chunkings.append([Array(input[..<i]), Array(input[i..<j]), Array(input[j...])])
        }
    }
    for c in chunkings {
        let events = frame(c, limits: limits)
        if events != whole {
            Issue.record("chunking \(c.map(\.count)) gave \(events), whole gave \(whole)", sourceLocation: sourceLocation)
            break
        }
    }
    return whole
}

/// Parses one command with the default limits (or `limits`).
func parse(_ s: String, limits: GrammarLimits = GrammarLimits.test()) throws(CommandParseError) -> Command {
    try CommandParser(limits: limits).parse(bytes(s))
}

func parse(_ b: [UInt8], limits: GrammarLimits = GrammarLimits.test()) throws(CommandParseError) -> Command {
    try CommandParser(limits: limits).parse(b)
}

/// The kind of a command that must parse, with tag `a`.
func kind(_ s: String, sourceLocation: SourceLocation = #_sourceLocation) -> CommandKind? {
    do {
        let c = try parse(s)
        #expect(c.tag == "a", sourceLocation: sourceLocation)
        return c.kind
    } catch {
        Issue.record("\(s.debugDescription) did not parse: \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The error a command must fail with.
func parseError(_ s: String, limits: GrammarLimits = GrammarLimits.test(),
                sourceLocation: SourceLocation = #_sourceLocation) -> CommandParseError? {
    do {
        let c = try parse(s, limits: limits)
        Issue.record("\(s.prefix(200).debugDescription) parsed as \(c), expected an error", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

func set(_ ranges: (SequenceNumber, SequenceNumber)...) -> SequenceSet {
    .ranges(ranges.map { SequenceRange($0.0, $0.1) })
}

func n(_ x: UInt32) -> SequenceNumber { .number(x) }

/// A small deterministic generator (SplitMix64) for property-style tests.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The bounds these tests were written against (a server's come from `Limits`); an argument overrides one.
extension FramingLimits {
    static func test(maxLineLength: Int = 64 * 1024, maxLiteralSize: Int = 8 * 1024, maxLiteralsPerCommand: Int = 16,
                     maxCommandSize: Int = 64 * 1024 + 8 * 1024, maxNestingDepth: Int = 32) -> FramingLimits {
        FramingLimits(maxLineLength: maxLineLength, maxLiteralSize: maxLiteralSize,
                      maxLiteralsPerCommand: maxLiteralsPerCommand, maxCommandSize: maxCommandSize,
                      maxNestingDepth: maxNestingDepth)
    }
}

extension GrammarLimits {
    static func test(maxDepth: Int = 32, maxSequenceRanges: Int = 10_000, maxArguments: Int = 1_000) -> GrammarLimits {
        GrammarLimits(maxDepth: maxDepth, maxSequenceRanges: maxSequenceRanges, maxArguments: maxArguments)
    }
}

extension CommandFramer {
    init() { self.init(limits: .test()) }
}

extension CommandParser {
    init() { self.init(limits: .test()) }
}
