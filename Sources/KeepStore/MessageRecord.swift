import GRDB

/// A message row as the read paths (FETCH, SEARCH, the change feed) need it, decoded with `RawRow`.
struct MessageRecord {
    var uid: UInt32
    var flags: Int
    var modSeq: UInt64
    var keywordIDs: [UInt16]
    var internalDate: Double
    var size: Int
    var envelope: [UInt8]?
    var bodyStructure: [UInt8]?
    var body: [UInt8]?
    var bodyID: Int64?

    /// The SELECT list for `needs`: uid (0), flags (1), modseq (2), the keyword ids (3), internal_date (4),
    /// size (5), then envelope, bodystructure and body, body_id as asked.
    static func columns(_ needs: FetchNeeds) -> String {
        var columns = """
            uid, flags, modseq, (SELECT group_concat(propid) FROM message_keywords WHERE message_id = messages.id), \
            internal_date, size
            """
        if needs.contains(.envelope) { columns += ", envelope" }
        if needs.contains(.bodyStructure) { columns += ", bodystructure, body" }
        if !needs.isDisjoint(with: [.raw, .header]) { columns += ", body_id" }
        return columns
    }

    init(_ row: RawRow, needs: FetchNeeds) {
        uid = UInt32(truncatingIfNeeded: row.int64(0))
        flags = row.int(1)
        modSeq = UInt64(bitPattern: row.int64(2))
        keywordIDs = row.integerList(3)
        internalDate = row.double(4)
        size = row.int(5)
        var next: Int32 = 6
        if needs.contains(.envelope) {
            envelope = row.bytes(next)
            next += 1
        }
        if needs.contains(.bodyStructure) {
            bodyStructure = row.bytes(next)
            body = row.bytes(next + 1)
            next += 2
        }
        if !needs.isDisjoint(with: [.raw, .header]) { bodyID = row.int64(next) }
    }

    /// The messages of a folder with the given UIDs, ascending: a dense set (most of its UID span, e.g. 1:*) is one
    /// range scan of the (folder, uid) index, a sparse one IN lists.
    static func read(_ db: Database, folderID: Int64, uids: [UInt32], needs: FetchNeeds) throws -> [MessageRecord] {
        // Sessions ask in ascending order without repeats: sort only what is not.
        let ascending = zip(uids, uids.dropFirst()).allSatisfy { $0 < $1 }
        let sorted = ascending ? uids : Set(uids).sorted()
        guard let lowest = sorted.first, let highest = sorted.last else { return [] }
        var records: [MessageRecord] = []
        records.reserveCapacity(sorted.count)
        if Int(highest - lowest) < sorted.count * 2 {
            let statement = try db.cachedStatement(sql: """
                SELECT \(columns(needs)) FROM messages WHERE folder_id = ? AND uid BETWEEN ? AND ? ORDER BY uid
                """)
            var wanted = sorted.makeIterator()
            var next = wanted.next()
            try statement.forEachRawRow(arguments: [folderID, Int64(lowest), Int64(highest)]) { row in
                // Both ascending: keep the rows the set names.
                let uid = UInt32(truncatingIfNeeded: row.int64(0))
                while let n = next, n < uid { next = wanted.next() }
                if next == uid { records.append(MessageRecord(row, needs: needs)) }
            }
            return records
        }
        try db.cachedStatement(sql: """
            SELECT \(columns(needs)) FROM messages WHERE folder_id = ? AND uid IN (SELECT value FROM json_each(?))
            ORDER BY uid
            """).forEachRawRow(arguments: [folderID, IntegerList(sorted).json]) { records.append(MessageRecord($0, needs: needs)) }
        return records
    }

    /// The messages of a folder changed after `modSeq`, by the (folder, modseq) index, ascending by UID.
    static func read(_ db: Database, folderID: Int64, changedSince modSeq: UInt64, needs: FetchNeeds) throws -> [MessageRecord] {
        var records: [MessageRecord] = []
        try db.cachedStatement(sql: """
            SELECT \(columns(needs)) FROM messages WHERE folder_id = ? AND modseq > ? ORDER BY uid
            """).forEachRawRow(arguments: [folderID, Int64(clamping: modSeq)]) { records.append(MessageRecord($0, needs: needs)) }
        return records
    }

    /// Names of the keywords of `records`.
    static func keywordNames(_ db: Database, _ records: [MessageRecord]) throws -> [UInt16: String] {
        var ids = Set<UInt16>()
        for r in records where !r.keywordIDs.isEmpty { ids.formUnion(r.keywordIDs) }
        return ids.isEmpty ? [:] : try MessageSQL.keywordNames(db, ids: ids)
    }

    func summary(names: [UInt16: String]) -> MessageSummary {
        MessageSQL.summary(uid: Int64(uid), flags: flags, keywords: keywordIDs, modseq: modSeq, names: names)
    }
}
