public import Foundation
import GRDB
public import Logging

/// One open mailbox database.
final class MailboxDatabase: Sendable {
    let name: String
    let pool: DatabasePool
    let quotas: DatabaseQuotas

    init(name: String, pool: DatabasePool, quotas: DatabaseQuotas) {
        self.name = name
        self.pool = pool
        self.quotas = quotas
    }

    func quotaTables(_ events: PendingEvents) -> QuotaTables {
        QuotaTables(database: name, quotas: quotas, events: events)
    }
}

/// The SQLite implementation of `MailStore`: `DIR/directory.sqlite` plus one `DIR/mdb/NAME.sqlite` per mailbox
/// database, each a GRDB `DatabasePool` in WAL mode with `synchronous=FULL`, so every write that returned is durable.
///
/// Nothing about users is cached: the `keep` CLI may add or remove users in the same data folder while a server
/// runs. Mailbox databases are opened on first use, including ones another process created.
public final class SQLiteStore: MailStore {
    public let dataDirectory: URL
    public let options: StoreOptions
    /// The durable event log (events 9666–9669 and others).
    public let events: EventLog

    let logger: Logger
    let directory: DatabasePool
    let hasher: PasswordHasher
    let watchers = FolderWatchers()
    private let openDatabases = Locked<(tasks: [String: Task<MailboxDatabase, any Error>], closed: Bool)>(([:], false))

    private init(dataDirectory: URL, options: StoreOptions, logger: Logger, directory: DatabasePool) {
        self.dataDirectory = dataDirectory
        self.options = options
        self.logger = logger
        self.directory = directory
        self.hasher = PasswordHasher(rounds: options.effectivePasswordRounds)
        self.events = EventLog(pool: directory, logger: logger, foldingInterval: options.eventFoldingInterval)
    }

    /// Opens (creating when needed) the store in `dataDirectory`. An empty folder gets the private database
    /// `mailbox1` and the public database `public1`.
    public static func open(dataDirectory: URL, options: StoreOptions = StoreOptions(),
                            logger: Logger) async throws -> SQLiteStore {
        if options.passwordRounds < PasswordHasher.minimumRounds && !options.allowsWeakPasswordHashingForTesting {
            logger.warning("passwordRounds \(options.passwordRounds) is below \(PasswordHasher.minimumRounds); using \(PasswordHasher.minimumRounds)")
        }
        let busyTimeout = options.busyTimeout
        let directory = try await offload {
            try FileManager.default.createDirectory(at: dataDirectory.appendingPathComponent("mdb"),
                                                    withIntermediateDirectories: true)
            let pool = try Self.openPool(at: dataDirectory.appendingPathComponent("directory.sqlite"),
                                         label: "keep.directory", busyTimeout: busyTimeout)
            try Schema.directory.migrate(pool)
            return pool
        }
        let store = SQLiteStore(dataDirectory: dataDirectory, options: options, logger: logger, directory: directory)
        let created = try await directory.write { db -> [(String, DatabaseKind, String)] in
            guard try Int.fetchOne(db, sql: "SELECT count(*) FROM databases") == 0 else { return [] }
            var created: [(String, DatabaseKind, String)] = []
            for (name, kind) in [("mailbox1", DatabaseKind.private), ("public1", .public)] {
                let guid = UUID().uuidString
                try db.execute(sql: "INSERT INTO databases(name, kind, guid, created_at) VALUES (?, ?, ?, ?)",
                               arguments: [name, kind.rawValue, guid, Date().timeIntervalSince1970])
                created.append((name, kind, guid))
            }
            return created
        }
        for (name, _, _) in created {
            _ = try await store.mailboxDatabase(named: name)
            logger.info("created mailbox database \(name)")
        }
        return store
    }

    static func openPool(at url: URL, label: String, busyTimeout: TimeInterval) throws -> DatabasePool {
        var config = Configuration()
        config.label = label
        config.busyMode = .timeout(busyTimeout)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        let pool = try DatabasePool(path: url.path, configuration: config)
        // GRDB sets synchronous=NORMAL on the writer when it turns WAL on, after prepareDatabase; every commit we
        // acknowledge must be on disk, so the writer goes back to FULL.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        return pool
    }

    // MARK: Mailbox databases

