import Foundation
import GRDB
import Logging

/// A quota setting given at mount or remount lies outside the size of its table; nothing was changed.
public struct DatabaseQuotaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The setting as `keep.toml` names it, e.g. `named_props_quota`.
    public var setting: String
    public var value: Int
    public var range: ClosedRange<Int>
    public var database: String

    public var description: String {
        "\(setting) = \(value) for database \(database) is outside \(range.lowerBound)...\(range.upperBound) "
            + "(0x\(String(range.upperBound, radix: 16, uppercase: true))); the database keeps its current quotas"
    }
}

extension DatabaseQuotas {
    /// The range every quota must lie in: 1 to the size of the tables (0x7FFF).
    public static let validRange: ClosedRange<Int> = 1...0x7FFF

    /// Throws `DatabaseQuotaError` naming the first setting outside `validRange`.
    public func validate(database: String) throws {
        for (setting, value) in [("named_props_quota", namedProps), ("replids_quota", replids),
                                 ("unauthenticated_named_props_quota", unauthenticatedNamedProps)]
            where !Self.validRange.contains(value) {
            throw DatabaseQuotaError(setting: setting, value: value, range: Self.validRange, database: database)
        }
    }
}

extension SQLiteStore {
    // MARK: Mount

    /// Mounts a database with the quotas `options` gives it (the seed: quotas change only at (re)mount). Mounting a
    /// mounted database changes nothing. The state is kept in directory.sqlite, so every process using the data
    /// folder (a running server, the `keep` CLI) sees it.
    public func mountDatabase(_ name: String) async throws {
        try await mountDatabase(name, quotas: options.quotas(for: name))
    }

    /// Mounts a database with the given quotas (each 1...0x7FFF, else `DatabaseQuotaError` and nothing changes).
    /// Mounting a mounted database changes nothing; use `remountDatabase(name:quotas:)` to apply new quotas.
    public func mountDatabase(_ name: String, quotas: DatabaseQuotas) async throws {
        try quotas.validate(database: name)
        let changed = try await directory.write { db -> Bool in
            guard let record = try DatabaseRecord.fetch(db, name: name) else { throw StoreError.noSuchDatabase(name) }
            guard !record.mounted else { return false }
            try Self.writeMount(db, name: record.name, mounted: true, quotas: quotas)
            return true
        }
        if changed { logger.info("mounted mailbox database \(name)") }
    }

    /// Marks a database unmounted and closes it; calls for its users fail with `.databaseUnavailable` until it is
    /// mounted again (IMAP: NO [UNAVAILABLE]; LMTP: 451 4.2.0).
    public func unmountDatabase(_ name: String) async throws {
        let canonical = try await directory.write { db -> String in
            guard let record = try DatabaseRecord.fetch(db, name: name) else { throw StoreError.noSuchDatabase(name) }
            try Self.writeMount(db, name: record.name, mounted: false, quotas: nil)
            return record.name
        }
        try await closeDatabase(named: canonical)
        logger.info("unmounted mailbox database \(canonical)")
    }

    /// Closes and reopens a database, reading its quotas anew: `quotas`, or when nil those `options` gives it. A
    /// quota outside 1...0x7FFF is refused with `DatabaseQuotaError` naming the setting and its range, and the
    /// database stays as it was. An unmounted database ends up mounted.
    public func remountDatabase(name: String, quotas: DatabaseQuotas? = nil) async throws {
        let quotas = quotas ?? options.quotas(for: name)
        try quotas.validate(database: name)
        let canonical = try await directory.write { db -> String in
            guard let record = try DatabaseRecord.fetch(db, name: name) else { throw StoreError.noSuchDatabase(name) }
            try Self.writeMount(db, name: record.name, mounted: true, quotas: quotas)
            return record.name
        }
        try await closeDatabase(named: canonical)
        _ = try await mailboxDatabase(named: canonical)
        logger.info("""
            remounted mailbox database \(canonical): named_props_quota \(quotas.namedProps), replids_quota \
            \(quotas.replids), unauthenticated_named_props_quota \(quotas.unauthenticatedNamedProps)
            """)
    }

