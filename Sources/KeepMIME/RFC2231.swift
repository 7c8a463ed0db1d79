/// RFC 2231 parameter value continuations (`name*0=`, `name*1*=`) and charset/language (`name*=utf-8'en'%E2%82%AC`).
public enum RFC2231 {
    /// Joins raw `attribute=value` pairs (values already unquoted) into parameters, in order of first appearance.
    /// Plain and extended forms of the same attribute are kept apart (`filename` and `filename*`).
    public static func assemble(_ raw: [(name: [UInt8], value: [UInt8])]) -> [MIMEParameter] {
        struct Segment { var section: Int; var encoded: Bool; var value: [UInt8] }
        struct Group { var base: [UInt8]; var extended: Bool; var segments: [Segment] }
        var groups: [Group] = []
        var index: [[UInt8]: Int] = [:]

        for (name, value) in raw {
            var base = name[...]
            var encoded = false
            var section: Int?
            if base.last == 0x2A {  // trailing '*': the value is charset'lang'pct-encoded (or pct-encoded)
                encoded = true
                base = base.dropLast()
            }
            if let star = base.lastIndex(of: 0x2A) {
                let digits = base[(star + 1)...]
                if !digits.isEmpty, digits.count <= 6, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
                    section = Int(ASCII.string(digits))
                    base = base[..<star]
                }
            }
            let extended = encoded || section != nil
            let key = base.map(ASCII.lower) + (extended ? [0x2A] : [])
            let seg = Segment(section: section ?? 0, encoded: encoded, value: value)
            if let g = index[key] {
                groups[g].segments.append(seg)
            } else {
                index[key] = groups.count
                groups.append(Group(base: Array(base), extended: extended, segments: [seg]))
            }
        }

        return groups.map { group in
            let name = ASCII.string(group.base)
            guard group.extended else {
                let v = group.segments[0].value
                return MIMEParameter(name: name, value: RFC2047.decode(v), rawValue: v)
            }
            let segments = group.segments.sorted { $0.section < $1.section }  // stable
            var charset: String?
            var language: String?
            var bytes: [UInt8] = []
            var anyEncoded = false
            for (i, seg) in segments.enumerated() {
                var v = seg.value[...]
                if seg.encoded {
                    anyEncoded = true
                    if i == 0, let q1 = v.firstIndex(of: 0x27) {
                        let rest = v[(q1 + 1)...]
                        if let q2 = rest.firstIndex(of: 0x27) {
                            let cs = v[..<q1]
                            let lang = rest[..<q2]
                            if !cs.isEmpty { charset = ASCII.string(cs) }
                            if !lang.isEmpty { language = ASCII.string(lang) }
                            v = rest[(q2 + 1)...]
                        }
                    }
                    bytes += percentDecode(v)
                } else {
                    bytes += v
                }
            }
            let decoded: String
            if let cs = charset, let s = Charsets.decode(bytes, charset: cs) {
                decoded = s
            } else {
                decoded = anyEncoded ? ASCII.string(bytes) : RFC2047.decode(bytes)
            }
            var rendered: [UInt8] = Array((charset ?? "").utf8) + [0x27] + Array((language ?? "").utf8) + [0x27]
            rendered += percentEncode(bytes)
            return MIMEParameter(name: name, value: decoded, isExtended: true, charset: charset,
                                 language: language, rawValue: rendered)
        }
    }

    /// `%XX` → byte; a malformed `%` stays as is.
    public static func percentDecode(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            if b == 0x25, i + 2 < bytes.endIndex, let h = ASCII.hexValue(bytes[i + 1]),
               let l = ASCII.hexValue(bytes[i + 2]) {
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(b)
                i += 1
            }
        }
        return out
    }

    /// Percent-encodes everything but RFC 2231 attribute-chars.
    static func percentEncode(_ bytes: [UInt8]) -> [UInt8] {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for b in bytes {
            switch b {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x21, 0x23, 0x24, 0x26, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60,
                 0x7C, 0x7E:
                out.append(b)
            default:
                out += [0x25, hex[Int(b >> 4)], hex[Int(b & 15)]]
            }
        }
        return out
    }
}
