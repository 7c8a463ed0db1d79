public import Foundation
import GRDB
import Logging

/// What `exportMailbox(user:to:)` wrote.
public struct MailboxExportResult: Sendable, Hashable, Codable {
    public var folders: Int
    public var messages: Int
}

/// What `importMailbox(user:from:)` did.
public struct MailboxImportResult: Sendable, Hashable, Codable {
    /// Messages stored.
    public var imported: Int
    /// Imported messages whose origin GUID the replica-id quota refused (event 9669): they got a local origin.
    public var localIDs: Int
    /// Messages left out because the folder already holds a message of the same origin (a re-run import).
    public var skipped: Int
    /// Keywords the named-property quota refused (event 9667); the messages were imported without them.
    public var droppedKeywords: Int
}

/// An export folder is unreadable; says which file and line.
public struct MailboxImportError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var reason: String
    public var description: String { "\(file):\(line): \(reason)" }
}

/// One line of `folders.jsonl`.
struct ExportedFolder: Codable {
    var name: String
    var subscribed: Bool
    var specialUse: String?
    var uidvalidity: UInt32
    var uidnext: UInt32?
    var highestmodseq: UInt64?

    enum CodingKeys: String, CodingKey {
        case name, subscribed, specialUse = "special_use", uidvalidity, uidnext, highestmodseq
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(subscribed, forKey: .subscribed)
        try c.encode(specialUse, forKey: .specialUse)  // null, not absent
        try c.encode(uidvalidity, forKey: .uidvalidity)
        try c.encodeIfPresent(uidnext, forKey: .uidnext)
        try c.encodeIfPresent(highestmodseq, forKey: .highestmodseq)
    }
}

/// One line of `messages.jsonl`.
struct ExportedMessage: Codable {
    var folder: String
    var file: String
    var uid: UInt32?
    var flags: [String]
    var keywords: [String]
    /// RFC 3339.
    var internalDate: String
    /// "GUID:COUNTER", the counter in hex.
    var origin: String?

    enum CodingKeys: String, CodingKey {
        case folder, file, uid, flags, keywords, internalDate = "internal_date", origin
    }
}

extension SystemFlags {
    static let exportNames: [(SystemFlags, String)] = [
        (.seen, "\\Seen"), (.answered, "\\Answered"), (.flagged, "\\Flagged"), (.deleted, "\\Deleted"),
        (.draft, "\\Draft"),
    ]
}