    /// Sets the mount state (and quotas when given) and bumps the generation so that other processes reopen.
    private static func writeMount(_ db: Database, name: String, mounted: Bool, quotas: DatabaseQuotas?) throws {
        if let quotas {
            try db.cachedStatement(sql: """
                UPDATE databases SET mounted = ?, mount_generation = mount_generation + 1, named_props_quota = ?,
                    replids_quota = ?, unauthenticated_named_props_quota = ?
                WHERE name = ?
                """).execute(arguments: [mounted, quotas.namedProps, quotas.replids, quotas.unauthenticatedNamedProps, name])
        } else {
            try db.cachedStatement(sql: """
                UPDATE databases SET mounted = ?, mount_generation = mount_generation + 1 WHERE name = ?
                """).execute(arguments: [mounted, name])
        }
    }

    /// Deletes a mailbox database and its files. Refused with `.databaseNotEmpty` while users remain in it (move
    /// them first) or a mailbox move into or out of it is pending.
    public func removeDatabase(name: String) async throws {
        let canonical = try await directory.write { db -> String in
            guard let record = try DatabaseRecord.fetch(db, name: name) else { throw StoreError.noSuchDatabase(name) }
            let users = try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM users WHERE database = ?"),
                                         arguments: [record.name]) ?? 0
            let moves = try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM mailbox_moves WHERE source = ? OR target = ?"),
                                         arguments: [record.name, record.name]) ?? 0
            guard users + moves == 0 else { throw StoreError.databaseNotEmpty(record.name, users: users + moves) }
            try db.cachedStatement(sql: "DELETE FROM databases WHERE name = ?").execute(arguments: [record.name])
            return record.name
        }
        try await closeDatabase(named: canonical)
        let url = databaseFileURL(canonical)
        try await offload {
            for suffix in ["", "-wal", "-shm"] {
                let file = URL(fileURLWithPath: url.path + suffix)
                if FileManager.default.fileExists(atPath: file.path) { try FileManager.default.removeItem(at: file) }
            }
        }
        logger.info("removed mailbox database \(canonical)")
    }

    // MARK: Stats

    /// Counts of the database's named-property and replica-id tables with the quotas in effect (those of its latest
    /// mount), its users, messages and size on disk. Throws `.databaseUnavailable` while it is unmounted.
    public func databaseStats(name: String) async throws -> DatabaseStats {
        let (record, users) = try await directory.read { db -> (DatabaseRecord, Int) in
            guard let record = try DatabaseRecord.fetch(db, name: name) else { throw StoreError.noSuchDatabase(name) }
            return (record, try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM users WHERE database = ?"),
                                             arguments: [record.name]) ?? 0)
        }
        let mdb = try await mailboxDatabase(record)
        let (database, quotas) = (mdb.name, mdb.quotas)
        var stats = try await mdb.pool.read { db -> DatabaseStats in
            var stats = try QuotaTables.stats(db, database: database, quotas: quotas)
            stats.messages = try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM messages")) ?? 0
            return stats
        }
        stats.users = users
        let url = databaseFileURL(mdb.name)
        stats.size = ["", "-wal"].reduce(Int64(0)) { total, suffix in
            let attributes = try? FileManager.default.attributesOfItem(atPath: url.path + suffix)
            return total + ((attributes?[.size] as? NSNumber)?.int64Value ?? 0)
        }
        return stats
    }

    // MARK: Compaction

    /// Online compaction: deletes the keywords (PS_PUBLIC_STRINGS) and promoted header names (PS_INTERNET_HEADERS)
    /// no message refers to any more, returning how many were reclaimed. Their ids become free and are handed out
    /// again, lowest first. Named properties of other sets are kept: the store does not know who uses them.
    public func compactDatabase(name: String) async throws -> Int {
        let mdb = try await mailboxDatabase(named: name)
        let reclaimed = try await mdb.pool.write { db -> Int in
            // A folder's FLAGS list keeps the keywords once used in it; a keyword no message carries any more leaves
            // those lists with its name.
            try db.cachedStatement(sql: """
                DELETE FROM folder_keywords
                WHERE NOT EXISTS (SELECT 1 FROM message_keywords k WHERE k.propid = folder_keywords.propid)
                """).execute()
            try db.cachedStatement(sql: """
                DELETE FROM named_props
                WHERE guid IN (?, ?)
                  AND NOT EXISTS (SELECT 1 FROM message_keywords k WHERE k.propid = named_props.propid)
                  AND NOT EXISTS (SELECT 1 FROM message_headers h WHERE h.propid = named_props.propid)
                """).execute(arguments: [PropertySet.publicStrings.bytes, PropertySet.internetHeaders.bytes])
            return db.changesCount
        }
        logger.info("compacted mailbox database \(mdb.name): \(reclaimed) named properties reclaimed")
        return reclaimed
    }
}
