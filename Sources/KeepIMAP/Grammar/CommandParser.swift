/// Parses one framed command (as `CommandFramer` yields it) into a `Command`. Pure and bounded: nesting, list
/// lengths and sequence-set ranges are checked while parsing.
public struct CommandParser: Sendable {
    public var limits: GrammarLimits

    public init(limits: GrammarLimits) { self.limits = limits }

    /// `command = tag SP (command-any / command-auth / command-nonauth / command-select) CRLF`
    public func parse(_ frame: [UInt8]) throws(CommandParseError) -> Command {
        var p = ParseBuffer(frame, limits: limits)
        do {
            let tag = try Self.tag(&p)
            p.tag = tag
            try p.space()
            let kind = try Self.commandKind(&p)
            try p.end()
            return Command(tag: tag, kind: kind)
        } catch let e as CommandParseError {
            throw e
        } catch {
            throw CommandParseError(tag: p.tag, reason: .syntax(hint: "\(error)"))
        }
    }

    /// `tag = 1*<any ASTRING-CHAR except "+">`
    static func tag(_ p: inout ParseBuffer) throws -> String {
        let start = p.position
        while let c = p.peek, Grammar.isTagChar(c) { p.position += 1 }
        guard p.position > start, p.position - start <= 128 else { throw p.fail("expected tag") }
        return String(decoding: p.bytes[start..<p.position], as: UTF8.self)
    }

    static func commandKind(_ p: inout ParseBuffer) throws -> CommandKind {
        let nameStart = p.position
        while let c = p.peek, (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) {
            p.position += 1
        }
        let name = String(decoding: p.bytes[nameStart..<p.position].map(Grammar.upper), as: UTF8.self)
        switch name {
        case "CAPABILITY": return .capability
        case "NOOP": return .noop
        case "CHECK": return .check
        case "LOGOUT": return .logout
        case "STARTTLS": return .starttls
        case "ID": return try id(&p)
        case "AUTHENTICATE": return try authenticate(&p)
        case "LOGIN":
            try p.space()
            let user = try p.astring()
            try p.space()
            return .login(user: user, password: try p.astring())
        case "ENABLE":
            var caps: [String] = []
            while p.skip(UInt8(ascii: " ")) {
                caps.append(try p.atom().uppercased())
                try p.checkCount(caps.count)
            }
            guard !caps.isEmpty else { throw p.fail("ENABLE needs a capability") }
            return .enable(caps)
        case "SELECT", "EXAMINE":
            try p.space()
            let m = try p.mailbox()
            let params = try selectParameters(&p)
            return name == "SELECT" ? .select(m, params) : .examine(m, params)
        case "CREATE":
            try p.space()
            let m = try p.mailbox()
            var uses: [String] = []
            if p.skip(UInt8(ascii: " ")) {
                guard p.keyword("(USE ") else { throw p.fail("expected (USE (...))") }
                uses = try p.list { q in
                    guard q.skip(UInt8(ascii: "\\")) else { throw q.fail("expected \\SpecialUse") }
                    return "\\" + (try q.atom())
                }
                try p.expect(UInt8(ascii: ")"), ")")
            }
            return .create(m, specialUse: uses)
        case "DELETE": try p.space(); return .delete(try p.mailbox())
        case "RENAME":
            try p.space()
            let a = try p.mailbox()
            try p.space()
            return .rename(a, try p.mailbox())
        case "SUBSCRIBE": try p.space(); return .subscribe(try p.mailbox())
        case "UNSUBSCRIBE": try p.space(); return .unsubscribe(try p.mailbox())
        case "LIST": return try list(&p)
        case "LSUB":
            try p.space()
            let ref = try p.mailbox()
            try p.space()
            return .lsub(reference: ref, pattern: try p.listMailbox())
        case "NAMESPACE": return .namespace
        case "STATUS":
            try p.space()
            let m = try p.mailbox()
            try p.space()
            return .status(m, try p.list(allowEmpty: false) { try statusAttribute(&$0) })
        case "APPEND": return try append(&p)
        case "IDLE": return .idle
        case "GETMETADATA": return try getMetadata(&p)
        case "SETMETADATA": return try setMetadata(&p)
        case "GETQUOTA": try p.space(); return .getQuota(try p.astringText())
        case "GETQUOTAROOT": try p.space(); return .getQuotaRoot(try p.mailbox())
        case "SETQUOTA":
            try p.space()
            let root = try p.astringText()
            try p.space()
            let limits: [(String, UInt64)] = try p.list { q in
                let r = try q.atom().uppercased()
                try q.space()
                return (r, try q.number64())
            }
            return .setQuota(root, limits)
        case "COMPRESS": try p.space(); return .compress(try p.atom().uppercased())
        case "CLOSE": return .close
        case "UNSELECT": return .unselect
        case "EXPUNGE": return .expunge
        case "SEARCH": return try search(&p, uid: false)
        case "FETCH": return try fetch(&p, uid: false)
        case "STORE": return try store(&p, uid: false)
        case "COPY", "MOVE":
            try p.space()
            let set = try sequenceSet(&p)
            try p.space()
            let m = try p.mailbox()
            return name == "COPY" ? .copy(set, m, uid: false) : .move(set, m, uid: false)
        case "UID":
            try p.space()
            let subStart = p.position
            let sub = try p.atom().uppercased()
            switch sub {
            case "FETCH": return try fetch(&p, uid: true)
            case "SEARCH": return try search(&p, uid: true)
            case "STORE": return try store(&p, uid: true)
            case "COPY", "MOVE":
                try p.space()
                let set = try sequenceSet(&p)
                try p.space()
                let m = try p.mailbox()
                return sub == "COPY" ? .copy(set, m, uid: true) : .move(set, m, uid: true)
            case "EXPUNGE":
                try p.space()
                return .uidExpunge(try sequenceSet(&p))
            default:
                p.position = subStart
                throw CommandParseError(tag: p.tag, reason: .unknownCommand("UID " + sub))
            }
        case "":
            throw p.fail("expected command name")
        default:
            throw CommandParseError(tag: p.tag, reason: .unknownCommand(name))
        }
    }

