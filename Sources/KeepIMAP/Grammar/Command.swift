/// One client command: its tag and what it asks for (RFC 9051 §6, RFC 3501 §6, and the extensions Keep serves).
public struct Command: Sendable, Equatable {
    public var tag: String
    public var kind: CommandKind
    public init(tag: String, kind: CommandKind) {
        self.tag = tag
        self.kind = kind
    }
}

/// A mailbox name as the client sent it (bytes), decoded: `INBOX` normalised, modified UTF-7 decoded when valid.
public struct MailboxName: Sendable, Hashable, CustomStringConvertible {
    /// The bytes the client sent.
    public var raw: [UInt8]
    public init(raw: [UInt8]) { self.raw = raw }
    public init(_ string: String) { self.raw = Array(string.utf8) }

    public var isInbox: Bool { raw.count == 5 && String(decoding: raw, as: UTF8.self).uppercased() == "INBOX" }

    /// The name as UTF-8 text: INBOX upper-cased; modified UTF-7 (RFC 3501 §5.1.3) decoded when `utf8Accepted`
    /// is false and the bytes are valid mUTF-7.
    public func decoded(utf8Accepted: Bool) -> String {
        if isInbox { return "INBOX" }
        var s = String(decoding: raw, as: UTF8.self)
        // ASCII-only comparison: Unicode upper-casing maps other letters onto ASCII ("ınbox/x" → "INBOX/X").
        if raw.count > 5, raw[5] == UInt8(ascii: "/"), raw.prefix(5).map(Grammar.upper) == Array("INBOX".utf8) {
            s = "INBOX" + s.dropFirst(5)
        }
        if !utf8Accepted, let d = ModifiedUTF7.decode(Array(s.utf8)) { return d }
        return s
    }

    public var description: String { String(decoding: raw, as: UTF8.self) }
}

/// A sequence set element bound: a number or `*` (the largest in use).
public enum SequenceNumber: Sendable, Hashable {
    case number(UInt32)
    case last
}

/// One range of a sequence set, `a:b` or a single `a`.
public struct SequenceRange: Sendable, Hashable {
    public var from: SequenceNumber
    public var to: SequenceNumber
    public init(_ from: SequenceNumber, _ to: SequenceNumber) {
        self.from = from
        self.to = to
    }

    /// The closed range this denotes once `*` is known (an empty mailbox makes `*` 0).
    public func resolved(last: UInt32) -> ClosedRange<UInt32> {
        func v(_ n: SequenceNumber) -> UInt32 { if case .number(let x) = n { return x } else { return last } }
        let a = v(from), b = v(to)
        return min(a, b)...max(a, b)
    }
}

/// A sequence set (RFC 9051 `sequence-set`), or `$` (the saved search result, RFC 5182).
public enum SequenceSet: Sendable, Hashable {
    case ranges([SequenceRange])
    case lastSearchResult

    /// Whether `n` is in the set given the largest number in use.
    public func contains(_ n: UInt32, last: UInt32) -> Bool {
        guard case .ranges(let ranges) = self else { return false }
        return ranges.contains { $0.resolved(last: last).contains(n) }
    }
}

/// A message flag as written by a client.
public enum Flag: Sendable, Hashable {
    case seen, answered, flagged, deleted, draft
    /// `\Recent` (IMAP4rev1 only; never stored).
    case recent
    case keyword(String)
    /// Any other `\Name`: an extension flag Keep does not know.
    case `extension`(String)

    public var text: String {
        switch self {
        case .seen: return "\\Seen"
        case .answered: return "\\Answered"
        case .flagged: return "\\Flagged"
        case .deleted: return "\\Deleted"
        case .draft: return "\\Draft"
        case .recent: return "\\Recent"
        case .keyword(let k): return k
        case .extension(let e): return "\\" + e
        }
    }
}

/// STORE's operation.
public enum StoreOperation: Sendable, Hashable {
    case replace, add, remove
}

/// `STORE set [(UNCHANGEDSINCE n)] [+|-]FLAGS[.SILENT] (flags)`.
public struct StoreRequest: Sendable, Hashable {
    public var operation: StoreOperation
    public var silent: Bool
    public var flags: [Flag]
    public var unchangedSince: UInt64?
    public init(operation: StoreOperation, silent: Bool, flags: [Flag], unchangedSince: UInt64? = nil) {
        self.operation = operation; self.silent = silent; self.flags = flags; self.unchangedSince = unchangedSince
    }
}

/// A body section specifier: `[1.2.HEADER.FIELDS (A B)]`.
public struct SectionSpec: Sendable, Hashable {
    public enum Text: Sendable, Hashable {
        case header
        case headerFields([String])
        case headerFieldsNot([String])
        case text
        case mime
    }
    public var part: [Int]
    public var text: Text?
    public init(part: [Int] = [], text: Text? = nil) {
        self.part = part
        self.text = text
    }
}

