import KeepMIME

/// libFuzzer entry for the MIME path: parse, render ENVELOPE and BODYSTRUCTURE, resolve every part's sections and
/// decode its body. It must only never crash, hang or leak.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMIME(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    MIMEFuzzCase.run(Array(UnsafeBufferPointer(start: data, count: count)))
    return 0
}

enum MIMEFuzzCase {
    static func run(_ bytes: [UInt8]) {
        // Small bounds, so that inputs reach them.
        let limits = MIMELimits(maxDepth: 16, maxParts: 200, maxHeaderFieldBytes: 1 << 20, maxHeaderBytes: 10 << 20,
                                maxHeaderFields: 10_000, maxAddressesPerField: 1_000, maxParameters: 100)
        let message = MIMEMessage(parsing: bytes, limits: limits)
        _ = message.imapEnvelope
        _ = message.imapBodyStructure(extended: true)
        _ = message.imapBodyStructure(extended: false)
        _ = message.headerValues("Subject")
        _ = message.decodedBodyText()
        for (path, part) in message.allParts.prefix(64) {
            for kind in [MIMESection.Kind.full, .header, .text, .mime, .headerFields(["From", "To"]), .headerFieldsNot(["Subject"])] {
                _ = message.sectionBytes(MIMESection(part: path, kind: kind))
            }
            _ = message.decodedBody(of: part)
        }
    }
}
