/// A lenient lexer for structured header values (RFC 5322 / RFC 2045): comments, quoted strings, tokens.
/// Works on an unfolded value; every method advances or returns nil, so loops over it terminate.
struct HeaderLexer {
    let bytes: [UInt8]
    var index: Int

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.index = 0
    }

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    /// Skips white space and (nested) comments. Returns the text of the last comment skipped, if any.
    @discardableResult
    mutating func skipCFWS() -> [UInt8]? {
        var lastComment: [UInt8]?
        while index < bytes.count {
            let b = bytes[index]
            if ASCII.isWhitespace(b) {
                index += 1
            } else if b == ASCII.openParen {
                lastComment = comment()
            } else {
                break
            }
        }
        return lastComment
    }

    /// ctext with nested comments and quoted-pairs; at `(`. Unterminated comments run to the end.
    mutating func comment() -> [UInt8] {
        var depth = 0
        var out: [UInt8] = []
        while index < bytes.count {
            let b = bytes[index]
            index += 1
            if b == ASCII.backslash, index < bytes.count {
                out.append(bytes[index])
                index += 1
            } else if b == ASCII.openParen {
                if depth > 0 { out.append(b) }
                depth += 1
            } else if b == ASCII.closeParen {
                depth -= 1
                if depth == 0 { break }
                out.append(b)
            } else {
                out.append(b)
            }
        }
        return out
    }

    /// A quoted string at `"`: returns its content with quoted-pairs resolved. Unterminated runs to the end.
    mutating func quotedString() -> [UInt8] {
        index += 1
        var out: [UInt8] = []
        while index < bytes.count {
            let b = bytes[index]
            index += 1
            if b == ASCII.backslash, index < bytes.count {
                out.append(bytes[index])
                index += 1
            } else if b == ASCII.quote {
                break
            } else {
                out.append(b)
            }
        }
        return out
    }

    /// RFC 2045 tspecials plus white space and controls end a token.
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case 0...0x20, 0x7F: return false
        case 0x28, 0x29, 0x3C, 0x3E, 0x40, 0x2C, 0x3B, 0x3A, 0x5C, 0x22, 0x2F, 0x5B, 0x5D, 0x3F, 0x3D: return false
        default: return true
        }
    }

    /// An RFC 2045 token (possibly empty).
    mutating func token() -> ArraySlice<UInt8> {
        let start = index
        while index < bytes.count, Self.isTokenByte(bytes[index]) { index += 1 }
        return bytes[start..<index]
    }

    /// Consumes `b` if it is next (after CFWS).
    mutating func consume(_ b: UInt8) -> Bool {
        skipCFWS()
        if peek == b {
            index += 1
            return true
        }
        return false
    }

    /// Skips to just after the next `b` outside quoted strings and comments (or to the end).
    mutating func skip(past b: UInt8) {
        while index < bytes.count {
            let c = bytes[index]
            if c == ASCII.quote {
                _ = quotedString()
            } else if c == ASCII.openParen {
                _ = comment()
            } else {
                index += 1
                if c == b { return }
            }
        }
    }
}

/// Parsing of the Content-* field values (RFC 2045, 2183, 2231, 3282).
enum ContentFields {
    /// `type "/" subtype *(";" parameter)`. Returns nil when there is no usable type/subtype.
    static func parseContentType(_ value: [UInt8], maxParameters: Int, truncated: inout Bool)
        -> (type: String, subtype: String, parameters: [MIMEParameter])?
    {
        var lx = HeaderLexer(value)
        lx.skipCFWS()
        let type = lx.token()
        guard !type.isEmpty, lx.consume(0x2F) else { return nil }
        lx.skipCFWS()
        let subtype = lx.token()
        guard !subtype.isEmpty else { return nil }
        let params = parseParameters(&lx, maxParameters: maxParameters, truncated: &truncated)
        return (ASCII.lowercased(ASCII.string(type)), ASCII.lowercased(ASCII.string(subtype)), params)
    }

    /// `disposition-type *(";" parameter)`.
    static func parseDisposition(_ value: [UInt8], maxParameters: Int, truncated: inout Bool) -> MIMEDisposition? {
        var lx = HeaderLexer(value)
        lx.skipCFWS()
        let type = lx.token()
        guard !type.isEmpty else { return nil }
        let params = parseParameters(&lx, maxParameters: maxParameters, truncated: &truncated)
        return MIMEDisposition(type: ASCII.lowercased(ASCII.string(type)), parameters: params)
    }

    /// Comma-separated language tags (RFC 3282).
    static func parseLanguage(_ value: [UInt8]) -> [String]? {
        var out: [String] = []
        var lx = HeaderLexer(value)
        while !lx.atEnd {
            lx.skipCFWS()
            let start = lx.index
            while let b = lx.peek, b != 0x2C, !ASCII.isWhitespace(b), b != ASCII.openParen { lx.index += 1 }
            if lx.index > start { out.append(ASCII.string(value[start..<lx.index])) }
            lx.skip(past: 0x2C)
        }
        return out.isEmpty ? nil : out
    }

    /// Lenient `*(";" attribute "=" value)`; unquoted values run to the next `;` (trimmed), which tolerates the
    /// unquoted spaces and specials real mailers write.
    static func parseParameters(_ lx: inout HeaderLexer, maxParameters: Int, truncated: inout Bool)
        -> [MIMEParameter]
    {
        var raw: [(name: [UInt8], value: [UInt8])] = []
        while !lx.atEnd, raw.count < maxParameters {
            lx.skip(past: ASCII.semicolon)
            lx.skipCFWS()
            if lx.atEnd { break }
            let nameStart = lx.index
            while let b = lx.peek, b != ASCII.equals, b != ASCII.semicolon, !ASCII.isWhitespace(b) { lx.index += 1 }
            let name = Array(lx.bytes[nameStart..<lx.index])
            guard !name.isEmpty, lx.consume(ASCII.equals) else { continue }
            lx.skipCFWS()
            var value: [UInt8]
            if lx.peek == ASCII.quote {
                value = lx.quotedString()
                // Anything after the closing quote up to `;` is ignored.
            } else {
                let start = lx.index
                while let b = lx.peek, b != ASCII.semicolon { lx.index += 1 }
                value = Array(ASCII.trim(lx.bytes[start..<lx.index]))
            }
            if value.isEmpty && name.isEmpty { continue }
            value = value.filter { $0 != ASCII.cr && $0 != ASCII.lf }
            raw.append((name, value))
        }
        if raw.count >= maxParameters, lx.bytes[lx.index...].contains(ASCII.equals) { truncated = true }
        return RFC2231.assemble(raw)
    }
}
