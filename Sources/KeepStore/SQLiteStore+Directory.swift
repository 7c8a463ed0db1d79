import Foundation
import GRDB
import Logging

/// What `readMailbox`'s one-hop attempt got to.
private enum OneHop<T: Sendable>: Sendable {
    case done(T)
    case notOpen
}

/// A user resolved for one call: the directory's spelling and the open mailbox database holding the mailbox.
struct ResolvedUser: Sendable {
    var info: UserInfo
    var mdb: MailboxDatabase
    /// The `folders.owner` value: the user name in lower case.
    var owner: String { info.name.lowercased() }
}

extension SQLiteStore {
    static func validateUserName(_ name: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@+")
        guard (1...64).contains(name.count), name.allSatisfy(allowed.contains) else {
            throw StoreError.invalidUserName(name)
        }
    }

    static func validateDatabaseName(_ name: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
        guard (1...64).contains(name.count), name.allSatisfy(allowed.contains) else {
            throw StoreError.invalidDatabaseName(name)
        }
    }

    /// Looks the user up in the directory (or `directoryCache`) and opens their database; `.databaseUnavailable`
    /// while it is unmounted. With the user's entry cached and their database open this does not leave the caller's
    /// thread.
    func resolve(user name: String) async throws -> ResolvedUser {
        if let (info, record) = directoryCache.entry(name), let mdb = readyDatabase(record) {
            return ResolvedUser(info: info, mdb: mdb)
        }
        let cache = directoryCache
        let ticket = cache.ticket()
        let found = try await directory.read { db in try Self.lookUp(db, user: name, cache: cache, ticket: ticket) }
        guard let (info, record) = found else { throw StoreError.noSuchUser(name) }
        return ResolvedUser(info: info, mdb: try await mailboxDatabase(record))
    }

    /// The user's entry, read from the directory and kept in the cache. `ticket` was taken before the read began (so
    /// before SQLite took its snapshot): an answer that a commit made stale while it was read is not kept.
    private static func lookUp(_ db: Database, user name: String, cache: DirectoryCache,
                               ticket: DirectoryCache.Ticket) throws -> (UserInfo, DatabaseRecord)? {
        let found = try lookUp(db, user: name)
        if let found { cache.keep(name, found, readAfter: ticket) }
        return found
    }

    private static func lookUp(_ db: Database, user name: String) throws -> (UserInfo, DatabaseRecord)? {
        try Row.fetchOne(db.cachedStatement(sql: """
            SELECT u.name AS user_name, \(DatabaseRecord.columns)
            FROM users u JOIN databases d ON d.name = u.database WHERE u.name = ?
            """), arguments: [name]).map { row in
                let record = DatabaseRecord(row: row)
                return (UserInfo(name: row["user_name"], database: record.name), record)
            }
    }

    /// Resolves `user` (from the directory, as `resolve`) and runs `body` in a read of their mailbox database.
    ///
    /// When the database is already open both reads run back to back on one thread off the caller: a read-only
    /// command costs one hop, not one per database. Otherwise it goes the long way (`resolve`, which opens,
    /// reopens or refuses the database).
    func readMailbox<T: Sendable>(user name: String,
                                  _ body: @escaping @Sendable (Database, ResolvedUser) throws -> T) async throws -> T {
        let directory = self.directory
        let cache = self.directoryCache
        let attempt = try await offload { () -> OneHop<T> in
            let found: (UserInfo, DatabaseRecord)?
            if let hit = cache.entry(name) {
                found = hit
            } else {
                let ticket = cache.ticket()
                found = try directory.read { db in try Self.lookUp(db, user: name, cache: cache, ticket: ticket) }
            }
            guard let (info, record) = found else { throw StoreError.noSuchUser(name) }
            guard let mdb = self.readyDatabase(record) else { return .notOpen }
            let resolved = ResolvedUser(info: info, mdb: mdb)
            return .done(try mdb.pool.read { db in try body(db, resolved) })
        }
        if case .done(let value) = attempt { return value }
        let resolved = try await resolve(user: name)
        return try await resolved.mdb.pool.read { db in try body(db, resolved) }
    }

    // MARK: Users

    public func authenticate(user: String, password: String) async throws -> UserInfo? {
        let found = try await directory.read { db -> (UserInfo, password: String)? in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT name, database, password FROM users WHERE name = ?"), arguments: [user])
                .map { (UserInfo(name: $0["name"], database: $0["database"]), $0["password"]) }
        }
        let hasher = self.hasher
        let cache = self.authCache
        // A recent login with this password against the same stored hash skips the derivation; anything else runs
        // it, whether or not the user exists (against a dummy hash when not), so failures all cost the same.
        let cached = found.map { cache.matches(user: $0.0.name, password: password, storedHash: $0.password) } ?? false
        let matches = cached ? true : try await offload { hasher.verify(password, against: found?.password) }
        guard matches, let found else { return nil }
        if !cached { cache.remember(user: found.0.name, password: password, storedHash: found.password) }
        // Only a right password learns that the mailbox is unavailable.
        let mounted = try await directory.read { db in
            try Bool.fetchOne(db.cachedStatement(sql: "SELECT mounted FROM databases WHERE name = ?"), arguments: [found.0.database])
        }
        guard mounted != false else { throw StoreError.databaseUnavailable(found.0.database) }
        return found.0
    }

