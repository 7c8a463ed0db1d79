import Foundation
import GRDB
import Logging

/// What `moveMailbox(user:to:)` did.
public struct MailboxMoveResult: Sendable, Hashable, Codable {
    public var folders: Int
    public var messages: Int
    /// Messages whose origin could not be kept because the target's replica-id quota refused the origin's GUID
    /// (event 9669): they got a new local origin in the target.
    public var localIDs: Int
    /// Promoted header names the target's named-property quota refused (event 9667): the messages are moved, only
    /// those fields are not indexed there (SEARCH HEADER on them parses the messages).
    public var skippedHeaderNames: Int
    /// Whether an interrupted move was finished rather than a new one made.
    public var resumed: Bool
}

/// Why a mailbox move cannot start; nothing was changed.
public struct MailboxMoveError: Error, Sendable, Hashable, CustomStringConvertible {
    public var user: String
    public var reason: String
    public var description: String { "cannot move the mailbox of \(user): \(reason)" }
}

/// Steps after which a test interrupts a move, as a crash would.
enum MoveStep: Sendable { case copied, switched }

private struct MoveInterrupted: Error {}

extension SQLiteStore {
    /// Moves a user's mailbox — folders, messages, flags, keywords, UIDVALIDITY, UIDs, internal dates, modseqs,
    /// expunge tombstones — to another private database, so that clients do not resynchronise (the seed's recovery:
    /// move the mailboxes off a database whose tables are exhausted, then remove it).
    ///
    /// Only the named properties the mailbox uses are created in the target, on behalf of the user: keywords must fit
    /// the target's quota (else the move fails as a whole with `.namedPropertyQuotaReached` and nothing changes);
    /// promoted header names that do not fit are skipped. Each message keeps its origin (replica GUID + counter): the
    /// target allocates a replica id for each origin GUID, subject to its replica-id quota; a message whose GUID is
    /// refused gets a local origin, counted in `localIDs`.
    ///
    /// Crash-safe and idempotent: the move is registered in directory.sqlite; the copy is one transaction of the
    /// target (marked in its `moves_in` table) made while the source's write lock is held, so that no delivery slips
    /// past it; then the user's database is switched in the directory, then the source's copy is deleted. An
    /// interrupted move leaves the source intact until the switch; running it again redoes or finishes it. Calling
    /// it for a user already in `database` with nothing pending does nothing.
    public func moveMailbox(user: String, to database: String) async throws -> MailboxMoveResult {
        try await moveMailbox(user: user, to: database, interruptingAfter: nil)
    }

    func moveMailbox(user: String, to database: String, interruptingAfter step: MoveStep?) async throws
        -> MailboxMoveResult
    {
        // 1. Register (or find) the move in the directory.
        let plan = try await directory.write { db -> (user: String, source: String, target: String, resumed: Bool) in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT name, database FROM users WHERE name = ?"),
                                             arguments: [user]) else { throw StoreError.noSuchUser(user) }
            let name: String = row["name"]
            let current: String = row["database"]
            guard let target = try DatabaseRecord.fetch(db, name: database) else {
                throw StoreError.noSuchDatabase(database)
            }
            guard target.kind == .private else {
                throw MailboxMoveError(user: name, reason: "\(target.name) is a public database")
            }
            if let pending = try Row.fetchOne(db.cachedStatement(sql: "SELECT source, target FROM mailbox_moves WHERE user = ?"),
                                              arguments: [name]) {
                let pendingTarget: String = pending["target"]
                guard pendingTarget.caseInsensitiveCompare(target.name) == .orderedSame else {
                    throw MailboxMoveError(user: name, reason: """
                        a move to \(pendingTarget) is pending; run that move again to finish it first
                        """)
                }
                return (name, pending["source"], target.name, true)
            }
            if current.caseInsensitiveCompare(target.name) == .orderedSame {
                return (name, current, target.name, true)
            }
            try db.execute(sql: "INSERT INTO mailbox_moves(user, source, target, started_at) VALUES (?, ?, ?, ?)",
                           arguments: [name, current, target.name, Date().timeIntervalSince1970])
            return (name, current, target.name, false)
        }
        let initial = MailboxMoveResult(folders: 0, messages: 0, localIDs: 0, skippedHeaderNames: 0,
                                        resumed: plan.resumed)
        var result = initial
        if plan.source.caseInsensitiveCompare(plan.target) == .orderedSame { return result }

