public import Foundation
import GRDB
import KeepGuard
public import Logging

/// One open mailbox database.
final class MailboxDatabase: Sendable {
    let name: String
    let guid: UUID
    let pool: DatabasePool
    /// The quotas in effect: those the directory held when the database was opened (mounted).
    let quotas: DatabaseQuotas
    /// The directory's mount generation this pool was opened at; a different one means it was (re)mounted since.
    let generation: Int64
    /// Message writes (append, delivery, flags, expunge, copy/move) share their fsyncs through it.
    let groupCommit: GroupCommit

    init(name: String, guid: UUID, pool: DatabasePool, quotas: DatabaseQuotas, generation: Int64) {
        self.name = name
        self.guid = guid
        self.pool = pool
        self.quotas = quotas
        self.generation = generation
        self.groupCommit = GroupCommit(pool: pool)
    }

    /// A write in the next group commit (see `GroupCommit`): answered once it is on disk.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await groupCommit.write(body)
    }

    func quotaTables(_ events: PendingEvents) -> QuotaTables {
        QuotaTables(database: name, quotas: quotas, events: events)
    }
}

/// A database being opened or open in this process, with the directory state it was opened at.
struct OpenDatabase: Sendable {
    var guid: String
    var generation: Int64
    var task: Task<MailboxDatabase, any Error>
    /// The database once `task` has opened it, for callers that cannot await (`readMailbox`'s one-hop path).
    var ready: MailboxDatabase?

    /// Whether this pool is older than the directory's `record` (remounted since, or removed and created anew).
    func isStale(for record: DatabaseRecord) -> Bool { guid != record.guid || generation < record.generation }
    func matches(_ record: DatabaseRecord) -> Bool { guid == record.guid && generation == record.generation }
}

/// A `databases` row of the directory.
struct DatabaseRecord: Sendable {
    static let columns = """
        d.name AS name, d.kind AS kind, d.guid AS guid, d.mounted AS mounted, d.mount_generation AS mount_generation, \
        d.named_props_quota AS named_props_quota, d.replids_quota AS replids_quota, \
        d.unauthenticated_named_props_quota AS unauthenticated_named_props_quota
        """

    var name: String
    var kind: DatabaseKind
    var guid: String
    var mounted: Bool
    var generation: Int64
    /// The quotas in effect, nil until first written (a directory from before quotas were kept there).
    var quotas: DatabaseQuotas?

    init(row: Row) {
        name = row["name"]
        kind = DatabaseKind(rawValue: row["kind"]) ?? .private
        guid = row["guid"]
        mounted = row["mounted"]
        generation = row["mount_generation"]
        if let n = row["named_props_quota"] as Int?, let r = row["replids_quota"] as Int?,
           let u = row["unauthenticated_named_props_quota"] as Int? {
            quotas = DatabaseQuotas(namedProps: n, replids: r, unauthenticatedNamedProps: u)
        } else {
            quotas = nil
        }
    }

    static func fetch(_ db: Database, name: String) throws -> DatabaseRecord? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT \(columns) FROM databases d WHERE d.name = ?"), arguments: [name])
            .map(DatabaseRecord.init(row:))
    }

    var info: DatabaseInfo { DatabaseInfo(name: name, kind: kind, guid: guid, mounted: mounted) }
}

/// The SQLite implementation of `MailStore`: `DIR/directory.sqlite` plus one `DIR/mdb/NAME.sqlite` per mailbox
/// database, each a GRDB `DatabasePool` in WAL mode with `synchronous=FULL`, so every write that returned is durable.
///
/// What the directory says of a user is kept between calls (`DirectoryCache`) only until the directory changes, in
/// this process or another: the `keep` CLI may add, move or remove users in the same data folder while a server
/// runs. Mailbox databases are opened on first use, including ones another process created.
public final class SQLiteStore: MailStore {
    public let dataDirectory: URL
    public let options: StoreOptions
    /// The durable event log (events 9666–9669 and others).
    public let events: EventLog

    let logger: Logger
    let directory: DatabasePool
    let hasher: PasswordHasher
    let authCache: AuthCache
    /// The directory's answers about users, so that a command does not read it again (see `DirectoryCache`).
    let directoryCache: DirectoryCache
    let watchers = FolderWatchers()
    /// Mailbox moves of this process run one at a time (each holds two databases' write locks).
    let moveLock = Locked(())
    private let openDatabases = Locked<(tasks: [String: OpenDatabase],
                                        closed: Bool)>(([:], false))

