import Synchronization

/// Bans, for a while, an IP address whose connections keep being reset for command floods.
///
/// The pending rule resets one flooding connection in about a millisecond, but a flooder that reconnects at once
/// makes the server accept, greet, frame and reset hundreds of connections a second. After `threshold` resets from
/// one address within `imap.flood_ban_window_seconds`, that address's *new* connections are reset on arrival, before any greeting or
/// parsing, for `duration`; its logged-in connections go on. A threshold of zero never bans. Where the platform
/// allows, the listeners also drop a banned address's SYNs in the kernel (`SourceFilter`), so the flooder's
/// reconnects cost nothing at all; the reset on arrival stays as the fallback. The table is bounded:
/// past `imap.max_tracked_addresses`, expired entries are dropped, then the oldest.
///
/// Only floods count: the connection layer resets a client only when it floods (past the pending limit before
/// login, or at it with its answers unread), never one that pipelines and reads. Addresses in the trusted networks
/// (`imap.trusted_networks`, e.g. an office NAT or a webmail front end) are never banned. Bans can be listed and
/// lifted (`keep ban list`, `keep ban lift`).
public final class FloodBan: Sendable {
    private struct Entry {
        var windowStart: ContinuousClock.Instant
        var resets: Int
        var bannedUntil: ContinuousClock.Instant?
    }

    /// What `recordReset` concluded.
    public enum Verdict: Sendable, Equatable {
        case counted(resets: Int)
        /// The address is banned from now for the given time, after `resets` flood resets within the window.
        case banned(Duration, resets: Int)
        /// The address is in a trusted network: never banned.
        case trusted
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let observer = Mutex<(@Sendable () -> Void)?>(nil)
    private let filterUsed = Atomic<Bool>(false)
    private let settings: @Sendable () -> Settings
    private let trusted: [NetworkRange]

    /// What a ban decision reads: `imap.flood_ban_threshold`, `imap.flood_ban_seconds`,
    /// `imap.flood_ban_window_seconds`, `imap.max_tracked_addresses`.
    public struct Settings: Sendable {
        public var threshold: Int
        public var duration: Duration
        public var window: Duration
        public var maxEntries: Int
        public init(threshold: Int, duration: Duration, window: Duration, maxEntries: Int) {
            self.threshold = threshold
            self.duration = duration
            self.window = window
            self.maxEntries = maxEntries
        }

        /// The settings of `limits`.
        public init(_ limits: Limits) {
            self.init(threshold: limits.floodBanThreshold, duration: .seconds(limits.floodBanSeconds),
                      window: .seconds(limits.floodBanWindowSeconds), maxEntries: limits.maxTrackedAddresses)
        }
    }

    /// `settings` is read on each decision, so a reloaded configuration applies at once. Addresses in `trusted`
    /// are never banned.
    public init(trusted: [NetworkRange] = [], settings: @escaping @Sendable () -> Settings) {
        self.trusted = trusted
        self.settings = settings
    }

    /// Whether `ip` lies in a trusted network.
    public func isTrusted(_ ip: String) -> Bool {
        guard !trusted.isEmpty, let address = SourceFilter.Address(ip) else { return false }
        return trusted.contains { $0.contains(address) }
    }

    /// Whether new connections from `ip` are refused now.
    public func isBanned(_ ip: String, now: ContinuousClock.Instant = .now) -> Bool {
        entries.withLock { table in
            guard let until = table[ip]?.bannedUntil else { return false }
            return until > now
        }
    }

    /// Addresses banned at `now`, the most recently banned first, with when each ban ends.
    public func banned(now: ContinuousClock.Instant = .now) -> [(address: String, until: ContinuousClock.Instant)] {
        entries.withLock { table in
            table.compactMap { ip, e in e.bannedUntil.flatMap { $0 > now ? (ip, $0) : nil } }
        }
        .sorted { $0.until > $1.until }
    }

    /// Whether a kernel source filter has ever been attached to the listeners. Accepted sockets inherit the
    /// listener's filter and would run it on every packet of their connection, so connections accepted after that
    /// detach it from their own socket.
    public var kernelFilterUsed: Bool {
        get { filterUsed.load(ordering: .relaxed) }
    }

    /// Marks that the listeners have had a kernel source filter (see `kernelFilterUsed`).
    public func noteKernelFilterAttached() {
        filterUsed.store(true, ordering: .relaxed)
    }

    /// Called after each new or lifted ban, outside the table's lock (the listeners' source filter is rebuilt from it).
    public func onBan(_ action: @escaping @Sendable () -> Void) {
        observer.withLock { $0 = action }
    }

    /// Counts one flood reset from `ip`; bans it when this one reaches the threshold.
    @discardableResult
    public func recordReset(_ ip: String, now: ContinuousClock.Instant = .now) -> Verdict {
        if isTrusted(ip) { return .trusted }
        let verdict = count(ip, now: now)
        if case .banned = verdict { changed() }
        return verdict
    }

    /// Lifts the ban on `ip` (and forgets its count); false when it was not banned.
    @discardableResult
    public func lift(_ ip: String, now: ContinuousClock.Instant = .now) -> Bool {
        let lifted = entries.withLock { table in
            guard let until = table[ip]?.bannedUntil, until > now else { return false }
            table[ip] = nil
            return true
        }
        if lifted { changed() }
        return lifted
    }

    private func changed() {
        if let action = observer.withLock({ $0 }) { action() }
    }

    private func count(_ ip: String, now: ContinuousClock.Instant) -> Verdict {
        let settings = settings()
        let (threshold, duration) = (settings.threshold, settings.duration)
        return entries.withLock { table in
            if table.count >= settings.maxEntries, table[ip] == nil { Self.prune(&table, now: now, settings: settings) }
            var e = table[ip] ?? Entry(windowStart: now, resets: 0, bannedUntil: nil)
            if now - e.windowStart > settings.window {
                e.windowStart = now
                e.resets = 0
            }
            e.resets += 1
            var verdict = Verdict.counted(resets: e.resets)
            if threshold > 0, e.resets >= threshold, (e.bannedUntil ?? now) <= now {
                e.bannedUntil = now + duration
                verdict = .banned(duration, resets: e.resets)
                e.resets = 0
                e.windowStart = now
            }
            table[ip] = e
            return verdict
        }
    }

    /// Addresses tracked (banned or counting).
    public var count: Int { entries.withLock { $0.count } }

    private static func prune(_ table: inout [String: Entry], now: ContinuousClock.Instant, settings: Settings) {
        table = table.filter { _, e in
            (e.bannedUntil.map { $0 > now } ?? false) || now - e.windowStart <= settings.window
        }
        if table.count >= settings.maxEntries, let oldest = table.min(by: { $0.value.windowStart < $1.value.windowStart }) {
            table[oldest.key] = nil
        }
    }
}
