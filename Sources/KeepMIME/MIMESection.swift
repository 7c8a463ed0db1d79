/// A section specifier, independent of IMAP syntax: part path (e.g. `[1, 2]`; `[]` = whole message/top level)
/// plus what of it.
public struct MIMESection: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// The whole message (empty path) or the body of the part.
        case full
        /// The header of the message (empty path) or of the encapsulated message (message/rfc822 part), including the blank line.
        case header
        /// The named fields of that header, in message order, followed by CRLF.
        case headerFields([String])
        /// All other fields of that header, in message order, followed by CRLF.
        case headerFieldsNot([String])
        /// The body of the message (empty path) or of the encapsulated message.
        case text
        /// The MIME header of the part itself (only with a non-empty path).
        case mime
    }

    public var part: [Int]
    public var kind: Kind

    public init(part: [Int] = [], kind: Kind = .full) {
        self.part = part
        self.kind = kind
    }
}
