/// Bounds on parsing cost; a message past a bound is still stored byte-exact, only not indexed past it. The server's
/// values are its `mime.*` settings; this module has no defaults of its own.
public struct MIMELimits: Sendable, Hashable {
    /// MIME nesting depth (multipart + message/rfc822). A part deeper than this is kept as an opaque leaf.
    public var maxDepth: Int
    /// Total body parts (including encapsulated messages). Parts past this are not split out.
    public var maxParts: Int
    /// Per header field (unfolded); longer values are truncated for indexing.
    public var maxHeaderFieldBytes: Int
    /// All header bytes of one part considered for indexing.
    public var maxHeaderBytes: Int
    /// Fields indexed per part header.
    public var maxHeaderFields: Int
    /// Addresses parsed per ENVELOPE field.
    public var maxAddressesPerField: Int
    /// Content-Type/Disposition parameters (including RFC 2231 continuations).
    public var maxParameters: Int

    public init(maxDepth: Int, maxParts: Int, maxHeaderFieldBytes: Int, maxHeaderBytes: Int, maxHeaderFields: Int,
                maxAddressesPerField: Int, maxParameters: Int) {
        self.maxDepth = maxDepth
        self.maxParts = maxParts
        self.maxHeaderFieldBytes = maxHeaderFieldBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderFields = maxHeaderFields
        self.maxAddressesPerField = maxAddressesPerField
        self.maxParameters = maxParameters
    }
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