    // MARK: Commands

    /// `id = "ID" SP id-params-list` ; `id-params-list = "(" *(string SP nstring) ")" / nil`
    static func id(_ p: inout ParseBuffer) throws -> CommandKind {
        try p.space()
        if p.keyword("NIL") { return .id(nil) }
        try p.expect(UInt8(ascii: "("), "(")
        var pairs: [(String, String?)] = []
        if p.skip(UInt8(ascii: ")")) { return .id([]) }
        repeat {
            let k = String(decoding: try p.string(), as: UTF8.self)
            try p.space()
            let v = try p.nstring().map { String(decoding: $0, as: UTF8.self) }
            pairs.append((k, v))
            guard pairs.count <= 30 else { throw p.fail("ID takes at most 30 field-value pairs") }
        } while p.skip(UInt8(ascii: " "))
        try p.expect(UInt8(ascii: ")"), ")")
        return .id(pairs)
    }

    /// `authenticate = "AUTHENTICATE" SP auth-type [SP initial-resp]` ; `initial-resp = (base64 / "=")`
    static func authenticate(_ p: inout ParseBuffer) throws -> CommandKind {
        try p.space()
        let mech = try p.atom().uppercased()
        var initial: [UInt8]?
        if p.skip(UInt8(ascii: " ")) {
            let start = p.position
            while let c = p.peek, Base64.isBase64Char(c) || c == UInt8(ascii: "=") { p.position += 1 }
            guard p.position > start else { throw p.fail("expected base64 initial response") }
            initial = Array(p.bytes[start..<p.position])
        }
        return .authenticate(mechanism: mech, initialResponse: initial)
    }