extension SQLiteStore {
    /// Writes a user's mailbox to `directory` (created when missing): one `.eml` file per message, byte-exact, plus
    /// `folders.jsonl` (per line: name, subscribed, special_use, uidvalidity; also uidnext, highestmodseq) and
    /// `messages.jsonl` (per line: folder, file, flags, keywords, internal_date in RFC 3339, origin as
    /// "GUID:COUNTER" with the counter in hex; also uid). Each folder is read in one snapshot.
    public func exportMailbox(user: String, to directory: URL) async throws -> MailboxExportResult {
        let resolved = try await resolve(user: user)
        let owner = resolved.owner
        try await offload { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]

        let folders = try await resolved.mdb.pool.read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT \(MailboxSQL.folderColumns) FROM folders WHERE owner = ? ORDER BY name"),
                             arguments: [owner]).map(FolderRecord.init(row:))
        }
        var folderLines = Data()
        var messageLines = Data()
        var count = 0
        for folder in folders {
            folderLines += try encoder.encode(ExportedFolder(
                name: folder.name, subscribed: folder.subscribed, specialUse: folder.specialUse?.rawValue,
                uidvalidity: folder.uidValidity, uidnext: folder.uidNext, highestmodseq: folder.highestModSeq))
            folderLines.append(0x0A)
            let start = count
            let (lines, written) = try await resolved.mdb.pool.read { db -> (Data, Int) in
                var lines = Data()
                var written = 0
                let guids = try Dictionary(uniqueKeysWithValues: Row.fetchAll(db.cachedStatement(sql: "SELECT replid, guid FROM replids"))
                    .compactMap { row -> (Int64, UUID)? in
                        UUID(bytes: row["guid"]).map { (row["replid"], $0) }
                    })
                let keywords = try MessageSQL.keywordsOfFolder(db, folderID: folder.id)
                let dateFormatter = ISO8601DateFormatter()
                dateFormatter.formatOptions = [.withInternetDateTime]
                let rows = try Row.fetchCursor(db.cachedStatement(sql: """
                    SELECT m.id AS id, m.uid AS uid, m.flags AS flags, m.internal_date AS internal_date,
                           m.origin_replid AS origin_replid, m.origin_counter AS origin_counter, b.data AS data
                    FROM messages m JOIN bodies b ON b.id = m.body_id WHERE m.folder_id = ? ORDER BY m.uid
                    """), arguments: [folder.id])
                while let row = try rows.next() {
                    let file = String(format: "%06d.eml", start + written + 1)
                    let data: Data = row["data"]
                    try data.write(to: directory.appendingPathComponent(file))
                    let system = SystemFlags(rawValue: row["flags"])
                    let origin = guids[row["origin_replid"]].map { guid -> String in
                        String(format: "%@:%012llX", guid.uuidString, UInt64(row["origin_counter"] as Int64))
                    }
                    lines += try encoder.encode(ExportedMessage(
                        folder: folder.name, file: file, uid: UInt32(truncatingIfNeeded: row["uid"] as Int64),
                        flags: SystemFlags.exportNames.filter { system.contains($0.0) }.map(\.1),
                        keywords: keywords[row["id"]] ?? [],
                        internalDate: dateFormatter.string(from: Date(timeIntervalSince1970: row["internal_date"])),
                        origin: origin))
                    lines.append(0x0A)
                    written += 1
                }
                return (lines, written)
            }
            messageLines += lines
            count += written
        }
        let (f, m) = (folderLines, messageLines)
        try await offload {
            try f.write(to: directory.appendingPathComponent("folders.jsonl"), options: .atomic)
            try m.write(to: directory.appendingPathComponent("messages.jsonl"), options: .atomic)
        }
        logger.info("exported the mailbox of \(resolved.info.name): \(folders.count) folders, \(count) messages")
        return MailboxExportResult(folders: folders.count, messages: count)
    }

    /// Reads an export (see `exportMailbox(user:to:)`) into a user's mailbox. Missing folders are created with
    /// their exported UIDVALIDITY, and their messages keep their UIDs (and get modseqs above the exported
    /// HIGHESTMODSEQ), so that a client's cache stays valid; into an existing folder messages are appended. Each
    /// origin GUID gets a replica id (the replica-id quota refusing one → the message is imported with a local
    /// origin, counted in `localIDs`); keywords the named-property quota refuses are dropped, never the message.
    /// A message whose origin the folder already holds is skipped, so that an interrupted import can be re-run.
    public func importMailbox(user: String, from directory: URL) async throws -> MailboxImportResult {
        let resolved = try await resolve(user: user)
        let owner = resolved.owner
        let principal = Principal.user(resolved.info.name)
        let decoder = JSONDecoder()
        let (folderText, messageText) = try await offload {
            (try String(contentsOf: directory.appendingPathComponent("folders.jsonl"), encoding: .utf8),
             try String(contentsOf: directory.appendingPathComponent("messages.jsonl"), encoding: .utf8))
        }
        func lines<T: Decodable>(_ text: String, file: String, as type: T.Type) throws -> [T] {
            try text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { n, line in
                guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
                do { return try decoder.decode(T.self, from: Data(line.utf8)) } catch {
                    throw MailboxImportError(file: file, line: n + 1, reason: "\(error)")
                }
            }
        }
        let folders = try lines(folderText, file: "folders.jsonl", as: ExportedFolder.self)
        let messages = try lines(messageText, file: "messages.jsonl", as: ExportedMessage.self)

        // Folders: the ones created here keep UIDVALIDITY and UIDs.
        var created: Set<String> = []
        for folder in folders {
            let name = try FolderName.canonical(folder.name)
            let made = try await resolved.mdb.pool.write { db -> Bool in
                var record: FolderRecord
                if let existing = try MailboxSQL.folder(db, owner: owner, name: name) {
                    // A folder that never held a message (a new user's INBOX) is taken over like a new one.
                    guard existing.uidNext == 1 else { return false }
                    record = existing
                } else {
                    record = try MailboxSQL.insertFolder(db, owner: owner, name: name,
                                                         specialUse: folder.specialUse.flatMap(SpecialUse.init))
                }
                if folder.uidvalidity != 0 {
                    try db.execute(sql: "UPDATE folders SET uidvalidity = ? WHERE id = ?",
                                   arguments: [Int64(folder.uidvalidity), record.id])
                    try db.execute(sql: "UPDATE meta SET next_uidvalidity = max(next_uidvalidity, ?) WHERE id = 1",
                                   arguments: [Int64(folder.uidvalidity) + 1])
                }
                record.highestModSeq = max(record.highestModSeq, folder.highestmodseq ?? 0)
                try db.execute(sql: "UPDATE folders SET subscribed = ?, highestmodseq = ? WHERE id = ?",
                               arguments: [folder.subscribed, Int64(record.highestModSeq), record.id])
                return true
            }
            if made { created.insert(name) }
        }

        let dateParser = ISO8601DateFormatter()
        let fractionalParser = ISO8601DateFormatter()
        fractionalParser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let maxNewNames = options.maxNewNamedPropsPerMessage
        var result = MailboxImportResult(imported: 0, localIDs: 0, skipped: 0, droppedKeywords: 0)
        for (n, entry) in messages.enumerated() {
            let where_ = { (reason: String) in MailboxImportError(file: "messages.jsonl", line: n + 1, reason: reason) }
            guard !entry.file.contains("/"), !entry.file.hasPrefix(".") else { throw where_("bad file name") }
            let url = directory.appendingPathComponent(entry.file)
            let bytes = try await offload { [UInt8](try Data(contentsOf: url)) }
            guard bytes.count <= options.maxMessageSize else {
                throw StoreError.messageTooLarge(size: bytes.count, limit: options.maxMessageSize)
            }
            guard let date = dateParser.date(from: entry.internalDate) ?? fractionalParser.date(from: entry.internalDate)
            else { throw where_("internal_date is not RFC 3339: \(entry.internalDate)") }
            var flags: SystemFlags = []
            for flag in entry.flags {
                guard let known = SystemFlags.exportNames.first(where: {
                    $0.1.caseInsensitiveCompare(flag) == .orderedSame
                }) else { throw where_("unknown flag \(flag)") }
                flags.insert(known.0)
            }
            var parsedGUID: UUID?
            var parsedCounter: UInt64 = 0
            if let origin = entry.origin {
                let parts = origin.split(separator: ":")
                guard parts.count == 2, let guid = UUID(uuidString: String(parts[0])),
                      let counter = UInt64(parts[1], radix: 16), counter < (1 << 48)
                else { throw where_("origin is not GUID:COUNTER: \(origin)") }
                (parsedGUID, parsedCounter) = (guid, counter)
            }
            let (system, originGUID, originCounter) = (flags, parsedGUID, parsedCounter)
            let name = try FolderName.canonical(entry.folder)
            let keepUID = created.contains(name) ? entry.uid : nil
            let index = MessageIndex(indexing: bytes, limits: options.limits)
            let pending = PendingEvents()
            let tables = resolved.mdb.quotaTables(pending)
            let outcome = try await resolved.mdb.pool.write { db -> (stored: Bool, local: Bool, dropped: Int) in
                var folder = try MailboxSQL.folder(db, owner: owner, name: name)
                    ?? MailboxSQL.insertFolder(db, owner: owner, name: name, specialUse: nil)
                var origin: MessageInsertion.Origin?
                if let originGUID {
                    do {
                        if let replid = try tables.replicaID(db, guid: originGUID, create: true,
                                                             principal: principal) {
                            origin = MessageInsertion.Origin(replicaID: replid, counter: originCounter)
                        }
                    } catch StoreError.replicaIDQuotaReached {
                        origin = nil
                    }
                    if let origin, try Bool.fetchOne(db.cachedStatement(sql: """
                        SELECT EXISTS (SELECT 1 FROM messages WHERE folder_id = ? AND origin_replid = ?
                                       AND origin_counter = ?)
                        """), arguments: [folder.id, Int64(origin.replicaID), Int64(origin.counter)]) == true {
                        return (false, false, 0)
                    }
                }
                var keywordIDs: [UInt16] = []
                var dropped = 0
                for keyword in entry.keywords where !keyword.isEmpty {
                    do {
                        if let id = try tables.namedPropertyID(db, guid: PropertySet.publicStrings, key: .name(keyword),
                                                               create: true, principal: principal),
                           !keywordIDs.contains(id) {
                            keywordIDs.append(id)
                        }
                    } catch StoreError.namedPropertyQuotaReached {
                        dropped += 1
                    }
                }
                var uid = keepUID
                if let wanted = uid, wanted < folder.uidNext { uid = nil }
                _ = try MessageInsertion.insert(db, folder: &folder, uid: uid, message: bytes, index: index,
                                                system: system, keywordIDs: keywordIDs.sorted(),
                                                internalDate: date.timeIntervalSince1970, origin: origin,
                                                principal: principal, tables: tables, maxNewNames: maxNewNames)
                return (true, originGUID != nil && origin == nil, dropped)
            }
            await flush(pending)
            if outcome.stored { result.imported += 1 } else { result.skipped += 1 }
            if outcome.local { result.localIDs += 1 }
            result.droppedKeywords += outcome.dropped
        }
        logger.info("""
            imported into the mailbox of \(resolved.info.name): \(result.imported) messages, \(result.localIDs) with \
            local ids, \(result.skipped) already there, \(result.droppedKeywords) keywords dropped
            """)
        return result
    }
}