/// `<offset.length>` of a partial fetch.
public struct Partial: Sendable, Hashable {
    public var offset: Int
    public var length: Int?
    public init(offset: Int, length: Int?) {
        self.offset = offset
        self.length = length
    }
}

/// One FETCH data item a client asks for.
public enum FetchAttribute: Sendable, Hashable {
    case envelope, flags, internalDate, rfc822Size, uid, bodyStructure, body
    case rfc822, rfc822Header, rfc822Text
    case modSeq
    /// `BODY[section]<partial>` or `BODY.PEEK[…]`.
    case bodySection(SectionSpec, Partial?, peek: Bool)
    /// `BINARY[part]<partial>` / `BINARY.PEEK`.
    case binary(part: [Int], Partial?, peek: Bool)
    case binarySize(part: [Int])
}

/// FETCH modifiers (CONDSTORE/QRESYNC).
public struct FetchModifiers: Sendable, Hashable {
    public var changedSince: UInt64?
    public var vanished: Bool
    public init(changedSince: UInt64? = nil, vanished: Bool = false) {
        self.changedSince = changedSince
        self.vanished = vanished
    }
}

/// A SEARCH key (RFC 9051 §6.4.4 plus MODSEQ from CONDSTORE).
public indirect enum SearchKey: Sendable, Hashable {
    case all
    case answered, deleted, draft, flagged, seen, recent, new, old
    case unanswered, undeleted, undraft, unflagged, unseen
    case keyword(String), unkeyword(String)
    case bcc(String), cc(String), from(String), to(String), subject(String), body(String), text(String)
    case header(String, String)
    case before(IMAPDate), on(IMAPDate), since(IMAPDate)
    case sentBefore(IMAPDate), sentOn(IMAPDate), sentSince(IMAPDate)
    case larger(UInt64), smaller(UInt64)
    case uid(SequenceSet)
    case sequence(SequenceSet)
    case not(SearchKey)
    case or(SearchKey, SearchKey)
    case and([SearchKey])
    case modSeq(UInt64)
}

/// A calendar date as SEARCH uses it (`date-day "-" date-month "-" date-year`).
public struct IMAPDate: Sendable, Hashable {
    public var year: Int
    public var month: Int
    public var day: Int
    public init(year: Int, month: Int, day: Int) {
        self.year = year; self.month = month; self.day = day
    }

    /// True when the day exists in that month of the proleptic Gregorian calendar (no 31-Apr, 29-Feb only in leap years).
    public var isValid: Bool {
        guard (1...12).contains(month), day >= 1 else { return false }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return day <= days[month - 1]
    }
}

/// A date-time as APPEND and INTERNALDATE use it, with its zone offset in minutes.
public struct IMAPDateTime: Sendable, Hashable {
    public var date: IMAPDate
    public var hour: Int, minute: Int, second: Int
    public var zoneMinutes: Int
    public init(date: IMAPDate, hour: Int, minute: Int, second: Int, zoneMinutes: Int) {
        self.date = date; self.hour = hour; self.minute = minute; self.second = second; self.zoneMinutes = zoneMinutes
    }