    /// `select-params = SP "(" select-param *(SP select-param) ")"` (CONDSTORE, QRESYNC)
    static func selectParameters(_ p: inout ParseBuffer) throws -> SelectParameters {
        var params = SelectParameters()
        guard p.skip(UInt8(ascii: " ")) else { return params }
        _ = try p.list(allowEmpty: false) { q -> Int in
            let name = try q.atom().uppercased()
            switch name {
            case "CONDSTORE": params.condStore = true
            case "QRESYNC":
                try q.space()
                try q.expect(UInt8(ascii: "("), "(")
                try q.enter()
                defer { q.leave() }
                let validity = try q.nzNumber()
                try q.space()
                let modseq = try q.number64()
                var qr = QResyncParameters(uidValidity: validity, modSeq: modseq, knownUIDs: nil)
                if q.skip(UInt8(ascii: " ")) {
                    if q.peek != UInt8(ascii: "(") { qr.knownUIDs = try sequenceSet(&q) }
                    if q.peek == UInt8(ascii: "(") || q.skip(UInt8(ascii: " ")) {
                        try q.expect(UInt8(ascii: "("), "(")
                        let seqs = try sequenceSet(&q)
                        try q.space()
                        let uids = try sequenceSet(&q)
                        try q.expect(UInt8(ascii: ")"), ")")
                        qr.sequenceMatch = (seqs, uids)
                    }
                }
                try q.expect(UInt8(ascii: ")"), ")")
                params.qresync = qr
            default:
                throw q.fail("unknown SELECT parameter \(name)")
            }
            return 0
        }
        return params
    }

    /// `list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]`
    static func list(_ p: inout ParseBuffer) throws -> CommandKind {
        var options = ListOptions()
        try p.space()
        if p.peek == UInt8(ascii: "(") {
            _ = try p.list { q -> Int in
                switch try q.atom().uppercased() {
                case "SUBSCRIBED": options.subscribed = true
                case "REMOTE": options.remote = true
                case "RECURSIVEMATCH": options.recursiveMatch = true
                case "SPECIAL-USE": options.specialUse = true
                case let other: throw q.fail("unknown LIST selection option \(other)")
                }
                return 0
            }
            try p.space()
            if options.recursiveMatch && !(options.subscribed) {
                throw p.fail("RECURSIVEMATCH needs another selection option")
            }
        }
        let reference = try p.mailbox()
        try p.space()
        var patterns: [[UInt8]] = []
        if p.peek == UInt8(ascii: "(") {
            patterns = try p.list(allowEmpty: false) { try $0.listMailbox() }
        } else {
            patterns = [try p.listMailbox()]
        }
        if p.skip(UInt8(ascii: " ")) {
            guard p.keyword("RETURN ") else { throw p.fail("expected RETURN") }
            _ = try p.list { q -> Int in
                switch try q.atom().uppercased() {
                case "SUBSCRIBED": options.returnSubscribed = true
                case "CHILDREN": options.returnChildren = true
                case "SPECIAL-USE": options.returnSpecialUse = true
                case "STATUS":
                    try q.space()
                    options.returnStatus = try q.list(allowEmpty: false) { try statusAttribute(&$0) }
                case let other: throw q.fail("unknown LIST return option \(other)")
                }
                return 0
            }
        }
        return .list(reference: reference, patterns: patterns, options)
    }

    /// `status-att = "MESSAGES" / "UIDNEXT" / "UIDVALIDITY" / "UNSEEN" / "DELETED" / "SIZE" / ...`
    static func statusAttribute(_ p: inout ParseBuffer) throws -> StatusAttribute {
        let name = try p.atom().uppercased()
        guard let a = StatusAttribute(rawValue: name) else { throw p.fail("unknown STATUS item \(name)") }
        return a
    }

    /// `append = "APPEND" SP mailbox 1*append-message` ; `append-message = [SP flag-list] [SP date-time] SP literal`
    static func append(_ p: inout ParseBuffer) throws -> CommandKind {
        try p.space()
        let mailbox = try p.mailbox()
        var messages: [AppendMessage] = []
        while p.skip(UInt8(ascii: " ")) {
            var flags: [Flag] = []
            var date: IMAPDateTime?
            if p.peek == UInt8(ascii: "(") {
                flags = try flagList(&p)
                try p.space()
            }
            if p.peek == UInt8(ascii: "\"") {
                date = try dateTime(&p)
                try p.space()
            }
            if p.keyword("UTF8 (") {
                // RFC 6855 `UTF8 (literal8)`
                let lit = try p.literal()
                try p.expect(UInt8(ascii: ")"), ")")
                messages.append(AppendMessage(flags: flags, internalDate: date, data: lit.bytes, binary: lit.binary))
            } else {
                let lit = try p.literal()
                messages.append(AppendMessage(flags: flags, internalDate: date, data: lit.bytes, binary: lit.binary))
            }
            try p.checkCount(messages.count)
        }
        guard !messages.isEmpty else { throw p.fail("APPEND needs a message literal") }
        return .append(mailbox, messages)
    }

