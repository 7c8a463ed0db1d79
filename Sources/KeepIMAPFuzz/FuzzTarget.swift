import KeepIMAP

/// libFuzzer entry for the IMAP command path: the bytes are fed to the framer in two chunks (split where the first
/// byte says), every framed command is parsed, and every parsed command's tag is answered through the encoder. It
/// must only never crash, hang or leak. Build: see Fuzz/README.md.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIMAP(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    IMAPFuzzCase.run(bytes)
    return 0
}

enum IMAPFuzzCase {
    static func run(_ bytes: [UInt8]) {
        var framer = CommandFramer(limits: FramingLimits(maxLineLength: 4_096, maxLiteralSize: 2_048,
                                                         maxLiteralsPerCommand: 8, maxCommandSize: 16_384,
                                                         maxNestingDepth: 16))
        let parser = CommandParser(limits: GrammarLimits(maxDepth: 16, maxSequenceRanges: 256, maxArguments: 256))
        let split = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
        var encoder = ResponseEncoder()
        for chunk in [bytes[..<split], bytes[split...]] {
            framer.append(Array(chunk))
            while let event = framer.next() {
                switch event {
                case .command(let frame):
                    do {
                        let command = try parser.parse(frame)
                        encoder.tagged(command.tag, .ok, nil, command.kind.name + " completed")
                    } catch {
                        encoder.tagged(error.tag ?? "*", .bad, nil, error.description)
                    }
                case .continuationNeeded:
                    encoder.continuation()
                case .error(let e):
                    encoder.tagged(e.tag ?? "*", .bad, nil, e.description)
                }
                precondition(framer.bufferedBytes <= 16_384 + bytes.count, "framer holds more than its bounds allow")
            }
        }
        _ = ModifiedUTF7.decode(bytes)
        encoder.reset()
    }
}
