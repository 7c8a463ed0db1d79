public import Foundation
public import KeepGuard
public import KeepStore

/// Keep's whole configuration: `keep.toml` merged over the defaults, then command-line flags over that.
///
/// ```toml
/// [server]
/// imap = "127.0.0.1:1143"     # "" disables a listener
/// imaps = ""
/// lmtp = "127.0.0.1:2424"
/// hostname = "keep"
/// require_tls_for_login = true  # LOGINDISABLED on plaintext, non-loopback connections
///
/// [tls]
/// certificate = "tls/cert.pem"  # relative to the data folder; created self-signed when absent
/// key = "tls/key.pem"
///
/// [lmtp]
/// local_domains = ["example.org"]
/// max_message_size = 52428800
///
/// [imap]
/// max_pending_commands = 100
/// trusted_networks = ["192.0.2.0/24"]  # never banned for floods
///
/// [databases.mailbox1]
/// named_props_quota = 16000
/// replids_quota = 16000
/// unauthenticated_named_props_quota = 8192
/// ```
public struct KeepConfig: Sendable {
    public var imapAddress: String? = "127.0.0.1:1143"
    public var imapsAddress: String?
    public var lmtpAddress: String? = "127.0.0.1:2424"
    public var hostname = "keep"
    public var requireTLSForLogin = true
    public var certificatePath = "tls/cert.pem"
    public var keyPath = "tls/key.pem"
    public var localDomains: [String] = []
    /// Networks whose addresses are never banned for command floods (`imap.trusted_networks`).
    public var trustedNetworks: [NetworkRange] = []
    public var limits = Limits()
    public var databaseQuotas: [String: DatabaseQuotas] = [:]

    public init() {}

    /// Reads `file` (TOML). Every key is checked: unknown keys, wrong types and out-of-range values are refused
    /// with a message naming the setting.
    public static func load(file: URL) throws(ConfigError) -> KeepConfig {
        let text: String
        do {
            text = try String(contentsOf: file, encoding: .utf8)
        } catch {
            throw .unreadable(file: file.path, reason: "\(error.localizedDescription)")
        }
        return try parse(text, file: file.path)
    }

    public static func parse(_ text: String, file: String = "keep.toml") throws(ConfigError) -> KeepConfig {
        let doc: TOMLTable
        do {
            doc = try TOMLParser.parse(text)
        } catch {
            throw .syntax(file: file, error)
        }
        var config = KeepConfig()
        for key in doc.keys where !["server", "tls", "imap", "lmtp", "mime", "databases"].contains(key) {
            throw .unknownSetting(key)
        }
        if let server = try table(doc, "server") {
            for key in server.keys {
                switch key {
                case "imap": config.imapAddress = try address(server, key, "server.imap")
                case "imaps": config.imapsAddress = try address(server, key, "server.imaps")
                case "lmtp": config.lmtpAddress = try address(server, key, "server.lmtp")
                case "hostname": config.hostname = try string(server, key, "server.hostname")
                case "require_tls_for_login":
                    guard case .bool(let b)? = server[key] else { throw .wrongType("server.require_tls_for_login", expected: "boolean", found: server[key]?.typeName ?? "nothing") }
                    config.requireTLSForLogin = b
                case _ where Limits.settings.contains(where: { $0.key == "server.\(key)" }):
                    break  // a limit (shutdown_timeout, memory_trim_threshold_mb): Limits.apply reads and checks it
                default: throw .unknownSetting("server.\(key)")
                }
            }
        }
        if let tls = try table(doc, "tls") {
            for key in tls.keys {
                switch key {
                case "certificate": config.certificatePath = try string(tls, key, "tls.certificate")
                case "key": config.keyPath = try string(tls, key, "tls.key")
                default: throw .unknownSetting("tls.\(key)")
                }
            }
        }
        if let lmtp = try table(doc, "lmtp"), let domains = lmtp["local_domains"] {
            guard case .array(let items) = domains else { throw .wrongType("lmtp.local_domains", expected: "array of strings", found: domains.typeName) }
            config.localDomains = try items.map { item throws(ConfigError) -> String in
                guard case .string(let s) = item, !s.isEmpty else { throw .wrongType("lmtp.local_domains", expected: "array of strings", found: item.typeName) }
                return s.lowercased()
            }
        }
        if let imap = try table(doc, "imap"), let networks = imap["trusted_networks"] {
            guard case .array(let items) = networks else { throw .wrongType("imap.trusted_networks", expected: "array of strings", found: networks.typeName) }
            config.trustedNetworks = try items.map { item throws(ConfigError) -> NetworkRange in
                guard case .string(let s) = item else { throw .wrongType("imap.trusted_networks", expected: "array of strings", found: item.typeName) }
                guard let range = NetworkRange(s) else {
                    throw .invalidValue("imap.trusted_networks", reason: "\"\(s)\" is not an IP address or network (e.g. 192.0.2.0/24, 2001:db8::/32)")
                }
                return range
            }
        }
        try config.limits.apply(doc, knownExtraKeys: ["lmtp.local_domains", "imap.trusted_networks"])
        if let dbs = try table(doc, "databases") {
            for name in dbs.keys {
                guard case .table(let t)? = dbs[name] else { throw .notATable("databases.\(name)") }
                config.databaseQuotas[name] = try quotas(t, database: name, defaults: config.limits)
            }
        }
        return config
    }

