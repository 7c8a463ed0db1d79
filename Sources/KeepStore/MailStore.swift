public import Foundation

// The storage contract the protocol servers talk to. KeepServer, KeepIMAPServer and KeepLMTPServer see only these
// types; SQLite (GRDB) lives behind them so that another backend can serve later. Nothing here knows IMAP syntax.

/// A 64-bit store id: 16-bit replica id in the high bits, 48-bit counter below (as in the seed's store).
public struct StoreID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(replicaID: UInt16, counter: UInt64) {
        precondition(counter < (1 << 48), "store counter exceeds 48 bits")
        self.rawValue = (UInt64(replicaID) << 48) | counter
    }
    public var replicaID: UInt16 { UInt16(truncatingIfNeeded: rawValue >> 48) }
    public var counter: UInt64 { rawValue & ((1 << 48) - 1) }
    public static func < (a: StoreID, b: StoreID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { String(format: "%04X-%012llX", Int(replicaID), counter) }
}

/// On whose behalf a store call is made: recorded with named properties and events.
public enum Principal: Sendable, Hashable, CustomStringConvertible {
    /// The store itself while mounting (exempt from named-property quotas).
    case system
    /// A logged-in user.
    case user(String)
    /// An unauthenticated sender, e.g. an LMTP delivery (`MAIL FROM` address, possibly empty).
    case unauthenticated(String)
    public var description: String {
        switch self {
        case .system: return "SYSTEM"
        case .user(let name): return name
        case .unauthenticated(let sender): return sender.isEmpty ? "<unauthenticated>" : "<unauthenticated \(sender)>"
        }
    }
}

/// The IMAP system flags a message can carry, as a bit set.
public struct SystemFlags: OptionSet, Hashable, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let seen = SystemFlags(rawValue: 1 << 0)
    public static let answered = SystemFlags(rawValue: 1 << 1)
    public static let flagged = SystemFlags(rawValue: 1 << 2)
    public static let deleted = SystemFlags(rawValue: 1 << 3)
    public static let draft = SystemFlags(rawValue: 1 << 4)
}

/// A message's flags: system flags plus keywords (keyword spelling preserved; compared case-insensitively).
public struct MessageFlags: Hashable, Sendable {
    public var system: SystemFlags
    public var keywords: [String]
    public init(system: SystemFlags = [], keywords: [String] = []) {
        self.system = system
        self.keywords = keywords
    }
}

/// How a STORE changes flags.
public enum FlagOperation: Sendable, Hashable { case add, remove, replace }

/// RFC 6154 special-use attributes Keep assigns to folders.
public enum SpecialUse: String, Sendable, Hashable, CaseIterable {
    case all = "\\All", archive = "\\Archive", drafts = "\\Drafts", flagged = "\\Flagged"
    case junk = "\\Junk", sent = "\\Sent", trash = "\\Trash"
}

/// What a folder list entry says about one folder. Names are UTF-8 with "/" as the hierarchy delimiter; "INBOX" is
/// always spelt in upper case.
public struct FolderInfo: Sendable, Hashable {
    public var id: StoreID
    public var name: String
    public var uidValidity: UInt32
    public var uidNext: UInt32
    public var highestModSeq: UInt64
    public var subscribed: Bool
    public var specialUse: SpecialUse?
    public init(id: StoreID, name: String, uidValidity: UInt32, uidNext: UInt32, highestModSeq: UInt64,
                subscribed: Bool, specialUse: SpecialUse?) {
        self.id = id; self.name = name; self.uidValidity = uidValidity; self.uidNext = uidNext
        self.highestModSeq = highestModSeq; self.subscribed = subscribed; self.specialUse = specialUse
    }
}

/// Counts for STATUS.
public struct FolderStatus: Sendable, Hashable {
    public var messages: Int
    public var unseen: Int
    public var deleted: Int
    public var size: Int64
    public var uidNext: UInt32
    public var uidValidity: UInt32
    public var highestModSeq: UInt64
    public init(messages: Int, unseen: Int, deleted: Int, size: Int64, uidNext: UInt32, uidValidity: UInt32,
                highestModSeq: UInt64) {
        self.messages = messages; self.unseen = unseen; self.deleted = deleted; self.size = size
        self.uidNext = uidNext; self.uidValidity = uidValidity; self.highestModSeq = highestModSeq
    }
}

