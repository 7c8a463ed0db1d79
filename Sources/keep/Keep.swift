import ArgumentParser
import Foundation
import KeepGuard
import KeepServer
import KeepStore
import Logging
import ServiceLifecycle
import UnixSignals

/// `keep`: run the server and administer its data folder.
@main
struct Keep: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keep",
        abstract: "Keep, an IMAP mail store with LMTP delivery.",
        subcommands: [Serve.self, UserCommand.self, DatabaseCommand.self, MailboxCommand.self, BanCommand.self, ConfigCommand.self, EventsCommand.self])
}

/// Options every command takes: where the data folder and the config file are.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "The data folder (default: $KEEP_DATA or ./keep-data).")
    var data: String?

    @Option(name: .long, help: "The configuration file (default: DATA/keep.toml when present).")
    var config: String?

    var dataDirectory: URL {
        let path = data ?? ProcessInfo.processInfo.environment["KEEP_DATA"] ?? "./keep-data"
        return URL(fileURLWithPath: path, isDirectory: true).standardizedFileURL
    }

    /// The config file in effect, if any.
    var configFile: URL? {
        let file = config.map { URL(fileURLWithPath: $0) } ?? dataDirectory.appendingPathComponent("keep.toml")
        return FileManager.default.fileExists(atPath: file.path) ? file : nil
    }

    func loadConfig() throws -> KeepConfig {
        let file = config.map { URL(fileURLWithPath: $0) } ?? dataDirectory.appendingPathComponent("keep.toml")
        if config == nil && !FileManager.default.fileExists(atPath: file.path) { return KeepConfig() }
        do {
            return try KeepConfig.load(file: file)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// Opens the store of the data folder (also while a server runs on it: SQLite WAL serves both).
    func openStore(logger: Logger) async throws -> SQLiteStore {
        let config = try loadConfig()
        var options = StoreOptions(limits: config.limits)
        options.databaseQuotas = config.databaseQuotas
        return try await SQLiteStore.open(dataDirectory: dataDirectory, options: options, logger: logger)
    }
}

func makeLogger(level: Logger.Level = .info) -> Logger {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
    return Logger(label: "keep")
}

/// Reads a password from `--password` or one line of standard input.
func readPassword(_ password: String?, stdin: Bool) throws -> String {
    if let password { return password }
    guard stdin else { throw ValidationError("give --password P or --password-stdin") }
    guard let line = readLine(strippingNewline: true), !line.isEmpty else {
        throw ValidationError("no password on standard input")
    }
    return line
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the server.")

    @OptionGroup var options: DataOptions

    @Option(help: "IMAP listener HOST:PORT (port 0: any free port; \"\" disables).")
    var imap: String?

    @Option(help: "Implicit-TLS IMAP listener HOST:PORT.")
    var imaps: String?

    @Option(help: "LMTP listener HOST:PORT.")
    var lmtp: String?

    func run() async throws {
        let logger = makeLogger()
        var config = try options.loadConfig()
        if let imap { config.imapAddress = imap.isEmpty ? nil : imap }
        if let imaps { config.imapsAddress = imaps.isEmpty ? nil : imaps }
        if let lmtp { config.lmtpAddress = lmtp.isEmpty ? nil : lmtp }
        for (flag, value) in [("--imap", config.imapAddress), ("--imaps", config.imapsAddress), ("--lmtp", config.lmtpAddress)] {
            if let value, ListenAddress(value) == nil { throw ValidationError("\(flag) \"\(value)\" is not HOST:PORT") }
        }
        let server = KeepServer(config: config, configFile: options.configFile, dataDirectory: options.dataDirectory, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: server)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Add, list, change and remove users.",
        subcommands: [Add.self, List.self, Passwd.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user (and its INBOX).")
        @OptionGroup var options: DataOptions
        @Argument var name: String
        @Option var password: String?
        @Flag var passwordStdin = false
        @Option(help: "The private mailbox database to hold the mailbox (default: the first).")
        var database: String?

        func run() async throws {
            let secret = try readPassword(password, stdin: passwordStdin)
            let store = try await options.openStore(logger: makeLogger(level: .warning))
            defer { Task { try? await store.close() } }
            let user = try await store.addUser(name, password: secret, database: database)
            print("added user \(user.name) in database \(user.database)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var options: DataOptions
        @Flag var json = false

        func run() async throws {
            let store = try await options.openStore(logger: makeLogger(level: .warning))
            let users = try await store.listUsers()
            try await store.close()
            if json {
                for u in users { print(String(decoding: try JSONEncoder().encode(u), as: UTF8.self)) }
            } else {
                for u in users { print("\(u.name)\t\(u.database)") }
            }
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a user's password.")
        @OptionGroup var options: DataOptions
        @Argument var name: String
        @Option var password: String?
        @Flag var passwordStdin = false

        func run() async throws {
            let secret = try readPassword(password, stdin: passwordStdin)
            let store = try await options.openStore(logger: makeLogger(level: .warning))
            try await store.setPassword(user: name, password: secret)
            try await store.close()
            print("changed the password of \(name)")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a user and its mailbox.")
        @OptionGroup var options: DataOptions
        @Argument var name: String

        func run() async throws {
            let store = try await options.openStore(logger: makeLogger(level: .warning))
            try await store.removeUser(name)
            try await store.close()
            print("removed user \(name)")
        }
    }
}

struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db", abstract: "Create, list, mount, remount, compact and remove mailbox databases.",
        subcommands: [Create.self, List.self, Mount.self, Unmount.self, Remount.self, Remove.self, Compact.self, Stats.self])

    /// Runs an admin request on the running server when one serves the data folder (through `DIR/admin.sock`),
    /// else directly on the stopped data folder's store. Returns the result JSON, if any.
    static func run(_ request: AdminRequest, _ options: DataOptions) async throws -> String? {
        if let reply = AdminClient.send(request, dataDirectory: options.dataDirectory) {
            guard reply.ok else { throw ValidationError(reply.error ?? "the server refused \(request.op)") }
            return reply.result
        }
        let config = try options.loadConfig()
        var storeOptions = StoreOptions(limits: config.limits)
        storeOptions.databaseQuotas = config.databaseQuotas
        let store = try await SQLiteStore.open(dataDirectory: options.dataDirectory, options: storeOptions,
                                               logger: makeLogger(level: .warning))
        do {
            let result = try await KeepServer.perform(request, on: store) { storeOptions.quotas(for: $0) }
            try await store.close()
            return result
        } catch {
            try? await store.close()
            throw ValidationError("\(error)")
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a mailbox database.")
        @OptionGroup var options: DataOptions
        @Argument var name: String
        @Flag(help: "A public-folder database.") var `public` = false

        func run() async throws {
            let store = try await options.openStore(logger: makeLogger(level: .warning))
            let db = try await store.createDatabase(name, kind: `public` ? .public : .private)
            try await store.close()
            print("created \(db.kind.rawValue) mailbox database \(db.name) (\(db.guid))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List mailbox databases.")
        @OptionGroup var options: DataOptions
        @Flag var json = false

        func run() async throws {
            let store = try await options.openStore(logger: makeLogger(level: .warning))
            let dbs = try await store.listDatabases()
            try await store.close()
            for db in dbs {
                if json {
                    print(String(decoding: try JSONEncoder().encode(db), as: UTF8.self))
                } else {
                    print("\(db.name)\t\(db.kind.rawValue)\t\(db.mounted ? "mounted" : "unmounted")\t\(db.guid)")
                }
            }
        }
    }

    struct Mount: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Mount a mailbox database, with the quotas the configuration gives.")
        @OptionGroup var options: DataOptions
        @Argument var name: String
        func run() async throws {
            _ = try await DatabaseCommand.run(AdminRequest(op: "mount", database: name), options)
            print("mounted \(name)")
        }
    }

    struct Unmount: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Unmount a mailbox database: its users get NO [UNAVAILABLE], LMTP answers 451 4.2.0 (the MTA retries).")
        @OptionGroup var options: DataOptions
        @Argument var name: String
        func run() async throws {
            _ = try await DatabaseCommand.run(AdminRequest(op: "unmount", database: name), options)
            print("unmounted \(name)")
        }
    }

    struct Remount: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Unmount and mount a database, applying [databases.NAME] quotas from the configuration file.")
        @OptionGroup var options: DataOptions
        @Argument var name: String
        func run() async throws {
            let result = try await DatabaseCommand.run(AdminRequest(op: "remount", database: name), options)
            print("remounted \(name)")
            if let result { print(result) }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a mailbox database (refused while mailboxes remain in it).")
        @OptionGroup var options: DataOptions
        @Argument var name: String
        func run() async throws {
            _ = try await DatabaseCommand.run(AdminRequest(op: "remove", database: name), options)
            print("removed \(name)")
        }
    }

    struct Compact: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reclaim named properties no longer used by any message (online).")
        @OptionGroup var options: DataOptions
        @Argument var name: String
        func run() async throws {
            let result = try await DatabaseCommand.run(AdminRequest(op: "compact", database: name), options) ?? "{}"
            print(result)
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Named-property and replica-id counts and quotas of a database.")
        @OptionGroup var options: DataOptions
        @Argument var name: String
        @Flag var json = false
        func run() async throws {
            let result = try await DatabaseCommand.run(AdminRequest(op: "stats", database: name), options) ?? "{}"
            if json {
                print(result)
                return
            }
            let object = (try? JSONSerialization.jsonObject(with: Data(result.utf8))) as? [String: Any] ?? [:]
            let np = object["named_props"] as? [String: Any] ?? [:]
            let r = object["replids"] as? [String: Any] ?? [:]
            print("database \(name): \(object["users"] ?? 0) users, \(object["messages"] ?? 0) messages, \(object["size"] ?? 0) bytes")
            print("named properties: \(np["count"] ?? "?") of \(np["quota"] ?? "?") (unauthenticated \(np["unauthenticated_count"] ?? "?") of \(np["unauthenticated_quota"] ?? "?"))")
            print("replica ids: \(r["count"] ?? "?") of \(r["quota"] ?? "?")")
        }
    }
}

struct MailboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mailbox", abstract: "Move, export and import a user's mailbox.",
        subcommands: [Move.self, Export.self, Import.self])

    struct Move: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move a user's mailbox to another database (UIDs kept; crash-safe; re-run to resume).")
        @OptionGroup var options: DataOptions
        @Argument var user: String
        @Option(help: "The target private mailbox database.") var to: String
        func run() async throws {
            print(try await DatabaseCommand.run(AdminRequest(op: "move", database: to, user: user), options) ?? "{}")
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a user's mailbox as .eml files plus messages.jsonl and folders.jsonl.")
        @OptionGroup var options: DataOptions
        @Argument var user: String
        @Argument var directory: String
        func run() async throws {
            let path = URL(fileURLWithPath: directory).standardizedFileURL.path
            print(try await DatabaseCommand.run(AdminRequest(op: "export", user: user, path: path), options) ?? "{}")
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Import a mailbox written by `keep mailbox export`.")
        @OptionGroup var options: DataOptions
        @Argument var user: String
        @Argument var directory: String
        func run() async throws {
            let path = URL(fileURLWithPath: directory).standardizedFileURL.path
            print(try await DatabaseCommand.run(AdminRequest(op: "import", user: user, path: path), options) ?? "{}")
        }
    }
}

struct BanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ban", abstract: "List and lift the flood bans of the running server.", subcommands: [List.self, Lift.self])

    /// Bans live in the running server's memory: without one there is nothing to list or lift.
    static func send(_ request: AdminRequest, _ options: DataOptions) throws -> String? {
        guard let reply = AdminClient.send(request, dataDirectory: options.dataDirectory) else {
            throw ValidationError("no server is running on \(options.dataDirectory.path): flood bans exist only in a running server")
        }
        guard reply.ok else { throw ValidationError(reply.error ?? "the server refused \(request.op)") }
        return reply.result
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the addresses banned for command floods, with the seconds left.")
        @OptionGroup var options: DataOptions
        @Flag var json = false

        func run() async throws {
            let text = try BanCommand.send(AdminRequest(op: "bans"), options) ?? "[]"
            let bans = try JSONDecoder().decode([KeepServer.FloodBanEntry].self, from: Data(text.utf8))
            for ban in bans {
                if json {
                    print(String(decoding: try JSONEncoder().encode(ban), as: UTF8.self))
                } else {
                    print("\(ban.address)\t\(ban.remainingSeconds) s left")
                }
            }
        }
    }

    struct Lift: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lift the flood ban on an address at once.")
        @OptionGroup var options: DataOptions
        @Argument var address: String

        func run() async throws {
            _ = try BanCommand.send(AdminRequest(op: "lift-ban", address: address), options)
            print("lifted the ban on \(address)")
        }
    }
}

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Check configuration.", subcommands: [Check.self, Reference.self])

    struct Reference: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every limit with its default, range and meaning (Markdown).")

        func run() async throws {
            print("| setting | default | range | meaning |")
            print("|---|---|---|---|")
            for s in Limits.settings + Limits.databaseQuotaSettings {
                print("| `\(s.key)` | \(s.defaultValue) | \(s.range.lowerBound)–\(s.range.upperBound) \(s.unit) | \(s.doc) |")
            }
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a config file and print every effective value.")
        @OptionGroup var options: DataOptions

        func run() async throws {
            let config = try options.loadConfig()
            for line in config.describe() { print(line) }
        }
    }
}

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "events", abstract: "Read the durable event log.")
    @OptionGroup var options: DataOptions
    @Option(help: "Only this event id (e.g. 9667).") var id: Int?
    @Option(help: "Only this database.") var database: String?
    @Option(help: "Only events at or after this time (ISO 8601, e.g. 2026-11-27T10:00:00Z).") var since: String?
    @Flag(help: "One JSON object per line.") var json = false

    func run() async throws {
        var sinceDate: Date?
        if let since {
            guard let d = ISO8601DateFormatter().date(from: since) else {
                throw ValidationError("--since \"\(since)\" is not an ISO 8601 time such as 2026-11-27T10:00:00Z")
            }
            sinceDate = d
        }
        let store = try await options.openStore(logger: makeLogger(level: .warning))
        let events = try await store.events.events(eventID: id, database: database, since: sinceDate)
        try await store.close()
        let formatter = ISO8601DateFormatter()
        for e in events {
            if json {
                var object: [String: Any] = [
                    "id": e.eventID, "type": e.type.rawValue, "source": e.source, "category": e.category,
                    "time": formatter.string(from: e.time), "message": e.message, "fields": e.fields,
                    "repeat_count": e.repeatCount,
                ]
                object["database"] = e.database
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("\(formatter.string(from: e.time))\t\(e.eventID)\t\(e.type.rawValue)\t\(e.database ?? "-")\t\(e.message)"
                      + (e.repeatCount > 1 ? " (x\(e.repeatCount))" : ""))
            }
        }
    }
}
