/// The UIDs of a folder as runs of consecutive numbers: the compact sequence-number ↔ UID map a selected folder's
/// view is built on (RFC 9051 §2.3.1.2: message sequence number n is the n-th UID in ascending order).
///
/// A folder whose messages arrived in order and were rarely expunged is a handful of runs, whatever its size, so the
/// map loads in O(runs) from the store (which keeps the runs exact with its writes), costs 16 bytes a run, and finds
/// either number from the other by binary search. Removing UIDs splits runs; a batch is applied in one pass.
public struct UIDRuns: Sendable, Hashable {
    /// First UID of each run, ascending; runs never touch (a run ends before the next one's start − 1).
    private var starts: [UInt32] = []
    /// Length of each run (≥ 1).
    private var lengths: [UInt32] = []
    /// UIDs in the runs before each run: the sequence number of a run's first UID is `before[i] + 1`.
    private var before: [Int] = []
    /// UIDs in all runs: the number of messages.
    public private(set) var count = 0

    public init() {}

    /// Builds the map from runs given in any order (adjacent or touching runs are joined).
    public init(runs: [(start: UInt32, count: UInt32)]) {
        for run in runs.sorted(by: { $0.start < $1.start }) where run.count > 0 {
            appendRun(start: run.start, length: run.count)
        }
    }

    /// Builds the map from ascending UIDs.
    public init<S: Sequence>(ascending uids: S) where S.Element == UInt32 {
        for uid in uids { append(uid) }
    }

    /// The runs, ascending: what the store keeps.
    public var runs: [(start: UInt32, count: UInt32)] { Array(zip(starts, lengths)) }

    /// Runs of the map (how compact it is).
    public var runCount: Int { starts.count }

    public var isEmpty: Bool { count == 0 }

    /// The largest UID, 0 when empty.
    public var last: UInt32 { starts.last.map { $0 + lengths[lengths.count - 1] - 1 } ?? 0 }

    // MARK: Lookups

    /// The sequence number of `uid`, nil when it is not in the map.
    public func msn(of uid: UInt32) -> Int? {
        guard let i = run(containing: uid) else { return nil }
        return before[i] + Int(uid - starts[i]) + 1
    }

    /// The UID with sequence number `msn` (1...count).
    public func uid(at msn: Int) -> UInt32 {
        precondition(msn >= 1 && msn <= count, "message sequence number \(msn) out of 1...\(count)")
        let i = runIndex(ofMSN: msn)
        return starts[i] + UInt32(msn - 1 - before[i])
    }

    /// Every (msn, uid) whose UID lies in `range`, ascending.
    public func pairs(uids range: ClosedRange<UInt32>) -> [(msn: Int, uid: UInt32)] {
        var out: [(msn: Int, uid: UInt32)] = []
        var i = firstRun(endingAtOrAfter: range.lowerBound)
        while i < starts.count, starts[i] <= range.upperBound {
            let end = starts[i] + lengths[i] - 1
            let from = max(starts[i], range.lowerBound), to = min(end, range.upperBound)
            var msn = before[i] + Int(from - starts[i]) + 1
            for uid in from...to {
                out.append((msn, uid))
                msn += 1
            }
            i += 1
        }
        return out
    }

    /// Every (msn, uid) whose sequence number lies in `range` (clamped to 1...count), ascending.
    public func pairs(msns range: ClosedRange<Int>) -> [(msn: Int, uid: UInt32)] {
        let lower = max(range.lowerBound, 1), upper = min(range.upperBound, count)
        guard lower <= upper else { return [] }
        var out: [(msn: Int, uid: UInt32)] = []
        out.reserveCapacity(upper - lower + 1)
        var i = runIndex(ofMSN: lower)
        var msn = lower
        while msn <= upper {
            let offset = msn - 1 - before[i]
            let take = min(Int(lengths[i]) - offset, upper - msn + 1)
            for k in 0..<take { out.append((msn + k, starts[i] + UInt32(offset + k))) }
            msn += take
            i += 1
        }
        return out
    }

    // MARK: Changes

    /// Adds a UID larger than every UID in the map (a new message); smaller or present ones are ignored.
    public mutating func append(_ uid: UInt32) {
        guard isEmpty || uid > last else { return }
        appendRun(start: uid, length: 1)
    }

    /// Removes `uids` (any order; absent ones are ignored) in one pass and returns, for each removed UID in
    /// descending order, its sequence number at the moment it goes — the order in which `* n EXPUNGE` reports them.
    @discardableResult
    public mutating func remove<S: Sequence>(_ uids: S) -> [(uid: UInt32, msn: Int)] where S.Element == UInt32 {
        let gone = Set(uids).sorted(by: >).compactMap { uid in msn(of: uid).map { (uid: uid, msn: $0) } }
        guard !gone.isEmpty else { return [] }
        let ascending = gone.map(\.uid).reversed() as ReversedCollection<[UInt32]>
        var next = ascending.startIndex
        var rebuilt = UIDRuns()
        for (start, length) in zip(starts, lengths) {
            let end = UInt64(start) + UInt64(length) - 1
            var kept = UInt64(start)
            // Every removed UID lies in exactly one run: cut it out of this one.
            while next != ascending.endIndex, UInt64(ascending[next]) <= end {
                let uid = UInt64(ascending[next])
                next = ascending.index(after: next)
                if uid > kept { rebuilt.appendRun(start: UInt32(kept), length: UInt32(uid - kept)) }
                kept = uid + 1
            }
            if kept <= end { rebuilt.appendRun(start: UInt32(kept), length: UInt32(end - kept + 1)) }
        }
        self = rebuilt
        return gone
    }

    // MARK: Internals

    private mutating func appendRun(start: UInt32, length: UInt32) {
        if let lastStart = starts.last, UInt64(lastStart) + UInt64(lengths[lengths.count - 1]) >= UInt64(start) {
            // Touching or overlapping the last run: extend it.
            let end = max(UInt64(lastStart) + UInt64(lengths[lengths.count - 1]), UInt64(start) + UInt64(length))
            let grown = UInt32(end - UInt64(lastStart))
            count += Int(grown) - Int(lengths[lengths.count - 1])
            lengths[lengths.count - 1] = grown
            return
        }
        starts.append(start)
        lengths.append(length)
        before.append(count)
        count += Int(length)
    }

    /// The run holding `uid`.
    private func run(containing uid: UInt32) -> Int? {
        // The last run starting at or before uid.
        var lo = 0, hi = starts.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if starts[mid] <= uid { lo = mid + 1 } else { hi = mid }
        }
        let i = lo - 1
        guard i >= 0, uid - starts[i] < lengths[i] else { return nil }
        return i
    }

    /// The first run whose last UID is ≥ `uid`.
    private func firstRun(endingAtOrAfter uid: UInt32) -> Int {
        var lo = 0, hi = starts.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if UInt64(starts[mid]) + UInt64(lengths[mid]) - 1 < UInt64(uid) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The run holding sequence number `msn`.
    private func runIndex(ofMSN msn: Int) -> Int {
        var lo = 0, hi = before.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if before[mid] < msn { lo = mid + 1 } else { hi = mid }
        }
        return lo - 1
    }

    public static func == (a: UIDRuns, b: UIDRuns) -> Bool { a.starts == b.starts && a.lengths == b.lengths }
    public func hash(into h: inout Hasher) {
        h.combine(starts)
        h.combine(lengths)
    }
}
