import Foundation
import GRDB

/// A `folders` row.
struct FolderRecord: Sendable {
    var id: Int64
    var name: String
    var uidValidity: UInt32
    var uidNext: UInt32
    var highestModSeq: UInt64
    var subscribed: Bool
    var specialUse: SpecialUse?
    /// Counters the triggers of `FolderIndexSQL` keep exact.
    var messages: Int
    var unseen: Int
    var deleted: Int
    var size: Int64

    init(row: Row) {
        id = row["id"]
        name = row["name"]
        uidValidity = UInt32(truncatingIfNeeded: row["uidvalidity"] as Int64)
        uidNext = UInt32(truncatingIfNeeded: row["uidnext"] as Int64)
        highestModSeq = UInt64(row["highestmodseq"] as Int64)
        subscribed = row["subscribed"]
        specialUse = (row["special_use"] as String?).flatMap(SpecialUse.init(rawValue:))
        messages = row["messages"]
        unseen = row["unseen"]
        deleted = row["deleted"]
        size = row["size"]
    }

    var storeID: StoreID { StoreID(rawValue: UInt64(id)) }

    var info: FolderInfo {
        FolderInfo(id: storeID, name: name, uidValidity: uidValidity, uidNext: uidNext, highestModSeq: highestModSeq,
                   subscribed: subscribed, specialUse: specialUse)
    }

    var notice: FolderChangeNotice { FolderChangeNotice(folderID: storeID, highestModSeq: highestModSeq) }

    var status: FolderStatus {
        FolderStatus(messages: messages, unseen: unseen, deleted: deleted, size: size, uidNext: uidNext,
                     uidValidity: uidValidity, highestModSeq: highestModSeq)
    }
}

/// Row-level helpers shared by folder and message operations; all run inside a mailbox database transaction.
enum MailboxSQL {
    static let folderColumns = "id, name, uidvalidity, uidnext, highestmodseq, subscribed, special_use, messages, unseen, deleted, size"

