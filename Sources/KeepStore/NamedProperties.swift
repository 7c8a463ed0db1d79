public import Foundation
import GRDB

/// How a named property is identified within its property set: by a numeric id (LID) or by a string name.
public enum NamedPropertyKey: Sendable, Hashable {
    case lid(UInt32)
    /// Names compare case-insensitively (ASCII); the first spelling created is kept.
    case name(String)

    var displayValue: String {
        switch self {
        case .lid(let lid): return String(format: "0x%08X", lid)
        case .name(let name): return name
        }
    }
}

/// One row of a database's named-property table.
public struct NamedProperty: Sendable, Hashable {
    /// 0x8000...0xFFFE.
    public var id: UInt16
    public var guid: UUID
    public var key: NamedPropertyKey
    public var createdBy: String
    public var createdAt: Date
}

/// The state of a database: its quota-limited tables with the quotas in effect (those of its latest mount), and its
/// size. Encodes to the `keep db stats --json` shape:
/// `{"database": …, "named_props": {"count", "quota", "unauthenticated_count", "unauthenticated_quota", "total"},
/// "replids": {"count", "quota", "total"}, "users": …, "messages": …, "size": …}`.
public struct DatabaseStats: Sendable, Hashable, Codable {
    public var database: String
    /// Named properties created by users (counted against `namedPropsQuota`).
    public var namedProps: Int
    public var namedPropsQuota: Int
    /// Named properties created by unauthenticated principals.
    public var unauthenticatedNamedProps: Int
    public var unauthenticatedNamedPropsQuota: Int
    /// Every row of the named-property table, including the store's own.
    public var namedPropsTotal: Int
    /// Replica ids created by principals other than the store itself.
    public var replids: Int
    public var replidsQuota: Int
    /// Every row of the replica-id table, including the database's own (replica id 1).
    public var replidsTotal: Int
    /// Users whose mailbox is in the database.
    public var users: Int = 0
    /// Messages in the database.
    public var messages: Int = 0
    /// Bytes the database takes on disk.
    public var size: Int64 = 0

    private enum CodingKeys: String, CodingKey {
        case database, namedProps = "named_props", replids, users, messages, size
    }
    private enum NamedPropsKeys: String, CodingKey {
        case count, quota, unauthenticatedCount = "unauthenticated_count"
        case unauthenticatedQuota = "unauthenticated_quota", total
    }
    private enum ReplidsKeys: String, CodingKey { case count, quota, total }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        database = try c.decode(String.self, forKey: .database)
        let np = try c.nestedContainer(keyedBy: NamedPropsKeys.self, forKey: .namedProps)
        namedProps = try np.decode(Int.self, forKey: .count)
        namedPropsQuota = try np.decode(Int.self, forKey: .quota)
        unauthenticatedNamedProps = try np.decode(Int.self, forKey: .unauthenticatedCount)
        unauthenticatedNamedPropsQuota = try np.decode(Int.self, forKey: .unauthenticatedQuota)
        namedPropsTotal = try np.decodeIfPresent(Int.self, forKey: .total) ?? namedProps + unauthenticatedNamedProps
        let r = try c.nestedContainer(keyedBy: ReplidsKeys.self, forKey: .replids)
        replids = try r.decode(Int.self, forKey: .count)
        replidsQuota = try r.decode(Int.self, forKey: .quota)
        replidsTotal = try r.decodeIfPresent(Int.self, forKey: .total) ?? replids + 1
        users = try c.decodeIfPresent(Int.self, forKey: .users) ?? 0
        messages = try c.decodeIfPresent(Int.self, forKey: .messages) ?? 0
        size = try c.decodeIfPresent(Int64.self, forKey: .size) ?? 0
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(database, forKey: .database)
        var np = c.nestedContainer(keyedBy: NamedPropsKeys.self, forKey: .namedProps)
        try np.encode(namedProps, forKey: .count)
        try np.encode(namedPropsQuota, forKey: .quota)
        try np.encode(unauthenticatedNamedProps, forKey: .unauthenticatedCount)
        try np.encode(unauthenticatedNamedPropsQuota, forKey: .unauthenticatedQuota)
        try np.encode(namedPropsTotal, forKey: .total)
        var r = c.nestedContainer(keyedBy: ReplidsKeys.self, forKey: .replids)
        try r.encode(replids, forKey: .count)
        try r.encode(replidsQuota, forKey: .quota)
        try r.encode(replidsTotal, forKey: .total)
        try c.encode(users, forKey: .users)
        try c.encode(messages, forKey: .messages)
        try c.encode(size, forKey: .size)
    }

    init(database: String, namedProps: Int, namedPropsQuota: Int, unauthenticatedNamedProps: Int,
         unauthenticatedNamedPropsQuota: Int, namedPropsTotal: Int, replids: Int, replidsQuota: Int,
         replidsTotal: Int) {
        self.database = database
        self.namedProps = namedProps
        self.namedPropsQuota = namedPropsQuota
        self.unauthenticatedNamedProps = unauthenticatedNamedProps
        self.unauthenticatedNamedPropsQuota = unauthenticatedNamedPropsQuota
        self.namedPropsTotal = namedPropsTotal
        self.replids = replids
        self.replidsQuota = replidsQuota
        self.replidsTotal = replidsTotal
    }
}

