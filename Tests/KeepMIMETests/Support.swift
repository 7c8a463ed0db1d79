import KeepMIME

/// Message text with `\n` line ends turned into CRLF.
func crlf(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    for b in s.utf8 {
        if b == 0x0A { out.append(0x0D) }
        out.append(b)
    }
    return out
}

func str(_ bytes: [UInt8]?) -> String? {
    bytes.map { String(decoding: $0, as: UTF8.self) }
}

/// The bounds these tests were written against (a server's come from `Limits`, `mime.*`).
extension MIMELimits {
    static let test = MIMELimits(maxDepth: 32, maxParts: 10_000, maxHeaderFieldBytes: 1 << 20, maxHeaderBytes: 10 << 20,
                                 maxHeaderFields: 10_000, maxAddressesPerField: 1_000, maxParameters: 100)
}

extension MIMEMessage {
    init(parsing bytes: [UInt8]) { self.init(parsing: bytes, limits: .test) }
}
