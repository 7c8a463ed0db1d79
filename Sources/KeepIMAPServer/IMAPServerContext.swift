public import KeepConnection
public import KeepGuard
public import KeepStore
public import Logging
public import NIOSSL
import Synchronization

/// Everything IMAP connections share: the store, the limits, the guard's accounting and the TLS context.
/// One per server; passed to every `IMAPConnectionHandler`.
public final class IMAPServerContext: Sendable {
    public let store: any MailStore
    public let reporter: GuardReporter
    public let registry: ConnectionRegistry
    public let throttle: AuthThrottle
    /// Open connections, for a graceful shutdown.
    public let live = LiveConnections()
    /// Addresses whose new connections are reset on arrival after repeated command floods.
    public let floodBan: FloodBan
    public let logger: Logger
    /// The TLS context for STARTTLS (nil: STARTTLS not offered).
    public let tls: NIOSSLContext?
    /// Refuse LOGIN/AUTHENTICATE on plaintext connections that are not from loopback (`LOGINDISABLED`).
    public let requireTLSForLoginOffLoopback: Bool
    private let limitsBox: LimitsBox

    /// `trustedNetworks`: peers never banned for floods (`imap.trusted_networks`).
    public init(store: any MailStore, limits: Limits, logger: Logger, reporter: GuardReporter, tls: NIOSSLContext?,
                requireTLSForLoginOffLoopback: Bool = true, trustedNetworks: [NetworkRange] = []) {
        self.store = store
        self.logger = logger
        self.reporter = reporter
        self.tls = tls
        self.requireTLSForLoginOffLoopback = requireTLSForLoginOffLoopback
        let box = LimitsBox(limits)
        self.limitsBox = box
        self.throttle = AuthThrottle(limits)
        self.floodBan = FloodBan(trusted: trustedNetworks, settings: { FloodBan.Settings(box.value) })
        self.registry = ConnectionRegistry(limits: {
            let l = box.value
            return (l.imapMaxConnections, l.imapMaxUnauthenticatedConnections, l.imapMaxUnauthenticatedConnectionsPerIP,
                    l.imapMaxConnectionsPerUser)
        })
    }

    /// The limits now in force.
    public var limits: Limits { limitsBox.value }

    /// Replaces the limits (config reload); new decisions use them at once.
    public func update(limits: Limits) { limitsBox.value = limits }

    /// Capabilities before login (RFC 9051 §7.2.2).
    func capabilities(authenticated: Bool, tlsActive: Bool, loginDisabled: Bool) -> [String] {
        var caps = ["IMAP4rev1", "IMAP4rev2"]
        if !authenticated {
            if !tlsActive, tls != nil { caps.append("STARTTLS") }
            if loginDisabled {
                caps.append("LOGINDISABLED")
            } else {
                caps.append("AUTH=PLAIN")
            }
            caps.append("SASL-IR")
        }
        caps += ["LITERAL+", "ID", "ENABLE", "IDLE", "NAMESPACE", "UNSELECT", "UIDPLUS", "MOVE", "SPECIAL-USE",
                 "LIST-EXTENDED", "LIST-STATUS", "STATUS=SIZE", "CHILDREN", "ESEARCH",
                 "APPENDLIMIT=\(limits.imapAppendLimit)", "UTF8=ACCEPT", "MULTIAPPEND", "CONDSTORE"]
        return caps
    }
}

/// The limits in force, replaceable at run time.
final class LimitsBox: Sendable {
    private let mutex: Mutex<Limits>
    init(_ limits: Limits) { mutex = Mutex(limits) }
    var value: Limits {
        get { mutex.withLock { $0 } }
        set { mutex.withLock { $0 = newValue } }
    }
}