/// Well-known property sets.
public enum PropertySet {
    /// PS_PUBLIC_STRINGS: IMAP keywords are named properties of kind name in this set.
    public static let publicStrings = UUID(uuidString: "00020329-0000-0000-C000-000000000046")!
}

extension Principal {
    /// The quota pool a principal's creations count against.
    var creatorKind: String {
        switch self {
        case .system: return "system"
        case .user: return "user"
        case .unauthenticated: return "unauthenticated"
        }
    }
}

/// The rules of the named-property and replica-id tables, run inside a mailbox database's write transaction.
/// Quota events are collected in `events` and recorded by the caller after the transaction, committed or not.
struct QuotaTables {
    static let firstPropID = 0x8000
    static let lastPropID = 0xFFFE
    static let maxReplID = 0x7FFF
    /// A warning is raised when a creation leaves the pool this close to its quota.
    static let warningMargin = 20

    var database: String
    var quotas: DatabaseQuotas
    var events: PendingEvents
    /// Row counts of the named-property table, taken once per store call instead of once per new name (a delivery
    /// may create 64); trusted only while the table's highest id is the one they were taken at.
    let counts = Locked<NamedPropCounts?>(nil)

    /// The named-property table's size and per-creator counts at a given highest id.
    struct NamedPropCounts {
        var top: Int?
        var total: Int
        var byKind: [String: Int]
    }

    /// The counts now: from the cache when the highest id has not moved, else counted.
    private func currentCounts(_ db: Database) throws -> NamedPropCounts {
        let top = try Int.fetchOne(db.cachedStatement(sql: "SELECT max(propid) FROM named_props"))
        if let cached = counts.withLock({ $0 }), cached.top == top { return cached }
        let total = try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM named_props")) ?? 0
        let fresh = NamedPropCounts(top: top, total: total, byKind: [:])
        counts.withLock { $0 = fresh }
        return fresh
    }

    private func count(_ db: Database, kind: String, in current: NamedPropCounts) throws -> Int {
        if let n = current.byKind[kind] { return n }
        let n = try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM named_props WHERE creator_kind = ?"), arguments: [kind]) ?? 0
        counts.withLock { $0?.byKind[kind] = n }
        return n
    }

    // MARK: Named properties

    func lookupNamedProperty(_ db: Database, guid: UUID, key: NamedPropertyKey) throws -> UInt16? {
        let id: Int64?
        switch key {
        case .lid(let lid):
            id = try Int64.fetchOne(db.cachedStatement(sql: "SELECT propid FROM named_props WHERE kind = 'lid' AND guid = ? AND lid = ?"),
                                    arguments: [guid.bytes, Int64(lid)])
        case .name(let name):
            id = try Int64.fetchOne(db.cachedStatement(sql: """
                SELECT propid FROM named_props WHERE kind = 'name' AND guid = ? AND name = ? COLLATE NOCASE
                """), arguments: [guid.bytes, name])
        }
        return id.map { UInt16($0) }
    }

