/// Status of a tagged or untagged condition response.
public enum ResponseStatus: String, Sendable, Hashable {
    case ok = "OK", no = "NO", bad = "BAD", preauth = "PREAUTH", bye = "BYE"
}

/// Response codes Keep sends (RFC 9051 §7.1 and extensions), written inside `[...]`.
public enum ResponseCode: Sendable, Hashable {
    case alert, parse, readOnly, readWrite, tryCreate, closed, noModSeq
    case capability([String])
    case permanentFlags([String])
    case uidNext(UInt32), uidValidity(UInt32), unseen(UInt32)
    case appendUID(uidValidity: UInt32, uids: [UInt32])
    case copyUID(uidValidity: UInt32, source: [UInt32], destination: [UInt32])
    case highestModSeq(UInt64)
    case modified([UInt32])
    case limit, overQuota, tooBig, unavailable, authenticationFailed, authorizationFailed, expired
    case privacyRequired, contactAdmin, noPerm, inUse, expungeIssued, corruption, serverBug, clientBug
    case cannot, alreadyExists, nonExistent, notSaved, hasChildren, badCharset([String]), unknownCTE
    case metadataTooMany, metadataMaxSize(Int), metadataLongEntries(Int), metadataNoPrivate
    case other(String)
}

/// One untagged data response (`* …`).
public enum UntaggedResponse: Sendable {
    case capability([String])
    /// `* LIST (attributes) "/" name [extended]`; `extended` is pre-rendered extra data, e.g. `("CHILDINFO" ("SUBSCRIBED"))`.
    case list(attributes: [String], delimiter: UInt8?, name: [UInt8], extended: [UInt8]?)
    case lsub(attributes: [String], delimiter: UInt8?, name: [UInt8])
    case status(name: [UInt8], items: [(StatusAttribute, UInt64)])
    case flags([String])
    case exists(Int)
    case recent(Int)
    case expunge(Int)
    case vanished(earlier: Bool, uids: [UInt32])
    case fetch(Int, [FetchResponseItem])
    case search([UInt32], modSeq: UInt64?)
    case esearch(tag: String?, uid: Bool, min: UInt32?, max: UInt32?, count: Int?, all: [UInt32]?, modSeq: UInt64?)
    case enabled([String])
    case id([(String, String)]?)
    case namespace(personal: [(prefix: String, delimiter: UInt8)], other: [(prefix: String, delimiter: UInt8)], shared: [(prefix: String, delimiter: UInt8)])
    case metadata(mailbox: [UInt8], entries: [(String, [UInt8]?)])
    case quota(root: String, resources: [(name: String, usage: UInt64, limit: UInt64)])
    case quotaRoot(mailbox: [UInt8], roots: [String])
    /// An untagged status (`* OK [code] text`, `* BYE …`).
    case condition(ResponseStatus, ResponseCode?, String)
}

/// One item of a FETCH response.
public enum FetchResponseItem: Sendable {
    case uid(UInt32)
    case flags([String])
    case internalDate(String)
    case rfc822Size(Int)
    /// Pre-rendered IMAP syntax (ENVELOPE / BODYSTRUCTURE / BODY from the store).
    case envelope([UInt8])
    case bodyStructure([UInt8])
    case body([UInt8])
    case modSeq(UInt64)
    /// `NAME data` where data is written as a literal (or NIL): e.g. `BODY[HEADER]`, `BODY[]<0>`, `RFC822`.
    case section(name: String, data: [UInt8]?)
    /// `BINARY[…] ~{n}` literal8 when the bytes hold NUL, else a literal.
    case binary(name: String, data: [UInt8]?)
    case binarySize(name: String, size: Int)
}

/// Writes responses in IMAP syntax into a buffer (RFC 9051 §7). Strings are written quoted when they can be,
/// as literals otherwise.
public struct ResponseEncoder: Sendable {
    public var bytes: [UInt8] = []

    public init() { bytes.reserveCapacity(256) }

    public mutating func reset() { bytes.removeAll(keepingCapacity: true) }

    mutating func w(_ s: String) { bytes.append(contentsOf: s.utf8) }
    mutating func w(_ b: [UInt8]) { bytes.append(contentsOf: b) }
    mutating func crlf() { bytes.append(13); bytes.append(10) }

    /// A number in decimal, written digit by digit (no String in between: FETCH writes millions of them).
    mutating func number<T: BinaryInteger>(_ n: T) {
        guard n != 0 else {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        if n < 0 { bytes.append(UInt8(ascii: "-")) }
        var value = UInt64(n.magnitude)
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            while value > 0 {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
                count += 1
            }
            bytes.append(contentsOf: buffer[(20 - count)...])
        }
    }