    /// `getmetadata = "GETMETADATA" [SP getmetadata-options] SP mailbox SP getmetadata-entries`
    static func getMetadata(_ p: inout ParseBuffer) throws -> CommandKind {
        try p.space()
        var options = MetadataOptions()
        if p.peek == UInt8(ascii: "(") {
            _ = try p.list { q -> Int in
                let name = try q.atom().uppercased()
                try q.space()
                switch name {
                case "MAXSIZE": options.maxSize = Int(try q.number())
                case "DEPTH":
                    let d = try q.atom()
                    guard d == "0" || d == "1" || d.lowercased() == "infinity" else { throw q.fail("DEPTH is 0, 1 or infinity") }
                    options.depth = d.lowercased()
                default: throw q.fail("unknown GETMETADATA option \(name)")
                }
                return 0
            }
            try p.space()
        }
        let mailbox = try p.mailbox()
        try p.space()
        let entries: [String]
        if p.peek == UInt8(ascii: "(") {
            entries = try p.list(allowEmpty: false) { try $0.astringText() }
        } else {
            entries = [try p.astringText()]
        }
        return .getMetadata(options, mailbox, entries)
    }

    /// `setmetadata = "SETMETADATA" SP mailbox SP entry-values` ; `entry-values = "(" entry-value *(SP entry-value) ")"`
    static func setMetadata(_ p: inout ParseBuffer) throws -> CommandKind {
        try p.space()
        let mailbox = try p.mailbox()
        try p.space()
        try p.expect(UInt8(ascii: "("), "(")
        try p.enter()
        defer { p.leave() }
        var entries: [MetadataEntry] = []
        repeat {
            let name = try p.astringText()
            try p.space()
            let value: [UInt8]? = p.keyword("NIL") ? nil : (p.peek == UInt8(ascii: "~") ? try p.literal().bytes : try p.string())
            entries.append(MetadataEntry(name: name, value: value))
            try p.checkCount(entries.count)
        } while p.skip(UInt8(ascii: " "))
        try p.expect(UInt8(ascii: ")"), ")")
        return .setMetadata(mailbox, entries)
    }

    /// `search = "SEARCH" [search-return-opts] SP search-program` ; `search-program = ["CHARSET" SP charset SP] search-key *(SP search-key)`
    static func search(_ p: inout ParseBuffer, uid: Bool) throws -> CommandKind {
        var options: SearchReturnOptions?
        try p.space()
        if p.keyword("RETURN ") {
            var o = SearchReturnOptions()
            _ = try p.list { q -> Int in
                switch try q.atom().uppercased() {
                case "MIN": o.min = true
                case "MAX": o.max = true
                case "ALL": o.all = true
                case "COUNT": o.count = true
                case "SAVE": o.save = true
                case let other: throw q.fail("unknown SEARCH return option \(other)")
                }
                return 0
            }
            options = o
            try p.space()
        }
        var charset: String?
        if p.keyword("CHARSET ") {
            charset = try p.astringText()
            try p.space()
        }
        var keys: [SearchKey] = [try searchKey(&p)]
        while p.skip(UInt8(ascii: " ")) {
            keys.append(try searchKey(&p))
            try p.checkCount(keys.count)
        }
        return .search(SearchRequest(returnOptions: options, charset: charset, key: keys.count == 1 ? keys[0] : .and(keys)), uid: uid)
    }