/// One message as a selected folder's session tracks it.
public struct MessageSummary: Sendable, Hashable {
    public var uid: UInt32
    public var flags: MessageFlags
    public var modSeq: UInt64
    public init(uid: UInt32, flags: MessageFlags, modSeq: UInt64) {
        self.uid = uid; self.flags = flags; self.modSeq = modSeq
    }
}

/// The state of a folder at the moment it is opened (SELECT/EXAMINE): what the client is told, and the sequence
/// number map its view starts from — never the messages themselves.
public struct FolderSnapshot: Sendable {
    public var folder: FolderInfo
    public var status: FolderStatus
    /// The folder's UIDs (sequence number n is the n-th).
    public var uids: UIDRuns
    /// The lowest UID without `\Seen`.
    public var firstUnseen: UInt32?
    /// The keywords used in the folder (for FLAGS), in the order they were first used.
    public var keywords: [String]
    /// Whether new keywords may be created now (the named-property quota has room): PERMANENTFLAGS `\*`.
    public var canCreateKeywords: Bool
    public init(folder: FolderInfo, status: FolderStatus, uids: UIDRuns, firstUnseen: UInt32?, keywords: [String],
                canCreateKeywords: Bool = true) {
        self.folder = folder; self.status = status; self.uids = uids; self.firstUnseen = firstUnseen
        self.keywords = keywords
        self.canCreateKeywords = canCreateKeywords
    }
}

/// Everything that changed in a folder after a given modseq.
public struct FolderChanges: Sendable {
    public var highestModSeq: UInt64
    public var uidNext: UInt32
    /// Messages added or whose flags changed after the given modseq, ascending by UID.
    public var changed: [MessageSummary]
    /// UIDs expunged after the given modseq, ascending.
    public var expunged: [UInt32]
    public init(highestModSeq: UInt64, uidNext: UInt32, changed: [MessageSummary], expunged: [UInt32]) {
        self.highestModSeq = highestModSeq; self.uidNext = uidNext; self.changed = changed; self.expunged = expunged
    }
}

/// Which parts of a message a fetch needs; the store reads only those.
public struct FetchNeeds: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// uid, flags, modseq, internal date, size (always cheap).
    public static let metadata = FetchNeeds(rawValue: 1 << 0)
    /// The ENVELOPE computed at delivery.
    public static let envelope = FetchNeeds(rawValue: 1 << 1)
    /// BODYSTRUCTURE (extended) and BODY (non-extended) computed at delivery.
    public static let bodyStructure = FetchNeeds(rawValue: 1 << 2)
    /// The message bytes, byte-exact as delivered.
    public static let raw = FetchNeeds(rawValue: 1 << 3)
    /// The header section's bytes only (through the blank line), read without reading the body.
    public static let header = FetchNeeds(rawValue: 1 << 4)
}

/// One fetched message. Fields not asked for in `FetchNeeds` are nil.
public struct MessageData: Sendable {
    public var uid: UInt32
    public var flags: MessageFlags
    public var modSeq: UInt64
    public var internalDate: Date
    public var size: Int
    /// IMAP ENVELOPE syntax, as KeepMIME rendered it at delivery.
    public var envelope: [UInt8]?
    /// IMAP BODYSTRUCTURE syntax (with extension data).
    public var bodyStructure: [UInt8]?
    /// IMAP BODY syntax (without extension data).
    public var body: [UInt8]?
    /// The message bytes.
    public var raw: [UInt8]?
    /// The header section's bytes, when `FetchNeeds.header` was asked for.
    public var header: [UInt8]?
    public init(uid: UInt32, flags: MessageFlags, modSeq: UInt64, internalDate: Date, size: Int,
                envelope: [UInt8]? = nil, bodyStructure: [UInt8]? = nil, body: [UInt8]? = nil, raw: [UInt8]? = nil) {
        self.uid = uid; self.flags = flags; self.modSeq = modSeq; self.internalDate = internalDate; self.size = size
        self.envelope = envelope; self.bodyStructure = bodyStructure; self.body = body; self.raw = raw
    }
}

/// The result of an APPEND or delivery: what UIDPLUS reports.
public struct AppendResult: Sendable, Hashable {
    public var uidValidity: UInt32
    public var uid: UInt32
    /// The folder appended to and its HIGHESTMODSEQ around the append; nil where the store cannot tell.
    public var folder: StoreID?
    public var modSeq: ModSeqStep?
    public init(uidValidity: UInt32, uid: UInt32, folder: StoreID? = nil, modSeq: ModSeqStep? = nil) {
        self.uidValidity = uidValidity
        self.uid = uid
        self.folder = folder
        self.modSeq = modSeq
    }
}