    /// The open mailbox database `name`, opening (and creating the file of) a database the directory knows.
    func mailboxDatabase(named name: String) async throws -> MailboxDatabase {
        let key = name.lowercased()
        let existing = try openDatabases.withLock { state -> Task<MailboxDatabase, any Error>? in
            guard !state.closed else { throw StoreError.databaseUnavailable(name) }
            return state.tasks[key]
        }
        if let existing { return try await existing.value }

        let found = try await directory.read { db -> (name: String, guid: String, mounted: Bool)? in
            try Row.fetchOne(db, sql: "SELECT name, guid, mounted FROM databases WHERE name = ?", arguments: [name])
                .map { ($0["name"], $0["guid"], $0["mounted"]) }
        }
        guard let (canonicalName, guidText, mounted) = found else { throw StoreError.noSuchDatabase(name) }
        guard mounted else { throw StoreError.databaseUnavailable(canonicalName) }
        guard let guid = UUID(uuidString: guidText) else { throw StoreError.corrupt("bad GUID of database \(name)") }

        let url = dataDirectory.appendingPathComponent("mdb").appendingPathComponent("\(canonicalName).sqlite")
        let quotas = options.quotas(for: canonicalName)
        let busyTimeout = options.busyTimeout
        let logger = self.logger
        let task = try openDatabases.withLock { state -> Task<MailboxDatabase, any Error> in
            guard !state.closed else { throw StoreError.databaseUnavailable(name) }
            if let raced = state.tasks[key] { return raced }
            let task = Task {
                try await offload {
                    let pool = try Self.openPool(at: url, label: "keep.mdb.\(canonicalName)", busyTimeout: busyTimeout)
                    try Schema.mailboxDatabase.migrate(pool)
                    try pool.write { db in
                        if let existing = try Data.fetchOne(db, sql: "SELECT guid FROM meta WHERE id = 1") {
                            if UUID(bytes: existing) != guid {
                                logger.warning("mailbox database \(canonicalName): file GUID differs from the directory")
                            }
                            return
                        }
                        // Ids are replica 1 + a 48-bit counter; a random start keeps folder ids of different
                        // databases apart, so that watchers keyed by folder id do not see each other's notices.
                        let counterStart = Int64.random(in: 1 ..< (1 << 40))
                        try db.execute(sql: """
                            INSERT INTO meta(id, guid, counter, next_uidvalidity) VALUES (1, ?, ?, ?)
                            """, arguments: [guid.bytes, counterStart, Int64(Date().timeIntervalSince1970)])
                        try db.execute(sql: """
                            INSERT INTO replids(replid, guid, created_by, creator_kind, created_at)
                            VALUES (1, ?, 'SYSTEM', 'system', ?)
                            """, arguments: [guid.bytes, Date().timeIntervalSince1970])
                    }
                    return MailboxDatabase(name: canonicalName, pool: pool, quotas: quotas)
                }
            }
            state.tasks[key] = task
            return task
        }
        do {
            return try await task.value
        } catch {
            openDatabases.withLock { state in
                if state.tasks[key] == task { state.tasks[key] = nil }
            }
            throw error
        }
    }

    /// Closes a database's pool if it is open (used by unmount).
    private func closeDatabase(named name: String) async throws {
        let task = openDatabases.withLock { $0.tasks.removeValue(forKey: name.lowercased()) }
        guard let task, let mdb = try? await task.value else { return }
        try await offload { try mdb.pool.close() }
    }

    /// Flushes and closes every database; watchers' streams end.
    public func close() async throws {
        watchers.finishAll()
        let tasks = openDatabases.withLock { state -> [Task<MailboxDatabase, any Error>] in
            state.closed = true
            defer { state.tasks = [:] }
            return Array(state.tasks.values)
        }
        var firstError: (any Error)?
        for task in tasks {
            guard let mdb = try? await task.value else { continue }
            do { try await offload { try mdb.pool.close() } } catch { firstError = firstError ?? error }
        }
        let directory = self.directory
        do { try await offload { try directory.close() } } catch { firstError = firstError ?? error }
        if let firstError { throw firstError }
    }

    // MARK: Mount

    /// Marks a database mounted; it opens on next use with the quotas `options` gives it.
    public func mountDatabase(_ name: String) async throws {
        let changed = try await directory.write { db in
            try db.execute(sql: "UPDATE databases SET mounted = 1 WHERE name = ?", arguments: [name])
            return db.changesCount
        }
        guard changed > 0 else { throw StoreError.noSuchDatabase(name) }
    }

    /// Marks a database unmounted and closes it; calls for its users fail with `.databaseUnavailable` until it is
    /// mounted again.
    public func unmountDatabase(_ name: String) async throws {
        let changed = try await directory.write { db in
            try db.execute(sql: "UPDATE databases SET mounted = 0 WHERE name = ?", arguments: [name])
            return db.changesCount
        }
        guard changed > 0 else { throw StoreError.noSuchDatabase(name) }
        try await closeDatabase(named: name)
    }

    // MARK: Watch

    public func watch(folder: StoreID) -> AsyncStream<FolderChangeNotice> {
        watchers.watch(folder)
    }

    /// Records events raised inside a transaction.
    func flush(_ pending: PendingEvents) async {
        let drained = pending.drain()
        if !drained.isEmpty { await events.record(drained) }
    }
}
