/// Charset conversion to Unicode for the charsets mail uses most. Pure Swift, table driven: UTF-8, US-ASCII,
/// UTF-16, ISO-8859-1…16, Windows-1250…1258 and 874, KOI8-R/U, IBM866, Macintosh. Multi-byte East Asian charsets
/// (Shift_JIS, EUC-*, GB*, Big5, ISO-2022-*) are not supported: `decode` returns nil for them.
public enum Charsets {
    /// Decodes `bytes` in `charset` (case-insensitive, common aliases accepted). Nil when the charset is unknown.
    /// Invalid sequences become U+FFFD.
    public static func decode(_ bytes: [UInt8], charset: String) -> String? {
        decode(bytes[...], charset: charset)
    }

    public static func decode(_ bytes: ArraySlice<UInt8>, charset: String) -> String? {
        guard let name = canonicalName(charset) else { return nil }
        switch name {
        case "utf-8":
            return String(decoding: bytes, as: UTF8.self)
        case "us-ascii":
            // 8-bit bytes in "us-ascii" text are usually UTF-8 or Windows-1252 in practice.
            if ASCII.isValidUTF8(bytes) { return String(decoding: bytes, as: UTF8.self) }
            return singleByte(bytes, table: SingleByteTables.tables["windows-1252"]!)
        case "iso-8859-1":
            var s = String.UnicodeScalarView()
            for b in bytes { s.append(Unicode.Scalar(b)) }
            return String(s)
        case "utf-16", "utf-16be", "utf-16le":
            return utf16(bytes, name: name)
        default:
            guard let table = SingleByteTables.tables[name] else { return nil }
            return singleByte(bytes, table: table)
        }
    }

    /// Whether `decode` knows the charset.
    public static func isSupported(_ charset: String) -> Bool {
        canonicalName(charset) != nil
    }

    /// Maps a charset label to the table name used here (e.g. "Latin1" → "iso-8859-1", "cp1252" → "windows-1252").
    static func canonicalName(_ label: String) -> String? {
        var s = ASCII.lowercased(label)
        s = String(s.filter { !$0.isWhitespace && $0 != "\"" })
        switch s {
        case "utf-8", "utf8", "unicode-1-1-utf-8", "x-unicode20utf8": return "utf-8"
        case "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "us", "646", "ansi_x3.4-1986": return "us-ascii"
        case "latin1", "latin-1", "l1", "iso-ir-100", "cp819", "ibm819": return "iso-8859-1"
        case "latin2", "latin-2", "l2": return "iso-8859-2"
        case "latin3", "l3": return "iso-8859-3"
        case "latin4", "l4": return "iso-8859-4"
        case "cyrillic": return "iso-8859-5"
        case "arabic": return "iso-8859-6"
        case "greek", "greek8": return "iso-8859-7"
        case "hebrew": return "iso-8859-8"
        case "latin5", "l5": return "iso-8859-9"
        case "latin6", "l6": return "iso-8859-10"
        case "latin7", "l7": return "iso-8859-13"
        case "latin8", "l8": return "iso-8859-14"
        case "latin9", "latin-9", "l9": return "iso-8859-15"
        case "latin10", "l10": return "iso-8859-16"
        case "koi8-r", "koi8r", "koi8", "cskoi8r": return "koi8-r"
        case "koi8-u", "koi8u": return "koi8-u"
        case "windows-874", "cp874", "tis-620", "tis620": return "windows-874"
        case "ibm866", "cp866", "866", "csibm866": return "ibm866"
        case "macintosh", "mac", "macroman", "x-mac-roman", "csmacintosh": return "macintosh"
        case "utf-16", "utf16": return "utf-16"
        case "utf-16be", "utf16be": return "utf-16be"
        case "utf-16le", "utf16le": return "utf-16le"
        default: break
        }
        // iso-8859-N, iso8859-N, iso_8859-N, iso8859N, iso-8859-N:1987
        for prefix in ["iso-8859-", "iso_8859-", "iso8859-", "iso8859_", "iso_8859_", "iso8859", "8859-"] where s.hasPrefix(prefix) {
            var rest = s.dropFirst(prefix.count)
            if let colon = rest.firstIndex(of: ":") { rest = rest[..<colon] }
            if rest.hasSuffix("-i") || rest.hasSuffix("-e") { rest = rest.dropLast(2) }  // iso-8859-8-i (logical order)
            if let n = Int(rest), (1...16).contains(n), n != 12 { return "iso-8859-\(n)" }
            return nil
        }
        // windows-125N, cp125N, x-cp125N, win125N, cp-125N
        for prefix in ["windows-", "x-cp", "cp-", "cp", "win-", "win", "ms-", "ms"] where s.hasPrefix(prefix) {
            if let n = Int(s.dropFirst(prefix.count)), (1250...1258).contains(n) { return "windows-\(n)" }
        }
        if s == "iso-latin-1" { return "iso-8859-1" }
        return nil
    }

    static func singleByte(_ bytes: ArraySlice<UInt8>, table: [UInt16]) -> String {
        var s = String.UnicodeScalarView()
        s.reserveCapacity(bytes.count)
        for b in bytes {
            if b < 0x80 {
                s.append(Unicode.Scalar(b))
            } else {
                s.append(Unicode.Scalar(UInt32(table[Int(b) - 0x80])) ?? "\u{FFFD}")
            }
        }
        return String(s)
    }

    static func utf16(_ bytes: ArraySlice<UInt8>, name: String) -> String {
        var b = Array(bytes)
        var bigEndian = name != "utf-16le"
        if name == "utf-16", b.count >= 2 {
            if b[0] == 0xFF, b[1] == 0xFE {
                bigEndian = false
                b.removeFirst(2)
            } else if b[0] == 0xFE, b[1] == 0xFF {
                b.removeFirst(2)
            }
        }
        var units: [UInt16] = []
        units.reserveCapacity(b.count / 2)
        var i = 0
        while i + 1 < b.count {
            units.append(bigEndian ? UInt16(b[i]) << 8 | UInt16(b[i + 1]) : UInt16(b[i + 1]) << 8 | UInt16(b[i]))
            i += 2
        }
        return String(decoding: units, as: UTF16.self)
    }
}
