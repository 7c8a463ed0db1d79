/// Bounds on parsing cost; a message past a bound is still stored byte-exact, only not indexed past it.
public struct MIMELimits: Sendable, Hashable {
    /// MIME nesting depth (multipart + message/rfc822). A part deeper than this is kept as an opaque leaf.
    public var maxDepth: Int = 32
    /// Total body parts (including encapsulated messages). Parts past this are not split out.
    public var maxParts: Int = 10_000
    /// Per header field (unfolded); longer values are truncated for indexing.
    public var maxHeaderFieldBytes: Int = 1 << 20
    /// All header bytes of one part considered for indexing.
    public var maxHeaderBytes: Int = 10 << 20
    /// Fields indexed per part header.
    public var maxHeaderFields: Int = 10_000
    /// Addresses parsed per ENVELOPE field.
    public var maxAddressesPerField: Int = 1_000
    /// Content-Type/Disposition parameters (including RFC 2231 continuations).
    public var maxParameters: Int = 100

    public init() {}
}

/// A bound of `MIMELimits` that a message reached (reported by `MIMEMessage.limitsReached`, for logging).
public enum MIMELimit: String, Sendable, Hashable, CaseIterable {
    case depth = "maxDepth"
    case parts = "maxParts"
    case headerFieldBytes = "maxHeaderFieldBytes"
    case headerBytes = "maxHeaderBytes"
    case headerFields = "maxHeaderFields"
    case parameters = "maxParameters"
}