/// The result of COPY/MOVE: what COPYUID reports. `mapping` pairs source and destination UIDs, ascending by source.
public struct CopyResult: Sendable, Hashable {
    public var uidValidity: UInt32
    public var mapping: [(source: UInt32, destination: UInt32)]
    public init(uidValidity: UInt32, mapping: [(source: UInt32, destination: UInt32)]) {
        self.uidValidity = uidValidity; self.mapping = mapping
    }
    public static func == (a: CopyResult, b: CopyResult) -> Bool {
        a.uidValidity == b.uidValidity && a.mapping.map(\.source) == b.mapping.map(\.source)
            && a.mapping.map(\.destination) == b.mapping.map(\.destination)
    }
    public func hash(into h: inout Hasher) {
        h.combine(uidValidity); for m in mapping { h.combine(m.source); h.combine(m.destination) }
    }
}

/// A user account as the directory knows it.
public struct UserInfo: Sendable, Hashable, Codable {
    public var name: String
    public var database: String
    public init(name: String, database: String) { self.name = name; self.database = database }
}

/// Whether a mailbox database holds users' private mailboxes or shared public folders.
public enum DatabaseKind: String, Sendable, Hashable, Codable { case `private`, `public` }

/// A mailbox database as the directory knows it.
public struct DatabaseInfo: Sendable, Hashable, Codable {
    public var name: String
    public var kind: DatabaseKind
    /// The MDB's own replica GUID (replica id 1), e.g. "6F9619FF-8B86-D011-B42D-00C04FC964FF".
    public var guid: String
    public var mounted: Bool
    public init(name: String, kind: DatabaseKind, guid: String, mounted: Bool) {
        self.name = name; self.kind = kind; self.guid = guid; self.mounted = mounted
    }
}

/// Every way a store call can fail, each with a message a person can act on.
public enum StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    case noSuchUser(String)
    case userExists(String)
    case invalidUserName(String)
    case noSuchDatabase(String)
    case databaseExists(String)
    case invalidDatabaseName(String)
    case databaseUnavailable(String)
    case databaseNotEmpty(String, users: Int)
    case noSuchFolder(String)
    case folderExists(String)
    case invalidFolderName(String, reason: String)
    case cannotDeleteInbox
    case folderHasChildren(String)
    case messageTooLarge(size: Int, limit: Int)
    /// A new keyword (a named property) could not be created: the database's named-property quota is reached.
    case namedPropertyQuotaReached(database: String, quota: Int)
    case replicaIDQuotaReached(database: String, quota: Int)
    case corrupt(String)

    public var description: String {
        switch self {
        case .noSuchUser(let n): return "no such user: \(n)"
        case .userExists(let n): return "user already exists: \(n)"
        case .invalidUserName(let n): return "invalid user name \"\(n)\": use 1-64 of a-z A-Z 0-9 . _ - @ +"
        case .noSuchDatabase(let n): return "no such mailbox database: \(n)"
        case .databaseExists(let n): return "mailbox database already exists: \(n)"
        case .invalidDatabaseName(let n): return "invalid database name \"\(n)\": use 1-64 of a-z A-Z 0-9 _ -"
        case .databaseUnavailable(let n): return "mailbox database \(n) is not mounted"
        case .databaseNotEmpty(let n, let users): return "mailbox database \(n) still holds \(users) mailbox(es); move them first"
        case .noSuchFolder(let n): return "no such mailbox: \(n)"
        case .folderExists(let n): return "mailbox already exists: \(n)"
        case .invalidFolderName(let n, let reason): return "invalid mailbox name \"\(n)\": \(reason)"
        case .cannotDeleteInbox: return "INBOX cannot be deleted"
        case .folderHasChildren(let n): return "mailbox \(n) has children and cannot be deleted"
        case .messageTooLarge(let size, let limit): return "message of \(size) bytes exceeds the limit of \(limit) bytes"
        case .namedPropertyQuotaReached(let db, let quota):
            return "named-property quota of database \(db) reached (\(quota)); no new keywords can be created"
        case .replicaIDQuotaReached(let db, let quota): return "replica-id quota of database \(db) reached (\(quota))"
        case .corrupt(let why): return "store corrupt: \(why)"
        }
    }
}