    private init(dataDirectory: URL, options: StoreOptions, logger: Logger, directory: DatabasePool) {
        self.dataDirectory = dataDirectory
        self.options = options
        self.logger = logger
        self.directory = directory
        self.hasher = PasswordHasher(rounds: options.effectivePasswordRounds)
        self.authCache = AuthCache(ttl: .seconds(Int64(max(0, options.limits.authCacheTTL))),
                                   capacity: max(0, options.limits.authCacheSize))
        self.events = EventLog(pool: directory, logger: logger, foldingInterval: options.eventFoldingInterval)
        self.directoryCache = DirectoryCache(directory: dataDirectory.appendingPathComponent("directory.sqlite").path)
        directory.add(transactionObserver: DirectoryChanges(directoryCache), extent: .databaseLifetime)
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
            guard try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM databases")) == 0 else { return [] }
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

    /// Opens a pool. `secureDelete` is `server.secure_delete`: with it off (the default) a delete frees pages
    /// without writing zeros over them (Debian's SQLite is built with secure delete on) — an EXPUNGE of 10,000
    /// messages then writes a few pages, not the messages again, and mail can be deleted on a full disk.
    static func openPool(at url: URL, label: String, busyTimeout: TimeInterval, secureDelete: Bool = false) throws -> DatabasePool {
        var config = Configuration()
        config.label = label
        config.busyMode = .timeout(busyTimeout)
        config.prepareDatabase { db in
            try db.cachedStatement(sql: "PRAGMA synchronous = FULL").execute()
            try db.execute(sql: "PRAGMA secure_delete = \(secureDelete ? "ON" : "OFF")")
        }
        let pool = try DatabasePool(path: url.path, configuration: config)
        // GRDB sets synchronous=NORMAL on the writer when it turns WAL on, after prepareDatabase; every commit we
        // acknowledge must be on disk, so the writer goes back to FULL.
        try pool.writeWithoutTransaction { db in try db.cachedStatement(sql: "PRAGMA synchronous = FULL").execute() }
        return pool
    }

    // MARK: Mailbox databases

    /// The open mailbox database `name`, opening (and creating the file of) a database the directory knows.
    func mailboxDatabase(named name: String) async throws -> MailboxDatabase {
        guard let record = try await directory.read({ db in try DatabaseRecord.fetch(db, name: name) }) else {
            throw StoreError.noSuchDatabase(name)
        }
        return try await mailboxDatabase(record)
    }

    /// The open mailbox database of a directory row just read: throws `.databaseUnavailable` when it is unmounted,
    /// and reopens it when it was (re)mounted since it was opened here (e.g. by the `keep` CLI in another process),
    /// so that every process uses the quotas of the latest mount.
    func mailboxDatabase(_ record: DatabaseRecord) async throws -> MailboxDatabase {
        let key = record.name.lowercased()
        guard record.mounted else {
            // Unmounted, perhaps by another process: let go of the pool (it closes once in-flight calls end).
            openDatabases.withLock { state in
                if let open = state.tasks[key], !open.matches(record) { state.tasks[key] = nil }
            }
            throw StoreError.databaseUnavailable(record.name)
        }
        let existing = try openDatabases.withLock { state -> Task<MailboxDatabase, any Error>? in
            guard !state.closed else { throw StoreError.databaseUnavailable(record.name) }
            guard let open = state.tasks[key] else { return nil }
            if open.matches(record) { return open.task }
            if open.isStale(for: record) { state.tasks[key] = nil }
            return nil
        }
        if let existing {
            let mdb = try await existing.value
            noteReady(mdb, key: key, record: record)
            return mdb
        }

        guard let guid = UUID(uuidString: record.guid) else {
            throw StoreError.corrupt("bad GUID of database \(record.name)")
        }
        var quotas = record.quotas ?? options.quotas(for: record.name)
        if record.quotas == nil {
            // First open since the directory began keeping the quotas in effect: the configured ones apply.
            let fresh = quotas
            let name = record.name
            quotas = try await directory.write { db -> DatabaseQuotas in
                try db.cachedStatement(sql: """
                    UPDATE databases SET named_props_quota = ?, replids_quota = ?, unauthenticated_named_props_quota = ?
                    WHERE name = ? AND named_props_quota IS NULL
                    """).execute(arguments: [fresh.namedProps, fresh.replids, fresh.unauthenticatedNamedProps, name])
                return try DatabaseRecord.fetch(db, name: name)?.quotas ?? fresh
            }
        }
        let canonicalName = record.name
        let generation = record.generation
        let url = databaseFileURL(canonicalName)
        let busyTimeout = options.busyTimeout
        let secureDelete = options.limits.secureDelete == 1
        let logger = self.logger
        let effective = quotas
        let task = try openDatabases.withLock { state -> Task<MailboxDatabase, any Error> in
            guard !state.closed else { throw StoreError.databaseUnavailable(canonicalName) }
            if let raced = state.tasks[key], !raced.isStale(for: record) { return raced.task }
            let task = Task {
                try await offload {
                    let pool = try Self.openPool(at: url, label: "keep.mdb.\(canonicalName)", busyTimeout: busyTimeout,
                                                 secureDelete: secureDelete)
                    try Schema.mailboxDatabase.migrate(pool)
                    try pool.write { db in
                        if let existing = try Data.fetchOne(db.cachedStatement(sql: "SELECT guid FROM meta WHERE id = 1")) {
                            if UUID(bytes: existing) != guid {
                                logger.warning("mailbox database \(canonicalName): file GUID differs from the directory")
                            }
                            return
                        }
                        // Ids are replica 1 + a 48-bit counter; a random start keeps folder ids of different
                        // databases apart, so that watchers keyed by folder id do not see each other's notices.
                        let counterStart = Int64.random(in: 1 ..< (1 << 40))
                        try db.cachedStatement(sql: """
                            INSERT INTO meta(id, guid, counter, next_uidvalidity) VALUES (1, ?, ?, ?)
                            """).execute(arguments: [guid.bytes, counterStart, Int64(Date().timeIntervalSince1970)])
                        try db.cachedStatement(sql: """
                            INSERT INTO replids(replid, guid, created_by, creator_kind, created_at)
                            VALUES (1, ?, 'SYSTEM', 'system', ?)
                            """).execute(arguments: [guid.bytes, Date().timeIntervalSince1970])
                    }
                    return MailboxDatabase(name: canonicalName, guid: guid, pool: pool, quotas: effective,
                                           generation: generation)
                }
            }
            state.tasks[key] = OpenDatabase(guid: record.guid, generation: generation, task: task)
            return task
        }
        do {
            let mdb = try await task.value
            noteReady(mdb, key: key, record: record)
            return mdb
        } catch {
            openDatabases.withLock { state in
                if state.tasks[key]?.task == task { state.tasks[key] = nil }
            }
            throw error
        }
    }

    private func noteReady(_ mdb: MailboxDatabase, key: String, record: DatabaseRecord) {
        openDatabases.withLock { state in
            if let open = state.tasks[key], open.ready == nil, open.matches(record) { state.tasks[key]?.ready = mdb }
        }
    }

    /// The database of `record` when it is mounted and already open here in the state the record describes; nil
    /// otherwise (the caller then goes through `mailboxDatabase(_:)`, which opens, reopens or refuses it).
    func readyDatabase(_ record: DatabaseRecord) -> MailboxDatabase? {
        guard record.mounted else { return nil }
        return openDatabases.withLock { state in
            guard !state.closed, let open = state.tasks[record.name.lowercased()], open.matches(record) else { return nil }
            return open.ready
        }
    }

    /// `DIR/mdb/NAME.sqlite`.
    func databaseFileURL(_ name: String) -> URL {
        dataDirectory.appendingPathComponent("mdb").appendingPathComponent("\(name).sqlite")
    }

    /// Closes a database's pool if it is open here (unmount, remount, removal).
    func closeDatabase(named name: String) async throws {
        let task = openDatabases.withLock { $0.tasks.removeValue(forKey: name.lowercased())?.task }
        guard let task, let mdb = try? await task.value else { return }
        try await offload { try mdb.pool.close() }
    }

    /// Flushes and closes every database; watchers' streams end.
    public func close() async throws {
        watchers.finishAll()
        let tasks = openDatabases.withLock { state -> [Task<MailboxDatabase, any Error>] in
            state.closed = true
            defer { state.tasks = [:] }
            return state.tasks.values.map(\.task)
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
