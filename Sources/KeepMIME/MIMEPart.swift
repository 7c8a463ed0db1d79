/// One header field of a part, as byte ranges into the message.
public struct MIMEHeaderField: Sendable, Hashable {
    /// The field name as written (without the colon and any white space before it).
    public let name: String
    /// The whole field, from its name to and including its last line ending.
    public let range: Range<Int>
    /// The raw value: from just after the colon to just before the last line ending (folds included).
    public let valueRange: Range<Int>

    public init(name: String, range: Range<Int>, valueRange: Range<Int>) {
        self.name = name
        self.range = range
        self.valueRange = valueRange
    }
}

/// A Content-Type or Content-Disposition parameter, with RFC 2231 continuations joined.
public struct MIMEParameter: Sendable, Hashable {
    /// The attribute as written, without RFC 2231 `*n` / `*` suffixes.
    public let name: String
    /// The value decoded to Unicode: RFC 2231 charset and percent-encoding applied, or RFC 2047 words decoded.
    public let value: String
    /// Whether the parameter used RFC 2231 extended (`name*=charset'lang'…`) notation.
    public let isExtended: Bool
    /// RFC 2231 charset and language, when given.
    public let charset: String?
    public let language: String?
    /// The value as it goes into BODYSTRUCTURE: plain values as written (unquoted); extended values re-joined as
    /// `charset'lang'percent-encoded` (rendered under the attribute name `name*`).
    public let rawValue: [UInt8]

    public init(name: String, value: String, isExtended: Bool = false, charset: String? = nil,
                language: String? = nil, rawValue: [UInt8]? = nil) {
        self.name = name
        self.value = value
        self.isExtended = isExtended
        self.charset = charset
        self.language = language
        self.rawValue = rawValue ?? Array(value.utf8)
    }
}

/// Content-Disposition: the disposition type (lowercased) and its parameters.
public struct MIMEDisposition: Sendable, Hashable {
    public let type: String
    public let parameters: [MIMEParameter]

    public init(type: String, parameters: [MIMEParameter]) {
        self.type = type
        self.parameters = parameters
    }
}

/// A node of the MIME part tree: byte ranges into `MIMEMessage.bytes` plus the parsed Content-* fields.
///
/// A message's root part carries the message header (which is also the root's MIME header). A `message/rfc822`
/// (or `message/global`) part has its encapsulated message's root in `message`; a multipart has `children`.
public final class MIMEPart: Sendable {
    /// The header, from its first byte to and including the blank line that ends it (when there is one).
    public let headerRange: Range<Int>
    /// The body: after the blank line up to (not including) the line ending before the next boundary, or the end.
    public let bodyRange: Range<Int>
    /// Indexed header fields, in order (bounded by `MIMELimits`).
    public let headerFields: [MIMEHeaderField]
    /// Media type and subtype, lowercased (defaults applied: `text/plain`, or `message/rfc822` in a digest).
    public let type: String
    public let subtype: String
    /// Content-Type parameters (defaults applied: `charset=us-ascii` for a defaulted text/plain).
    public let parameters: [MIMEParameter]
    public let contentID: String?
    public let contentDescription: String?
    /// Content-Transfer-Encoding lowercased, nil when absent (7bit).
    public let transferEncoding: String?
    public let disposition: MIMEDisposition?
    public let contentLanguage: [String]?
    public let contentLocation: String?
    public let contentMD5: String?
    /// Children of a multipart, in order.
    public let children: [MIMEPart]
    /// The encapsulated message of a message/rfc822 part.
    public let message: MIMEPart?
    /// Nesting depth: 1 for the root.
    public let depth: Int

    init(headerRange: Range<Int>, bodyRange: Range<Int>, headerFields: [MIMEHeaderField], type: String,
         subtype: String, parameters: [MIMEParameter], contentID: String?, contentDescription: String?,
         transferEncoding: String?, disposition: MIMEDisposition?, contentLanguage: [String]?,
         contentLocation: String?, contentMD5: String?, children: [MIMEPart], message: MIMEPart?, depth: Int) {
        self.headerRange = headerRange
        self.bodyRange = bodyRange
        self.headerFields = headerFields
        self.type = type
        self.subtype = subtype
        self.parameters = parameters
        self.contentID = contentID
        self.contentDescription = contentDescription
        self.transferEncoding = transferEncoding
        self.disposition = disposition
        self.contentLanguage = contentLanguage
        self.contentLocation = contentLocation
        self.contentMD5 = contentMD5
        self.children = children
        self.message = message
        self.depth = depth
    }

    public var isMultipart: Bool { type == "multipart" }
    public var isMessage: Bool { message != nil }
    public var isText: Bool { type == "text" }

    /// The first Content-Type parameter with this name (case-insensitive); an RFC 2231 extended one wins.
    public func parameter(_ name: String) -> String? {
        Self.lookup(name, in: parameters)
    }

    /// The Content-Type charset parameter, lowercased.
    public var charset: String? { parameter("charset").map(ASCII.lowercased) }

    /// The file name: Content-Disposition `filename`, else Content-Type `name`.
    public var fileName: String? {
        if let d = disposition, let f = Self.lookup("filename", in: d.parameters) { return f }
        return parameter("name")
    }

    /// The header fields with this name (case-insensitive), in order.
    public func fields(named name: String) -> [MIMEHeaderField] {
        headerFields.filter { ASCII.equalsIgnoringCase($0.name.utf8, name) }
    }

    static func lookup(_ name: String, in parameters: [MIMEParameter]) -> String? {
        var plain: String?
        for p in parameters where ASCII.equalsIgnoringCase(p.name.utf8, name) {
            if p.isExtended { return p.value }
            if plain == nil { plain = p.value }
        }
        return plain
    }
}