    static func folder(_ db: Database, owner: String, name: String) throws -> FolderRecord? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT \(folderColumns) FROM folders WHERE owner = ? AND name = ?"),
                         arguments: [owner, name]).map(FolderRecord.init(row:))
    }

    static func folder(_ db: Database, owner: String, id: StoreID) throws -> FolderRecord? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT \(folderColumns) FROM folders WHERE owner = ? AND id = ?"),
                         arguments: [owner, Int64(bitPattern: id.rawValue)]).map(FolderRecord.init(row:))
    }

    static func requireFolder(_ db: Database, owner: String, name: String) throws -> FolderRecord {
        guard let folder = try folder(db, owner: owner, name: name) else { throw StoreError.noSuchFolder(name) }
        return folder
    }

    /// `requireFolder` inside a write transaction, creating INBOX when it is the folder asked for and missing (every
    /// user has one; it is made on first use).
    static func requireFolderCreatingInbox(_ db: Database, owner: String, name: String) throws -> FolderRecord {
        if let folder = try folder(db, owner: owner, name: name) { return folder }
        guard name == FolderName.inbox else { throw StoreError.noSuchFolder(name) }
        return try insertFolder(db, owner: owner, name: name, specialUse: nil)
    }

    static func requireFolder(_ db: Database, owner: String, id: StoreID) throws -> FolderRecord {
        guard let folder = try folder(db, owner: owner, id: id) else { throw StoreError.noSuchFolder("\(id)") }
        return folder
    }

    /// Takes `count` values of the database's 48-bit counter; returns the first.
    static func allocateCounter(_ db: Database, count: Int = 1) throws -> UInt64 {
        guard let first = try Int64.fetchOne(db.cachedStatement(sql: "SELECT counter FROM meta WHERE id = 1")) else {
            throw StoreError.corrupt("mailbox database has no meta row")
        }
        guard first + Int64(count) < (1 << 48) else { throw StoreError.corrupt("store id counter exhausted") }
        try db.cachedStatement(sql: "UPDATE meta SET counter = counter + ? WHERE id = 1").execute(arguments: [count])
        return UInt64(first)
    }

    /// A new UIDVALIDITY: the current time in seconds, but always above every value this database gave before.
    static func allocateUIDValidity(_ db: Database) throws -> UInt32 {
        let next = try Int64.fetchOne(db.cachedStatement(sql: "SELECT next_uidvalidity FROM meta WHERE id = 1")) ?? 1
        var value = max(next, Int64(Date().timeIntervalSince1970)) & 0xFFFF_FFFF
        if value == 0 { value = 1 }
        try db.cachedStatement(sql: "UPDATE meta SET next_uidvalidity = ? WHERE id = 1").execute(arguments: [value + 1])
        return UInt32(value)
    }

    static func insertFolder(_ db: Database, owner: String, name: String, specialUse: SpecialUse?) throws
        -> FolderRecord
    {
        let id = StoreID(replicaID: 1, counter: try allocateCounter(db))
        try db.cachedStatement(sql: """
            INSERT INTO folders(id, owner, name, uidvalidity, uidnext, highestmodseq, subscribed, special_use,
                                created_at)
            VALUES (?, ?, ?, ?, 1, 1, 1, ?, ?)
            """).execute(arguments: [Int64(bitPattern: id.rawValue), owner, name, Int64(try allocateUIDValidity(db)),
                             specialUse?.rawValue, Date().timeIntervalSince1970])
        return try requireFolder(db, owner: owner, id: id)
    }

    /// Takes the folder's next modseq and stores it as its HIGHESTMODSEQ.
    static func bumpModSeq(_ db: Database, folder: inout FolderRecord) throws -> UInt64 {
        folder.highestModSeq += 1
        try db.cachedStatement(sql: "UPDATE folders SET highestmodseq = ? WHERE id = ?")
            .execute(arguments: [Int64(folder.highestModSeq), folder.id])
        return folder.highestModSeq
    }

    /// Takes `count` UIDs of the folder; returns the first.
    static func allocateUIDs(_ db: Database, folder: inout FolderRecord, count: Int) throws -> UInt32 {
        let first = folder.uidNext
        guard UInt64(first) + UInt64(count) <= UInt64(UInt32.max) else {
            throw StoreError.corrupt("UID space of \(folder.name) exhausted")
        }
        folder.uidNext = first + UInt32(count)
        try db.cachedStatement(sql: "UPDATE folders SET uidnext = ? WHERE id = ?").execute(arguments: [Int64(folder.uidNext), folder.id])
        return first
    }

    /// Deletes bodies no message refers to any more, among `candidates`.
    static func deleteUnreferencedBodies(_ db: Database, candidates: [Int64]) throws {
        guard !candidates.isEmpty else { return }
        try db.cachedStatement(sql: """
            DELETE FROM bodies WHERE id IN (SELECT value FROM json_each(?))
            AND NOT EXISTS (SELECT 1 FROM messages WHERE messages.body_id = bodies.id)
            """).executeReleasingArguments([IntegerList(candidates).json], count: 1)
    }
}

extension SQLiteStore {
    /// Creates the user's INBOX when it is missing (a user added while their database was unavailable).
    @discardableResult
    func ensureInbox(_ user: ResolvedUser) async throws -> FolderRecord {
        let owner = user.owner
        return try await user.mdb.pool.write { db in
            try MailboxSQL.requireFolderCreatingInbox(db, owner: owner, name: FolderName.inbox)
        }
    }

    /// Deletes a folder's messages, tombstones, keywords and no longer referenced bodies, then the folder.
    static func deleteFolderRows(_ db: Database, folderID: Int64) throws {
        let bodies = try Int64.fetchAll(db.cachedStatement(sql: "SELECT DISTINCT body_id FROM messages WHERE folder_id = ?"),
                                        arguments: [folderID])
        try db.cachedStatement(sql: "DELETE FROM messages WHERE folder_id = ?").execute(arguments: [folderID])
        try db.cachedStatement(sql: "DELETE FROM expunged WHERE folder_id = ?").execute(arguments: [folderID])
        try db.cachedStatement(sql: "DELETE FROM folders WHERE id = ?").execute(arguments: [folderID])
        try MailboxSQL.deleteUnreferencedBodies(db, candidates: bodies)
    }