/// What a STORE did: the messages whose flags changed, and (with UNCHANGEDSINCE) the UIDs left alone because they
/// changed after the given modseq.
public struct StoreFlagsResult: Sendable, Hashable {
    /// Ascending by UID.
    public var changed: [MessageSummary]
    /// Ascending UIDs that failed the UNCHANGEDSINCE test (RFC 7162 MODIFIED).
    public var modified: [UInt32]
    /// The folder's HIGHESTMODSEQ around the write; nil where the store cannot tell.
    public var modSeq: ModSeqStep?
    public init(changed: [MessageSummary], modified: [UInt32], modSeq: ModSeqStep? = nil) {
        self.changed = changed
        self.modified = modified
        self.modSeq = modSeq
    }
}

/// A folder's HIGHESTMODSEQ when a write began (inside its transaction) and when it committed. A session that knew
/// the folder at `before` has nothing more to learn than the write's own changes: it may take `after` as known
/// without reading the changes back.
public struct ModSeqStep: Sendable, Hashable {
    public var before: UInt64
    public var after: UInt64
    public init(before: UInt64, after: UInt64) {
        self.before = before
        self.after = after
    }
}

/// What an EXPUNGE removed, and the folder's HIGHESTMODSEQ around it.
public struct ExpungeResult: Sendable, Hashable {
    /// Ascending.
    public var expunged: [UInt32]
    /// Nil where the store cannot tell.
    public var modSeq: ModSeqStep?
    public init(expunged: [UInt32], modSeq: ModSeqStep? = nil) {
        self.expunged = expunged
        self.modSeq = modSeq
    }
}

/// Change notices a folder's watchers receive after a commit (new messages, flag changes, expunges).
public struct FolderChangeNotice: Sendable, Hashable {
    public var folderID: StoreID
    public var highestModSeq: UInt64
    public init(folderID: StoreID, highestModSeq: UInt64) { self.folderID = folderID; self.highestModSeq = highestModSeq }
}

/// The storage contract of Keep: directory (users, databases) and every user's mailbox. All calls run their
/// database work off the caller's thread (never on a NIO event loop) and return only after any write is durable.
public protocol MailStore: AnyObject, Sendable {
    // MARK: Directory
    /// Checks a password in constant time whether or not the user exists. Returns the canonical user name.
    func authenticate(user: String, password: String) async throws -> UserInfo?
    func addUser(_ name: String, password: String, database: String?) async throws -> UserInfo
    func setPassword(user: String, password: String) async throws
    func removeUser(_ name: String) async throws
    func listUsers() async throws -> [UserInfo]
    func user(named: String) async throws -> UserInfo?
    func createDatabase(_ name: String, kind: DatabaseKind) async throws -> DatabaseInfo
    func listDatabases() async throws -> [DatabaseInfo]

    // MARK: Folders (names UTF-8, "/" delimiter, INBOX case-insensitive)
    func listFolders(user: String) async throws -> [FolderInfo]
    func createFolder(user: String, name: String, specialUse: SpecialUse?) async throws -> FolderInfo
    func deleteFolder(user: String, name: String) async throws
    /// Renaming INBOX moves its messages to the new folder and leaves INBOX empty (RFC 9051 §6.3.6).
    func renameFolder(user: String, from: String, to: String) async throws
    func setSubscribed(user: String, name: String, _ subscribed: Bool) async throws
    func folderStatus(user: String, name: String) async throws -> FolderStatus
    func openFolder(user: String, name: String) async throws -> FolderSnapshot

