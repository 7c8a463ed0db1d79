public import Foundation
import GRDB

extension SQLiteStore {
    /// The property id of the named property `(guid, name)` in `database`; with `create`, it is created for
    /// `principal` when missing, subject to the database's quotas (events 9666/9667).
    public func namedPropertyID(database: String, guid: UUID, name: String, create: Bool,
                                principal: Principal) async throws -> UInt16? {
        try await namedPropertyID(database: database, guid: guid, key: .name(name), create: create,
                                  principal: principal)
    }

    /// The property id of the named property `(guid, lid)` in `database`; see `namedPropertyID(database:guid:name:…)`.
    public func namedPropertyID(database: String, guid: UUID, lid: UInt32, create: Bool,
                                principal: Principal) async throws -> UInt16? {
        try await namedPropertyID(database: database, guid: guid, key: .lid(lid), create: create, principal: principal)
    }

    public func namedPropertyID(database: String, guid: UUID, key: NamedPropertyKey, create: Bool,
                                principal: Principal) async throws -> UInt16? {
        let mdb = try await mailboxDatabase(named: database)
        let pending = PendingEvents()
        let tables = mdb.quotaTables(pending)
        do {
            let id: UInt16?
            if create {
                id = try await mdb.pool.write { db in
                    try tables.namedPropertyID(db, guid: guid, key: key, create: true, principal: principal)
                }
            } else {
                id = try await mdb.pool.read { db in try tables.lookupNamedProperty(db, guid: guid, key: key) }
            }
            await flush(pending)
            return id
        } catch {
            await flush(pending)
            throw error
        }
    }

    /// The named property with id `id` in `database`.
    public func namedProperty(database: String, id: UInt16) async throws -> NamedProperty? {
        let mdb = try await mailboxDatabase(named: database)
        return try await mdb.pool.read { db in try QuotaTables.namedProperty(db, id: id) }
    }

    /// Every named property of the set `guid` in `database`, by id.
    public func namedProperties(database: String, guid: UUID) async throws -> [NamedProperty] {
        let mdb = try await mailboxDatabase(named: database)
        return try await mdb.pool.read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM named_props WHERE guid = ? ORDER BY propid"),
                             arguments: [guid.bytes]).compactMap(QuotaTables.namedProperty(from:))
        }
    }

    /// The replica id of `guid` in `database`; with `create`, one is allocated for `principal` when missing, subject
    /// to the replica-id quota (events 9668/9669). Lookups never allocate.
    public func replicaID(database: String, for guid: UUID, create: Bool,
                          principal: Principal) async throws -> UInt16? {
        let mdb = try await mailboxDatabase(named: database)
        let pending = PendingEvents()
        let tables = mdb.quotaTables(pending)
        do {
            let id: UInt16?
            if create {
                id = try await mdb.pool.write { db in
                    try tables.replicaID(db, guid: guid, create: true, principal: principal)
                }
            } else {
                id = try await mdb.pool.read { db in
                    try tables.replicaID(db, guid: guid, create: false, principal: principal)
                }
            }
            await flush(pending)
            return id
        } catch {
            await flush(pending)
            throw error
        }
    }

    /// The GUID of replica id `id` in `database`.
    public func replicaGUID(database: String, id: UInt16) async throws -> UUID? {
        let mdb = try await mailboxDatabase(named: database)
        return try await mdb.pool.read { db in
            try Data.fetchOne(db.cachedStatement(sql: "SELECT guid FROM replids WHERE replid = ?"), arguments: [Int64(id)])
                .flatMap(UUID.init(bytes:))
        }
    }

    /// Whether a new keyword could be created now (below the users' quota, and the table not full). Asked on every
    /// SELECT, so it counts only the users' entries, and the whole table only when its last id is in use.
    public func canCreateKeywords(user: String) async throws -> Bool {
        let resolved = try await resolve(user: user)
        let quota = resolved.mdb.quotas.namedProps
        return try await resolved.mdb.pool.read { db in try Self.keywordsCreatable(db, quota: quota) }
    }

    /// Whether users may create named properties (keywords) in the database now: below `quota` and the table not
    /// full.
    static func keywordsCreatable(_ db: Database, quota: Int) throws -> Bool {
        let users = try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM named_props WHERE creator_kind = 'user'")) ?? 0
        guard users < quota else { return false }
        let top = try Int.fetchOne(db.cachedStatement(sql: "SELECT max(propid) FROM named_props")) ?? 0
        guard top >= QuotaTables.lastPropID else { return true }
        let total = try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM named_props")) ?? 0
        return total < QuotaTables.lastPropID - QuotaTables.firstPropID + 1
    }
}
