/// The command verbs an LMTP server answers (RFC 2033 §4, RFC 5321 §4.1.1).
public enum LMTPVerb: String, Hashable, Sendable, CaseIterable {
    case lhlo = "LHLO", helo = "HELO", ehlo = "EHLO", mail = "MAIL", rcpt = "RCPT", data = "DATA", rset = "RSET"
    case noop = "NOOP", vrfy = "VRFY", quit = "QUIT"
}

/// One command line cut into its verb and argument. The argument's grammar is parsed when the session gets to it
/// (`LMTPPath.mailFrom`, `LMTPPath.rcptTo`), since state errors (`503`) are answered before syntax errors (`501`).
public struct LMTPCommand: Hashable, Sendable {
    /// The verb as sent, uppercased: the bytes up to the first space, colon, CR or LF.
    public var verbText: String
    /// What follows the verb, line end and surrounding spaces and tabs trimmed; empty when nothing does.
    public var argument: String

    /// The verb when it is one the server knows.
    public var verb: LMTPVerb? { LMTPVerb(rawValue: verbText) }

    /// `command = verb [(SP / ":") argument] CRLF`, leniently: a bare LF ends a line too, and bytes are decoded as UTF-8
    /// with invalid sequences replaced.
    public init(line: [UInt8]) {
        let text = trimmed(String(decoding: line, as: UTF8.self), where: { $0 == "\r" || $0 == "\n" })
        verbText = Self.verbText(of: line)
        argument = text.count > verbText.count ? trimmed(text.dropFirst(verbText.count), where: isSpace) : ""
    }

    /// The bytes up to the first space, colon, CR or LF, uppercased.
    static func verbText(of line: [UInt8]) -> String {
        String(decoding: line.prefix { $0 != 32 && $0 != 13 && $0 != 10 && $0 != 58 }, as: UTF8.self).uppercased()
    }
}

/// Why a MAIL or RCPT argument was refused (`501 5.5.4`).
public enum LMTPSyntaxError: Error, Hashable, Sendable {
    /// The argument does not start with `FROM:` (MAIL) or `TO:` (RCPT), in any case.
    case missingKeyword(String)
    /// No `<…>` path after the keyword.
    case missingPath
    /// `RCPT TO:<>`: a recipient needs an address.
    case emptyAddress
}

/// The path of `MAIL FROM:<address> [params]` or `RCPT TO:<address> [params]` (RFC 5321 §4.1.2), leniently: the
/// address is whatever stands between `<` and the first `>`, parameters are the space-separated words after it.
public struct LMTPPath: Hashable, Sendable {
    /// The address without its angle brackets; empty for the null reverse-path `<>`.
    public var address: String
    /// `esmtp-param`s as sent, e.g. `SIZE=1024`, `BODY=8BITMIME`.
    public var parameters: [String]

    public init(address: String, parameters: [String] = []) {
        self.address = address
        self.parameters = parameters
    }

    /// `SIZE=n` values among the parameters (RFC 1870), in order; a value that is not a number is left out.
    public var sizes: [Int] {
        parameters.compactMap { p in
            let kv = p.split(separator: "=", maxSplits: 1)
            guard kv.first?.uppercased() == "SIZE", kv.count == 2 else { return nil }
            return Int(kv[1])
        }
    }

    /// `mail = "MAIL FROM:" reverse-path [SP mail-parameters]`: the argument after the verb.
    public static func mailFrom(_ argument: String) throws(LMTPSyntaxError) -> LMTPPath {
        guard argument.uppercased().hasPrefix("FROM:") else { throw .missingKeyword("FROM:") }
        return try path(argument.dropFirst(5))
    }

    /// `rcpt = "RCPT TO:" forward-path [SP rcpt-parameters]`: the argument after the verb; the address is not empty.
    public static func rcptTo(_ argument: String) throws(LMTPSyntaxError) -> LMTPPath {
        guard argument.uppercased().hasPrefix("TO:") else { throw .missingKeyword("TO:") }
        let path = try path(argument.dropFirst(3))
        guard !path.address.isEmpty else { throw .emptyAddress }
        return path
    }

    /// `"<" address ">" *(SP param)`, surrounding spaces and tabs ignored.
    static func path(_ text: Substring) throws(LMTPSyntaxError) -> LMTPPath {
        let t = trimmed(text, where: isSpace)
        guard t.hasPrefix("<"), let end = t.firstIndex(of: ">") else { throw .missingPath }
        let address = String(t[t.index(after: t.startIndex)..<end])
        return LMTPPath(address: address, parameters: t[t.index(after: end)...].split(separator: " ").map(String.init))
    }
}

/// A space in the sense of Foundation's `CharacterSet.whitespaces`: tab, Unicode category Zs, and U+200B ZERO WIDTH
/// SPACE (which Foundation counts too).
func isSpace(_ s: Unicode.Scalar) -> Bool {
    s == "\t" || s == "\u{200B}" || s.properties.generalCategory == .spaceSeparator
}