    public func listFolders(user: String) async throws -> [FolderInfo] {
        let resolved = try await resolve(user: user)
        let owner = resolved.owner
        var folders = try await resolved.mdb.pool.read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT \(MailboxSQL.folderColumns) FROM folders WHERE owner = ? "
                                                + "ORDER BY name <> 'INBOX', name"),
                             arguments: [owner]).map { FolderRecord(row: $0).info }
        }
        if !folders.contains(where: { $0.name == FolderName.inbox }) {
            folders.insert(try await ensureInbox(resolved).info, at: 0)
        }
        return folders
    }

    public func createFolder(user: String, name: String, specialUse: SpecialUse?) async throws -> FolderInfo {
        let canonical = try FolderName.canonicalForCreate(name)
        let resolved = try await resolve(user: user)
        let owner = resolved.owner
        return try await resolved.mdb.pool.write { db in
            if try MailboxSQL.folder(db, owner: owner, name: canonical) != nil {
                throw StoreError.folderExists(canonical)
            }
            try Self.createMissingParents(db, owner: owner, of: canonical)
            return try MailboxSQL.insertFolder(db, owner: owner, name: canonical, specialUse: specialUse).info
        }
    }

    public func deleteFolder(user: String, name: String) async throws {
        let canonical = try FolderName.canonical(name)
        guard canonical != FolderName.inbox else { throw StoreError.cannotDeleteInbox }
        let resolved = try await resolve(user: user)
        let owner = resolved.owner
        let deleted = try await resolved.mdb.pool.write { db in
            let folder = try MailboxSQL.requireFolder(db, owner: owner, name: canonical)
            let (lower, upper) = FolderName.childRange(of: canonical)
            if try Bool.fetchOne(db.cachedStatement(sql: """
                SELECT EXISTS (SELECT 1 FROM folders WHERE owner = ? AND name >= ? AND name < ?)
                """), arguments: [owner, lower, upper]) == true {
                throw StoreError.folderHasChildren(canonical)
            }
            try Self.deleteFolderRows(db, folderID: folder.id)
            return folder
        }
        watchers.notify(FolderChangeNotice(folderID: deleted.storeID, highestModSeq: deleted.highestModSeq + 1))
    }

    public func renameFolder(user: String, from: String, to: String) async throws {
        let source = try FolderName.canonical(from)
        let target = try FolderName.canonicalForCreate(to)
        guard target != FolderName.inbox else { throw StoreError.folderExists(FolderName.inbox) }
        if target == source { throw StoreError.folderExists(target) }
        if target.hasPrefix(source + "/") {
            throw StoreError.invalidFolderName(to, reason: "a mailbox cannot be moved below itself")
        }
        let resolved = try await resolve(user: user)
        let owner = resolved.owner
        let notices = try await resolved.mdb.pool.write { db -> [FolderChangeNotice] in
            var folder = try MailboxSQL.requireFolder(db, owner: owner, name: source)
            if try MailboxSQL.folder(db, owner: owner, name: target) != nil { throw StoreError.folderExists(target) }

            if source == FolderName.inbox {
                // RFC 9051 §6.3.6: INBOX's messages move to a new folder; INBOX stays, empty. Children of INBOX
                // stay where they are.
                try Self.createMissingParents(db, owner: owner, of: target)
                var destination = try MailboxSQL.insertFolder(db, owner: owner, name: target, specialUse: nil)
                let uids = try Int64.fetchAll(db.cachedStatement(sql: "SELECT uid FROM messages WHERE folder_id = ? ORDER BY uid"),
                                              arguments: [folder.id])
                let modseq = try MailboxSQL.bumpModSeq(db, folder: &folder)
                destination.uidNext = folder.uidNext
                destination.highestModSeq = modseq
                try db.execute(sql: "UPDATE folders SET uidnext = ?, highestmodseq = ? WHERE id = ?",
                               arguments: [Int64(destination.uidNext), Int64(modseq), destination.id])
                try db.execute(sql: "UPDATE messages SET folder_id = ?, modseq = ? WHERE folder_id = ?",
                               arguments: [destination.id, Int64(modseq), folder.id])
                for uid in uids {
                    try db.cachedStatement(sql: "INSERT OR REPLACE INTO expunged(folder_id, uid, modseq) VALUES (?, ?, ?)").execute(
                                   arguments: [folder.id, uid, Int64(modseq)])
                }
                return [folder.notice]
            }

            let (lower, upper) = FolderName.childRange(of: source)
            let children = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT id, name FROM folders WHERE owner = ? AND name >= ? AND name < ?
                """), arguments: [owner, lower, upper])
            var renames: [(id: Int64, name: String)] = [(folder.id, target)]
            for child in children {
                let name: String = child["name"]
                renames.append((child["id"], target + name.dropFirst(source.count)))
            }
            for rename in renames.dropFirst() {
                guard rename.name.utf8.count <= FolderName.maxBytes else {
                    throw StoreError.invalidFolderName(rename.name, reason: "the name is longer than 255 bytes")
                }
                if try MailboxSQL.folder(db, owner: owner, name: rename.name) != nil {
                    throw StoreError.folderExists(rename.name)
                }
            }
            for rename in renames {
                try db.cachedStatement(sql: "UPDATE folders SET name = ? WHERE id = ?").execute(arguments: [rename.name, rename.id])
            }
            try Self.createMissingParents(db, owner: owner, of: target)
            return []
        }
        watchers.notify(notices)
    }

    /// RFC 9051 §6.3.4/§6.3.6: CREATE and RENAME create the superior names a new name needs (`A` for `A/B/C`, then
    /// `A/B`), so that every level of the hierarchy is a mailbox a client browsing with `%` can see and select.
    static func createMissingParents(_ db: Database, owner: String, of name: String) throws {
        let parts = name.split(separator: FolderName.delimiter, omittingEmptySubsequences: false)
        guard parts.count > 1 else { return }
        for depth in 1..<parts.count {
            let parent = parts[0..<depth].joined(separator: String(FolderName.delimiter))
            if try MailboxSQL.folder(db, owner: owner, name: parent) == nil {
                _ = try MailboxSQL.insertFolder(db, owner: owner, name: parent, specialUse: nil)
            }
        }
    }

    public func setSubscribed(user: String, name: String, _ subscribed: Bool) async throws {
        let canonical = try FolderName.canonical(name)
        let resolved = try await resolve(user: user)
        let owner = resolved.owner
        try await resolved.mdb.pool.write { db in
            let folder = try MailboxSQL.requireFolder(db, owner: owner, name: canonical)
            try db.cachedStatement(sql: "UPDATE folders SET subscribed = ? WHERE id = ?").execute(arguments: [subscribed, folder.id])
        }
    }

    /// Runs `body` in one read of `user`'s folder `canonical`; a missing INBOX is created first (a write only then,
    /// so that SELECT and STATUS do not queue behind the database's writer).
    private func readFolder<T: Sendable>(user: String, name canonical: String,
                                         _ body: @escaping @Sendable (Database, FolderRecord, ResolvedUser) throws -> T) async throws -> T {
        let read: T? = try await readMailbox(user: user) { db, resolved in
            guard let folder = try MailboxSQL.folder(db, owner: resolved.owner, name: canonical) else {
                if canonical == FolderName.inbox { return nil }
                throw StoreError.noSuchFolder(canonical)
            }
            return try body(db, folder, resolved)
        }
        if let read { return read }
        let resolved = try await resolve(user: user)
        let owner = resolved.owner
        _ = try await ensureInbox(resolved)
        return try await resolved.mdb.pool.read { db in
            try body(db, try MailboxSQL.requireFolder(db, owner: owner, name: canonical), resolved)
        }
    }

    /// STATUS from the folder's counters (kept by the store's triggers): one row, whatever the folder's size.
    public func folderStatus(user: String, name: String) async throws -> FolderStatus {
        let canonical = try FolderName.canonical(name)
        return try await readFolder(user: user, name: canonical) { _, folder, _ in folder.status }
    }

    /// SELECT without reading the folder's messages: its counters, its UIDs as runs, the first unseen UID (from the
    /// partial index of unseen messages) and the keywords ever used in it — O(runs + keywords), not O(messages).
    public func openFolder(user: String, name: String) async throws -> FolderSnapshot {
        let canonical = try FolderName.canonical(name)
        return try await readFolder(user: user, name: canonical) { db, folder, resolved in
            let runs = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT start, count FROM uid_runs WHERE folder_id = ? ORDER BY start
                """), arguments: [folder.id]).map { row in
                (start: UInt32(truncatingIfNeeded: row[0] as Int64), count: UInt32(truncatingIfNeeded: row[1] as Int64))
            }
            let firstUnseen = try Int64.fetchOne(db.cachedStatement(sql: """
                SELECT min(uid) FROM messages WHERE folder_id = ? AND flags & 1 = 0
                """), arguments: [folder.id]).map { UInt32(truncatingIfNeeded: $0) }
            let keywords = try String.fetchAll(db.cachedStatement(sql: """
                SELECT np.name FROM folder_keywords fk JOIN named_props np ON np.propid = fk.propid
                WHERE fk.folder_id = ? ORDER BY fk.propid
                """), arguments: [folder.id])
            return FolderSnapshot(folder: folder.info, status: folder.status, uids: UIDRuns(runs: runs),
                                  firstUnseen: firstUnseen, keywords: keywords,
                                  canCreateKeywords: try Self.keywordsCreatable(db, quota: resolved.mdb.quotas.namedProps))
        }
    }
}