    // MARK: Messages (folder given by the id from openFolder)
    func changes(user: String, folder: StoreID, sinceModSeq: UInt64) async throws -> FolderChanges
    func fetch(user: String, folder: StoreID, uids: [UInt32], needs: FetchNeeds) async throws -> [MessageData]
    /// `fetch`, plus the folder's HIGHESTMODSEQ read in the same transaction: a caller that knows the folder up to
    /// that modseq learns that nothing changed without asking `changes`.
    func fetchWithModSeq(user: String, folder: StoreID, uids: [UInt32], needs: FetchNeeds) async throws
        -> (messages: [MessageData], highestModSeq: UInt64?)
    /// The messages of `folder` that `filter` matches (UID ≤ `maxUID`), ascending — answered by the store's indexes.
    func search(user: String, folder: StoreID, filter: MessageFilter, maxUID: UInt32) async throws -> [MatchedMessage]
    /// The folder's messages changed after `modSeq` (CONDSTORE CHANGEDSINCE), found by modseq — the cost follows the
    /// changes, not the folder's size — with its HIGHESTMODSEQ read in the same transaction.
    func fetchChanged(user: String, folder: StoreID, since modSeq: UInt64, needs: FetchNeeds) async throws
        -> (messages: [MessageData], highestModSeq: UInt64?)
    /// Appends a message; `internalDate` nil means now. Throws `.noSuchFolder` (→ TRYCREATE).
    func append(user: String, folder name: String, message: [UInt8], flags: MessageFlags, internalDate: Date?,
                principal: Principal) async throws -> AppendResult
    /// Returns the summaries of the messages whose flags changed.
    func storeFlags(user: String, folder: StoreID, uids: [UInt32], operation: FlagOperation, flags: MessageFlags,
                    unchangedSince: UInt64?) async throws -> [MessageSummary]
    /// `storeFlags` that also reports the UIDs whose UNCHANGEDSINCE test failed (RFC 7162 MODIFIED response code).
    func storeFlagsReportingConflicts(user: String, folder: StoreID, uids: [UInt32], operation: FlagOperation,
                                      flags: MessageFlags, unchangedSince: UInt64?) async throws -> StoreFlagsResult
    /// Removes messages flagged \Deleted (restricted to `uids` when given); returns the expunged UIDs ascending.
    func expunge(user: String, folder: StoreID, uids: [UInt32]?) async throws -> [UInt32]
    /// `expunge` that also reports the folder's HIGHESTMODSEQ around it.
    func expungeWithModSeq(user: String, folder: StoreID, uids: [UInt32]?) async throws -> ExpungeResult
    func copy(user: String, folder: StoreID, uids: [UInt32], to destination: String) async throws -> CopyResult
    /// Copy then expunge the sources in one transaction.
    func move(user: String, folder: StoreID, uids: [UInt32], to destination: String) async throws -> CopyResult

    /// A stream of change notices for one folder; ends when the returned stream is dropped or the store closes.
    func watch(folder: StoreID) -> AsyncStream<FolderChangeNotice>

    /// Flushes and closes every database.
    func close() async throws

    // MARK: Named properties as the protocol servers see them
    /// False when the user's database has reached its named-property quota: new keywords would be refused
    /// (IMAP then stops offering `\*` in PERMANENTFLAGS).
    func canCreateKeywords(user: String) async throws -> Bool
    /// UIDs of the folder's messages whose promoted header `name` contains `containing` (case-insensitive); nil when
    /// the header is not indexed for every message of the folder (the caller then parses the messages).
    func messagesWithHeader(user: String, folder: StoreID, name: String, containing: String) async throws -> [UInt32]?
}

extension MailStore {
    /// A default for stores that cannot read both at once: no modseq, so the caller asks `changes`.
    public func fetchWithModSeq(user: String, folder: StoreID, uids: [UInt32], needs: FetchNeeds) async throws
        -> (messages: [MessageData], highestModSeq: UInt64?)
    {
        (try await fetch(user: user, folder: folder, uids: uids, needs: needs), nil)
    }

    /// A default for stores without named-property quotas.
    public func canCreateKeywords(user: String) async throws -> Bool { true }

    /// A default for stores without a header index.
    public func messagesWithHeader(user: String, folder: StoreID, name: String, containing: String) async throws -> [UInt32]? {
        nil
    }

    /// A default for stores that cannot tell the folder's modseq around a write.
    public func expungeWithModSeq(user: String, folder: StoreID, uids: [UInt32]?) async throws -> ExpungeResult {
        ExpungeResult(expunged: try await expunge(user: user, folder: folder, uids: uids))
    }

    /// A default for stores that cannot tell: reports no conflicts. `SQLiteStore` implements it exactly.
    public func storeFlagsReportingConflicts(user: String, folder: StoreID, uids: [UInt32], operation: FlagOperation,
                                             flags: MessageFlags, unchangedSince: UInt64?) async throws
        -> StoreFlagsResult
    {
        StoreFlagsResult(changed: try await storeFlags(user: user, folder: folder, uids: uids, operation: operation,
                                                       flags: flags, unchangedSince: unchangedSince),
                         modified: [])
    }
}
