import KeepGuard
import Logging
import NIOCore
import Synchronization

/// Keeps the IMAP listeners' kernel socket filter equal to the flood-ban list, so that a banned address's SYNs are
/// dropped before the server sees them (`imap.flood_ban_drop_syn`, Linux).
///
/// Rebuilt on each new ban and when the earliest ban in the filter ends; the work runs on one event loop, serialised.
/// When the filter cannot be attached (another platform, a kernel refusing it) this says so once in the log and the
/// bans fall back to resetting connections on arrival, which the connection handler always does anyway.
final class ListenerSourceFilter: Sendable {
    private struct State {
        var listeners: [any Channel] = []
        /// What the listeners drop now; empty when no filter is attached.
        var installed: [SourceFilter.Address] = []
        var unavailable = false
        /// A listener was added since the last install.
        var dirty = false
        var nextRebuild: Scheduled<Void>?
    }

    /// `struct sock_fprog`, laid out as the kernel reads it (a 16-bit length, padding, then the program's address).
    private struct SocketFilterProgram: Sendable {
        var length: UInt16
        var padding16: UInt16 = 0
        var padding32: UInt32 = 0
        var instructions: UInt
    }

    private let ban: FloodBan
    private let loop: any EventLoop
    private let logger: Logger
    private let enabled: @Sendable () -> Bool
    private let state = Mutex(State())

    #if os(Linux)
    private static let solSocket: CInt = 1
    private static let attachFilter: CInt = 26  // SO_ATTACH_FILTER
    private static let detachFilter: CInt = 27  // SO_DETACH_FILTER
    #endif

    init(ban: FloodBan, loop: any EventLoop, logger: Logger, enabled: @escaping @Sendable () -> Bool) {
        self.ban = ban
        self.loop = loop
        self.logger = logger
        self.enabled = enabled
        ban.onBan { [weak self] in self?.refresh() }
    }

    /// Adds a listener; it gets the filter now in force.
    func add(listener: any Channel) {
        state.withLock {
            $0.listeners.append(listener)
            $0.dirty = true
        }
        refresh()
    }

    /// Forgets the listeners (they are closing) and any rebuild still scheduled.
    func stop() {
        let scheduled = state.withLock { s -> Scheduled<Void>? in
            s.listeners.removeAll()
            defer { s.nextRebuild = nil }
            return s.nextRebuild
        }
        scheduled?.cancel()
    }

    /// Rebuilds the filter from the ban list (from any thread).
    func refresh() {
        loop.execute { self.rebuild() }
    }

    /// The addresses the listeners drop now (for tests and the admin view).
    var dropping: [SourceFilter.Address] { state.withLock { $0.installed } }

    private func rebuild() {
        let now = ContinuousClock.now
        let bans = enabled() ? ban.banned(now: now) : []
        let parsed = bans.compactMap { b in SourceFilter.Address(b.address).map { (address: $0, until: b.until) } }
        let filter = SourceFilter(dropping: parsed.map(\.address))
        let (listeners, changed, previous) = state.withLock { s -> ([any Channel], Bool, Int) in
            (s.listeners, s.dirty || s.installed != filter.dropped, s.installed.count)
        }
        guard !listeners.isEmpty else { return }
        if changed, !state.withLock({ $0.unavailable }) {
            install(filter, on: listeners)
            if filter.dropped.count != previous {
                logger.notice("flood ban: the IMAP listeners drop connection attempts from \(filter.dropped.count) address(es) (imap.flood_ban_drop_syn)")
            }
            if filter.dropped.count < bans.count {
                logger.notice("flood ban: \(bans.count - filter.dropped.count) banned address(es) do not fit the listener filter; their connections are reset on arrival")
            }
        }
        // Next rebuild when the first ban in the filter ends.
        let dropped = Set(filter.dropped)
        let ends = parsed.filter { dropped.contains($0.address) }.map(\.until).min()
        let next = ends.map { loop.scheduleTask(in: TimeAmount(max($0 - now, .zero)) + .milliseconds(1)) { self.rebuild() } }
        let old = state.withLock { s -> Scheduled<Void>? in
            defer { s.nextRebuild = next }
            return s.nextRebuild
        }
        old?.cancel()
    }

    private func install(_ filter: SourceFilter, on listeners: [any Channel]) {
        #if os(Linux)
        let providers = listeners.compactMap { $0 as? any SocketOptionProvider }
        guard providers.count == listeners.count else { return unavailable("the listeners take no socket options") }
        let futures: [EventLoopFuture<Void>]
        if filter.dropped.isEmpty {
            futures = providers.map {
                $0.unsafeSetSocketOption(level: .init(rawValue: Self.solSocket), name: .init(rawValue: Self.detachFilter), value: CInt(0))
            }
        } else {
            ban.noteKernelFilterAttached()
            // The kernel copies the program during setsockopt; the buffer lives until every listener has it.
            let buffer = UnsafeMutableBufferPointer<SourceFilter.Instruction>.allocate(capacity: filter.instructions.count)
            _ = buffer.initialize(from: filter.instructions)
            let program = SocketFilterProgram(length: UInt16(filter.instructions.count),
                                              instructions: UInt(bitPattern: buffer.baseAddress))
            let address = UInt(bitPattern: buffer.baseAddress)
            futures = providers.map {
                $0.unsafeSetSocketOption(level: .init(rawValue: Self.solSocket), name: .init(rawValue: Self.attachFilter), value: program)
            }
            EventLoopFuture.andAllComplete(futures, on: loop).whenComplete { _ in
                UnsafeMutablePointer<SourceFilter.Instruction>(bitPattern: address)?.deallocate()
            }
        }
        let attached = !filter.dropped.isEmpty
        state.withLock {
            $0.installed = filter.dropped
            $0.dirty = false
        }
        EventLoopFuture.whenAllSucceed(futures, on: loop).whenFailure { error in
            // Detaching a filter that is not there (ENOENT) is not a failure worth a warning.
            if attached { self.unavailable("\(error)") }
        }
        #else
        unavailable("socket filters are a Linux feature")
        #endif
    }

    private func unavailable(_ why: String) {
        let first = state.withLock { s -> Bool in
            defer { s.unavailable = true; s.installed = [] }
            return !s.unavailable
        }
        if first {
            logger.warning("flood ban: cannot drop banned addresses at the listeners (\(why)); their connections are reset on arrival instead")
        }
    }
}
