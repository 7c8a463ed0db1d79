// The one file that talks to KeepMIME: what a message yields for the index at delivery.
public import KeepGuard
public import KeepMIME

extension MIMELimits {
    /// The parsing bounds of `limits` (`mime.*`).
    public init(_ limits: Limits) {
        self.init(maxDepth: limits.mimeMaxDepth, maxParts: limits.mimeMaxParts,
                  maxHeaderFieldBytes: limits.mimeMaxHeaderFieldBytes, maxHeaderBytes: limits.mimeMaxHeaderBytes,
                  maxHeaderFields: limits.mimeMaxHeaderFields, maxAddressesPerField: limits.mimeMaxAddressesPerField,
                  maxParameters: limits.mimeMaxParameters)
    }
}

/// One field of a message's top-level header that is promoted to a PS_INTERNET_HEADERS named property.
struct PromotableHeader: Sendable, Hashable {
    /// The field name in lower case.
    var name: String
    /// The value, unfolded and RFC 2047-decoded.
    var value: String
}

/// What the store keeps about a message besides its bytes, computed once at delivery.
struct MessageIndex: Sendable {
    /// IMAP ENVELOPE syntax.
    var envelope: [UInt8]
    /// IMAP BODYSTRUCTURE syntax, with extension data.
    var bodyStructure: [UInt8]
    /// IMAP BODY syntax, without extension data.
    var body: [UInt8]
    /// Fields of the top-level header outside `StandardHeaderFields`, in order.
    var promotableHeaders: [PromotableHeader]

    /// Parses `message` within `limits`' `mime.*` bounds.
    init(indexing message: [UInt8], limits: Limits) {
        let parsed = MIMEMessage(parsing: message, limits: MIMELimits(limits))
        envelope = parsed.imapEnvelope
        bodyStructure = parsed.imapBodyStructure(extended: true)
        body = parsed.imapBodyStructure(extended: false)
        promotableHeaders = parsed.decodedHeaderFields.compactMap { field in
            guard !StandardHeaderFields.contains(field.name) else { return nil }
            return PromotableHeader(name: field.name.lowercased(), value: field.value)
        }
    }
}
