import Synchronization

/// The open connections of one listener, each with the closure that ends it for a server shutdown, and the commands
/// running off the event loop, so that a graceful stop can ask every connection to finish what it is doing, say
/// goodbye and close, then wait for them and for their work.
public final class LiveConnections: Sendable {
    /// Identifies one registered connection.
    public typealias Token = UInt64

    private struct State {
        var next: Token = 1
        var drains: [Token: @Sendable () -> Void] = [:]
        var draining = false
        /// Commands or deliveries running off the event loop (they outlive a connection the client dropped).
        var running = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// What became of a connection that asked to be registered.
    public enum Admission: Sendable, Equatable {
        case admitted(Token)
        /// `limit` connections are open already.
        case full
        /// The server is shutting down: close the connection at once.
        case shuttingDown
    }

    /// Registers a connection unless `limit` are open already (e.g. `lmtp.max_connections`); `drain` is called (from
    /// any thread) when the server shuts down.
    public func add(limit: Int = .max, drain: @escaping @Sendable () -> Void) -> Admission {
        state.withLock { s in
            guard !s.draining else { return .shuttingDown }
            guard s.drains.count < limit else { return .full }
            let token = s.next
            s.next += 1
            s.drains[token] = drain
            return .admitted(token)
        }
    }

    /// Forgets a closed connection.
    public func remove(_ token: Token) {
        _ = state.withLock { $0.drains.removeValue(forKey: token) }
    }

    /// Connections still open.
    public var count: Int { state.withLock { $0.drains.count } }

    /// Counts a command or delivery started off the event loop; call `workFinished` once its result has been
    /// handled on the loop. A shutdown waits for these too, so that none of them outlives the event loops.
    public func workStarted() { state.withLock { $0.running += 1 } }
    public func workFinished() { state.withLock { $0.running -= 1 } }

    /// Whether nothing is open or running.
    public var isIdle: Bool { state.withLock { $0.drains.isEmpty && $0.running == 0 } }

    /// Asks every connection to finish and close; connections that arrive later are refused by `add`.
    public func drainAll() {
        let drains = state.withLock { s -> [@Sendable () -> Void] in
            s.draining = true
            return Array(s.drains.values)
        }
        for drain in drains { drain() }
    }
}