    /// `search-key = "ALL" / "ANSWERED" / "BCC" SP astring / ... / "(" search-key *(SP search-key) ")"`
    static func searchKey(_ p: inout ParseBuffer) throws -> SearchKey {
        if p.peek == UInt8(ascii: "(") {
            let keys = try p.list(allowEmpty: false) { try searchKey(&$0) }
            return keys.count == 1 ? keys[0] : .and(keys)
        }
        if let c = p.peek, (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "*") || c == UInt8(ascii: "$") {
            return .sequence(try sequenceSet(&p))
        }
        let name = try p.atom().uppercased()
        func str(_ p: inout ParseBuffer) throws -> String {
            try p.space()
            return String(decoding: try p.astring(), as: UTF8.self)
        }
        func date(_ p: inout ParseBuffer) throws -> IMAPDate {
            try p.space()
            return try searchDate(&p)
        }
        switch name {
        case "ALL": return .all
        case "ANSWERED": return .answered
        case "DELETED": return .deleted
        case "DRAFT": return .draft
        case "FLAGGED": return .flagged
        case "SEEN": return .seen
        case "RECENT": return .recent
        case "NEW": return .new
        case "OLD": return .old
        case "UNANSWERED": return .unanswered
        case "UNDELETED": return .undeleted
        case "UNDRAFT": return .undraft
        case "UNFLAGGED": return .unflagged
        case "UNSEEN": return .unseen
        case "KEYWORD": try p.space(); return .keyword(try p.atom())
        case "UNKEYWORD": try p.space(); return .unkeyword(try p.atom())
        case "BCC": return .bcc(try str(&p))
        case "CC": return .cc(try str(&p))
        case "FROM": return .from(try str(&p))
        case "TO": return .to(try str(&p))
        case "SUBJECT": return .subject(try str(&p))
        case "BODY": return .body(try str(&p))
        case "TEXT": return .text(try str(&p))
        case "HEADER":
            let field = try str(&p)
            return .header(field, try str(&p))
        case "BEFORE": return .before(try date(&p))
        case "ON": return .on(try date(&p))
        case "SINCE": return .since(try date(&p))
        case "SENTBEFORE": return .sentBefore(try date(&p))
        case "SENTON": return .sentOn(try date(&p))
        case "SENTSINCE": return .sentSince(try date(&p))
        case "LARGER": try p.space(); return .larger(try p.number64())
        case "SMALLER": try p.space(); return .smaller(try p.number64())
        case "UID": try p.space(); return .uid(try sequenceSet(&p))
        case "NOT":
            try p.space()
            try p.enter()
            defer { p.leave() }
            return .not(try searchKey(&p))
        case "OR":
            try p.space()
            try p.enter()
            defer { p.leave() }
            let a = try searchKey(&p)
            try p.space()
            return .or(a, try searchKey(&p))
        case "MODSEQ":
            try p.space()
            // `search-modsequence = "MODSEQ" [search-modseq-ext] SP mod-sequence-valzer`
            if p.peek == UInt8(ascii: "\"") {
                _ = try p.quoted()
                try p.space()
                _ = try p.atom()
                try p.space()
            }
            return .modSeq(try p.number64())
        default:
            throw p.fail("unknown search key \(name)")
        }
    }

    /// `date = date-text / DQUOTE date-text DQUOTE` ; `date-text = date-day "-" date-month "-" date-year`
    static func searchDate(_ p: inout ParseBuffer) throws -> IMAPDate {
        let quoted = p.skip(UInt8(ascii: "\""))
        let day = Int(try p.number())
        try p.expect(UInt8(ascii: "-"), "-")
        let month = try monthName(&p)
        try p.expect(UInt8(ascii: "-"), "-")
        let yStart = p.position
        let year = Int(try p.number())
        let date = IMAPDate(year: year, month: month, day: day)
        guard p.position - yStart == 4, date.isValid else { throw p.fail("invalid date") }
        if quoted { try p.expect(UInt8(ascii: "\""), "closing quote") }
        return date
    }

