import KeepIMAP

/// libFuzzer entry for the SASL path: the bytes as an `AUTHENTICATE PLAIN` initial response (through the command
/// parser), as a continuation-line response, through the base64 decoder alone, and as a PLAIN message a client would
/// encode. Beside never crashing, hanging or leaking, it checks: errors are exactly the ones the input deserves,
/// whatever decodes re-encodes to itself, and `decode(encode(x)) == x`. Build: see Fuzz/README.md.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSASL(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    SASLFuzzCase.run(Array(UnsafeBufferPointer(start: data, count: count)))
    return 0
}

enum SASLFuzzCase {
    static let maxLength = 1_024

    static func run(_ bytes: [UInt8]) {
        checkResponse(bytes)
        checkMessage(bytes)
        let parser = CommandParser(limits: GrammarLimits(maxDepth: 16, maxSequenceRanges: 256, maxArguments: 256))
        if let command = try? parser.parse(Array("a AUTHENTICATE PLAIN ".utf8) + bytes + [13, 10]),
           case .authenticate(let mechanism, let initial?) = command.kind {
            precondition(mechanism == "PLAIN", "mechanism changed")
            checkResponse(initial)
        }
    }

    /// The bytes as a client's response line.
    static func checkResponse(_ bytes: [UInt8]) {
        let decoded = Base64.decode(bytes)
        if let decoded {
            precondition(bytes.count % 4 == 0 && decoded.count <= bytes.count / 4 * 3, "decoded size out of bounds")
            precondition(decoded.count > bytes.count / 4 * 3 - 3 || bytes.isEmpty, "decoded size out of bounds")
            precondition(Base64.decode(Base64.encode(decoded)) == decoded, "base64 round trip")
        }
        do {
            let plain = try SASLPlain.decode(bytes, maxLength: maxLength)
            precondition(bytes.count <= maxLength && decoded != nil, "accepted what it should refuse")
            precondition((try? SASLPlain.decode(plain.encoded(), maxLength: Int.max)) == plain, "PLAIN round trip")
        } catch {
            switch error {
            case .tooLong(let limit):
                precondition(limit == maxLength && bytes.count > maxLength, "tooLong within the bound")
            case .cancelled:
                precondition(bytes == [UInt8(ascii: "*")], "cancelled without *")
            case .invalidBase64:
                precondition(decoded == nil && bytes != [UInt8(ascii: "=")], "invalidBase64 for valid base64")
            case .malformedPlain:
                let message = bytes == [UInt8(ascii: "=")] ? [] : decoded
                precondition(message.map { m in m.count(where: { $0 == 0 }) != 2 } == true, "malformedPlain for a PLAIN message")
            }
        }
    }

    /// The bytes as the PLAIN message a client encodes: decodes iff it has exactly two NULs, back to the same bytes.
    static func checkMessage(_ message: [UInt8]) {
        let encoded = Base64.encode(message)
        precondition(encoded.count == (message.count + 2) / 3 * 4, "encoded size")
        precondition(Base64.decode(encoded) == message, "base64 round trip")
        let plain = try? SASLPlain.decode(encoded, maxLength: encoded.count)
        precondition((plain != nil) == (message.count(where: { $0 == 0 }) == 2), "PLAIN accepts exactly two NULs")
        if let plain, Array(String(decoding: message, as: UTF8.self).utf8) == message {
            precondition(plain.encoded() == encoded, "PLAIN re-encodes to the same bytes")
        }
    }
}
