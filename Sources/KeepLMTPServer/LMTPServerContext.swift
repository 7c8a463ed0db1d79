public import KeepConnection
public import KeepGuard
public import KeepStore
public import Logging

/// What LMTP connections share: the store, the limits, the guard's reporter and the local domains.
public final class LMTPServerContext: Sendable {
    public let store: any MailStore
    public let limits: Limits
    public let reporter: GuardReporter
    public let logger: Logger
    public let hostname: String
    /// When non-empty, only recipients in these domains are local; otherwise any domain reaches the local part.
    public let localDomains: [String]
    /// Open connections (bounded by `lmtp.max_connections`), for a graceful shutdown.
    public let live = LiveConnections()

    public init(store: any MailStore, limits: Limits, reporter: GuardReporter, logger: Logger, hostname: String = "keep",
                localDomains: [String] = []) {
        self.store = store
        self.limits = limits
        self.reporter = reporter
        self.logger = logger
        self.hostname = hostname
        self.localDomains = localDomains.map { $0.lowercased() }
    }
}
