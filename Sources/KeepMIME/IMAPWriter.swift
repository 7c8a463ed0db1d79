/// Appends IMAP syntax (RFC 9051 §4): NIL, quoted strings, literals, lists.
struct IMAPWriter {
    var out: [UInt8] = []

    mutating func raw(_ s: String) { out += s.utf8 }
    mutating func byte(_ b: UInt8) { out.append(b) }
    mutating func space() { out.append(ASCII.space) }
    mutating func nilValue() { out += [0x4E, 0x49, 0x4C] }  // NIL

    /// A quoted string, or a literal when the bytes hold CR, LF, NUL or 8-bit bytes.
    mutating func string(_ bytes: some Collection<UInt8>) {
        if bytes.contains(where: { $0 == 0 || $0 == ASCII.cr || $0 == ASCII.lf || $0 >= 0x80 }) {
            raw("{\(bytes.count)}\r\n")
            out += bytes
            return
        }
        out.append(ASCII.quote)
        for b in bytes {
            if b == ASCII.quote || b == ASCII.backslash { out.append(ASCII.backslash) }
            out.append(b)
        }
        out.append(ASCII.quote)
    }

    mutating func string(_ s: String) { string(s.utf8) }

    /// nstring: NIL for nil or empty.
    mutating func nstring(_ bytes: [UInt8]?) {
        if let bytes, !bytes.isEmpty { string(bytes) } else { nilValue() }
    }

    mutating func nstring(_ s: String?) {
        if let s, !s.isEmpty { string(s.utf8) } else { nilValue() }
    }
}
