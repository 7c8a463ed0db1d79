import Foundation
import KeepGuard
import KeepServer
import KeepStore
import Logging

/// A real Keep server on loopback, on free ports, in a temporary data folder — what every integration test talks to.
final class TestServer: @unchecked Sendable {
    let server: KeepServer
    let directory: URL
    var imapPort: Int { server.addresses.imap! }
    var lmtpPort: Int { server.addresses.lmtp! }
    var store: SQLiteStore { server.store }

    /// Cheap password hashing for tests only (the server default stays ≥ 210,000 PBKDF2 rounds).
    static var testStoreOptions: StoreOptions {
        var o = StoreOptions()
        o.passwordRounds = 1_000
        o.allowsWeakPasswordHashingForTesting = true
        return o
    }

    static func start(directory: URL? = nil, configFile: URL? = nil, configure: (inout KeepConfig) -> Void = { _ in },
                      users: [(String, String)] = [("alice", "secret")]) async throws -> TestServer {
        let dir = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("keep-test-\(UUID().uuidString)")
        var config = try configFile.map { try KeepConfig.load(file: $0) } ?? KeepConfig()
        config.imapAddress = "127.0.0.1:0"
        config.lmtpAddress = "127.0.0.1:0"
        // Dozens of servers share the test process: one's trimming would stall the others' event loops.
        config.limits.memoryTrimThresholdMB = 0
        configure(&config)
        var logger = Logger(label: "keep-test")
        logger.logLevel = ProcessInfo.processInfo.environment["KEEP_TEST_LOG"] != nil ? .debug : .critical
        let server = KeepServer(config: config, configFile: configFile, dataDirectory: dir, logger: logger, storeOptions: testStoreOptions, threads: 2)
        try await server.start()
        for (name, password) in users where try await server.store.user(named: name) == nil {
            _ = try await server.store.addUser(name, password: password, database: nil)
        }
        return TestServer(server: server, directory: dir)
    }

    private init(server: KeepServer, directory: URL) {
        self.server = server
        self.directory = directory
    }

    func stop() async {
        await server.shutdown()
    }

    /// Stops the server and removes its data folder.
    func stopAndRemove() async {
        await server.shutdown()
        try? FileManager.default.removeItem(at: directory)
    }

    func imap() async throws -> LineClient {
        let c = try await LineClient.connect(port: imapPort)
        _ = try await c.readLine()
        return c
    }

    /// A connected IMAP client that has logged in.
    func login(_ user: String = "alice", _ password: String = "secret") async throws -> LineClient {
        let c = try await imap()
        let r = try await c.command("LOGIN \(user) \(password)")
        guard r.last?.contains("OK") == true else { throw TestFailure("login failed: \(r)") }
        return c
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
