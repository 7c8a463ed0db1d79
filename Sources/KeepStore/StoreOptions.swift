public import Foundation

/// Limits on one mailbox database's named-property and replica-id tables (the seed's "Named Props Quota" and
/// "Replids Quota"). Each value is clamped to 1...0x7FFF, the size of the tables.
public struct DatabaseQuotas: Sendable, Hashable, Codable {
    /// Named properties created by logged-in users.
    public var namedProps: Int
    /// Replica ids created by anyone but the store itself.
    public var replids: Int
    /// Named properties created by unauthenticated principals (e.g. keywords set by LMTP deliveries), counted apart
    /// so that outsiders cannot use up the users' share.
    public var unauthenticatedNamedProps: Int

    public init(namedProps: Int = 16_000, replids: Int = 16_000, unauthenticatedNamedProps: Int = 8_192) {
        self.namedProps = namedProps
        self.replids = replids
        self.unauthenticatedNamedProps = unauthenticatedNamedProps
    }

    /// The quotas with every value brought into 1...0x7FFF.
    var clamped: DatabaseQuotas {
        func clamp(_ v: Int) -> Int { min(max(v, 1), 0x7FFF) }
        return DatabaseQuotas(namedProps: clamp(namedProps), replids: clamp(replids),
                              unauthenticatedNamedProps: clamp(unauthenticatedNamedProps))
    }
}

/// How `SQLiteStore` behaves; every knob has the documented default.
public struct StoreOptions: Sendable {
    /// PBKDF2-SHA256 rounds for new password hashes. Values under 210,000 are raised to 210,000 unless
    /// `allowsWeakPasswordHashingForTesting` is set.
    public var passwordRounds: Int = 210_000
    /// Test-only: lets `passwordRounds` go below 210,000 so that test suites run fast. Never set it in a server.
    public var allowsWeakPasswordHashingForTesting: Bool = false
    /// The largest message `append` accepts, in bytes.
    public var maxMessageSize: Int = 50 << 20
    /// Default named-property quota of every database (entries created by users).
    public var namedPropsQuota: Int = 16_000
    /// Default replica-id quota of every database.
    public var replidsQuota: Int = 16_000
    /// Default quota for named properties created by unauthenticated principals.
    public var unauthenticatedNamedPropsQuota: Int = 8_192
    /// Per-database overrides of the three quotas, keyed by database name (case-insensitive). They take effect when
    /// the database is opened (mounted).
    public var databaseQuotas: [String: DatabaseQuotas] = [:]
    /// How many new PS_INTERNET_HEADERS names one delivered or appended message may create when its header
    /// fields are promoted; fields beyond it are simply not promoted (no error). The LMTP server passes its
    /// `lmtp.max_new_named_props_per_message`.
    public var maxNewNamedPropsPerMessage: Int = 64
    /// How long a successful login is remembered so that the same user and password skip PBKDF2 next time
    /// (`AuthCache`); zero disables the cache. The server passes `imap.auth_cache_ttl`.
    public var authCacheTTL: TimeInterval = 3_600
    /// Most users the login cache remembers (`imap.auth_cache_size`).
    public var authCacheSize: Int = 10_000
    /// How long a write waits for another process (e.g. the `keep` CLI) holding the SQLite write lock.
    public var busyTimeout: TimeInterval = 10
    /// How long an identical event (same id, database and user) is folded into the previous row.
    public var eventFoldingInterval: TimeInterval = 60

    public init() {}

    /// The quotas that apply to `database`.
    public func quotas(for database: String) -> DatabaseQuotas {
        if let q = databaseQuotas.first(where: { $0.key.caseInsensitiveCompare(database) == .orderedSame })?.value {
            return q.clamped
        }
        return DatabaseQuotas(namedProps: namedPropsQuota, replids: replidsQuota,
                              unauthenticatedNamedProps: unauthenticatedNamedPropsQuota).clamped
    }

    /// The rounds new hashes use.
    var effectivePasswordRounds: Int {
        allowsWeakPasswordHashingForTesting ? max(passwordRounds, 1) : max(passwordRounds, PasswordHasher.minimumRounds)
    }
}