    /// The property id of `(guid, key)`, created for `principal` when `create` is set and it does not exist yet.
    func namedPropertyID(_ db: Database, guid: UUID, key: NamedPropertyKey, create: Bool,
                         principal: Principal) throws -> UInt16? {
        if let id = try lookupNamedProperty(db, guid: guid, key: key) { return id }
        guard create else { return nil }

        let current = try currentCounts(db)
        let total = current.total
        let pool: (count: Int, quota: Int)?
        switch principal {
        case .system: pool = nil
        case .user: pool = (try count(db, kind: "user", in: current), quotas.namedProps)
        case .unauthenticated: pool = (try count(db, kind: "unauthenticated", in: current), quotas.unauthenticatedNamedProps)
        }
        let tableFull = total >= Self.lastPropID - Self.firstPropID + 1
        if tableFull || (pool.map { $0.count >= $0.quota } ?? false) {
            let quota = tableFull ? Self.lastPropID - Self.firstPropID + 1 : pool!.quota
            events.append(PendingEvent(
                eventID: StoreEventID.namedPropsQuotaError, type: .error, source: "msgidNamedPropsQuotaError",
                database: database, principal: principal.description,
                message: """
                    Failed to create a new named property for database "\(database)" because the number of named \
                    properties reached the quota limit (\(quota)).
                    User attempting to create the named property: \(principal)
                    Named property GUID: \(guid.uuidString)
                    Named property name/id: \(key.displayValue)
                    """,
                fields: ["database": database, "current": String(pool?.count ?? total), "quota": String(quota),
                         "user": principal.description, "guid": guid.uuidString, "name": key.displayValue]))
            throw StoreError.namedPropertyQuotaReached(database: database, quota: quota)
        }

        // The lowest free id: compaction leaves holes in the dense 0x8000... range, and they are used first.
        let next = try Self.lowestFreePropID(db, total: total, top: current.top)
        guard next <= Self.lastPropID else { throw StoreError.corrupt("named-property ids exhausted in \(database)") }
        let (lid, name): (Int64?, String?)
        switch key {
        case .lid(let l): (lid, name) = (Int64(l), nil)
        case .name(let n): (lid, name) = (nil, n)
        }
        try db.cachedStatement(sql: """
            INSERT INTO named_props(propid, guid, kind, lid, name, created_by, creator_kind, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [next, guid.bytes, lid == nil ? "name" : "lid", lid, name, principal.description,
                             principal.creatorKind, Date().timeIntervalSince1970])
        counts.withLock { cached in
            guard var c = cached else { return }
            c.top = max(c.top ?? next, next)
            c.total += 1
            if let n = c.byKind[principal.creatorKind] { c.byKind[principal.creatorKind] = n + 1 }
            cached = c
        }

        // The warning comes near the creator's quota, or near the table's own size when the quotas add up to more
        // than the table holds (then the table fills first, and its size is the limit that trips).
        let capacity = Self.lastPropID - Self.firstPropID + 1
        let near: (current: Int, quota: Int)?
        if let pool, pool.count + 1 >= pool.quota - Self.warningMargin {
            near = (pool.count + 1, pool.quota)
        } else if pool != nil, total + 1 >= capacity - Self.warningMargin {
            near = (total + 1, capacity)
        } else {
            near = nil
        }
        if let near {
            let (current, quota) = near
            events.append(PendingEvent(
                eventID: StoreEventID.namedPropsQuotaWarning, type: .warning, source: "msgidNamedPropsQuotaWarning",
                database: database, principal: principal.description,
                message: """
                    The number of named properties created for database "\(database)" is close to quota limit.
                    Current number of named properties: \(current)
                    Quota limit for named properties: \(quota)
                    User attempting to create the named property: \(principal)
                    Named property GUID: \(guid.uuidString)
                    Named property name/id: \(key.displayValue)
                    """,
                fields: ["database": database, "current": String(current), "quota": String(quota),
                         "user": principal.description, "guid": guid.uuidString, "name": key.displayValue]))
        }
        return UInt16(next)
    }

    /// The lowest id of 0x8000...0xFFFE not in use (0xFFFF when none is free).
    /// `total` and `top` are the table's row count and highest id.
    static func lowestFreePropID(_ db: Database, total: Int, top: Int?) throws -> Int {
        // Without holes (the usual case: only compaction makes them) the next id is the highest + 1; the search for
        // a hole below walks the table and is left for when one exists.
        guard let top else { return Self.firstPropID }
        if top - Self.firstPropID + 1 == total { return top + 1 }
        return try Int.fetchOne(db.cachedStatement(sql: """
            SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM named_props WHERE propid = ?1) THEN ?1
                        ELSE (SELECT min(a.propid) + 1 FROM named_props a
                              WHERE NOT EXISTS (SELECT 1 FROM named_props b WHERE b.propid = a.propid + 1))
                   END
            """), arguments: [Self.firstPropID]) ?? Self.firstPropID
    }

    static func namedProperty(_ db: Database, id: UInt16) throws -> NamedProperty? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM named_props WHERE propid = ?"), arguments: [Int64(id)])
            .flatMap(namedProperty(from:))
    }

    static func namedProperty(from row: Row) -> NamedProperty? {
        guard let guid = UUID(bytes: row["guid"]) else { return nil }
        let kind: String = row["kind"]
        let key: NamedPropertyKey
        if kind == "lid" {
            let lid: Int64 = row["lid"]
            key = .lid(UInt32(truncatingIfNeeded: lid))
        } else {
            key = .name(row["name"])
        }
        let propid: Int64 = row["propid"]
        return NamedProperty(id: UInt16(propid), guid: guid, key: key, createdBy: row["created_by"],
                             createdAt: Date(timeIntervalSince1970: row["created_at"]))
    }

    // MARK: Replica ids

    /// The replica id of `guid`; with `create`, a new one is allocated for `principal` when there is none.
    /// Lookups never allocate.
    func replicaID(_ db: Database, guid: UUID, create: Bool, principal: Principal) throws -> UInt16? {
        if let id = try Int64.fetchOne(db.cachedStatement(sql: "SELECT replid FROM replids WHERE guid = ?"), arguments: [guid.bytes]) {
            return UInt16(id)
        }
        guard create else { return nil }
        // Both from the creator index (the store's own registrations are few).
        let total = try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM replids INDEXED BY replids_creator")) ?? 0
        let system = try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM replids WHERE creator_kind = 'system'")) ?? 0
        let counted = total - system
        let tableFull = total >= Self.maxReplID
        let overQuota = principal != .system && counted >= quotas.replids
        if tableFull || overQuota {
            let quota = tableFull ? Self.maxReplID : quotas.replids
            events.append(PendingEvent(
                eventID: StoreEventID.replidsQuotaError, type: .error, source: "msgidReplidsQuotaError",
                database: database, principal: principal.description,
                message: """
                    Failed to create a new replica identifier for database "\(database)" because the number of \
                    replica identifiers reached the quota limit (\(quota)).
                    User attempting to create the replica identifier: \(principal)
                    """,
                fields: ["database": database, "current": String(counted), "quota": String(quota),
                         "user": principal.description, "guid": guid.uuidString]))
            throw StoreError.replicaIDQuotaReached(database: database, quota: quota)
        }
        let next = (try Int.fetchOne(db.cachedStatement(sql: "SELECT max(replid) FROM replids"))).map { $0 + 1 } ?? 1
        guard next <= Self.maxReplID else { throw StoreError.corrupt("replica ids exhausted in \(database)") }
        try db.cachedStatement(sql: """
            INSERT INTO replids(replid, guid, created_by, creator_kind, created_at) VALUES (?, ?, ?, ?, ?)
            """).execute(arguments: [next, guid.bytes, principal.description, principal.creatorKind,
                             Date().timeIntervalSince1970])
        if principal != .system, counted + 1 >= quotas.replids - Self.warningMargin {
            let current = counted + 1
            events.append(PendingEvent(
                eventID: StoreEventID.replidsQuotaWarning, type: .warning, source: "msgidReplidsQuotaWarning",
                database: database, principal: principal.description,
                message: """
                    The number of replica identifiers created for database "\(database)" is close to quota limit.
                    Current number of replica identifiers: \(current)
                    Quota limit for replica identifiers: \(quotas.replids)
                    User attempting to create the replica identifier: \(principal)
                    """,
                fields: ["database": database, "current": String(current), "quota": String(quotas.replids),
                         "user": principal.description, "guid": guid.uuidString]))
        }
        return UInt16(next)
    }

    static func stats(_ db: Database, database: String, quotas: DatabaseQuotas) throws -> DatabaseStats {
        func count(_ sql: String) throws -> Int { try Int.fetchOne(db, sql: sql) ?? 0 }
        return DatabaseStats(
            database: database,
            namedProps: try count("SELECT count(*) FROM named_props WHERE creator_kind = 'user'"),
            namedPropsQuota: quotas.namedProps,
            unauthenticatedNamedProps: try count("SELECT count(*) FROM named_props WHERE creator_kind = 'unauthenticated'"),
            unauthenticatedNamedPropsQuota: quotas.unauthenticatedNamedProps,
            namedPropsTotal: try count("SELECT count(*) FROM named_props"),
            replids: try count("SELECT count(*) FROM replids INDEXED BY replids_creator")
                - count("SELECT count(*) FROM replids WHERE creator_kind = 'system'"),
            replidsQuota: quotas.replids,
            replidsTotal: try count("SELECT count(*) FROM replids INDEXED BY replids_creator"))
    }
}
