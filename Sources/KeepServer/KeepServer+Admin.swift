import Foundation
import KeepGuard
public import KeepStore

extension KeepServer {
    /// Answers one admin request against this running server's store.
    func handleAdmin(_ request: AdminRequest) async -> AdminResponse {
        do {
            switch request.op {
            case "ping":
                return AdminResponse(ok: true, result: "\"pong\"")
            case "bans":
                return AdminResponse(ok: true, result: Self.encode(floodBans))
            case "lift-ban":
                guard let address = request.address, !address.isEmpty else { throw AdminError.missing("address", op: request.op) }
                guard liftFloodBan(address) else { throw AdminError.notBanned(address) }
                return AdminResponse(ok: true, result: nil)
            default:
                let result = try await Self.perform(request, on: store, remountQuotas: { name in try self.currentQuotas(for: name) })
                return AdminResponse(ok: true, result: result)
            }
        } catch {
            return AdminResponse(ok: false, error: "\(error)")
        }
    }

    /// The quotas the configuration file says now (re-read for `remount`); the start-up config when there is no file.
    func currentQuotas(for database: String) throws -> DatabaseQuotas {
        var options = storeOptions
        if let configFile {
            options.databaseQuotas = try KeepConfig.load(file: configFile).databaseQuotas
        }
        return options.quotas(for: database)
    }

    /// Runs an admin operation on a store — the running server's, or one the CLI opened on a stopped data folder.
    /// Returns the result as JSON text.
    public static func perform(_ request: AdminRequest, on store: SQLiteStore,
                               remountQuotas: (String) throws -> DatabaseQuotas) async throws -> String? {
        func need(_ value: String?, _ what: String) throws -> String {
            guard let value, !value.isEmpty else { throw AdminError.missing(what, op: request.op) }
            return value
        }
        switch request.op {
        case "stats":
            return encode(try await store.databaseStats(name: try need(request.database, "database")))
        case "mount":
            let name = try need(request.database, "database")
            try await store.mountDatabase(name, quotas: try remountQuotas(name))
            return nil
        case "unmount":
            try await store.unmountDatabase(try need(request.database, "database"))
            return nil
        case "remount":
            let name = try need(request.database, "database")
            try await store.remountDatabase(name: name, quotas: try remountQuotas(name))
            return encode(try await store.databaseStats(name: name))
        case "remove":
            try await store.removeDatabase(name: try need(request.database, "database"))
            return nil
        case "compact":
            let reclaimed = try await store.compactDatabase(name: try need(request.database, "database"))
            return "{\"reclaimed\":\(reclaimed)}"
        case "move":
            return encode(try await store.moveMailbox(user: try need(request.user, "user"), to: try need(request.database, "database")))
        case "export":
            let dir = URL(fileURLWithPath: try need(request.path, "path"), isDirectory: true)
            return encode(try await store.exportMailbox(user: try need(request.user, "user"), to: dir))
        case "import":
            let dir = URL(fileURLWithPath: try need(request.path, "path"), isDirectory: true)
            return encode(try await store.importMailbox(user: try need(request.user, "user"), from: dir))
        default:
            throw AdminError.unknownOperation(request.op)
        }
    }

    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
}

/// An admin request that cannot be carried out as asked.
public enum AdminError: Error, CustomStringConvertible {
    case missing(String, op: String)
    case unknownOperation(String)
    case notBanned(String)
    public var description: String {
        switch self {
        case .missing(let what, let op): return "\(op) needs a \(what)"
        case .unknownOperation(let op): return "unknown admin operation \(op)"
        case .notBanned(let address): return "\(address) is not banned"
        }
    }
}