    public func addUser(_ name: String, password: String, database: String?) async throws -> UserInfo {
        try Self.validateUserName(name)
        let hasher = self.hasher
        let hash = try await offload { try hasher.hash(password) }
        let info = try await directory.write { db -> UserInfo in
            let databaseName: String
            if let database {
                guard let found = try DatabaseRecord.fetch(db, name: database) else {
                    throw StoreError.noSuchDatabase(database)
                }
                guard found.mounted else { throw StoreError.databaseUnavailable(found.name) }
                databaseName = found.name
            } else {
                guard let first = try String.fetchOne(db.cachedStatement(sql: """
                    SELECT name FROM databases WHERE kind = 'private' ORDER BY id LIMIT 1
                    """)) else { throw StoreError.noSuchDatabase("(no private database)") }
                databaseName = first
            }
            if let existing = try String.fetchOne(db.cachedStatement(sql: "SELECT name FROM users WHERE name = ?"), arguments: [name]) {
                throw StoreError.userExists(existing)
            }
            try db.execute(sql: "INSERT INTO users(name, password, database, created_at) VALUES (?, ?, ?, ?)",
                           arguments: [name, hash, databaseName, Date().timeIntervalSince1970])
            return UserInfo(name: name, database: databaseName)
        }
        do {
            let resolved = try await resolve(user: info.name)
            // A mailbox left behind by an earlier user of the same name is not inherited.
            try await deleteMailbox(of: resolved)
            _ = try await ensureInbox(resolved)
        } catch {
            // The user exists; their INBOX is created on first use once the database is available.
            logger.warning("user \(info.name) added, but their INBOX could not be created yet: \(error)")
        }
        logger.info("added user \(info.name) in database \(info.database)")
        return info
    }

    public func setPassword(user: String, password: String) async throws {
        let hasher = self.hasher
        let hash = try await offload { try hasher.hash(password) }
        let changed = try await directory.write { db in
            try db.execute(sql: "UPDATE users SET password = ? WHERE name = ?", arguments: [hash, user])
            return db.changesCount
        }
        guard changed > 0 else { throw StoreError.noSuchUser(user) }
        authCache.forget(user: user)
    }

    public func removeUser(_ name: String) async throws {
        // A user of an unmounted database stays until it is mounted: their mailbox must go with them.
        let resolved: ResolvedUser?
        do { resolved = try await resolve(user: name) } catch StoreError.noSuchUser { resolved = nil }
        let removed = try await directory.write { db in
            try db.cachedStatement(sql: "DELETE FROM users WHERE name = ?").execute(arguments: [name])
            return db.changesCount
        }
        guard removed > 0 else { throw StoreError.noSuchUser(name) }
        authCache.forget(user: name)
        if let resolved {
            do { try await deleteMailbox(of: resolved) } catch {
                logger.error("user \(name) removed, but their mailbox could not be deleted: \(error)")
            }
        }
        logger.info("removed user \(name)")
    }

    public func listUsers() async throws -> [UserInfo] {
        try await directory.read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT name, database FROM users ORDER BY name COLLATE NOCASE"))
                .map { UserInfo(name: $0["name"], database: $0["database"]) }
        }
    }

    public func user(named name: String) async throws -> UserInfo? {
        try await directory.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT name, database FROM users WHERE name = ?"), arguments: [name])
                .map { UserInfo(name: $0["name"], database: $0["database"]) }
        }
    }

    /// Deletes every folder and message a user owns in their database.
    private func deleteMailbox(of user: ResolvedUser) async throws {
        let owner = user.owner
        let folders = try await user.mdb.pool.write { db -> [Int64] in
            let ids = try Int64.fetchAll(db.cachedStatement(sql: "SELECT id FROM folders WHERE owner = ?"), arguments: [owner])
            for id in ids { try Self.deleteFolderRows(db, folderID: id) }
            return ids
        }
        for id in folders {
            watchers.notify(FolderChangeNotice(folderID: StoreID(rawValue: UInt64(id)), highestModSeq: 0))
        }
    }

    // MARK: Databases

    public func createDatabase(_ name: String, kind: DatabaseKind) async throws -> DatabaseInfo {
        try Self.validateDatabaseName(name)
        let guid = UUID().uuidString
        try await directory.write { db in
            if let existing = try String.fetchOne(db.cachedStatement(sql: "SELECT name FROM databases WHERE name = ?"),
                                                  arguments: [name]) {
                throw StoreError.databaseExists(existing)
            }
            try db.execute(sql: "INSERT INTO databases(name, kind, guid, created_at) VALUES (?, ?, ?, ?)",
                           arguments: [name, kind.rawValue, guid, Date().timeIntervalSince1970])
        }
        _ = try await mailboxDatabase(named: name)
        logger.info("created mailbox database \(name) (\(kind.rawValue))")
        return DatabaseInfo(name: name, kind: kind, guid: guid, mounted: true)
    }

    public func listDatabases() async throws -> [DatabaseInfo] {
        try await directory.read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT \(DatabaseRecord.columns) FROM databases d ORDER BY d.id"))
                .map { DatabaseRecord(row: $0).info }
        }
    }

    /// A value from the directory's server state (e.g. `server_guid`).
    public func serverState(_ key: String) async throws -> String? {
        try await directory.read { db in
            try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM server_state WHERE key = ?"), arguments: [key])
        }
    }

    /// Sets a value in the directory's server state.
    public func setServerState(_ key: String, _ value: String?) async throws {
        try await directory.write { db in
            if let value {
                try db.execute(sql: "INSERT OR REPLACE INTO server_state(key, value) VALUES (?, ?)",
                               arguments: [key, value])
            } else {
                try db.cachedStatement(sql: "DELETE FROM server_state WHERE key = ?").execute(arguments: [key])
            }
        }
    }
}
