import Foundation
public import KeepStore

extension KeepServer {
    /// Answers one admin request against this running server's store.
    func handleAdmin(_ request: AdminRequest) async -> AdminResponse {
        do {
            switch request.op {
            case "ping":
                return AdminResponse(ok: true, result: "\"pong\"")
            case "stats":
                let stats = try await store.databaseStats(name: try Self.name(request))
                return AdminResponse(ok: true, result: Self.statsJSON(stats))
            case "mount":
                try await store.mountDatabase(try Self.name(request))
                return AdminResponse(ok: true)
            case "unmount":
                try await store.unmountDatabase(try Self.name(request))
                return AdminResponse(ok: true)
            default:
                return AdminResponse(ok: false, error: "unknown admin operation \(request.op)")
            }
        } catch {
            return AdminResponse(ok: false, error: "\(error)")
        }
    }

    private static func name(_ request: AdminRequest) throws -> String {
        guard let name = request.database, !name.isEmpty else { throw StoreError.invalidDatabaseName("") }
        return name
    }

    /// The `keep db stats --json` shape.
    public static func statsJSON(_ stats: DatabaseStats) -> String {
        let object: [String: Any] = [
            "database": stats.database,
            "named_props": [
                "count": stats.namedProps, "quota": stats.namedPropsQuota,
                "unauthenticated_count": stats.unauthenticatedNamedProps,
                "unauthenticated_quota": stats.unauthenticatedNamedPropsQuota, "total": stats.namedPropsTotal,
            ],
            "replids": ["count": stats.replids, "quota": stats.replidsQuota],
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
