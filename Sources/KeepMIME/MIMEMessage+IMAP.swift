/// ENVELOPE and BODYSTRUCTURE rendering (RFC 9051 §7.5.2, RFC 3501 §7.4.2).
///
/// Conventions: media type, subtype, parameter names, transfer encoding and disposition type are upper-cased;
/// parameter values and everything else are as written. An RFC 2231 parameter is rendered as `"NAME*"` with the
/// joined `charset'lang'percent-encoded` value.
extension MIMEMessage {
    /// IMAP ENVELOPE of the top-level message.
    public var imapEnvelope: [UInt8] {
        var w = IMAPWriter()
        writeEnvelope(root, into: &w)
        return w.out
    }

    /// IMAP ENVELOPE of the message whose root part is `part` (the root, or an encapsulated message's root).
    public func imapEnvelope(of part: MIMEPart) -> [UInt8] {
        var w = IMAPWriter()
        writeEnvelope(part, into: &w)
        return w.out
    }

    /// IMAP BODYSTRUCTURE (extended: true, with extension data) or BODY (extended: false).
    public func imapBodyStructure(extended: Bool) -> [UInt8] {
        var w = IMAPWriter()
        writeBody(root, extended: extended, into: &w)
        return w.out
    }

    /// The addresses of an address field of the top-level header (first occurrence), as in the ENVELOPE.
    public func addresses(_ fieldName: String) -> [MIMEAddress] {
        addresses(fieldName, of: root)
    }

    func addresses(_ fieldName: String, of part: MIMEPart) -> [MIMEAddress] {
        guard let value = firstValue(fieldName, of: part) else { return [] }
        return AddressParser.parse(value, limit: limits.maxAddressesPerField)
    }

    /// The first field's value, unfolded and trimmed (nil when absent).
    func firstValue(_ name: String, of part: MIMEPart) -> [UInt8]? {
        guard let field = part.headerFields.first(where: { ASCII.equalsIgnoringCase($0.name.utf8, name) }) else {
            return nil
        }
        return Array(ASCII.trim(ASCII.unfold(bytes[field.valueRange], limit: limits.maxHeaderFieldBytes)[...]))
    }

    // envelope = "(" env-date SP env-subject SP env-from SP env-sender SP env-reply-to SP env-to SP env-cc SP
    //            env-bcc SP env-in-reply-to SP env-message-id ")"
    func writeEnvelope(_ part: MIMEPart, into w: inout IMAPWriter) {
        w.byte(ASCII.openParen)
        w.nstring(firstValue("date", of: part))
        w.space()
        w.nstring(firstValue("subject", of: part))
        let from = addresses("from", of: part)
        var sender = addresses("sender", of: part)
        if sender.isEmpty { sender = from }
        var replyTo = addresses("reply-to", of: part)
        if replyTo.isEmpty { replyTo = from }
        for list in [from, sender, replyTo, addresses("to", of: part), addresses("cc", of: part),
                     addresses("bcc", of: part)] {
            w.space()
            writeAddresses(list, into: &w)
        }
        w.space()
        w.nstring(firstValue("in-reply-to", of: part))
        w.space()
        w.nstring(firstValue("message-id", of: part))
        w.byte(ASCII.closeParen)
    }

    // address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"
    func writeAddresses(_ list: [MIMEAddress], into w: inout IMAPWriter) {
        guard !list.isEmpty else { return w.nilValue() }
        w.byte(ASCII.openParen)
        for a in list {
            w.byte(ASCII.openParen)
            w.nstring(a.name)
            w.space()
            w.nstring(a.adl)
            w.space()
            if a.isGroupStart, a.mailbox?.isEmpty == true { w.string("") } else { w.nstring(a.mailbox) }
            w.space()
            w.nstring(a.host)
            w.byte(ASCII.closeParen)
        }
        w.byte(ASCII.closeParen)
    }

