import Foundation
import KeepStore
import Logging

/// One benchmark run: a store in a fresh temporary folder with two mailbox databases, `empty` (the baseline) and
/// `full` (filled to its quotas through the store's public API), one user in each. Every call is one the server
/// makes: LMTP deliveries are `append(… principal: .unauthenticated(sender))` with the LMTP handler's trace header,
/// APPENDs with keywords run as the logged-in user, mounts go through `mountDatabase`/`remountDatabase`.
@MainActor
final class StoreBench {
    static let fullDatabase = "full"
    static let emptyDatabase = "empty"
    static let fullUser = "u-full"
    static let emptyUser = "u-empty"
    static let sender = "bench@example.org"

    let config: BenchConfig
    let dataDirectory: URL
    let options: StoreOptions
    let logger: Logger
    var store: SQLiteStore
    /// Messages delivered to each user's INBOX so far; `verify` checks the store holds exactly these.
    var expected: [String: Int] = [:]
    /// Numbers messages and never-seen header names.
    var serial = 0

    private init(config: BenchConfig, dataDirectory: URL, options: StoreOptions, logger: Logger,
                 store: SQLiteStore) {
        self.config = config
        self.dataDirectory = dataDirectory
        self.options = options
        self.logger = logger
        self.store = store
    }

    /// Opens a store in a new temporary folder and creates the two databases and their users.
    static func make(config: BenchConfig) async throws -> StoreBench {
        let dataDirectory = FileManager.default.temporaryDirectory
            .appendingPathComponent("keep-store-bench-\(UUID().uuidString)")
        var options = StoreOptions()
        let q = config.quotas
        options.databaseQuotas[fullDatabase] = DatabaseQuotas(namedProps: q.namedProps, replids: q.replids,
                                                              unauthenticatedNamedProps: q.unauthenticatedNamedProps)
        options.databaseQuotas[emptyDatabase] = DatabaseQuotas(namedProps: BenchConfig.tableSize,
                                                               replids: BenchConfig.tableSize,
                                                               unauthenticatedNamedProps: BenchConfig.tableSize)
        var logger = Logger(label: "keep-store-bench")
        logger.logLevel = .critical
        let store = try await SQLiteStore.open(dataDirectory: dataDirectory, options: options, logger: logger)
        let bench = StoreBench(config: config, dataDirectory: dataDirectory, options: options, logger: logger,
                               store: store)
        for (database, user) in [(fullDatabase, fullUser), (emptyDatabase, emptyUser)] {
            _ = try await store.createDatabase(database, kind: .private)
            _ = try await store.addUser(user, password: "bench-\(UUID().uuidString)", database: database)
            bench.expected[user] = 0
        }
        return bench
    }

    /// Closes the store and deletes the temporary folder.
    func tearDown() async {
        try? await store.close()
        try? FileManager.default.removeItem(at: dataDirectory)
    }

    // MARK: Messages

    /// A small message whose header carries `headerNames` (each with a value) after the usual RFC 5322 fields.
    func message(headerNames: [String]) -> [UInt8] {
        serial += 1
        var text = """
            From: Bench <bench@example.org>\r
            To: someone@example.org\r
            Subject: keep-store-bench \(serial)\r
            Date: Fri, 27 Nov 2026 10:00:00 +0000\r
            Message-ID: <\(serial).keep-store-bench@example.org>\r\n
            """
        for name in headerNames { text += "\(name): value \(serial) of \(name)\r\n" }
        text += "\r\nBody of message \(serial).\r\n"
        return Array(text.utf8)
    }

    /// `count` header names this process has never used (so never seen by any database).
    func newHeaderNames(_ count: Int) -> [String] {
        serial += 1
        return (0..<count).map { "X-New-\(serial)-\($0)" }
    }

    /// Delivers like the LMTP server: its trace header, INBOX, no flags, the sender as the unauthenticated principal.
    /// Returns the UID, the bytes stored and the time `append` took (parse, transaction, durable commit, events).
    func deliver(to user: String, headerNames: [String]) async throws -> (uid: UInt32, bytes: [UInt8], ms: Double) {
        let header = "Return-Path: <\(Self.sender)>\r\nDelivered-To: \(user)@example.org\r\n"
        let bytes = Array(header.utf8) + message(headerNames: headerNames)
        let store = self.store
        let (result, ms) = try await timed {
            try await store.append(user: user, folder: "INBOX", message: bytes, flags: MessageFlags(),
                                   internalDate: nil, principal: .unauthenticated(Self.sender))
        }
        expected[user, default: 0] += 1
        return (result.uid, bytes, ms)
    }

    // MARK: Checks

    /// Every message delivered so far is in its INBOX.
    func verify(_ phase: String) async throws {
        var counts: [String] = []
        for (user, count) in expected.sorted(by: { $0.key < $1.key }) {
            let status = try await store.folderStatus(user: user, name: "INBOX")
            guard status.messages == count else {
                throw BenchFailure("after \(phase): \(user)'s INBOX holds \(status.messages) messages, \(count) were delivered")
            }
            counts.append("\(user) \(count)")
        }
        Output.note("verified after \(phase): all messages present (\(counts.joined(separator: ", ")))")
    }

    func inboxID(_ user: String) async throws -> StoreID {
        guard let inbox = try await store.listFolders(user: user).first(where: { $0.name == "INBOX" }) else {
            throw BenchFailure("\(user) has no INBOX")
        }
        return inbox.id
    }

    /// The names of the header fields indexed for one message.
    func promotedNames(_ user: String, folder: StoreID, uid: UInt32) async throws -> Set<String> {
        Set(try await store.promotedHeaders(user: user, folder: folder, uid: uid).map { $0.name.lowercased() })
    }

    /// The stored bytes of one message.
    func storedBytes(_ user: String, folder: StoreID, uid: UInt32) async throws -> [UInt8]? {
        try await store.fetch(user: user, folder: folder, uids: [uid], needs: [.raw]).first?.raw
    }

    /// Occurrences of `eventID` for `database` in the event log (folded rows count their repeats).
    func eventCount(_ eventID: Int, database: String) async throws -> Int {
        try await store.events.events(eventID: eventID, database: database, limit: 100_000)
            .reduce(0) { $0 + $1.repeatCount }
    }
}
