import Synchronization

/// Counts connections per listener: in total, not yet logged in (in total and per IP), and per user; decides
/// whether a new connection or a login may proceed. When the cap on unauthenticated connections is reached the
/// *oldest* unauthenticated connection is evicted (its `evict` closure is called), not the newcomer.
public final class ConnectionRegistry: Sendable {
    public typealias ConnectionID = UInt64

    /// What happened to a connection that asked to be admitted.
    public enum Admission: Sendable, Equatable {
        case admitted
        case refusedTotal(limit: Int)
        case refusedPerIP(limit: Int)
    }

    private struct Entry {
        var ip: String
        var user: String?
        var evict: @Sendable () -> Void
    }

    private struct State {
        var nextID: ConnectionID = 1
        var entries: [ConnectionID: Entry] = [:]
        /// Unauthenticated connections in arrival order (ids), for eviction of the oldest.
        var unauthenticatedOrder: [ConnectionID] = []
        var unauthenticatedHead = 0
        var unauthenticatedCount = 0
        var unauthenticatedPerIP: [String: Int] = [:]
        var perUser: [String: Int] = [:]
    }

    private let state = Mutex(State())
    private let limits: @Sendable () -> (total: Int, unauthenticated: Int, perIP: Int, perUser: Int)

    /// `limits` is read on each decision, so a reloaded configuration applies to new connections at once.
    public init(limits: @escaping @Sendable () -> (total: Int, unauthenticated: Int, perIP: Int, perUser: Int)) {
        self.limits = limits
    }

    public var total: Int { state.withLock { $0.entries.count } }
    public var unauthenticated: Int { state.withLock { $0.unauthenticatedCount } }

    /// Admits a new connection from `ip`. On `.admitted` the id is returned; `evict` closes the connection if it must
    /// make room later. Returns the connection evicted to make room, if any (already told to close).
    public func admit(ip: String, evict: @escaping @Sendable () -> Void) -> (Admission, ConnectionID?, evicted: Bool) {
        let l = limits()
        var toEvict: (@Sendable () -> Void)?
        let result: (Admission, ConnectionID?) = state.withLock { s in
            if s.entries.count >= l.total { return (.refusedTotal(limit: l.total), nil) }
            if s.unauthenticatedPerIP[ip, default: 0] >= l.perIP { return (.refusedPerIP(limit: l.perIP), nil) }
            if s.unauthenticatedCount >= l.unauthenticated, let oldest = Self.popOldestUnauthenticated(&s) {
                toEvict = s.entries[oldest]?.evict
                Self.remove(&s, oldest)
            }
            let id = s.nextID
            s.nextID += 1
            s.entries[id] = Entry(ip: ip, user: nil, evict: evict)
            s.unauthenticatedOrder.append(id)
            s.unauthenticatedCount += 1
            s.unauthenticatedPerIP[ip, default: 0] += 1
            return (.admitted, id)
        }
        toEvict?()
        return (result.0, result.1, toEvict != nil)
    }

    /// Records a successful login. False (and nothing changed) when the user is at `max_connections_per_user`.
    public func authenticated(_ id: ConnectionID, user: String) -> Bool {
        let l = limits()
        return state.withLock { s in
            guard var e = s.entries[id], e.user == nil else { return true }
            let key = user.lowercased()
            if s.perUser[key, default: 0] >= l.perUser { return false }
            s.perUser[key, default: 0] += 1
            Self.dropUnauthenticated(&s, id, ip: e.ip)
            e.user = key
            s.entries[id] = e
            return true
        }
    }

    /// Forgets a closed connection.
    public func closed(_ id: ConnectionID) {
        state.withLock { s in Self.remove(&s, id) }
    }

    private static func remove(_ s: inout State, _ id: ConnectionID) {
        guard let e = s.entries.removeValue(forKey: id) else { return }
        if let u = e.user {
            s.perUser[u, default: 1] -= 1
            if s.perUser[u] == 0 { s.perUser[u] = nil }
        } else {
            dropUnauthenticated(&s, id, ip: e.ip)
        }
    }

    private static func dropUnauthenticated(_ s: inout State, _ id: ConnectionID, ip: String) {
        s.unauthenticatedCount -= 1
        s.unauthenticatedPerIP[ip, default: 1] -= 1
        if s.unauthenticatedPerIP[ip] == 0 { s.unauthenticatedPerIP[ip] = nil }
        // The id stays in the order queue; popOldest skips ids that are no longer unauthenticated.
        if s.unauthenticatedHead > 1024, s.unauthenticatedHead * 2 > s.unauthenticatedOrder.count {
            s.unauthenticatedOrder.removeFirst(s.unauthenticatedHead)
            s.unauthenticatedHead = 0
        }
        if s.unauthenticatedCount == 0 {
            s.unauthenticatedOrder.removeAll(keepingCapacity: true)
            s.unauthenticatedHead = 0
        }
    }

    private static func popOldestUnauthenticated(_ s: inout State) -> ConnectionID? {
        while s.unauthenticatedHead < s.unauthenticatedOrder.count {
            let id = s.unauthenticatedOrder[s.unauthenticatedHead]
            s.unauthenticatedHead += 1
            if let e = s.entries[id], e.user == nil { return id }
        }
        return nil
    }
}

/// Delays answers to failed logins: per IP and per (IP, user) pair the delay starts at
/// `imap.auth_failure_delay_initial_ms` and doubles with each further failure up to `imap.auth_failure_delay_max_ms`;
/// the larger of the two applies. A success clears the pair. Entries are forgotten after
/// `imap.auth_failure_forget_seconds` without a failure; the table holds at most `imap.max_tracked_addresses`.
public final class AuthThrottle: Sendable {
    private struct Record { var failures: Int; var last: ContinuousClock.Instant }
    private let records = Mutex<[String: Record]>([:])
    private let initialMs: Int
    private let maxMs: Int
    private let forgetAfter: Duration
    private let maxEntries: Int

    public init(_ limits: Limits) {
        self.initialMs = limits.authFailureDelayInitialMs
        self.maxMs = limits.authFailureDelayMaxMs
        self.forgetAfter = .seconds(limits.authFailureForgetSeconds)
        self.maxEntries = limits.maxTrackedAddresses
    }

    /// Records a failure and returns how long to wait before answering it.
    public func failure(ip: String, user: String) -> Duration {
        let now = ContinuousClock.now
        let keys = ["ip:" + ip, "pair:" + ip + "\u{0}" + user.lowercased()]
        let failures: Int = records.withLock { r in
            if r.count > maxEntries {
                r = r.filter { now - $0.value.last < forgetAfter }
                if r.count > maxEntries { r.removeAll() }
            }
            var most = 0
            for k in keys {
                var rec = r[k] ?? Record(failures: 0, last: now)
                if now - rec.last > forgetAfter { rec.failures = 0 }
                rec.failures += 1
                rec.last = now
                r[k] = rec
                most = max(most, rec.failures)
            }
            return most
        }
        let shift = min(failures - 1, 20)
        let ms = min(maxMs, initialMs << shift)
        return .milliseconds(ms)
    }

    /// Clears the (IP, user) pair after a successful login.
    public func success(ip: String, user: String) {
        _ = records.withLock { $0.removeValue(forKey: "pair:" + ip + "\u{0}" + user.lowercased()) }
    }
}