    // body = "(" (body-type-1part / body-type-mpart) ")"
    func writeBody(_ part: MIMEPart, extended: Bool, into w: inout IMAPWriter) {
        w.byte(ASCII.openParen)
        if part.isMultipart {
            // body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
            if part.children.isEmpty {
                w.raw(#"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0)"#)
            }
            for child in part.children { writeBody(child, extended: extended, into: &w) }
            w.space()
            w.string(ASCII.uppercased(part.subtype))
            if extended {
                // body-ext-mpart = body-fld-param [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc ...]]]
                w.space()
                writeParameters(part.parameters, into: &w)
                writeExtension(part, into: &w)
            }
        } else {
            // body-type-basic / body-type-msg / body-type-text: media SP body-fields ...
            w.string(ASCII.uppercased(part.type))
            w.space()
            w.string(ASCII.uppercased(part.subtype))
            w.space()
            writeParameters(part.parameters, into: &w)
            w.space()
            w.nstring(part.contentID)
            w.space()
            w.nstring(part.contentDescription)
            w.space()
            w.string(part.transferEncoding.map(ASCII.uppercased) ?? "7BIT")
            w.space()
            w.raw(String(part.bodyRange.count))
            let isMessage = part.type == "message" && (part.subtype == "rfc822" || part.subtype == "global")
            if isMessage {
                // body-type-msg = media-message SP body-fields SP envelope SP body SP body-fld-lines
                w.space()
                if let inner = part.message {
                    writeEnvelope(inner, into: &w)
                    w.space()
                    writeBody(inner, extended: extended, into: &w)
                } else {
                    w.raw("(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)")
                    w.space()
                    w.raw(#"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0)"#)
                }
                w.space()
                w.raw(String(lineCount(part)))
            } else if part.type == "text" {
                w.space()
                w.raw(String(lineCount(part)))
            }
            if extended {
                // body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc ...]]]
                w.space()
                w.nstring(part.contentMD5)
                writeExtension(part, into: &w)
            }
        }
        w.byte(ASCII.closeParen)
    }

    /// SP body-fld-dsp SP body-fld-lang SP body-fld-loc
    func writeExtension(_ part: MIMEPart, into w: inout IMAPWriter) {
        w.space()
        if let d = part.disposition {
            // body-fld-dsp = "(" string SP body-fld-param ")" / nil
            w.byte(ASCII.openParen)
            w.string(ASCII.uppercased(d.type))
            w.space()
            writeParameters(d.parameters, into: &w)
            w.byte(ASCII.closeParen)
        } else {
            w.nilValue()
        }
        w.space()
        // body-fld-lang = nstring / "(" string *(SP string) ")"
        if let langs = part.contentLanguage, !langs.isEmpty {
            w.byte(ASCII.openParen)
            for (i, l) in langs.enumerated() {
                if i > 0 { w.space() }
                w.string(l)
            }
            w.byte(ASCII.closeParen)
        } else {
            w.nilValue()
        }
        w.space()
        w.nstring(part.contentLocation)
    }

    // body-fld-param = "(" string SP string *(SP string SP string) ")" / nil
    func writeParameters(_ params: [MIMEParameter], into w: inout IMAPWriter) {
        guard !params.isEmpty else { return w.nilValue() }
        w.byte(ASCII.openParen)
        for (i, p) in params.enumerated() {
            if i > 0 { w.space() }
            w.string(ASCII.uppercased(p.name) + (p.isExtended ? "*" : ""))
            w.space()
            w.string(p.rawValue)
        }
        w.byte(ASCII.closeParen)
    }

    /// Lines of the part's body: line feeds, plus one for a last line without one.
    public func lineCount(_ part: MIMEPart) -> Int {
        var n = 0
        for i in part.bodyRange where bytes[i] == ASCII.lf { n += 1 }
        if !part.bodyRange.isEmpty, bytes[part.bodyRange.upperBound - 1] != ASCII.lf { n += 1 }
        return n
    }
}