        let source = try await mailboxDatabase(named: plan.source)
        let target = try await mailboxDatabase(named: plan.target)
        let pending = PendingEvents()
        let tables = target.quotaTables(pending)
        let directory = self.directory
        let moveLock = self.moveLock
        let owner = plan.user.lowercased()
        let principal = Principal.user(plan.user)

        // 2–4. Copy, switch, delete — under the source's write lock.
        let outcome: Result<(MailboxMoveResult, [StoreID]), any Error>
        do {
            outcome = .success(try await offload {
                try moveLock.withLock { _ in
                    var result = initial
                    let oldFolders = try source.pool.write { src -> [StoreID] in
                        // Another process may have finished the move meanwhile.
                        let current = try directory.read { db in
                            try String.fetchOne(db.cachedStatement(sql: "SELECT database FROM users WHERE name = ?"),
                                                arguments: [plan.user])
                        }
                        let folderIDs = try Int64.fetchAll(src, sql: "SELECT id FROM folders WHERE owner = ?",
                                                           arguments: [owner])
                        if current?.caseInsensitiveCompare(plan.source) == .orderedSame {
                            try target.pool.write { tgt in
                                try Self.copyMailbox(from: src, source: source, to: tgt, owner: owner,
                                                     principal: principal, tables: tables, result: &result)
                            }
                            if step == .copied { throw MoveInterrupted() }
                            try directory.write { db in
                                try db.execute(sql: "UPDATE users SET database = ? WHERE name = ?",
                                               arguments: [plan.target, plan.user])
                            }
                            if step == .switched { throw MoveInterrupted() }
                        }
                        for id in folderIDs { try Self.deleteFolderRows(src, folderID: id) }
                        return folderIDs.map { StoreID(rawValue: UInt64($0)) }
                    }
                    try target.pool.write { tgt in
                        try tgt.execute(sql: "DELETE FROM moves_in WHERE owner = ?", arguments: [owner])
                    }
                    try directory.write { db in
                        try db.cachedStatement(sql: "DELETE FROM mailbox_moves WHERE user = ?").execute(arguments: [plan.user])
                    }
                    return (result, oldFolders)
                }
            })
        } catch {
            outcome = .failure(error)
        }
        await flush(pending)
        switch outcome {
        case .success(let (moved, oldFolders)):
            result = moved
            for id in oldFolders { watchers.notify(FolderChangeNotice(folderID: id, highestModSeq: UInt64.max)) }
            logger.info("""
                moved the mailbox of \(plan.user) from \(plan.source) to \(plan.target): \(result.folders) folders, \
                \(result.messages) messages, \(result.localIDs) local ids, \(result.skippedHeaderNames) header \
                names not promoted
                """)
            return result
        case .failure(let error as MoveInterrupted):
            throw error
        case .failure(let error):
            // Failed before the switch (e.g. the target's keyword quota): the source is intact, so the move is
            // forgotten and may be retried, or another target chosen.
            let forgotten = try? await directory.write { db -> Bool in
                let current = try String.fetchOne(db.cachedStatement(sql: "SELECT database FROM users WHERE name = ?"),
                                                  arguments: [plan.user])
                guard current?.caseInsensitiveCompare(plan.source) == .orderedSame else { return false }
                try db.cachedStatement(sql: "DELETE FROM mailbox_moves WHERE user = ?").execute(arguments: [plan.user])
                return true
            }
            let outcome = forgotten == true ? "the mailbox stays in \(plan.source)" : "run the move again to finish it"
            logger.error("moving the mailbox of \(plan.user) to \(plan.target) failed: \(error); \(outcome)")
            throw error
        }
    }

    /// Copies one owner's mailbox from `src` into `tgt` (one target transaction), replacing any earlier partial copy.
    private static func copyMailbox(from src: Database, source: MailboxDatabase, to tgt: Database, owner: String,
                                    principal: Principal, tables: QuotaTables,
                                    result: inout MailboxMoveResult) throws {
        for id in try Int64.fetchAll(tgt, sql: "SELECT id FROM folders WHERE owner = ?", arguments: [owner]) {
            try deleteFolderRows(tgt, folderID: id)
        }
        try tgt.execute(sql: "INSERT OR REPLACE INTO moves_in(owner, source_guid, started_at) VALUES (?, ?, ?)",
                        arguments: [owner, source.guid.bytes, Date().timeIntervalSince1970])
        let ownMessages = "SELECT m.id FROM messages m JOIN folders f ON f.id = m.folder_id WHERE f.owner = ?"

        // Origins: a replica id in the target for each origin GUID in use.
        var replicas: [Int64: UInt16?] = [:]
        for replid in try Int64.fetchAll(src, sql: """
            SELECT DISTINCT origin_replid FROM messages WHERE id IN (\(ownMessages))
            """, arguments: [owner]) {
            guard let guid = try Data.fetchOne(src, sql: "SELECT guid FROM replids WHERE replid = ?",
                                               arguments: [replid]).flatMap(UUID.init(bytes:)) else {
                replicas[replid] = .some(nil)
                continue
            }
            do {
                replicas[replid] = try tables.replicaID(tgt, guid: guid, create: true, principal: principal)
            } catch StoreError.replicaIDQuotaReached {
                replicas[replid] = .some(nil)
            }
        }
        // Keywords in use: all must exist in the target.
        var properties: [Int64: Int64] = [:]
        for row in try Row.fetchAll(src, sql: """
            SELECT DISTINCT np.propid AS propid, np.name AS name FROM message_keywords k
            JOIN named_props np ON np.propid = k.propid WHERE k.message_id IN (\(ownMessages))
            """, arguments: [owner]) {
            let id = try tables.namedPropertyID(tgt, guid: PropertySet.publicStrings, key: .name(row["name"]),
                                                create: true, principal: principal)
            properties[row["propid"]] = id.map(Int64.init)
        }
        // Promoted header names in use: those the quota refuses are skipped.
        var headerNames: [Int64: String] = [:]
        for row in try Row.fetchAll(src, sql: """
            SELECT DISTINCT np.propid AS propid, np.name AS name FROM message_headers h
            JOIN named_props np ON np.propid = h.propid WHERE h.message_id IN (\(ownMessages))
            """, arguments: [owner]) {
            let propid: Int64 = row["propid"]
            headerNames[propid] = row["name"]
            do {
                if let id = try tables.namedPropertyID(tgt, guid: PropertySet.internetHeaders, key: .name(row["name"]),
                                                       create: true, principal: principal) {
                    properties[propid] = Int64(id)
                }
            } catch StoreError.namedPropertyQuotaReached {
                result.skippedHeaderNames += 1
            }
        }

        var bodies: [Int64: Int64] = [:]
        let folders = try Row.fetchAll(src, sql: "SELECT * FROM folders WHERE owner = ? ORDER BY name",
                                       arguments: [owner])
        for folder in folders {
            let oldFolderID: Int64 = folder["id"]
            let newFolderID = Int64(bitPattern: StoreID(replicaID: 1, counter: try MailboxSQL.allocateCounter(tgt))
                .rawValue)
            let uidValidity: Int64 = folder["uidvalidity"]
            try tgt.execute(sql: """
                INSERT INTO folders(id, owner, name, uidvalidity, uidnext, highestmodseq, subscribed, special_use,
                                    created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [newFolderID, owner, folder["name"], uidValidity, folder["uidnext"],
                                 folder["highestmodseq"], folder["subscribed"], folder["special_use"],
                                 folder["created_at"]])
            // Later UIDVALIDITY values of the target stay above the ones moved in.
            try tgt.execute(sql: "UPDATE meta SET next_uidvalidity = max(next_uidvalidity, ?) WHERE id = 1",
                            arguments: [uidValidity + 1])
            for tomb in try Row.fetchAll(src, sql: "SELECT uid, modseq FROM expunged WHERE folder_id = ?",
                                         arguments: [oldFolderID]) {
                try tgt.execute(sql: "INSERT INTO expunged(folder_id, uid, modseq) VALUES (?, ?, ?)",
                                arguments: [newFolderID, tomb["uid"], tomb["modseq"]])
            }
            result.folders += 1

            let messages = try Row.fetchCursor(src, sql: "SELECT * FROM messages WHERE folder_id = ? ORDER BY uid",
                                               arguments: [oldFolderID])
            while let message = try messages.next() {
                let oldID: Int64 = message["id"]
                let oldBody: Int64 = message["body_id"]
                let bodyID: Int64
                if let known = bodies[oldBody] {
                    bodyID = known
                } else {
                    guard let data = try Data.fetchOne(src, sql: "SELECT data FROM bodies WHERE id = ?",
                                                       arguments: [oldBody])
                    else { throw StoreError.corrupt("message \(oldID) has no body") }
                    try tgt.execute(sql: "INSERT INTO bodies(data) VALUES (?)", arguments: [data])
                    bodyID = tgt.lastInsertedRowID
                    bodies[oldBody] = bodyID
                }
                let counter = try MailboxSQL.allocateCounter(tgt)
                let newID = Int64(bitPattern: StoreID(replicaID: 1, counter: counter).rawValue)
                let originReplid: Int64 = message["origin_replid"]
                let origin: (Int64, Int64)
                if let mapped = replicas[originReplid] ?? nil {
                    origin = (Int64(mapped), message["origin_counter"])
                } else {
                    origin = (1, Int64(counter))
                    result.localIDs += 1
                }
                try tgt.execute(sql: """
                    INSERT INTO messages(id, folder_id, uid, modseq, flags, internal_date, size, envelope,
                                         bodystructure, body, body_id, origin_replid, origin_counter, headers_indexed)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [newID, newFolderID, message["uid"], message["modseq"], message["flags"],
                                     message["internal_date"], message["size"], message["envelope"],
                                     message["bodystructure"], message["body"], bodyID, origin.0, origin.1,
                                     message["headers_indexed"]])
                for propid in try Int64.fetchAll(src, sql: "SELECT propid FROM message_keywords WHERE message_id = ?",
                                                 arguments: [oldID]) {
                    guard let mapped = properties[propid] else { continue }
                    try tgt.execute(sql: "INSERT OR IGNORE INTO message_keywords(message_id, propid) VALUES (?, ?)",
                                    arguments: [newID, mapped])
                }
                var skipped = Set(try String.fetchAll(src, sql: """
                    SELECT name FROM message_header_skips WHERE message_id = ?
                    """, arguments: [oldID]))
                for header in try Row.fetchAll(src, sql: """
                    SELECT propid, value FROM message_headers WHERE message_id = ? ORDER BY rowid
                    """, arguments: [oldID]) {
                    let propid: Int64 = header["propid"]
                    if let mapped = properties[propid] {
                        try tgt.execute(sql: "INSERT INTO message_headers(message_id, propid, value) VALUES (?, ?, ?)",
                                        arguments: [newID, mapped, header["value"]])
                    } else if let name = headerNames[propid] {
                        skipped.insert(name)
                    }
                }
                for name in skipped {
                    try tgt.execute(sql: "INSERT OR IGNORE INTO message_header_skips(message_id, name) VALUES (?, ?)",
                                    arguments: [newID, name])
                }
                result.messages += 1
            }
        }
    }
}