    /// Words separated by single spaces (a flag list).
    mutating func words(_ list: [String]) {
        for (i, word) in list.enumerated() {
            if i > 0 { bytes.append(32) }
            w(word)
        }
    }

    /// A tagged completion: `tag OK [code] text`.
    public mutating func tagged(_ tag: String, _ status: ResponseStatus, _ code: ResponseCode? = nil, _ text: String) {
        w(tag)
        bytes.append(32)
        statusText(status, code, text)
    }

    /// `+ text` continuation request.
    public mutating func continuation(_ text: String = "Ready") {
        w("+ ")
        w(text)
        crlf()
    }

    /// A continuation carrying base64 data (SASL challenge).
    public mutating func continuation(base64 data: [UInt8]) {
        w("+ ")
        w(Base64.encode(data))
        crlf()
    }

    private mutating func statusText(_ status: ResponseStatus, _ code: ResponseCode?, _ text: String) {
        w(status.rawValue)
        bytes.append(32)
        if let code {
            bytes.append(UInt8(ascii: "["))
            responseCode(code)
            w("] ")
        }
        wSanitized(text)
        crlf()
    }

    /// Text after a status must not contain CR or LF: each becomes a space. Works on UTF-8 bytes, not Characters:
    /// `"\r\n"` is one Character, equal to neither `"\r"` nor `"\n"`, and would otherwise pass through and let a text
    /// end the response line early; no other scalar's UTF-8 contains the bytes 13 or 10.
    mutating func wSanitized(_ text: String) {
        let utf8 = text.utf8
        guard utf8.contains(where: { $0 == 13 || $0 == 10 }) else {
            bytes.append(contentsOf: utf8)
            return
        }
        for b in utf8 { bytes.append(b == 13 || b == 10 ? 32 : b) }
    }

    mutating func responseCode(_ code: ResponseCode) {
        switch code {
        case .alert: w("ALERT")
        case .parse: w("PARSE")
        case .readOnly: w("READ-ONLY")
        case .readWrite: w("READ-WRITE")
        case .tryCreate: w("TRYCREATE")
        case .closed: w("CLOSED")
        case .noModSeq: w("NOMODSEQ")
        case .capability(let caps): w("CAPABILITY "); w(caps.joined(separator: " "))
        case .permanentFlags(let f): w("PERMANENTFLAGS ("); w(f.joined(separator: " ")); w(")")
        case .uidNext(let n): w("UIDNEXT \(n)")
        case .uidValidity(let n): w("UIDVALIDITY \(n)")
        case .unseen(let n): w("UNSEEN \(n)")
        case .appendUID(let v, let uids): w("APPENDUID \(v) "); w(Self.compactSet(uids))
        case .copyUID(let v, let s, let d): w("COPYUID \(v) "); w(Self.compactSet(s, sorted: false)); w(" "); w(Self.compactSet(d, sorted: false))
        case .highestModSeq(let m): w("HIGHESTMODSEQ \(m)")
        case .modified(let uids): w("MODIFIED "); w(Self.compactSet(uids))
        case .limit: w("LIMIT")
        case .overQuota: w("OVERQUOTA")
        case .tooBig: w("TOOBIG")
        case .unavailable: w("UNAVAILABLE")
        case .authenticationFailed: w("AUTHENTICATIONFAILED")
        case .authorizationFailed: w("AUTHORIZATIONFAILED")
        case .expired: w("EXPIRED")
        case .privacyRequired: w("PRIVACYREQUIRED")
        case .contactAdmin: w("CONTACTADMIN")
        case .noPerm: w("NOPERM")
        case .inUse: w("INUSE")
        case .expungeIssued: w("EXPUNGEISSUED")
        case .corruption: w("CORRUPTION")
        case .serverBug: w("SERVERBUG")
        case .clientBug: w("CLIENTBUG")
        case .cannot: w("CANNOT")
        case .alreadyExists: w("ALREADYEXISTS")
        case .nonExistent: w("NONEXISTENT")
        case .notSaved: w("NOTSAVED")
        case .hasChildren: w("HASCHILDREN")
        case .badCharset(let cs): w("BADCHARSET"); if !cs.isEmpty { w(" ("); w(cs.joined(separator: " ")); w(")") }
        case .unknownCTE: w("UNKNOWN-CTE")
        case .metadataTooMany: w("METADATA TOOMANY")
        case .metadataMaxSize(let n): w("METADATA MAXSIZE \(n)")
        case .metadataLongEntries(let n): w("METADATA LONGENTRIES \(n)")
        case .metadataNoPrivate: w("METADATA NOPRIVATE")
        case .other(let s): w(s)
        }
    }

