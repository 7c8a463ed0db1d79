// The one file that talks to KeepMIME: what a message yields for the index at delivery.
import KeepMIME

/// What the store keeps about a message besides its bytes, computed once at delivery.
struct MessageIndex: Sendable {
    /// IMAP ENVELOPE syntax.
    var envelope: [UInt8]
    /// IMAP BODYSTRUCTURE syntax, with extension data.
    var bodyStructure: [UInt8]
    /// IMAP BODY syntax, without extension data.
    var body: [UInt8]

    init(indexing message: [UInt8]) {
        let parsed = MIMEMessage(parsing: message)
        envelope = parsed.imapEnvelope
        bodyStructure = parsed.imapBodyStructure(extended: true)
        body = parsed.imapBodyStructure(extended: false)
    }
}