    /// `[databases.NAME]` quotas (`Limits.databaseQuotaSettings`, each 1...0x7FFF); what a database does not set
    /// is `defaults`' value.
    public static func quotas(_ t: TOMLTable, database: String, defaults: Limits) throws(ConfigError) -> DatabaseQuotas {
        var values = defaults
        for key in t.keys {
            let full = "databases.\(database).\(key)"
            guard let setting = Limits.databaseQuotaSettings.first(where: { $0.key == "databases.NAME.\(key)" }) else {
                throw .unknownSetting(full)
            }
            guard case .integer(let v)? = t[key] else { throw .wrongType(full, expected: "integer", found: t[key]?.typeName ?? "nothing") }
            guard v >= Int64(setting.range.lowerBound), v <= Int64(setting.range.upperBound) else {
                throw .outOfRange(full, value: v, range: setting.range)
            }
            values[keyPath: setting.keyPath] = Int(v)
        }
        return DatabaseQuotas(defaultsOf: values)
    }

    private static func table(_ doc: TOMLTable, _ key: String) throws(ConfigError) -> TOMLTable? {
        guard let v = doc[key] else { return nil }
        guard case .table(let t) = v else { throw .notATable(key) }
        return t
    }

    private static func string(_ t: TOMLTable, _ key: String, _ full: String) throws(ConfigError) -> String {
        guard case .string(let s)? = t[key] else { throw .wrongType(full, expected: "string", found: t[key]?.typeName ?? "nothing") }
        return s
    }

    private static func address(_ t: TOMLTable, _ key: String, _ full: String) throws(ConfigError) -> String? {
        let s = try string(t, key, full)
        if s.isEmpty { return nil }
        guard ListenAddress(s) != nil else { throw .invalidValue(full, reason: "\"\(s)\" is not HOST:PORT") }
        return s
    }

    /// Every effective value, one `key = value` line each (for `keep config check`).
    public func describe() -> [String] {
        var lines = [
            "server.imap = \"\(imapAddress ?? "")\"",
            "server.imaps = \"\(imapsAddress ?? "")\"",
            "server.lmtp = \"\(lmtpAddress ?? "")\"",
            "server.hostname = \"\(hostname)\"",
            "server.require_tls_for_login = \(requireTLSForLogin)",
            "tls.certificate = \"\(certificatePath)\"",
            "tls.key = \"\(keyPath)\"",
            "lmtp.local_domains = [\(localDomains.map { "\"\($0)\"" }.joined(separator: ", "))]",
            "imap.trusted_networks = [\(trustedNetworks.map { "\"\($0)\"" }.joined(separator: ", "))]",
        ]
        for s in Limits.settings {
            lines.append("\(s.key) = \(limits[keyPath: s.keyPath])")
        }
        for (name, q) in databaseQuotas.sorted(by: { $0.key < $1.key }) {
            lines.append("databases.\(name).named_props_quota = \(q.namedProps)")
            lines.append("databases.\(name).replids_quota = \(q.replids)")
            lines.append("databases.\(name).unauthenticated_named_props_quota = \(q.unauthenticatedNamedProps)")
        }
        return lines
    }
}

/// `HOST:PORT` or `[V6]:PORT`; port 0 means any free port.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init?(_ text: String) {
        let host: Substring, port: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            port = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let p = Int(port), (0...65_535).contains(p) else { return nil }
        self.host = String(host)
        self.port = p
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