    /// Writes one untagged response.
    public mutating func untagged(_ r: UntaggedResponse) {
        w("* ")
        switch r {
        case .capability(let caps):
            w("CAPABILITY "); w(caps.joined(separator: " "))
        case .list(let attrs, let delim, let name, let ext):
            w("LIST ("); w(attrs.joined(separator: " ")); w(") ")
            delimiter(delim)
            bytes.append(32)
            astringOrString(name)
            if let ext { bytes.append(32); w(ext) }
        case .lsub(let attrs, let delim, let name):
            w("LSUB ("); w(attrs.joined(separator: " ")); w(") ")
            delimiter(delim)
            bytes.append(32)
            astringOrString(name)
        case .status(let name, let items):
            w("STATUS ")
            astringOrString(name)
            w(" (")
            w(items.map { "\($0.0.rawValue) \($0.1)" }.joined(separator: " "))
            w(")")
        case .flags(let f):
            w("FLAGS ("); words(f); w(")")
        case .exists(let n): number(n); w(" EXISTS")
        case .recent(let n): number(n); w(" RECENT")
        case .expunge(let n): number(n); w(" EXPUNGE")
        case .vanished(let earlier, let uids):
            w(earlier ? "VANISHED (EARLIER) " : "VANISHED "); w(Self.compactSet(uids))
        case .fetch(let seq, let items):
            number(seq)
            w(" FETCH (")
            for (i, item) in items.enumerated() {
                if i > 0 { bytes.append(32) }
                fetchItem(item)
            }
            w(")")
        case .search(let nums, let modSeq):
            w("SEARCH")
            for n in nums {
                bytes.append(32)
                number(n)
            }
            if let modSeq, !nums.isEmpty { w(" (MODSEQ \(modSeq))") }
        case .esearch(let tag, let uid, let mn, let mx, let count, let all, let modSeq):
            w("ESEARCH")
            if let tag { w(" (TAG "); quoted(Array(tag.utf8)); w(")") }
            if uid { w(" UID") }
            if let mn { w(" MIN \(mn)") }
            if let mx { w(" MAX \(mx)") }
            if let count { w(" COUNT \(count)") }
            if let all, !all.isEmpty { w(" ALL "); w(Self.compactSet(all)) }
            if let modSeq { w(" MODSEQ \(modSeq)") }
        case .enabled(let caps):
            w("ENABLED"); for c in caps { w(" " + c) }
        case .id(let params):
            w("ID ")
            if let params {
                w("(")
                for (i, (k, v)) in params.enumerated() {
                    if i > 0 { bytes.append(32) }
                    string(Array(k.utf8)); bytes.append(32); string(Array(v.utf8))
                }
                w(")")
            } else {
                w("NIL")
            }
        case .namespace(let personal, let other, let shared):
            w("NAMESPACE ")
            for (i, ns) in [personal, other, shared].enumerated() {
                if i > 0 { bytes.append(32) }
                if ns.isEmpty { w("NIL"); continue }
                w("(")
                for n in ns { w("("); string(Array(n.prefix.utf8)); bytes.append(32); delimiter(n.delimiter); w(")") }
                w(")")
            }
        case .metadata(let mailbox, let entries):
            w("METADATA ")
            astringOrString(mailbox)
            w(" (")
            for (i, e) in entries.enumerated() {
                if i > 0 { bytes.append(32) }
                astringOrString(Array(e.0.utf8)); bytes.append(32)
                if let v = e.1 { string(v) } else { w("NIL") }
            }
            w(")")
        case .quota(let root, let resources):
            w("QUOTA "); astringOrString(Array(root.utf8)); w(" (")
            w(resources.map { "\($0.name) \($0.usage) \($0.limit)" }.joined(separator: " "))
            w(")")
        case .quotaRoot(let mailbox, let roots):
            w("QUOTAROOT "); astringOrString(mailbox)
            for r in roots { bytes.append(32); astringOrString(Array(r.utf8)) }
        case .condition(let st, let code, let text):
            statusText(st, code, text)
            return
        }
        crlf()
    }

    /// Writes `* n FETCH (`: the start of a FETCH response written item by item (for streamed bodies).
    public mutating func fetchStart(_ seq: Int) {
        w("* ")
        number(seq)
        w(" FETCH (")
    }

    /// Writes one item of a FETCH response begun with `fetchStart`; `first` omits the separating space.
    public mutating func fetchItem(_ item: FetchResponseItem, first: Bool) {
        if !first { bytes.append(32) }
        fetchItem(item)
    }

    /// Writes `NAME {n}\r\n` — a section whose `n` literal bytes the caller sends itself, straight after.
    public mutating func fetchLiteralHeader(name: String, size: Int, first: Bool) {
        if !first { bytes.append(32) }
        w(name)
        w(" {\(size)}")
        crlf()
    }

