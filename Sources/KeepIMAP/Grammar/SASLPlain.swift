/// Why a SASL client response was refused.
public enum SASLError: Error, Hashable, Sendable {
    /// The client sent `*`: it gives up the exchange (RFC 9051 §6.2.2).
    case cancelled
    /// The response is longer than the bound given to the decoder.
    case tooLong(limit: Int)
    /// A character outside the base64 alphabet, bad padding or a length not a multiple of 4.
    case invalidBase64
    /// The decoded message is not `authzid NUL authcid NUL password`.
    case malformedPlain
}

/// A SASL PLAIN message (RFC 4616): `message = [authzid] UTF8NUL authcid UTF8NUL passwd`, as a client sends it
/// base64-encoded in `AUTHENTICATE PLAIN` (initial response, SASL-IR RFC 4959, or continuation line).
/// Fields are decoded as UTF-8, invalid sequences replaced.
public struct SASLPlain: Hashable, Sendable {
    /// The identity to act as; empty when the client asks for none.
    public var authorizationID: String
    /// The identity whose password this is.
    public var authenticationID: String
    public var password: String

    public init(authorizationID: String = "", authenticationID: String, password: String) {
        self.authorizationID = authorizationID
        self.authenticationID = authenticationID
        self.password = password
    }

    /// Decodes a client response: `*` cancels, `=` stands for an empty response (which is malformed), anything else
    /// is strict base64 of the PLAIN message. `maxLength` bounds the encoded response in bytes; it is checked before
    /// anything is decoded.
    public static func decode<C: Collection>(_ base64: C, maxLength: Int) throws(SASLError) -> SASLPlain
    where C.Element == UInt8 {
        guard base64.count <= maxLength else { throw .tooLong(limit: maxLength) }
        if base64.count == 1 && base64.first == UInt8(ascii: "*") { throw .cancelled }
        let isEmpty = base64.count == 1 && base64.first == UInt8(ascii: "=")
        guard let message = isEmpty ? [] : Base64.decode(base64) else { throw .invalidBase64 }
        let fields = message.split(separator: 0, maxSplits: 3, omittingEmptySubsequences: false)
        guard fields.count == 3 else { throw .malformedPlain }
        return SASLPlain(authorizationID: String(decoding: fields[0], as: UTF8.self),
                         authenticationID: String(decoding: fields[1], as: UTF8.self),
                         password: String(decoding: fields[2], as: UTF8.self))
    }

    /// The message as a client sends it: `authzid NUL authcid NUL passwd`, base64-encoded.
    public func encoded() -> [UInt8] {
        Base64.encode(Array(authorizationID.utf8) + [0] + Array(authenticationID.utf8) + [0] + Array(password.utf8))
    }
}