    static let months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]

    static func monthName(_ p: inout ParseBuffer) throws -> Int {
        for (i, m) in months.enumerated() where p.keyword(m) { return i + 1 }
        throw p.fail("invalid month")
    }

    /// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE`
    static func dateTime(_ p: inout ParseBuffer) throws -> IMAPDateTime {
        try p.expect(UInt8(ascii: "\""), "date-time")
        _ = p.skip(UInt8(ascii: " "))
        let day = Int(try p.number())
        try p.expect(UInt8(ascii: "-"), "-")
        let month = try monthName(&p)
        try p.expect(UInt8(ascii: "-"), "-")
        let year = Int(try p.number())
        try p.space()
        func two(_ p: inout ParseBuffer) throws -> Int {
            guard p.position + 2 <= p.bytes.count else { throw p.fail("invalid time") }
            let a = p.bytes[p.position], b = p.bytes[p.position + 1]
            guard (48...57).contains(a), (48...57).contains(b) else { throw p.fail("invalid time") }
            p.position += 2
            return Int(a - 48) * 10 + Int(b - 48)
        }
        let h = try two(&p)
        try p.expect(UInt8(ascii: ":"), ":")
        let m = try two(&p)
        try p.expect(UInt8(ascii: ":"), ":")
        let s = try two(&p)
        try p.space()
        let sign: Int
        if p.skip(UInt8(ascii: "+")) { sign = 1 } else if p.skip(UInt8(ascii: "-")) { sign = -1 } else { throw p.fail("invalid zone") }
        let zh = try two(&p), zm = try two(&p)
        try p.expect(UInt8(ascii: "\""), "closing quote")
        let date = IMAPDate(year: year, month: month, day: day)
        guard date.isValid, year >= 1000, year <= 9999, h < 24, m < 60, s < 61, zm < 60 else {
            throw p.fail("invalid date-time")
        }
        return IMAPDateTime(date: date, hour: h, minute: m, second: s, zoneMinutes: sign * (zh * 60 + zm))
    }

    /// `flag-list = "(" [flag *(SP flag)] ")"`
    static func flagList(_ p: inout ParseBuffer) throws -> [Flag] {
        try p.list { try flag(&$0) }
    }

    /// `flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" / flag-keyword / flag-extension`
    static func flag(_ p: inout ParseBuffer) throws -> Flag {
        if p.skip(UInt8(ascii: "\\")) {
            if p.skip(UInt8(ascii: "*")) { return .extension("*") }
            let name = try p.atom()
            switch name.uppercased() {
            case "SEEN": return .seen
            case "ANSWERED": return .answered
            case "FLAGGED": return .flagged
            case "DELETED": return .deleted
            case "DRAFT": return .draft
            case "RECENT": return .recent
            default: return .extension(name)
            }
        }
        let k = try p.atom()
        guard k.utf8.allSatisfy({ $0 < 0x80 }) else { throw p.fail("keywords are ASCII atoms") }
        return .keyword(k)
    }

    /// `store = "STORE" SP sequence-set [store-modifiers] SP store-att-flags`
    static func store(_ p: inout ParseBuffer, uid: Bool) throws -> CommandKind {
        try p.space()
        let set = try sequenceSet(&p)
        try p.space()
        var unchangedSince: UInt64?
        if p.peek == UInt8(ascii: "(") {
            _ = try p.list(allowEmpty: false) { q -> Int in
                guard q.keyword("UNCHANGEDSINCE ") else { throw q.fail("unknown STORE modifier") }
                unchangedSince = try q.number64()
                return 0
            }
            try p.space()
        }
        let op: StoreOperation
        if p.skip(UInt8(ascii: "+")) { op = .add } else if p.skip(UInt8(ascii: "-")) { op = .remove } else { op = .replace }
        guard p.keyword("FLAGS") else { throw p.fail("expected FLAGS") }
        let silent = p.keyword(".SILENT")
        try p.space()
        var flags: [Flag]
        if p.peek == UInt8(ascii: "(") {
            flags = try flagList(&p)
        } else {
            flags = [try flag(&p)]
            while p.skip(UInt8(ascii: " ")) {
                flags.append(try flag(&p))
                try p.checkCount(flags.count)
            }
        }
        return .store(set, StoreRequest(operation: op, silent: silent, flags: flags, unchangedSince: unchangedSince), uid: uid)
    }

    /// `fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att / "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]`
    static func fetch(_ p: inout ParseBuffer, uid: Bool) throws -> CommandKind {
        try p.space()
        let set = try sequenceSet(&p)
        try p.space()
        var attributes: [FetchAttribute]
        if p.keyword("ALL") {
            attributes = [.flags, .internalDate, .rfc822Size, .envelope]
        } else if p.keyword("FULL") {
            attributes = [.flags, .internalDate, .rfc822Size, .envelope, .body]
        } else if p.keyword("FAST") {
            attributes = [.flags, .internalDate, .rfc822Size]
        } else if p.peek == UInt8(ascii: "(") {
            attributes = try p.list(allowEmpty: false) { try fetchAttribute(&$0) }
        } else {
            attributes = [try fetchAttribute(&p)]
        }
        var modifiers = FetchModifiers()
        if p.skip(UInt8(ascii: " ")) {
            _ = try p.list(allowEmpty: false) { q -> Int in
                let name = try q.atom().uppercased()
                switch name {
                case "CHANGEDSINCE":
                    try q.space()
                    modifiers.changedSince = try q.number64()
                case "VANISHED": modifiers.vanished = true
                default: throw q.fail("unknown FETCH modifier \(name)")
                }
                return 0
            }
        }
        return .fetch(set, attributes, modifiers, uid: uid)
    }

    /// `fetch-att = "ENVELOPE" / "FLAGS" / "INTERNALDATE" / "RFC822.SIZE" / "BODY" ["STRUCTURE"] / "UID" /
    ///  "BODY" section [partial] / "BODY.PEEK" section [partial] / "BINARY" [".PEEK"] section-binary [partial] / "BINARY.SIZE" section-binary / "MODSEQ"`
    static func fetchAttribute(_ p: inout ParseBuffer) throws -> FetchAttribute {
        let start = p.position
        while let c = p.peek, Grammar.isAtomChar(c), c != UInt8(ascii: "["), c != UInt8(ascii: "<") { p.position += 1 }
        let name = String(decoding: p.bytes[start..<p.position].map(Grammar.upper), as: UTF8.self)
        switch name {
        case "ENVELOPE": return .envelope
        case "FLAGS": return .flags
        case "INTERNALDATE": return .internalDate
        case "RFC822.SIZE": return .rfc822Size
        case "RFC822": return .rfc822
        case "RFC822.HEADER": return .rfc822Header
        case "RFC822.TEXT": return .rfc822Text
        case "UID": return .uid
        case "BODYSTRUCTURE": return .bodyStructure
        case "MODSEQ": return .modSeq
        case "BODY", "BODY.PEEK":
            guard p.peek == UInt8(ascii: "[") else {
                guard name == "BODY" else { throw p.fail("BODY.PEEK needs a section") }
                return .body
            }
            let section = try sectionSpec(&p)
            return .bodySection(section, try partial(&p), peek: name == "BODY.PEEK")
        case "BINARY", "BINARY.PEEK", "BINARY.SIZE":
            try p.expect(UInt8(ascii: "["), "[")
            var part: [Int] = []
            if p.peek != UInt8(ascii: "]") { part = try sectionPart(&p) }
            try p.expect(UInt8(ascii: "]"), "]")
            if name == "BINARY.SIZE" { return .binarySize(part: part) }
            return .binary(part: part, try partial(&p), peek: name == "BINARY.PEEK")
        default:
            throw p.fail("unknown FETCH item \(name)")
        }
    }

    /// `section = "[" [section-spec] "]"` ; `section-spec = section-msgtext / (section-part ["." section-text])`
    static func sectionSpec(_ p: inout ParseBuffer) throws -> SectionSpec {
        try p.expect(UInt8(ascii: "["), "[")
        var spec = SectionSpec()
        if p.skip(UInt8(ascii: "]")) { return spec }
        if let c = p.peek, c >= UInt8(ascii: "1"), c <= UInt8(ascii: "9") {
            spec.part = try sectionPart(&p)
            if p.skip(UInt8(ascii: ".")) {
                if p.keyword("MIME") { spec.text = .mime } else { spec.text = try sectionMsgText(&p) }
            }
        } else {
            spec.text = try sectionMsgText(&p)
        }
        try p.expect(UInt8(ascii: "]"), "]")
        return spec
    }

    /// `section-part = nz-number *("." nz-number)`
    static func sectionPart(_ p: inout ParseBuffer) throws -> [Int] {
        var parts = [Int(try p.nzNumber())]
        while p.peek == UInt8(ascii: "."), p.position + 1 < p.bytes.count,
              p.bytes[p.position + 1] >= UInt8(ascii: "0"), p.bytes[p.position + 1] <= UInt8(ascii: "9") {
            p.position += 1
            parts.append(Int(try p.nzNumber()))
            guard parts.count <= p.limits.maxDepth else {
                throw CommandParseError(tag: p.tag, reason: .tooDeep(limit: p.limits.maxDepth))
            }
        }
        return parts
    }

    /// `section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"`
    static func sectionMsgText(_ p: inout ParseBuffer) throws -> SectionSpec.Text {
        if p.keyword("HEADER.FIELDS") {
            let not = p.keyword(".NOT")
            try p.space()
            let names = try p.list(allowEmpty: false) { try $0.astringText() }
            return not ? .headerFieldsNot(names) : .headerFields(names)
        }
        if p.keyword("HEADER") { return .header }
        if p.keyword("TEXT") { return .text }
        throw p.fail("invalid section")
    }

    /// `partial = "<" number64 "." nz-number64 ">"` (the response form `<n>` is accepted too)
    static func partial(_ p: inout ParseBuffer) throws -> Partial? {
        guard p.skip(UInt8(ascii: "<")) else { return nil }
        let offset = try p.number64()
        var length: UInt64?
        if p.skip(UInt8(ascii: ".")) {
            length = try p.number64()
            guard length! > 0 else { throw p.fail("partial length must be non-zero") }
        }
        try p.expect(UInt8(ascii: ">"), ">")
        guard offset <= UInt64(Int32.max), (length ?? 0) <= UInt64(Int32.max) else { throw p.fail("partial too large") }
        return Partial(offset: Int(offset), length: length.map(Int.init))
    }

    /// `sequence-set = (seq-number / seq-range) ["," sequence-set]` / `"$"`
    static func sequenceSet(_ p: inout ParseBuffer) throws -> SequenceSet {
        if p.skip(UInt8(ascii: "$")) { return .lastSearchResult }
        var ranges: [SequenceRange] = []
        repeat {
            let a = try seqNumber(&p)
            let b = p.skip(UInt8(ascii: ":")) ? try seqNumber(&p) : a
            ranges.append(SequenceRange(a, b))
            if ranges.count > p.limits.maxSequenceRanges {
                throw CommandParseError(tag: p.tag, reason: .tooManySequenceRanges(limit: p.limits.maxSequenceRanges))
            }
        } while p.skip(UInt8(ascii: ","))
        return .ranges(ranges)
    }

    /// `seq-number = nz-number / "*"`
    static func seqNumber(_ p: inout ParseBuffer) throws -> SequenceNumber {
        if p.skip(UInt8(ascii: "*")) { return .last }
        return .number(try p.nzNumber())
    }
}

