import Foundation
public import KeepGuard

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

    public init(namedProps: Int, replids: Int, unauthenticatedNamedProps: Int) {
        self.namedProps = namedProps
        self.replids = replids
        self.unauthenticatedNamedProps = unauthenticatedNamedProps
    }

    /// The quotas of a database that sets none of its own: `limits`' defaults.
    public init(defaultsOf limits: Limits) {
        self.init(namedProps: limits.namedPropsQuota, replids: limits.replidsQuota,
                  unauthenticatedNamedProps: limits.unauthenticatedNamedPropsQuota)
    }

    /// The quotas with every value brought into 1...0x7FFF.
    var clamped: DatabaseQuotas {
        func clamp(_ v: Int) -> Int { min(max(v, 1), 0x7FFF) }
        return DatabaseQuotas(namedProps: clamp(namedProps), replids: clamp(replids),
                              unauthenticatedNamedProps: clamp(unauthenticatedNamedProps))
    }
}

/// How `SQLiteStore` behaves. Every bound comes from `limits` (`Limits`, the one source of every bound and its
/// default); the rest are the password-hashing cost and the per-database quotas of the configuration.
public struct StoreOptions: Sendable {
    /// The bounds in force: message size, quota defaults, new header names per message, the login cache, the busy
    /// timeout and event folding.
    public var limits: Limits
    /// PBKDF2-SHA256 rounds for new password hashes. Values under 210,000 are raised to 210,000 unless
    /// `allowsWeakPasswordHashingForTesting` is set.
    public var passwordRounds: Int = PasswordHasher.minimumRounds
    /// Test-only: lets `passwordRounds` go below 210,000 so that test suites run fast. Never set it in a server.
    public var allowsWeakPasswordHashingForTesting: Bool = false
    /// Per-database quotas (`[databases.NAME]`), keyed by database name (case-insensitive). They take effect when
    /// the database is opened (mounted); a database not named here has `limits`' defaults.
    public var databaseQuotas: [String: DatabaseQuotas] = [:]

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// The largest message `append` accepts, in bytes: the larger of APPENDLIMIT and LMTP's SIZE.
    var maxMessageSize: Int { max(limits.imapAppendLimit, limits.lmtpMaxMessageSize) }

    /// How many new PS_INTERNET_HEADERS names one delivered or appended message may create when its header fields
    /// are promoted (`lmtp.max_new_named_props_per_message`); fields beyond it are simply not promoted.
    var maxNewNamedPropsPerMessage: Int { limits.lmtpMaxNewNamedPropsPerMessage }

    /// How long a write waits for another process holding the SQLite write lock (`server.store_busy_timeout_ms`).
    var busyTimeout: TimeInterval { TimeInterval(limits.storeBusyTimeoutMs) / 1000 }

    /// How long an identical event is folded into the previous row (`server.event_fold_interval_ms`).
    var eventFoldingInterval: TimeInterval { TimeInterval(limits.eventFoldIntervalMs) / 1000 }

    /// The quotas that apply to `database`.
    public func quotas(for database: String) -> DatabaseQuotas {
        if let q = databaseQuotas.first(where: { $0.key.caseInsensitiveCompare(database) == .orderedSame })?.value {
            return q.clamped
        }
        return DatabaseQuotas(defaultsOf: limits).clamped
    }

    /// The rounds new hashes use.
    var effectivePasswordRounds: Int {
        allowsWeakPasswordHashingForTesting ? max(passwordRounds, 1) : max(passwordRounds, PasswordHasher.minimumRounds)
    }
}
