import Foundation
import GRDB

extension SQLiteStore {
    /// The messages of `folder` that `filter` matches, with UID at most `maxUID` (what the session has announced),
    /// ascending: one SQL statement over the messages' columns and indexes (the unseen index for UNSEEN), never a
    /// read of the messages into Swift.
    public func search(user: String, folder: StoreID, filter: MessageFilter, maxUID: UInt32) async throws
        -> [MatchedMessage]
    {
        try await readMailbox(user: user) { db, resolved in
            let record = try MailboxSQL.requireFolder(db, owner: resolved.owner, id: folder)
            var arguments: StatementArguments = [record.id, Int64(maxUID)]
            let condition = try MessageFilterSQL.condition(filter, db: db, arguments: &arguments)
            var matched: [MatchedMessage] = []
            try db.makeStatement(sql: """
                SELECT uid, modseq FROM messages WHERE folder_id = ? AND uid <= ? AND \(condition) ORDER BY uid
                """).forEachRawRow(arguments: arguments) { row in
                matched.append(MatchedMessage(uid: UInt32(truncatingIfNeeded: row.int64(0)), modSeq: UInt64(bitPattern: row.int64(1))))
            }
            return matched
        }
    }
}

/// `MessageFilter` as an SQL condition over the `messages` table. Flag tests are written as constants, so that
/// `flags & 1 = 0` (UNSEEN) meets the partial index of unseen messages; values go in as arguments.
enum MessageFilterSQL {
    static func condition(_ filter: MessageFilter, db: Database, arguments: inout StatementArguments) throws -> String {
        switch filter {
        case .all:
            return "1"
        case .none:
            return "0"
        case .hasFlags(let flags):
            return flags.isEmpty ? "1" : "flags & \(flags.rawValue) = \(flags.rawValue)"
        case .not(.hasFlags(let flags)) where flags.rawValue.nonzeroBitCount == 1:
            // The lack of one flag: exactly the partial index's condition for \Seen.
            return "flags & \(flags.rawValue) = 0"
        case .hasKeyword(let name):
            guard let propid = try Int64.fetchOne(db.cachedStatement(sql: """
                SELECT propid FROM named_props WHERE guid = ? AND kind = 'name' AND name = ? COLLATE NOCASE
                """), arguments: [PropertySet.publicStrings.bytes, name]) else { return "0" }
            arguments += [propid]
            return "EXISTS (SELECT 1 FROM message_keywords k WHERE k.message_id = messages.id AND k.propid = ?)"
        case .uids(let ranges):
            guard !ranges.isEmpty else { return "0" }
            return "(" + ranges.map { r -> String in
                arguments += [Int64(r.lowerBound), Int64(r.upperBound)]
                return "uid BETWEEN ? AND ?"
            }.joined(separator: " OR ") + ")"
        case .sizeAbove(let n):
            arguments += [n]
            return "size > ?"
        case .sizeBelow(let n):
            arguments += [n]
            return "size < ?"
        case .receivedBefore(let date):
            arguments += [date.timeIntervalSince1970]
            return "internal_date < ?"
        case .receivedSince(let date):
            arguments += [date.timeIntervalSince1970]
            return "internal_date >= ?"
        case .modSeqAtLeast(let n):
            arguments += [Int64(clamping: n)]
            return "modseq >= ?"
        case .not(let inner):
            return "NOT (\(try condition(inner, db: db, arguments: &arguments)))"
        case .and(let parts):
            guard !parts.isEmpty else { return "1" }
            return try parts.map { "(\(try condition($0, db: db, arguments: &arguments)))" }.joined(separator: " AND ")
        case .or(let a, let b):
            return "((\(try condition(a, db: db, arguments: &arguments))) OR (\(try condition(b, db: db, arguments: &arguments))))"
        }
    }
}
