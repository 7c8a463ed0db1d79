public import Foundation
import GRDB

extension PropertySet {
    /// PS_INTERNET_HEADERS: header fields promoted at delivery are named properties of kind name in this set.
    public static let internetHeaders = UUID(uuidString: "00020386-0000-0000-C000-000000000046")!
}

/// Inserting a message and promoting its header fields, inside a mailbox database write transaction (shared by
/// APPEND/delivery and import).
enum MessageInsertion {
    /// Where a new message comes from: its own new id (nil), or a given replica id and counter.
    struct Origin {
        var replicaID: UInt16
        var counter: UInt64
    }

    /// Inserts one message into `folder` (taking the next UID unless `uid` is given, and a new modseq) and promotes
    /// its header fields. Returns the new message's row id, UID and modseq.
    static func insert(_ db: Database, folder: inout FolderRecord, uid givenUID: UInt32? = nil, message: [UInt8],
                       index: MessageIndex, system: SystemFlags, keywordIDs: [UInt16], internalDate: Double,
                       origin: Origin?, principal: Principal, tables: QuotaTables,
                       maxNewNames: Int) throws -> (id: Int64, uid: UInt32, modseq: UInt64) {
        let counter = try MailboxSQL.allocateCounter(db)
        let id = Int64(bitPattern: StoreID(replicaID: 1, counter: counter).rawValue)
        let uid: UInt32
        if let givenUID {
            uid = givenUID
            if givenUID >= folder.uidNext {
                _ = try MailboxSQL.allocateUIDs(db, folder: &folder, count: Int(givenUID - folder.uidNext) + 1)
            }
        } else {
            uid = try MailboxSQL.allocateUIDs(db, folder: &folder, count: 1)
        }
        let modseq = try MailboxSQL.bumpModSeq(db, folder: &folder)
        // Cached (the INSERT into messages compiles its triggers), and let go of their arguments after: the whole
        // message, its envelope and structure would otherwise stay in memory until the next message.
        try db.cachedStatement(sql: "INSERT INTO bodies(data) VALUES (?)")
            .executeReleasingArguments([Data(message)], count: 1)
        let bodyID = db.lastInsertedRowID
        let origin = origin ?? Origin(replicaID: 1, counter: counter)
        try db.cachedStatement(sql: """
            INSERT INTO messages(id, folder_id, uid, modseq, flags, internal_date, size, envelope,
                                 bodystructure, body, body_id, origin_replid, origin_counter)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).executeReleasingArguments([id, folder.id, Int64(uid), Int64(modseq), system.rawValue, internalDate,
                             message.count, Data(index.envelope), Data(index.bodyStructure), Data(index.body), bodyID,
                             Int64(origin.replicaID), Int64(origin.counter)], count: 13)
        for keyword in keywordIDs {
            try db.cachedStatement(sql: "INSERT INTO message_keywords(message_id, propid) VALUES (?, ?)")
                .execute(arguments: [id, Int64(keyword)])
        }
        try promoteHeaders(db, messageID: id, headers: index.promotableHeaders, principal: principal,
                           tables: tables, maxNewNames: maxNewNames)
        return (id, uid, modseq)
    }

    /// Promotes a message's non-standard header fields: each name is found in (or, within `maxNewNames` new names
    /// and the quota of `principal`, added to) PS_INTERNET_HEADERS, and each value is indexed. A name the quota
    /// refuses (event 9667) or the per-message cap leaves out is only skipped: the message is stored all the same.
    static func promoteHeaders(_ db: Database, messageID: Int64, headers: [PromotableHeader], principal: Principal,
                               tables: QuotaTables, maxNewNames: Int) throws {
        var ids: [String: UInt16?] = [:]
        var attempts = 0
        var skipped: Set<String> = []
        for header in headers {
            let id: UInt16?
            if let known = ids[header.name] {
                id = known
            } else if !StandardHeaderFields.isValidName(header.name) {
                id = nil
                ids[header.name] = .some(nil)
            } else {
                var found = try tables.lookupNamedProperty(db, guid: PropertySet.internetHeaders,
                                                           key: .name(header.name))
                if found == nil, attempts < maxNewNames {
                    attempts += 1
                    do {
                        found = try tables.namedPropertyID(db, guid: PropertySet.internetHeaders,
                                                           key: .name(header.name), create: true,
                                                           principal: principal)
                    } catch StoreError.namedPropertyQuotaReached {
                        found = nil
                    }
                }
                id = found
                ids[header.name] = .some(found)
            }
            guard let id, header.value.utf8.count <= StandardHeaderFields.maxIndexedValueLength else {
                skipped.insert(header.name)
                continue
            }
            try db.cachedStatement(sql: "INSERT INTO message_headers(message_id, propid, value) VALUES (?, ?, ?)")
                .execute(arguments: [messageID, Int64(id), header.value])
        }
        for name in skipped {
            try db.cachedStatement(sql: "INSERT OR IGNORE INTO message_header_skips(message_id, name) VALUES (?, ?)")
                .execute(arguments: [messageID, name])
        }
        try db.cachedStatement(sql: "UPDATE messages SET headers_indexed = 1 WHERE id = ?").execute(arguments: [messageID])
    }
}

extension SQLiteStore {
    /// The UIDs (ascending) of the messages of `folder` that have a header field `name` whose value contains
    /// `containing` (case- and diacritic-insensitively, as SEARCH HEADER compares; an empty string matches every
    /// message that has the field), answered from the header index.
    ///
    /// Returns nil when the index cannot answer and the caller must parse the messages instead: `name` is not a
    /// promoted name (standard fields such as Subject are never promoted), or some message of the folder was stored
    /// without that field indexed (it predates header promotion, or the quota, the per-message cap or the value's
    /// length kept it out).
    public func messagesWithHeader(user: String, folder: StoreID, name: String,
                                   containing needle: String) async throws -> [UInt32]? {
        let resolved = try await resolve(user: user)
        let owner = resolved.owner
        return try await resolved.mdb.pool.read { db -> [UInt32]? in
            let record = try MailboxSQL.requireFolder(db, owner: owner, id: folder)
            guard let propid = try Int64.fetchOne(db.cachedStatement(sql: """
                SELECT propid FROM named_props WHERE kind = 'name' AND guid = ? AND name = ? COLLATE NOCASE
                """), arguments: [PropertySet.internetHeaders.bytes, name]) else { return nil }
            let incomplete = try Bool.fetchOne(db.cachedStatement(sql: """
                SELECT EXISTS (SELECT 1 FROM messages WHERE folder_id = ? AND headers_indexed = 0)
                    OR EXISTS (SELECT 1 FROM message_header_skips s JOIN messages m ON m.id = s.message_id
                               WHERE s.name = ? COLLATE NOCASE AND m.folder_id = ?)
                """), arguments: [record.id, name, record.id]) ?? true
            if incomplete { return nil }
            let rows = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT m.uid AS uid, h.value AS value FROM message_headers h JOIN messages m ON m.id = h.message_id
                WHERE h.propid = ? AND m.folder_id = ?
                """), arguments: [propid, record.id])
            var uids: Set<UInt32> = []
            for row in rows {
                let value: String = row["value"]
                if needle.isEmpty || value.range(of: needle, options: [.caseInsensitive, .diacriticInsensitive]) != nil {
                    uids.insert(UInt32(truncatingIfNeeded: row["uid"] as Int64))
                }
            }
            return uids.sorted()
        }
    }

    /// The promoted header fields of one message as (name, value), in the order they were indexed.
    public func promotedHeaders(user: String, folder: StoreID, uid: UInt32) async throws -> [(name: String,
                                                                                             value: String)] {
        let resolved = try await resolve(user: user)
        let owner = resolved.owner
        return try await resolved.mdb.pool.read { db in
            let record = try MailboxSQL.requireFolder(db, owner: owner, id: folder)
            return try Row.fetchAll(db.cachedStatement(sql: """
                SELECT np.name AS name, h.value AS value FROM message_headers h
                JOIN messages m ON m.id = h.message_id JOIN named_props np ON np.propid = h.propid
                WHERE m.folder_id = ? AND m.uid = ? ORDER BY h.rowid
                """), arguments: [record.id, Int64(uid)]).map { ($0["name"], $0["value"]) }
        }
    }
}
