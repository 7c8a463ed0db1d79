/// The header fields Keep does *not* promote to named properties at delivery/APPEND.
///
/// Every field of a message's top-level header whose name is outside this set is promoted: its name becomes a named
/// property in PS_INTERNET_HEADERS (stored in lower case, compared case-insensitively) and its decoded, unfolded value
/// is kept in the message's header index, so that `SEARCH HEADER name value` is answered from the index. The fields
/// below are left out because the server already reads them from the message itself (ENVELOPE, BODYSTRUCTURE,
/// SEARCH FROM/TO/SUBJECT/…) or because they are trace and transport noise that nearly every message carries: were
/// they promoted, the named-property table (at most 0x7FFF entries, the seed's quota) would hold little else.
///
/// - RFC 5322: Date, From, Sender, Reply-To, To, Cc, Bcc, Message-ID, In-Reply-To, References, Subject, Comments,
///   Keywords, and the Resent-* fields.
/// - MIME (RFC 2045–2183): MIME-Version and every Content-* field.
/// - Trace: Received, Return-Path, Delivered-To, X-Original-To, X-Received, Received-SPF, Authentication-Results,
///   ARC-*, DKIM-Signature, DomainKey-Signature, X-Google-DKIM-Signature.
/// - Mailing lists (RFC 2369, 2919, 8058): List-*, Precedence, Archived-At, Mailing-List, X-Mailman-*, X-BeenThere,
///   X-Loop, Errors-To.
/// - Common client and server fields: User-Agent, X-Mailer, X-MimeOLE, Thread-Index, Thread-Topic, Importance,
///   Priority, X-Priority, X-MSMail-Priority, Disposition-Notification-To, Return-Receipt-To, Auto-Submitted,
///   X-Auto-Response-Suppress, Organization, Mail-Followup-To, Mail-Reply-To, Accept-Language, X-Originating-IP,
///   Autocrypt, OpenPGP, Feedback-ID, X-Spam-*, X-Virus-*, X-MS-Exchange-*, X-MS-Has-Attach, X-MS-TNEF-Correlator,
///   X-Microsoft-Antispam*, X-Forefront-Antispam-Report, X-Gm-Message-State, X-Google-Smtp-Source.
enum StandardHeaderFields {
    /// Exact names, lower case.
    static let names: Set<String> = [
        // RFC 5322
        "date", "from", "sender", "reply-to", "to", "cc", "bcc", "message-id", "in-reply-to", "references",
        "subject", "comments", "keywords",
        // MIME
        "mime-version",
        // Trace
        "received", "return-path", "delivered-to", "x-original-to", "x-received", "received-spf",
        "authentication-results", "dkim-signature", "domainkey-signature", "x-google-dkim-signature",
        // Mailing lists
        "precedence", "archived-at", "mailing-list", "x-beenthere", "x-loop", "errors-to",
        // Clients and servers
        "user-agent", "x-mailer", "x-mimeole", "thread-index", "thread-topic", "importance", "priority",
        "x-priority", "x-msmail-priority", "disposition-notification-to", "return-receipt-to", "auto-submitted",
        "x-auto-response-suppress", "organization", "mail-followup-to", "mail-reply-to", "accept-language",
        "x-originating-ip", "autocrypt", "openpgp", "feedback-id", "x-ms-has-attach", "x-ms-tnef-correlator",
        "x-forefront-antispam-report", "x-gm-message-state", "x-google-smtp-source",
    ]

    /// Name prefixes, lower case: every field starting with one is standard.
    static let prefixes: [String] = [
        "resent-", "content-", "arc-", "list-", "x-mailman-", "x-spam-", "x-virus-", "x-ms-exchange-",
        "x-microsoft-antispam",
    ]

    /// Whether `name` (any case) is in the standard set, i.e. is *not* promoted.
    static func contains(_ name: String) -> Bool {
        let lower = name.lowercased()
        return names.contains(lower) || prefixes.contains { lower.hasPrefix($0) }
    }

    /// Whether `name` can be a promoted property name: an RFC 5322 field name (printable ASCII but colon) of at most
    /// `maxNameLength` bytes.
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= maxNameLength && name.utf8.allSatisfy { (33...126).contains($0) && $0 != 58 }
    }

    /// Longest promoted name, in bytes.
    static let maxNameLength = 128
    /// Longest value kept in the header index, in UTF-8 bytes; a longer value is not indexed (the field is recorded
    /// as skipped for that message and searches on it fall back to parsing).
    static let maxIndexedValueLength = 8_192
}
