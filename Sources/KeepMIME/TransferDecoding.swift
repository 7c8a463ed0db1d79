/// Content-Transfer-Encoding decoders (RFC 2045 §6). Lenient: never fail, skip what cannot be decoded.
public enum TransferDecoding {
    private static let base64Table: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            t[Int(c)] = UInt8(i)
        }
        // The URL-safe alphabet is accepted too.
        t[Int(UInt8(ascii: "-"))] = 62
        t[Int(UInt8(ascii: "_"))] = 63
        return t
    }()

    /// Base64: characters outside the alphabet (line breaks, garbage) are skipped; `=` ends a quantum; a trailing
    /// partial quantum yields the whole bytes it holds.
    public static func base64(_ input: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3 + 3)
        var acc: UInt32 = 0
        var bits = 0
        for c in input {
            if c == ASCII.equals {
                // Padding: drop the partial bits and restart (tolerates concatenated base64 blocks).
                acc = 0
                bits = 0
                continue
            }
            let v = base64Table[Int(c)]
            if v == 0xFF { continue }
            acc = (acc << 6) | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
                acc &= (1 << UInt32(bits)) - 1
            }
        }
        return out
    }

    /// Quoted-printable: `=XX` (either case), soft line breaks `=` CRLF / `=` LF (with white space before the break
    /// tolerated), white space at line ends removed; a malformed `=` is kept literally.
    public static func quotedPrintable(_ input: some Collection<UInt8>) -> [UInt8] {
        let bytes = Array(input)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        let n = bytes.count
        var i = 0
        var lineStartOut = 0  // white space before this out index is never stripped
        while i < n {
            let b = bytes[i]
            if b == ASCII.equals {
                // Soft break: '=' then optional white space then (CR)LF or end.
                var j = i + 1
                while j < n, ASCII.isWSP(bytes[j]) { j += 1 }
                if j == n {
                    i = n
                    continue
                }
                if bytes[j] == ASCII.lf {
                    i = j + 1
                    lineStartOut = out.count
                    continue
                }
                if bytes[j] == ASCII.cr, j + 1 < n, bytes[j + 1] == ASCII.lf {
                    i = j + 2
                    lineStartOut = out.count
                    continue
                }
                if i + 2 < n, let h = ASCII.hexValue(bytes[i + 1]), let l = ASCII.hexValue(bytes[i + 2]) {
                    out.append(h << 4 | l)
                    lineStartOut = out.count  // encoded white space is data, never stripped
                    i += 3
                    continue
                }
                out.append(b)
                i += 1
            } else if b == ASCII.lf || (b == ASCII.cr && i + 1 < n && bytes[i + 1] == ASCII.lf) {
                // Hard break: strip transport white space before it.
                while out.count > lineStartOut, ASCII.isWSP(out[out.count - 1]) { out.removeLast() }
                if b == ASCII.cr {
                    out += [ASCII.cr, ASCII.lf]
                    i += 2
                } else {
                    out.append(ASCII.lf)
                    i += 1
                }
                lineStartOut = out.count
            } else {
                out.append(b)
                i += 1
            }
        }
        return out
    }

    /// Decodes `bytes` per a Content-Transfer-Encoding name (base64, quoted-printable; others pass through).
    public static func decode(_ bytes: some Collection<UInt8>, encoding: String?) -> [UInt8] {
        switch encoding.map(ASCII.lowercased) {
        case "base64"?: return base64(bytes)
        case "quoted-printable"?: return quotedPrintable(bytes)
        default: return Array(bytes)
        }
    }
}
