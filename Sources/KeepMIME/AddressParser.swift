/// An address of an ENVELOPE address list: `(name adl mailbox host)`, or a group marker.
public struct MIMEAddress: Sendable, Hashable {
    /// Display name, raw (RFC 2047 words not decoded), quotes removed, white space runs collapsed.
    public var name: [UInt8]?
    /// Source route (obsolete), e.g. `@a,@b`.
    public var adl: [UInt8]?
    /// Local part, or the group name for a group start marker; nil for a group end marker.
    public var mailbox: [UInt8]?
    /// Domain; nil for group markers.
    public var host: [UInt8]?

    public init(name: [UInt8]? = nil, adl: [UInt8]? = nil, mailbox: [UInt8]? = nil, host: [UInt8]? = nil) {
        self.name = name
        self.adl = adl
        self.mailbox = mailbox
        self.host = host
    }

    public var isGroupStart: Bool { host == nil && mailbox != nil }
    public var isGroupEnd: Bool { host == nil && mailbox == nil }
}

/// A lenient RFC 5322 address-list parser (with obsolete forms: routes, missing parts, comments as names).
enum AddressParser {
    static let missingMailbox = Array("MISSING_MAILBOX".utf8)
    static let missingDomain = Array("MISSING_DOMAIN".utf8)

    private enum Token: Equatable {
        case word([UInt8])
        case special(UInt8)
    }

    private struct Tok {
        var token: Token
        /// White space or a comment came before this token.
        var spaceBefore: Bool
        /// The last comment after this token (before the next one).
        var commentAfter: [UInt8]?
        var isWord: Bool { if case .word = token { return true }; return false }
        var text: [UInt8] {
            switch token {
            case .word(let w): return w
            case .special(let s): return [s]
            }
        }
    }

    private static func isSpecial(_ b: UInt8) -> Bool {
        switch b {
        case 0x3C, 0x3E, 0x40, 0x2C, 0x3B, 0x3A, 0x2E: return true  // < > @ , ; : .
        default: return false
        }
    }

    private static func tokenize(_ bytes: [UInt8]) -> [Tok] {
        var lx = HeaderLexer(bytes)
        var toks: [Tok] = []
        while true {
            let before = lx.index
            let comment = lx.skipCFWS()
            if let comment, !toks.isEmpty, !comment.isEmpty { toks[toks.count - 1].commentAfter = comment }
            let space = lx.index > before
            guard let b = lx.peek else { break }
            let token: Token
            if b == ASCII.quote {
                token = .word(lx.quotedString())
            } else if b == 0x5B {  // domain literal, kept with its brackets
                let start = lx.index
                while let c = lx.peek, c != 0x5D { lx.index += 1 }
                if lx.peek == 0x5D { lx.index += 1 }
                token = .word(Array(bytes[start..<lx.index]))
            } else if isSpecial(b) {
                lx.index += 1
                token = .special(b)
            } else {
                let start = lx.index
                while let c = lx.peek, !ASCII.isWhitespace(c), !isSpecial(c), c != ASCII.quote, c != ASCII.openParen,
                      c != 0x5B {
                    lx.index += 1
                }
                if lx.index == start { lx.index += 1 }  // a stray ')'
                token = .word(Array(bytes[start..<lx.index]))
            }
            toks.append(Tok(token: token, spaceBefore: space, commentAfter: nil))
        }
        return toks
    }

    /// Tokens joined as written: one space where there was white space or a comment.
    private static func join(_ toks: ArraySlice<Tok>) -> [UInt8] {
        var out: [UInt8] = []
        for t in toks {
            if !out.isEmpty, t.spaceBefore { out.append(ASCII.space) }
            out += t.text
        }
        return out
    }

