public import Foundation
import GRDB

/// Message-level helpers run inside mailbox database transactions.
enum MessageSQL {
    /// Keyword names of every message of a folder, keyed by message id, in property-id order.
    static func keywordsOfFolder(_ db: Database, folderID: Int64) throws -> [Int64: [String]] {
        let rows = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT mk.message_id AS message_id, np.name AS name
            FROM message_keywords mk
            JOIN messages m ON m.id = mk.message_id
            JOIN named_props np ON np.propid = mk.propid
            WHERE m.folder_id = ?
            ORDER BY mk.message_id, mk.propid
            """), arguments: [folderID])
        var result: [Int64: [String]] = [:]
        for row in rows { result[row["message_id"], default: []].append(row["name"]) }
        return result
    }

    /// Keyword property ids of the given messages.
    static func keywordIDs(_ db: Database, messageIDs: [Int64]) throws -> [Int64: [UInt16]] {
        var result: [Int64: [UInt16]] = [:]
        guard !messageIDs.isEmpty else { return result }
        let statement = try db.cachedStatement(sql: """
            SELECT message_id, propid FROM message_keywords WHERE message_id IN (SELECT value FROM json_each(?))
            ORDER BY message_id, propid
            """)
        defer { statement.releaseArguments(count: 1) }
        let rows = try Row.fetchAll(statement, arguments: [IntegerList(messageIDs).json])
        for row in rows { result[row["message_id"], default: []].append(UInt16(row["propid"] as Int64)) }
        return result
    }

    /// Names of keyword property ids.
    static func keywordNames(_ db: Database, ids: Set<UInt16>) throws -> [UInt16: String] {
        var result: [UInt16: String] = [:]
        guard !ids.isEmpty else { return result }
        let rows = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT propid, name FROM named_props WHERE propid IN (SELECT value FROM json_each(?))
            """), arguments: [IntegerList(ids).json])
        for row in rows { result[UInt16(row["propid"] as Int64)] = row["name"] }
        return result
    }

    /// The property ids of keywords (each a PS_PUBLIC_STRINGS name), created for `principal` when `create` is set;
    /// keywords that do not exist and are not created are left out. Duplicates (ignoring case) collapse.
    static func keywordIDs(_ db: Database, keywords: [String], create: Bool, principal: Principal,
                           tables: QuotaTables) throws -> [UInt16] {
        var ids: [UInt16] = []
        for keyword in keywords where !keyword.isEmpty {
            if let id = try tables.namedPropertyID(db, guid: PropertySet.publicStrings, key: .name(keyword),
                                                   create: create, principal: principal),
                !ids.contains(id) {
                ids.append(id)
            }
        }
        return ids.sorted()
    }

    /// Copies a message's keywords, promoted header values and header skips to another message (COPY).
    static func copyIndexRows(_ db: Database, from source: Int64, to target: Int64) throws {
        try db.cachedStatement(sql: """
            INSERT INTO message_keywords(message_id, propid) SELECT ?, propid FROM message_keywords WHERE message_id = ?
            """).execute(arguments: [target, source])
        try db.cachedStatement(sql: """
            INSERT INTO message_headers(message_id, propid, value)
            SELECT ?, propid, value FROM message_headers WHERE message_id = ? ORDER BY rowid
            """).execute(arguments: [target, source])
        try db.cachedStatement(sql: """
            INSERT INTO message_header_skips(message_id, name) SELECT ?, name FROM message_header_skips
            WHERE message_id = ?
            """).execute(arguments: [target, source])
    }

    static func summary(uid: Int64, flags: Int, keywords: [UInt16], modseq: UInt64,
                        names: [UInt16: String]) -> MessageSummary {
        MessageSummary(uid: UInt32(truncatingIfNeeded: uid),
                       flags: MessageFlags(system: SystemFlags(rawValue: flags),
                                           keywords: keywords.sorted().compactMap { names[$0] }),
                       modSeq: modseq)
    }

    /// The messages of a folder with the given UIDs (ascending), as (id, uid, flags, modseq) then `extraColumns`,
    /// for the write paths (the read paths use `MessageRecord`). A dense set is one range scan, a sparse one IN lists.
    static func messages(_ db: Database, folderID: Int64, uids: [UInt32], extraColumns: String = "") throws -> [Row] {
        let wanted = Set(uids)
        let sorted = wanted.sorted()
        guard let lowest = sorted.first, let highest = sorted.last else { return [] }
        if Int(highest - lowest) < sorted.count * 2 {
            let rows = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT id, uid, flags, modseq\(extraColumns) FROM messages
                WHERE folder_id = ? AND uid BETWEEN ? AND ? ORDER BY uid
                """), arguments: [folderID, Int64(lowest), Int64(highest)])
            return rows.count == sorted.count ? rows : rows.filter { wanted.contains(UInt32(truncatingIfNeeded: $0[1] as Int64)) }
        }
        let statement = try db.cachedStatement(sql: """
            SELECT id, uid, flags, modseq\(extraColumns) FROM messages
            WHERE folder_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid
            """)
        defer { statement.releaseArguments(count: 2) }
        return try Row.fetchAll(statement, arguments: [folderID, IntegerList(sorted).json])
    }
}

extension SQLiteStore {
    public func changes(user: String, folder: StoreID, sinceModSeq: UInt64) async throws -> FolderChanges {
        return try await readMailbox(user: user) { db, resolved in
            let record = try MailboxSQL.requireFolder(db, owner: resolved.owner, id: folder)
            let since = Int64(clamping: sinceModSeq)
            let records = try MessageRecord.read(db, folderID: record.id, changedSince: sinceModSeq, needs: .metadata)
            let names = try MessageRecord.keywordNames(db, records)
            let changed = records.map { $0.summary(names: names) }
            let expunged = try Int64.fetchAll(db.cachedStatement(sql: """
                SELECT uid FROM expunged WHERE folder_id = ? AND modseq > ? ORDER BY uid
                """), arguments: [record.id, since]).map { UInt32(truncatingIfNeeded: $0) }
            return FolderChanges(highestModSeq: record.highestModSeq, uidNext: record.uidNext, changed: changed,
                                 expunged: expunged)
        }
    }

    public func fetch(user: String, folder: StoreID, uids: [UInt32], needs: FetchNeeds) async throws -> [MessageData] {
        try await fetchWithModSeq(user: user, folder: folder, uids: uids, needs: needs).messages
    }

    public func fetchWithModSeq(user: String, folder: StoreID, uids: [UInt32], needs: FetchNeeds) async throws
        -> (messages: [MessageData], highestModSeq: UInt64?)
    {
        try await read(user: user, folder: folder, needs: needs) { db, folderID in
            try MessageRecord.read(db, folderID: folderID, uids: uids, needs: needs)
        }
    }

    public func fetchChanged(user: String, folder: StoreID, since modSeq: UInt64, needs: FetchNeeds) async throws
        -> (messages: [MessageData], highestModSeq: UInt64?)
    {
        try await read(user: user, folder: folder, needs: needs) { db, folderID in
            try MessageRecord.read(db, folderID: folderID, changedSince: modSeq, needs: needs)
        }
    }

    /// Reads the messages `select` picks (given the folder's row id) as `MessageData`, with the folder's
    /// HIGHESTMODSEQ, in one read transaction.
    private func read(user: String, folder: StoreID, needs: FetchNeeds,
                      rows select: @escaping @Sendable (Database, Int64) throws -> [MessageRecord]) async throws
        -> (messages: [MessageData], highestModSeq: UInt64?)
    {
        try await readMailbox(user: user) { db, resolved in
            let folderRecord = try MailboxSQL.requireFolder(db, owner: resolved.owner, id: folder)
            let records = try select(db, folderRecord.id)
            let names = try MessageRecord.keywordNames(db, records)
            let messages = try records.map { record in
                let summary = record.summary(names: names)
                var data = MessageData(uid: summary.uid, flags: summary.flags, modSeq: summary.modSeq,
                                       internalDate: Date(timeIntervalSince1970: record.internalDate), size: record.size,
                                       envelope: record.envelope, bodyStructure: record.bodyStructure, body: record.body)
                if let bodyID = record.bodyID, needs.contains(.raw) {
                    guard let bytes = try Data.fetchOne(db.cachedStatement(sql: "SELECT data FROM bodies WHERE id = ?"),
                                                        arguments: [bodyID])
                    else { throw StoreError.corrupt("message \(summary.uid) has no body") }
                    data.raw = [UInt8](bytes)
                } else if let bodyID = record.bodyID, needs.contains(.header) {
                    guard let header = try db.headerPrefix(ofBlobIn: "bodies", column: "data", rowID: bodyID)
                    else { throw StoreError.corrupt("message \(summary.uid) has no body") }
                    data.header = header
                }
                return data
            }
            return (messages, folderRecord.highestModSeq)
        }
    }

    public func append(user: String, folder name: String, message: [UInt8], flags: MessageFlags, internalDate: Date?,
                       principal: Principal) async throws -> AppendResult {
        guard message.count <= options.maxMessageSize else {
            throw StoreError.messageTooLarge(size: message.count, limit: options.maxMessageSize)
        }
        let canonical = try FolderName.canonical(name)
        let resolved = try await resolve(user: user)
        let owner = resolved.owner
        let index = MessageIndex(indexing: message, limits: options.limits)
        let date = (internalDate ?? Date()).timeIntervalSince1970
        let pending = PendingEvents()
        let tables = resolved.mdb.quotaTables(pending)
        let maxNewNames = options.maxNewNamedPropsPerMessage
        do {
            let (result, notice) = try await resolved.mdb.write { db -> (AppendResult, FolderChangeNotice) in
                var folder = try MailboxSQL.requireFolderCreatingInbox(db, owner: owner, name: canonical)
                let before = folder.highestModSeq
                let keywordIDs = try MessageSQL.keywordIDs(db, keywords: flags.keywords, create: true,
                                                           principal: principal, tables: tables)
                let (_, uid, _) = try MessageInsertion.insert(
                    db, folder: &folder, message: message, index: index, system: flags.system,
                    keywordIDs: keywordIDs, internalDate: date, origin: nil, principal: principal, tables: tables,
                    maxNewNames: maxNewNames)
                return (AppendResult(uidValidity: folder.uidValidity, uid: uid, folder: folder.storeID,
                                     modSeq: ModSeqStep(before: before, after: folder.highestModSeq)),
                        folder.notice)
            }
            await flush(pending)
            watchers.notify(notice)
            return result
        } catch {
            await flush(pending)
            throw error
        }
    }

    public func storeFlags(user: String, folder: StoreID, uids: [UInt32], operation: FlagOperation,
                           flags: MessageFlags, unchangedSince: UInt64?) async throws -> [MessageSummary] {
        try await storeFlagsReportingConflicts(user: user, folder: folder, uids: uids, operation: operation,
                                               flags: flags, unchangedSince: unchangedSince).changed
    }

    /// `storeFlags` that also reports the UIDs an UNCHANGEDSINCE test failed for (CONDSTORE's MODIFIED).
    public func storeFlagsReportingConflicts(user: String, folder: StoreID, uids: [UInt32], operation: FlagOperation,
                                             flags: MessageFlags, unchangedSince: UInt64?) async throws
        -> StoreFlagsResult
    {
        let resolved = try await resolve(user: user)
        let owner = resolved.owner
        let principal = Principal.user(resolved.info.name)
        let pending = PendingEvents()
        let tables = resolved.mdb.quotaTables(pending)
        do {
            let (result, notice) = try await resolved.mdb.write { db -> (StoreFlagsResult, FolderChangeNotice?) in
                var record = try MailboxSQL.requireFolder(db, owner: owner, id: folder)
                let modSeqBefore = record.highestModSeq
                let rows = try MessageSQL.messages(db, folderID: record.id, uids: uids)
                let given = try MessageSQL.keywordIDs(db, keywords: flags.keywords, create: operation != .remove,
                                                      principal: principal, tables: tables)
                let current = try MessageSQL.keywordIDs(db, messageIDs: rows.map { $0["id"] })
                var modseq: UInt64?
                var updated: [(uid: Int64, flags: Int, keywords: [UInt16])] = []
                var conflicts: [UInt32] = []
                for row in rows {
                    let id: Int64 = row["id"]
                    let uid: Int64 = row["uid"]
                    if let unchangedSince, UInt64(row["modseq"] as Int64) > unchangedSince {
                        conflicts.append(UInt32(truncatingIfNeeded: uid))
                        continue
                    }
                    let oldSystem = SystemFlags(rawValue: row["flags"])
                    let oldKeywords = Set(current[id] ?? [])
                    let newSystem: SystemFlags
                    let newKeywords: Set<UInt16>
                    switch operation {
                    case .add: (newSystem, newKeywords) = (oldSystem.union(flags.system), oldKeywords.union(given))
                    case .remove:
                        (newSystem, newKeywords) = (oldSystem.subtracting(flags.system), oldKeywords.subtracting(given))
                    case .replace: (newSystem, newKeywords) = (flags.system, Set(given))
                    }
                    guard newSystem != oldSystem || newKeywords != oldKeywords else { continue }
                    let newModSeq = try modseq ?? MailboxSQL.bumpModSeq(db, folder: &record)
                    modseq = newModSeq
                    try db.cachedStatement(sql: "UPDATE messages SET flags = ?, modseq = ? WHERE id = ?")
                        .execute(arguments: [newSystem.rawValue, Int64(newModSeq), id])
                    for removed in oldKeywords.subtracting(newKeywords) {
                        try db.cachedStatement(sql: "DELETE FROM message_keywords WHERE message_id = ? AND propid = ?")
                            .execute(arguments: [id, Int64(removed)])
                    }
                    for added in newKeywords.subtracting(oldKeywords) {
                        try db.cachedStatement(sql: "INSERT INTO message_keywords(message_id, propid) VALUES (?, ?)")
                            .execute(arguments: [id, Int64(added)])
                    }
                    updated.append((uid, newSystem.rawValue, newKeywords.sorted()))
                }
                let names = try MessageSQL.keywordNames(db, ids: Set(updated.flatMap(\.keywords)))
                let changed = updated.map {
                    MessageSQL.summary(uid: $0.uid, flags: $0.flags, keywords: $0.keywords, modseq: modseq ?? 0,
                                       names: names)
                }
                return (StoreFlagsResult(changed: changed, modified: conflicts,
                                         modSeq: ModSeqStep(before: modSeqBefore, after: record.highestModSeq)),
                        modseq == nil ? nil : record.notice)
            }
            await flush(pending)
            if let notice { watchers.notify(notice) }
            return result
        } catch {
            await flush(pending)
            throw error
        }
    }

    public func expunge(user: String, folder: StoreID, uids: [UInt32]?) async throws -> [UInt32] {
        try await expungeWithModSeq(user: user, folder: folder, uids: uids).expunged
    }

    public func expungeWithModSeq(user: String, folder: StoreID, uids: [UInt32]?) async throws -> ExpungeResult {
        let resolved = try await resolve(user: user)
        let owner = resolved.owner
        let (result, notice) = try await resolved.mdb.write { db -> (ExpungeResult, FolderChangeNotice?) in
            var record = try MailboxSQL.requireFolder(db, owner: owner, id: folder)
            let before = record.highestModSeq
            let candidates: [Row]
            if let uids {
                candidates = try MessageSQL.messages(db, folderID: record.id, uids: uids, extraColumns: ", body_id")
            } else {
                candidates = try Row.fetchAll(db.cachedStatement(sql: """
                    SELECT id, uid, flags, modseq, body_id FROM messages WHERE folder_id = ? AND flags & 8 <> 0
                    ORDER BY uid
                    """), arguments: [record.id])
            }
            let doomed = candidates.filter { SystemFlags(rawValue: $0["flags"]).contains(.deleted) }
            guard !doomed.isEmpty else {
                return (ExpungeResult(expunged: [], modSeq: ModSeqStep(before: before, after: before)), nil)
            }
            let modseq = try MailboxSQL.bumpModSeq(db, folder: &record)
            try Self.removeMessages(db, folderID: record.id, rows: doomed, modseq: modseq)
            try MailboxSQL.deleteUnreferencedBodies(db, candidates: doomed.map { $0["body_id"] })
            return (ExpungeResult(expunged: doomed.map { UInt32(truncatingIfNeeded: $0["uid"] as Int64) },
                                  modSeq: ModSeqStep(before: before, after: modseq)),
                    record.notice)
        }
        if let notice { watchers.notify(notice) }
        return result
    }

    /// Deletes message rows and leaves tombstones for their UIDs.
    private static func removeMessages(_ db: Database, folderID: Int64, rows: [Row], modseq: UInt64) throws {
        for row in rows {
            let id: Int64 = row["id"]
            let uid: Int64 = row["uid"]
            try db.cachedStatement(sql: "DELETE FROM messages WHERE id = ?").execute(arguments: [id])
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO expunged(folder_id, uid, modseq) VALUES (?, ?, ?)")
                .execute(arguments: [folderID, uid, Int64(modseq)])
        }
    }

    public func copy(user: String, folder: StoreID, uids: [UInt32], to destination: String) async throws
        -> CopyResult
    {
        try await transfer(user: user, folder: folder, uids: uids, to: destination, move: false)
    }

    public func move(user: String, folder: StoreID, uids: [UInt32], to destination: String) async throws
        -> CopyResult
    {
        try await transfer(user: user, folder: folder, uids: uids, to: destination, move: true)
    }

    private func transfer(user: String, folder: StoreID, uids: [UInt32], to destination: String,
                          move: Bool) async throws -> CopyResult {
        let target = try FolderName.canonical(destination)
        let resolved = try await resolve(user: user)
        let owner = resolved.owner
        let (result, notices) = try await resolved.mdb.write { db -> (CopyResult, [FolderChangeNotice]) in
            var source = try MailboxSQL.requireFolder(db, owner: owner, id: folder)
            var dest = try MailboxSQL.requireFolderCreatingInbox(db, owner: owner, name: target)
            let rows = try MessageSQL.messages(db, folderID: source.id, uids: uids)
            guard !rows.isEmpty else { return (CopyResult(uidValidity: dest.uidValidity, mapping: []), []) }
            let sameFolder = source.id == dest.id
            let firstUID = try MailboxSQL.allocateUIDs(db, folder: &dest, count: rows.count)
            let destModSeq = try MailboxSQL.bumpModSeq(db, folder: &dest)
            if sameFolder { source = dest }
            var mapping: [(source: UInt32, destination: UInt32)] = []
            if move {
                let sourceModSeq = try MailboxSQL.bumpModSeq(db, folder: &source)
                if sameFolder { dest = source }
                for (offset, row) in rows.enumerated() {
                    let id: Int64 = row["id"]
                    let uid: Int64 = row["uid"]
                    let newUID = firstUID + UInt32(offset)
                    try db.cachedStatement(sql: "UPDATE messages SET folder_id = ?, uid = ?, modseq = ? WHERE id = ?").execute(
                                   arguments: [dest.id, Int64(newUID), Int64(destModSeq), id])
                    try db.cachedStatement(sql: "INSERT OR REPLACE INTO expunged(folder_id, uid, modseq) VALUES (?, ?, ?)").execute(
                                   arguments: [source.id, uid, Int64(sourceModSeq)])
                    mapping.append((UInt32(truncatingIfNeeded: uid), newUID))
                }
            } else {
                let firstCounter = try MailboxSQL.allocateCounter(db, count: rows.count)
                for (offset, row) in rows.enumerated() {
                    let id: Int64 = row["id"]
                    let uid: Int64 = row["uid"]
                    let newUID = firstUID + UInt32(offset)
                    let counter = firstCounter + UInt64(offset)
                    let newID = Int64(bitPattern: StoreID(replicaID: 1, counter: counter).rawValue)
                    try db.cachedStatement(sql: """
                        INSERT INTO messages(id, folder_id, uid, modseq, flags, internal_date, size, envelope,
                                             bodystructure, body, body_id, origin_replid, origin_counter,
                                             headers_indexed)
                        SELECT ?, ?, ?, ?, flags, internal_date, size, envelope, bodystructure, body, body_id, 1, ?,
                               headers_indexed
                        FROM messages WHERE id = ?
                        """).execute(arguments: [newID, dest.id, Int64(newUID), Int64(destModSeq), Int64(counter), id])
                    try MessageSQL.copyIndexRows(db, from: id, to: newID)
                    mapping.append((UInt32(truncatingIfNeeded: uid), newUID))
                }
            }
            let notices = sameFolder || !move ? [dest.notice] : [source.notice, dest.notice]
            return (CopyResult(uidValidity: dest.uidValidity, mapping: mapping), notices)
        }
        watchers.notify(notices)
        return result
    }
}
