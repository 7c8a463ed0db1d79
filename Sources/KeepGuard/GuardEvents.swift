public import Logging
import Metrics
import Synchronization

/// The refusals and resets the guard reports. Each has a stable id (Keep's own range, 1000–1099) and the name of
/// the limit it enforces.
public enum GuardEventKind: Int, Sendable, Hashable, CaseIterable {
    case pendingCommandsReset = 1001
    case lineTooLong = 1002
    case literalTooLarge = 1003
    case commandTooLarge = 1004
    case tooManyLiterals = 1005
    case parserBound = 1006
    case badCommands = 1007
    case commandsBeforeLogin = 1008
    case idleTimeout = 1009
    case tlsHandshakeTimeout = 1010
    case connectionLimit = 1011
    case unauthenticatedConnectionLimit = 1012
    case userConnectionLimit = 1013
    case authenticationFailure = 1014
    case outputBufferFull = 1015
    case lmtpPendingCommandsReset = 1016
    case lmtpMessageTooLarge = 1017
    case lmtpLineTooLong = 1018
    case unauthenticatedConnectionEvicted = 1019
    case floodBan = 1020
    case bannedConnectionReset = 1021

    /// The metric/counter label and log word.
    public var name: String {
        switch self {
        case .pendingCommandsReset: return "pending_commands_reset"
        case .lineTooLong: return "line_too_long"
        case .literalTooLarge: return "literal_too_large"
        case .commandTooLarge: return "command_too_large"
        case .tooManyLiterals: return "too_many_literals"
        case .parserBound: return "parser_bound"
        case .badCommands: return "bad_commands"
        case .commandsBeforeLogin: return "commands_before_login"
        case .idleTimeout: return "idle_timeout"
        case .tlsHandshakeTimeout: return "tls_handshake_timeout"
        case .connectionLimit: return "connection_limit"
        case .unauthenticatedConnectionLimit: return "unauthenticated_connection_limit"
        case .userConnectionLimit: return "user_connection_limit"
        case .authenticationFailure: return "authentication_failure"
        case .outputBufferFull: return "output_buffer_full"
        case .lmtpPendingCommandsReset: return "lmtp_pending_commands_reset"
        case .lmtpMessageTooLarge: return "lmtp_message_too_large"
        case .lmtpLineTooLong: return "lmtp_line_too_long"
        case .unauthenticatedConnectionEvicted: return "unauthenticated_connection_evicted"
        case .floodBan: return "flood_ban"
        case .bannedConnectionReset: return "banned_connection_reset"
        }
    }
}

/// One guard event: which limit tripped, for whom.
public struct GuardEvent: Sendable {
    public var kind: GuardEventKind
    public var peer: String
    public var state: String
    public var user: String?
    /// The setting that tripped, e.g. `imap.max_pending_commands`.
    public var limit: String
    public var detail: String
    public init(kind: GuardEventKind, peer: String, state: String, user: String?, limit: String, detail: String = "") {
        self.kind = kind; self.peer = peer; self.state = state; self.user = user; self.limit = limit; self.detail = detail
    }
}

/// Reports guard events to the log and to swift-metrics counters, folding repeats: the first event of a kind from a
/// peer in a fold window (`server.guard_log_fold_seconds`) is logged at once; the rest of that window are counted and
/// logged as one line with the count when the next one arrives after it (or at `flush`). Counters always count
/// every event.
public final class GuardReporter: Sendable {
    private struct FoldKey: Hashable { var kind: GuardEventKind; var peerHost: String }
    private struct Fold { var windowStart: ContinuousClock.Instant; var suppressed: Int; var last: GuardEvent }

    private let logger: Logger
    private let folds = Mutex<[FoldKey: Fold]>([:])
    private let totals = Mutex<[GuardEventKind: Int]>([:])
    private let window: Duration
    private let maxFolds: Int

    /// Folds repeats within `server.guard_log_fold_seconds`, for at most `imap.max_tracked_addresses` peers at once.
    public init(logger: Logger, limits: Limits) {
        self.logger = logger
        self.window = .seconds(limits.guardLogFoldSeconds)
        self.maxFolds = limits.maxTrackedAddresses
    }

    /// How many events of each kind were reported since start (for tests and the stats endpoint).
    public func count(_ kind: GuardEventKind) -> Int { totals.withLock { $0[kind] ?? 0 } }

    public func report(_ event: GuardEvent) {
        Counter(label: "keep_guard_events_total", dimensions: [("event", event.kind.name)]).increment()
        totals.withLock { $0[event.kind, default: 0] += 1 }
        let host = Self.host(of: event.peer)
        let now = ContinuousClock.now
        let (logNow, folded): (Bool, Fold?) = folds.withLock { folds in
            let key = FoldKey(kind: event.kind, peerHost: host)
            if var f = folds[key] {
                if now - f.windowStart < window {
                    f.suppressed += 1
                    f.last = event
                    folds[key] = f
                    return (false, nil)
                }
                folds[key] = Fold(windowStart: now, suppressed: 0, last: event)
                return (true, f.suppressed > 0 ? f : nil)
            }
            if folds.count > maxFolds { folds.removeAll() }
            folds[key] = Fold(windowStart: now, suppressed: 0, last: event)
            return (true, nil)
        }
        if let folded { log(folded.last, repeated: folded.suppressed) }
        if logNow { log(event, repeated: 0) }
    }

    /// Logs the folded counts of every peer (at shutdown).
    public func flush() {
        let pending = folds.withLock { f -> [Fold] in
            let out = Array(f.values.filter { $0.suppressed > 0 })
            f.removeAll()
            return out
        }
        for f in pending { log(f.last, repeated: f.suppressed) }
    }

    private func log(_ e: GuardEvent, repeated: Int) {
        var md: Logger.Metadata = [
            "event_id": "\(e.kind.rawValue)", "event": "\(e.kind.name)", "peer": "\(e.peer)", "state": "\(e.state)",
            "limit": "\(e.limit)",
        ]
        if let u = e.user { md["user"] = "\(u)" }
        if !e.detail.isEmpty { md["detail"] = "\(e.detail)" }
        if repeated > 0 { md["repeated"] = "\(repeated)" }
        logger.warning(repeated > 0 ? "guard refusal (folded: \(repeated) more since the first)" : "guard refusal",
                       metadata: md)
    }

    /// The address part of `ip:port` / `[v6]:port`.
    public static func host(of peer: String) -> String {
        if peer.hasPrefix("["), let end = peer.firstIndex(of: "]") { return String(peer[peer.index(after: peer.startIndex)..<end]) }
        if peer.filter({ $0 == ":" }).count == 1, let c = peer.lastIndex(of: ":") { return String(peer[..<c]) }
        return peer
    }
}