    /// Parses an unfolded address-list field value into addresses and group markers (at most `limit` addresses).
    static func parse(_ value: [UInt8], limit: Int) -> [MIMEAddress] {
        let toks = tokenize(value)
        var out: [MIMEAddress] = []
        var count = 0
        var inGroup = false
        var i = 0
        let n = toks.count

        func isSpecial(_ k: Int, _ b: UInt8) -> Bool { k < n && toks[k].token == .special(b) }

        /// local-part ["@" domain] from toks[i...], stopping at `>`, `<`, `,`, `;` (or the end).
        func addrSpec(_ i: inout Int) -> (local: [UInt8], domain: [UInt8]?) {
            var local: [UInt8] = []
            var domain: [UInt8]?
            var prevWord = false
            while i < n {
                let t = toks[i]
                if t.token == .special(0x40) {
                    if domain == nil { domain = [] } else { domain!.append(0x40) }
                    i += 1
                    prevWord = false
                    continue
                }
                if isSpecial(i, 0x2C) || isSpecial(i, 0x3B) || isSpecial(i, 0x3E) || isSpecial(i, 0x3C) { break }
                if domain != nil {
                    domain! += t.text
                } else {
                    if prevWord, t.isWord, t.spaceBefore { local.append(ASCII.space) }
                    local += t.text
                }
                prevWord = t.isWord
                i += 1
            }
            return (local, domain)
        }

        while i < n, count < limit {
            let start = i
            // A phrase: words and dots (obs-phrase).
            var j = i
            while j < n, toks[j].isWord || toks[j].token == .special(0x2E) { j += 1 }
            if isSpecial(j, 0x3A), !inGroup {
                // group: display-name ":" [group-list] ";"
                out.append(MIMEAddress(mailbox: join(toks[start..<j])))
                inGroup = true
                i = j + 1
            } else if isSpecial(j, 0x3C) {
                // name-addr: [display-name] "<" [obs-route] addr-spec ">"
                let name = join(toks[start..<j])
                i = j + 1
                var adl: [UInt8]?
                if isSpecial(i, 0x40) {
                    var k = i
                    // Never past another '<' (or '>' / ';'), so the scans stay linear in the field.
                    while k < n, !isSpecial(k, 0x3A), !isSpecial(k, 0x3E), !isSpecial(k, 0x3C), !isSpecial(k, 0x3B) {
                        k += 1
                    }
                    if isSpecial(k, 0x3A) {
                        adl = toks[i..<k].flatMap(\.text)
                        i = k + 1
                    }
                }
                let spec = addrSpec(&i)
                var displayName: [UInt8]? = name.isEmpty ? nil : name
                if isSpecial(i, 0x3E) {
                    if displayName == nil { displayName = toks[i].commentAfter }
                    i += 1
                }
                if !(spec.local.isEmpty && spec.domain == nil) {
                    out.append(address(name: displayName, adl: adl, spec: spec))
                    count += 1
                }
            } else {
                // addr-spec [comment], or garbage up to the next separator.
                let spec = addrSpec(&i)
                if !(spec.local.isEmpty && spec.domain == nil) {
                    let name = i > start ? toks[i - 1].commentAfter : nil
                    out.append(address(name: name, adl: nil, spec: spec))
                    count += 1
                }
                if isSpecial(i, 0x3C) {
                    // Unexpected '<' after an addr-spec: skip to its '>'.
                    while i < n, !isSpecial(i, 0x3E) { i += 1 }
                }
            }
            // Separators (and a group's end).
            while i < n, isSpecial(i, 0x2C) || isSpecial(i, 0x3B) || isSpecial(i, 0x3E) || isSpecial(i, 0x3A) {
                if isSpecial(i, 0x3B), inGroup {
                    out.append(MIMEAddress())
                    inGroup = false
                }
                i += 1
            }
            if i == start { i += 1 }  // always progress
        }
        if inGroup { out.append(MIMEAddress()) }
        return out
    }

    private static func address(name: [UInt8]?, adl: [UInt8]?, spec: (local: [UInt8], domain: [UInt8]?))
        -> MIMEAddress
    {
        let mailbox = spec.local.isEmpty ? missingMailbox : spec.local
        let host = (spec.domain?.isEmpty ?? true) ? missingDomain : spec.domain!
        return MIMEAddress(name: name, adl: adl, mailbox: mailbox, host: host)
    }
}
