/// Modified UTF-7 mailbox names (RFC 3501 §5.1.3), used by IMAP4rev1 clients that have not enabled UTF8=ACCEPT.
public enum ModifiedUTF7 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,".utf8)

    /// Encodes UTF-8 text: printable ASCII stays, `&` becomes `&-`, the rest goes in `&…-` runs of modified base64 UTF-16.
    public static func encode(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        var pending: [UInt16] = []
        func flush() {
            guard !pending.isEmpty else { return }
            var bytes: [UInt8] = []
            for u in pending { bytes.append(UInt8(u >> 8)); bytes.append(UInt8(u & 0xFF)) }
            out.append(UInt8(ascii: "&"))
            var i = 0
            while i < bytes.count {
                let b0 = UInt32(bytes[i])
                let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
                let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
                let v = b0 << 16 | b1 << 8 | b2
                out.append(alphabet[Int(v >> 18 & 63)])
                out.append(alphabet[Int(v >> 12 & 63)])
                if i + 1 < bytes.count { out.append(alphabet[Int(v >> 6 & 63)]) }
                if i + 2 < bytes.count { out.append(alphabet[Int(v & 63)]) }
                i += 3
            }
            out.append(UInt8(ascii: "-"))
            pending.removeAll()
        }
        for scalar in text.unicodeScalars {
            if scalar.value >= 0x20 && scalar.value <= 0x7E {
                flush()
                out.append(UInt8(scalar.value))
                if scalar == "&" { out.append(UInt8(ascii: "-")) }
            } else {
                pending.append(contentsOf: String(scalar).utf16)
            }
        }
        flush()
        return out
    }

    /// Decodes modified UTF-7; nil when the bytes are not valid modified UTF-7 (then the name is taken as UTF-8).
    public static func decode(_ bytes: [UInt8]) -> String? {
        guard bytes.contains(UInt8(ascii: "&")) else {
            return bytes.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E }) ? String(decoding: bytes, as: UTF8.self) : nil
        }
        var out = String()
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            guard c >= 0x20 && c <= 0x7E else { return nil }
            if c != UInt8(ascii: "&") {
                out.unicodeScalars.append(Unicode.Scalar(c))
                i += 1
                continue
            }
            guard let end = bytes[(i + 1)...].firstIndex(of: UInt8(ascii: "-")) else { return nil }
            if end == i + 1 {
                out.append("&")
                i = end + 1
                continue
            }
            var bits: UInt32 = 0
            var nbits = 0
            var units: [UInt16] = []
            var pendingByte: UInt8?
            for b in bytes[(i + 1)..<end] {
                guard let d = alphabet.firstIndex(of: b) else { return nil }
                bits = bits << 6 | UInt32(d)
                nbits += 6
                if nbits >= 8 {
                    nbits -= 8
                    let byte = UInt8(truncatingIfNeeded: bits >> UInt32(nbits))
                    if let hi = pendingByte {
                        units.append(UInt16(hi) << 8 | UInt16(byte))
                        pendingByte = nil
                    } else {
                        pendingByte = byte
                    }
                }
            }
            guard pendingByte == nil, nbits < 6, bits & ((1 << UInt32(nbits)) - 1) == 0 else { return nil }
            guard let s = String(utf16CodeUnits: units, count: units.count).nilIfInvalid(units) else { return nil }
            // A shifted run must not encode printable ASCII (RFC 3501 §5.1.3).
            if s.unicodeScalars.contains(where: { $0.value >= 0x20 && $0.value <= 0x7E }) { return nil }
            out += s
            i = end + 1
        }
        return out
    }
}

extension String {
    init(utf16CodeUnits units: [UInt16], count: Int) {
        self = String(decoding: units, as: UTF16.self)
    }

    /// nil when the UTF-16 units held unpaired surrogates (decoding replaced them).
    func nilIfInvalid(_ units: [UInt16]) -> String? {
        var it = units.makeIterator()
        var decoder = UTF16()
        loop: while true {
            switch decoder.decode(&it) {
            case .scalarValue: continue
            case .emptyInput: break loop
            case .error: return nil
            }
        }
        return self
    }
}