    /// Seconds since 1970-01-01 UTC.
    public var secondsSince1970: Int64 {
        let days = IMAPDateTime.daysFromCivil(year: date.year, month: date.month, day: date.day)
        return Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(zoneMinutes * 60)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

/// ESEARCH `RETURN (…)` options (RFC 4731 / RFC 9051).
public struct SearchReturnOptions: Sendable, Hashable {
    public var min = false, max = false, all = false, count = false, save = false
    public init() {}
    public var isEmpty: Bool { !(min || max || all || count || save) }
}

/// `SEARCH [RETURN (…)] [CHARSET c] keys`.
public struct SearchRequest: Sendable, Hashable {
    /// nil when no RETURN was given (a classic `* SEARCH` answer); empty options mean `RETURN ()` = ALL.
    public var returnOptions: SearchReturnOptions?
    public var charset: String?
    public var key: SearchKey
    public init(returnOptions: SearchReturnOptions?, charset: String?, key: SearchKey) {
        self.returnOptions = returnOptions; self.charset = charset; self.key = key
    }
}

/// STATUS data items.
public enum StatusAttribute: String, Sendable, Hashable, CaseIterable {
    case messages = "MESSAGES", uidNext = "UIDNEXT", uidValidity = "UIDVALIDITY", unseen = "UNSEEN"
    case deleted = "DELETED", size = "SIZE", recent = "RECENT", highestModSeq = "HIGHESTMODSEQ"
    case appendLimit = "APPENDLIMIT"
}

/// LIST-EXTENDED selection and return options (RFC 5258, RFC 6154, RFC 5819).
public struct ListOptions: Sendable, Hashable {
    public var subscribed = false, remote = false, recursiveMatch = false, specialUse = false
    public var returnSubscribed = false, returnChildren = false, returnSpecialUse = false
    public var returnStatus: [StatusAttribute]?
    public init() {}
}

/// SELECT/EXAMINE parameters: CONDSTORE, QRESYNC (RFC 7162).
public struct SelectParameters: Sendable, Hashable {
    public var condStore = false
    public var qresync: QResyncParameters?
    public init() {}
}

/// `QRESYNC (uidvalidity modseq [known-uids [(seq-match uid-match)]])`.
public struct QResyncParameters: Sendable, Hashable {
    public var uidValidity: UInt32
    public var modSeq: UInt64
    public var knownUIDs: SequenceSet?
    public var sequenceMatch: (SequenceSet, SequenceSet)? {
        get { matchSeq.map { ($0, matchUID!) } }
        set { matchSeq = newValue?.0; matchUID = newValue?.1 }
    }
    private var matchSeq: SequenceSet?
    private var matchUID: SequenceSet?
    public init(uidValidity: UInt32, modSeq: UInt64, knownUIDs: SequenceSet?) {
        self.uidValidity = uidValidity; self.modSeq = modSeq; self.knownUIDs = knownUIDs
    }
}

/// One message of an APPEND (MULTIAPPEND allows several).
public struct AppendMessage: Sendable, Hashable {
    public var flags: [Flag]
    public var internalDate: IMAPDateTime?
    /// The literal's bytes, as sent.
    public var data: [UInt8]
    /// True for `~{n}` (literal8, RFC 3516 BINARY append).
    public var binary: Bool
    public init(flags: [Flag], internalDate: IMAPDateTime?, data: [UInt8], binary: Bool = false) {
        self.flags = flags; self.internalDate = internalDate; self.data = data; self.binary = binary
    }
}

/// A METADATA entry value (RFC 5464): nil deletes.
public struct MetadataEntry: Sendable, Hashable {
    public var name: String
    public var value: [UInt8]?
    public init(name: String, value: [UInt8]?) { self.name = name; self.value = value }
}

/// GETMETADATA options.
public struct MetadataOptions: Sendable, Hashable {
    public var maxSize: Int?
    public var depth: String?
    public init() {}
}

/// What a command asks for.
public enum CommandKind: Sendable, Equatable {
    // Any state
    case capability, noop, logout
    case id([(String, String?)]?)
    // Not authenticated
    case starttls
    case authenticate(mechanism: String, initialResponse: [UInt8]?)
    case login(user: [UInt8], password: [UInt8])
    // Authenticated
    case enable([String])
    case select(MailboxName, SelectParameters)
    case examine(MailboxName, SelectParameters)
    case create(MailboxName, specialUse: [String])
    case delete(MailboxName)
    case rename(MailboxName, MailboxName)
    case subscribe(MailboxName), unsubscribe(MailboxName)
    case list(reference: MailboxName, patterns: [[UInt8]], ListOptions)
    case lsub(reference: MailboxName, pattern: [UInt8])
    case namespace
    case status(MailboxName, [StatusAttribute])
    case append(MailboxName, [AppendMessage])
    case idle
    case getMetadata(MetadataOptions, MailboxName, [String])
    case setMetadata(MailboxName, [MetadataEntry])
    case getQuota(String), getQuotaRoot(MailboxName)
    case setQuota(String, [(String, UInt64)])
    case compress(String)
    // Selected
    /// RFC 3501 §6.4.1 (IMAP4rev1 only; RFC 9051 dropped it): a checkpoint, answered like NOOP.
    case check
    case close, unselect, expunge
    case uidExpunge(SequenceSet)
    case search(SearchRequest, uid: Bool)
    case fetch(SequenceSet, [FetchAttribute], FetchModifiers, uid: Bool)
    case store(SequenceSet, StoreRequest, uid: Bool)
    case copy(SequenceSet, MailboxName, uid: Bool)
    case move(SequenceSet, MailboxName, uid: Bool)

    /// The command's name as clients write it, for logs.
    public var name: String {
        switch self {
        case .capability: return "CAPABILITY"
        case .noop: return "NOOP"
        case .check: return "CHECK"
        case .logout: return "LOGOUT"
        case .id: return "ID"
        case .starttls: return "STARTTLS"
        case .authenticate: return "AUTHENTICATE"
        case .login: return "LOGIN"
        case .enable: return "ENABLE"
        case .select: return "SELECT"
        case .examine: return "EXAMINE"
        case .create: return "CREATE"
        case .delete: return "DELETE"
        case .rename: return "RENAME"
        case .subscribe: return "SUBSCRIBE"
        case .unsubscribe: return "UNSUBSCRIBE"
        case .list: return "LIST"
        case .lsub: return "LSUB"
        case .namespace: return "NAMESPACE"
        case .status: return "STATUS"
        case .append: return "APPEND"
        case .idle: return "IDLE"
        case .getMetadata: return "GETMETADATA"
        case .setMetadata: return "SETMETADATA"
        case .getQuota: return "GETQUOTA"
        case .getQuotaRoot: return "GETQUOTAROOT"
        case .setQuota: return "SETQUOTA"
        case .compress: return "COMPRESS"
        case .close: return "CLOSE"
        case .unselect: return "UNSELECT"
        case .expunge: return "EXPUNGE"
        case .uidExpunge: return "UID EXPUNGE"
        case .search(_, let uid): return uid ? "UID SEARCH" : "SEARCH"
        case .fetch(_, _, _, let uid): return uid ? "UID FETCH" : "FETCH"
        case .store(_, _, let uid): return uid ? "UID STORE" : "STORE"
        case .copy(_, _, let uid): return uid ? "UID COPY" : "COPY"
        case .move(_, _, let uid): return uid ? "UID MOVE" : "MOVE"
        }
    }

    public static func == (a: CommandKind, b: CommandKind) -> Bool {
        switch (a, b) {
        case (.id(let x), .id(let y)):
            guard let x, let y else { return (x == nil) == (y == nil) }
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.setQuota(let r1, let l1), .setQuota(let r2, let l2)):
            return r1 == r2 && l1.count == l2.count && zip(l1, l2).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default:
            // `.id` and `.setQuota` have no mirror (nil): never let two of them compare equal through it.
            guard let x = CommandKind.comparable(a), let y = CommandKind.comparable(b) else { return false }
            return x == y
        }
    }

    /// A hashable mirror used for equality of the cases whose payloads are all Hashable.
    private static func comparable(_ k: CommandKind) -> AnyHashable? {
        switch k {
        case .capability, .noop, .check, .logout, .starttls, .namespace, .idle, .close, .unselect, .expunge:
            return AnyHashable(k.name)
        case .id, .setQuota: return nil
        case .authenticate(let m, let r): return AnyHashable([AnyHashable(k.name), AnyHashable(m), AnyHashable(r)])
        case .login(let u, let p): return AnyHashable([AnyHashable(k.name), AnyHashable(u), AnyHashable(p)])
        case .enable(let c): return AnyHashable([AnyHashable(k.name), AnyHashable(c)])
        case .select(let m, let p), .examine(let m, let p):
            return AnyHashable([AnyHashable(k.name), AnyHashable(m), AnyHashable(p)])
        case .create(let m, let u): return AnyHashable([AnyHashable(k.name), AnyHashable(m), AnyHashable(u)])
        case .delete(let m), .subscribe(let m), .unsubscribe(let m), .getQuotaRoot(let m):
            return AnyHashable([AnyHashable(k.name), AnyHashable(m)])
        case .rename(let a, let b): return AnyHashable([AnyHashable(k.name), AnyHashable(a), AnyHashable(b)])
        case .list(let r, let p, let o):
            return AnyHashable([AnyHashable(k.name), AnyHashable(r), AnyHashable(p), AnyHashable(o)])
        case .lsub(let r, let p): return AnyHashable([AnyHashable(k.name), AnyHashable(r), AnyHashable(p)])
        case .status(let m, let a): return AnyHashable([AnyHashable(k.name), AnyHashable(m), AnyHashable(a)])
        case .append(let m, let msgs): return AnyHashable([AnyHashable(k.name), AnyHashable(m), AnyHashable(msgs)])
        case .getMetadata(let o, let m, let e):
            return AnyHashable([AnyHashable(k.name), AnyHashable(o), AnyHashable(m), AnyHashable(e)])
        case .setMetadata(let m, let e): return AnyHashable([AnyHashable(k.name), AnyHashable(m), AnyHashable(e)])
        case .getQuota(let r), .compress(let r): return AnyHashable([AnyHashable(k.name), AnyHashable(r)])
        case .uidExpunge(let s): return AnyHashable([AnyHashable(k.name), AnyHashable(s)])
        case .search(let r, _): return AnyHashable([AnyHashable(k.name), AnyHashable(r)])
        case .fetch(let s, let a, let m, _):
            return AnyHashable([AnyHashable(k.name), AnyHashable(s), AnyHashable(a), AnyHashable(m)])
        case .store(let s, let r, _): return AnyHashable([AnyHashable(k.name), AnyHashable(s), AnyHashable(r)])
        case .copy(let s, let m, _), .move(let s, let m, _):
            return AnyHashable([AnyHashable(k.name), AnyHashable(s), AnyHashable(m)])
        }
    }
}