    /// Ends a FETCH response begun with `fetchStart`.
    public mutating func fetchEnd() {
        w(")")
        crlf()
    }

    mutating func fetchItem(_ item: FetchResponseItem) {
        switch item {
        case .uid(let u): w("UID "); number(u)
        case .flags(let f): w("FLAGS ("); words(f); w(")")
        case .internalDate(let d): w("INTERNALDATE \""); w(d); w("\"")
        case .rfc822Size(let n): w("RFC822.SIZE "); number(n)
        case .envelope(let e): w("ENVELOPE "); w(e)
        case .bodyStructure(let b): w("BODYSTRUCTURE "); w(b)
        case .body(let b): w("BODY "); w(b)
        case .modSeq(let m): w("MODSEQ ("); number(m); w(")")
        case .section(let name, let data):
            w(name); bytes.append(32)
            if let data { literal(data) } else { w("NIL") }
        case .binary(let name, let data):
            w(name); bytes.append(32)
            if let data {
                if data.contains(0) { bytes.append(UInt8(ascii: "~")) }
                literal(data)
            } else {
                w("NIL")
            }
        case .binarySize(let name, let size): w("\(name) \(size)")
        }
    }

    mutating func delimiter(_ d: UInt8?) {
        if let d { quoted([d]) } else { w("NIL") }
    }

    /// A literal `{n}\r\n` + bytes.
    public mutating func literal(_ data: [UInt8]) {
        bytes.append(UInt8(ascii: "{"))
        number(data.count)
        bytes.append(UInt8(ascii: "}"))
        crlf()
        bytes.append(contentsOf: data)
    }

    mutating func quoted(_ s: [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        for c in s {
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") { bytes.append(UInt8(ascii: "\\")) }
            bytes.append(c)
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// A string: quoted when every byte may stand in a quoted string, a literal otherwise. `QUOTED-CHAR` admits
    /// 7-bit text without CR, LF, NUL and (IMAP4rev2) whole UTF-8 sequences, so other 8-bit bytes need a literal.
    public mutating func string(_ s: [UInt8]) {
        if s.count <= 1024, s.allSatisfy({ $0 != 13 && $0 != 10 && $0 != 0 }), Self.isValidUTF8(s) {
            quoted(s)
        } else {
            literal(s)
        }
    }

    static func isValidUTF8(_ s: [UInt8]) -> Bool {
        if s.allSatisfy({ $0 < 0x80 }) { return true }
        var it = s.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&it) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    /// An astring: an atom when it is one, else a string.
    public mutating func astringOrString(_ s: [UInt8]) {
        if !s.isEmpty, s.count <= 1024, s.allSatisfy(Grammar.isAStringChar), s.allSatisfy({ $0 < 0x80 }) {
            bytes.append(contentsOf: s)
        } else {
            string(s)
        }
    }

    /// `1:3,5,7:9` from UIDs or sequence numbers (sorted and merged unless `sorted` is false, for COPYUID order).
    public static func compactSet(_ nums: [UInt32], sorted: Bool = true) -> String {
        guard !nums.isEmpty else { return "" }
        let list = sorted ? nums.sorted() : nums
        var parts: [String] = []
        var start = list[0], prev = list[0]
        for n in list.dropFirst() {
            if n == prev &+ 1 { prev = n; continue }
            if sorted && n == prev { continue }
            parts.append(start == prev ? "\(start)" : "\(start):\(prev)")
            start = n; prev = n
        }
        parts.append(start == prev ? "\(start)" : "\(start):\(prev)")
        return parts.joined(separator: ",")
    }

    /// `dd-Mon-yyyy hh:mm:ss +zzzz` for INTERNALDATE, from seconds since 1970 and a zone offset in minutes.
    public static func internalDate(secondsSince1970 t: Int64, zoneMinutes: Int = 0) -> String {
        let local = t + Int64(zoneMinutes * 60)
        var days = local / 86_400
        var secs = local % 86_400
        if secs < 0 { secs += 86_400; days -= 1 }
        let (y, m, d) = civil(fromDays: Int(days))
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let h = Int(secs / 3600), mi = Int(secs % 3600 / 60), s = Int(secs % 60)
        let sign = zoneMinutes < 0 ? "-" : "+"
        let z = abs(zoneMinutes)
        let day = d < 10 ? " \(d)" : "\(d)"
        return "\(day)-\(monthNames[m - 1])-\(y) \(two(h)):\(two(mi)):\(two(s)) \(sign)\(two(z / 60))\(two(z % 60))"
    }

    static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01.
    public static func civil(fromDays z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
