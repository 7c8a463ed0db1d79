/// Small byte helpers shared by the parsers. ASCII only; everything works on `[UInt8]` and index ranges.
enum ASCII {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let equals: UInt8 = 0x3D
    static let quote: UInt8 = 0x22
    static let backslash: UInt8 = 0x5C
    static let dash: UInt8 = 0x2D
    static let openParen: UInt8 = 0x28
    static let closeParen: UInt8 = 0x29

    @inline(__always) static func isWSP(_ b: UInt8) -> Bool { b == space || b == tab }
    @inline(__always) static func isWhitespace(_ b: UInt8) -> Bool { b == space || b == tab || b == cr || b == lf }

    @inline(__always) static func lower(_ b: UInt8) -> UInt8 { (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b }
    @inline(__always) static func upper(_ b: UInt8) -> UInt8 { (b >= 0x61 && b <= 0x7A) ? b & ~0x20 : b }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }

    /// Case-insensitive comparison of ASCII bytes with an ASCII string.
    static func equalsIgnoringCase<C: Collection>(_ bytes: C, _ string: String) -> Bool where C.Element == UInt8 {
        var it = bytes.makeIterator()
        for s in string.utf8 {
            guard let b = it.next(), lower(b) == lower(s) else { return false }
        }
        return it.next() == nil
    }

    static func lowercased(_ s: String) -> String {
        String(decoding: s.utf8.map(lower), as: UTF8.self)
    }

    static func uppercased(_ s: String) -> String {
        String(decoding: s.utf8.map(upper), as: UTF8.self)
    }

    /// Trims SP/HT/CR/LF on both ends.
    static func trim(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var lo = bytes.startIndex
        var hi = bytes.endIndex
        while lo < hi, isWhitespace(bytes[lo]) { lo += 1 }
        while hi > lo, isWhitespace(bytes[hi - 1]) { hi -= 1 }
        return bytes[lo..<hi]
    }

    /// RFC 5322 unfolding: drops every CR and LF (continuation lines keep their leading white space).
    static func unfold(_ bytes: ArraySlice<UInt8>, limit: Int = Int.max) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(min(bytes.count, limit))
        for b in bytes where b != cr && b != lf {
            if out.count >= limit { break }
            out.append(b)
        }
        return out
    }

    /// Bytes as a String: UTF-8 when valid, otherwise each byte as its Latin-1 code point.
    static func string(_ bytes: some Collection<UInt8>) -> String {
        if isValidUTF8(bytes) { return String(decoding: bytes, as: UTF8.self) }
        var out = String.UnicodeScalarView()
        for b in bytes { out.append(Unicode.Scalar(b)) }
        return String(out)
    }

    static func isValidUTF8(_ bytes: some Collection<UInt8>) -> Bool {
        var it = bytes.makeIterator()
        var decoder = Unicode.UTF8()
        while true {
            switch decoder.decode(&it) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}