/// Base64 as IMAP uses it for SASL (RFC 4648 §4, with padding).
public enum Base64 {
    static func isBase64Char(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "+") || c == UInt8(ascii: "/")
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Strict decoding: nil on any character outside the alphabet, bad padding or a length not a multiple of 4.
    public static func decode<C: Collection>(_ input: C) -> [UInt8]? where C.Element == UInt8 {
        let bytes = Array(input)
        guard bytes.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count / 4 * 3)
        var i = 0
        while i < bytes.count {
            var v: UInt32 = 0
            var pad = 0
            for j in 0..<4 {
                let c = bytes[i + j]
                let d: UInt32
                switch c {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"): d = UInt32(c - 65)
                case UInt8(ascii: "a")...UInt8(ascii: "z"): d = UInt32(c - 97 + 26)
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - 48 + 52)
                case UInt8(ascii: "+"): d = 62
                case UInt8(ascii: "/"): d = 63
                case UInt8(ascii: "="):
                    guard i + 4 == bytes.count, j >= 2 else { return nil }
                    pad += 1
                    d = 0
                default: return nil
                }
                if pad > 0 && c != UInt8(ascii: "=") { return nil }
                v = v << 6 | d
            }
            out.append(UInt8(truncatingIfNeeded: v >> 16))
            if pad < 2 { out.append(UInt8(truncatingIfNeeded: v >> 8)) }
            if pad < 1 { out.append(UInt8(truncatingIfNeeded: v)) }
            i += 4
        }
        return out
    }

    public static func encode<C: Collection>(_ input: C) -> [UInt8] where C.Element == UInt8 {
        let bytes = Array(input)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = UInt32(bytes[i])
            let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
            let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
            let v = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(v >> 18 & 63)])
            out.append(alphabet[Int(v >> 12 & 63)])
            out.append(i + 1 < bytes.count ? alphabet[Int(v >> 6 & 63)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? alphabet[Int(v & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return out
    }
}
