/// A message parsed into a MIME part tree of byte ranges. Parsing never fails: anything malformed is taken
/// leniently, and every bound in `MIMELimits` is honoured (the bytes stay exact; only indexing stops).
public struct MIMEMessage: Sendable {
    public let bytes: [UInt8]
    public let limits: MIMELimits
    public let root: MIMEPart
    /// The bounds of `limits` this message reached (empty for ordinary mail); the bytes are kept whole regardless.
    public let limitsReached: Set<MIMELimit>

    public init(parsing bytes: [UInt8], limits: MIMELimits) {
        self.bytes = bytes
        self.limits = limits
        var parser = MIMEParser(bytes: bytes, limits: limits)
        self.root = parser.parseMessage()
        self.limitsReached = parser.limitsReached
    }

    /// All header field names of the top-level header, in order, as written (for indexing).
    public var headerFieldNames: [String] {
        root.headerFields.map(\.name)
    }

    /// Decoded header values for SEARCH (RFC 2047 decoded to UTF-8), case-insensitive name.
    public func headerValues(_ name: String) -> [String] {
        headerValues(name, of: root)
    }

    /// Decoded values of the named fields of any part's header.
    public func headerValues(_ name: String, of part: MIMEPart) -> [String] {
        part.headerFields.lazy.filter { ASCII.equalsIgnoringCase($0.name.utf8, name) }.map { field in
            let value = ASCII.unfold(self.bytes[field.valueRange], limit: self.limits.maxHeaderFieldBytes)
            return RFC2047.decode(ASCII.trim(value[...]))
        }
    }

    /// Every indexed field of the top-level header as (name as written, decoded value), in order.
    public var decodedHeaderFields: [(name: String, value: String)] {
        root.headerFields.map { field in
            let value = ASCII.unfold(bytes[field.valueRange], limit: limits.maxHeaderFieldBytes)
            return (field.name, RFC2047.decode(ASCII.trim(value[...])))
        }
    }

    /// The body of a part with its Content-Transfer-Encoding undone (base64, quoted-printable).
    public func decodedBody(of part: MIMEPart) -> [UInt8] {
        TransferDecoding.decode(bytes[part.bodyRange], encoding: part.transferEncoding)
    }

    /// The text of a text/* part: transfer-decoded and converted from its charset (UTF-8, then Latin-1, when the
    /// charset is unknown or absent).
    public func decodedText(of part: MIMEPart) -> String {
        let raw = decodedBody(of: part)
        if let cs = part.charset, let s = Charsets.decode(raw, charset: cs) { return s }
        return ASCII.string(raw)
    }

    /// The decoded text of all text/* parts (transfer decoding + charset → UTF-8), for SEARCH BODY/TEXT.
    /// Parts are separated by a line feed. Encapsulated messages' text parts are included.
    public func decodedBodyText() -> String {
        var texts: [String] = []
        var stack: [MIMEPart] = [root]
        while let part = stack.popLast() {
            if part.isMultipart {
                stack += part.children.reversed()
            } else if let inner = part.message {
                stack.append(inner)
            } else if part.isText {
                texts.append(decodedText(of: part))
            }
        }
        return texts.joined(separator: "\n")
    }

    /// All parts in depth-first order (encapsulated messages' roots included), with their IMAP part numbers.
    public var allParts: [(path: [Int], part: MIMEPart)] {
        var out: [(path: [Int], part: MIMEPart)] = []
        func walk(_ part: MIMEPart, _ path: [Int], asMessage: Bool) {
            if asMessage, !part.isMultipart {
                out.append((path + [1], part))
                if let inner = part.message { walk(inner, path + [1], asMessage: true) }
                return
            }
            if !asMessage { out.append((path, part)) }
            if part.isMultipart {
                for (i, c) in part.children.enumerated() { walk(c, path + [i + 1], asMessage: false) }
            } else if let inner = part.message {
                walk(inner, path, asMessage: true)
            }
        }
        walk(root, [], asMessage: true)
        return out
    }
}
