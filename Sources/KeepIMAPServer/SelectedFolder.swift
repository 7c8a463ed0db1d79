import KeepIMAP
import KeepStore

/// A session's view of its selected folder: the UIDs it has announced (message sequence number n is the n-th, held
/// as runs: `UIDRuns`), the modseq up to which it has told the client about changes, and whether it is read-only.
/// Built from the store's snapshot without reading the folder's messages, and kept current from its change feed.
struct SelectedFolder {
    let id: StoreID
    let name: String
    let uidValidity: UInt32
    let readOnly: Bool
    /// Announced messages.
    private(set) var uids: UIDRuns
    var knownModSeq: UInt64
    /// Keywords used in the folder when it was selected (for FLAGS).
    let keywords: [String]
    /// 1-based sequence number of the first unseen message at select time.
    let firstUnseen: Int?

    init(snapshot: FolderSnapshot, readOnly: Bool) {
        id = snapshot.folder.id
        name = snapshot.folder.name
        uidValidity = snapshot.folder.uidValidity
        self.readOnly = readOnly
        uids = snapshot.uids
        knownModSeq = snapshot.folder.highestModSeq
        keywords = snapshot.keywords
        firstUnseen = snapshot.firstUnseen.flatMap { snapshot.uids.msn(of: $0) }
    }

    var count: Int { uids.count }
    var maxUID: UInt32 { uids.last }

    /// The sequence number of a UID, if announced.
    func msn(of uid: UInt32) -> Int? { uids.msn(of: uid) }

    func uid(at msn: Int) -> UInt32 { uids.uid(at: msn) }

    /// Adds newly seen UIDs (ascending, all greater than the announced ones).
    mutating func append(_ newUIDs: [UInt32]) {
        for u in newUIDs { uids.append(u) }
    }

    /// Removes expunged UIDs; returns the sequence numbers to report, in the order `* n EXPUNGE` reports them
    /// (descending: each number is still right when the client reads it).
    mutating func remove(uids expunged: [UInt32]) -> [Int] {
        uids.remove(expunged).map(\.msn)
    }

    /// The (msn, uid) pairs a sequence set names. For UID sets, `*` is the largest UID; for sequence sets the number
    /// of messages. `saved` is the `$` result.
    func resolve(_ set: SequenceSet, uid: Bool, saved: [UInt32]) -> [(msn: Int, uid: UInt32)] {
        switch set {
        case .lastSearchResult:
            return saved.compactMap { u in msn(of: u).map { ($0, u) } }
        case .ranges(let ranges):
            guard !uids.isEmpty else { return [] }
            if uid {
                // Walk the ranges and the runs they touch, not the folder.
                return Self.merge(ranges.map { $0.resolved(last: maxUID) }).flatMap { uids.pairs(uids: $0) }
            } else {
                let last = UInt32(uids.count)
                return Self.merge(ranges.map { $0.resolved(last: last) }).flatMap { r in
                    uids.pairs(msns: Int(r.lowerBound)...Int(r.upperBound))
                }
            }
        }
    }

    /// The sequence number of `uid` when it is announced and `set` names it (as UIDs or as sequence numbers), else
    /// nil: membership without resolving the whole set.
    func msn(of uid: UInt32, in set: SequenceSet, uid isUID: Bool, saved: [UInt32]) -> Int? {
        guard let n = msn(of: uid) else { return nil }
        switch set {
        case .lastSearchResult:
            return Self.sortedContains(saved, uid) ? n : nil
        case .ranges(let ranges):
            let value = isUID ? uid : UInt32(n)
            let last = isUID ? maxUID : UInt32(count)
            return ranges.contains { $0.resolved(last: last).contains(value) } ? n : nil
        }
    }

    /// Binary search in ascending UIDs.
    private static func sortedContains(_ sorted: [UInt32], _ uid: UInt32) -> Bool {
        var lo = 0, hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid] < uid { lo = mid + 1 } else { hi = mid }
        }
        return lo < sorted.count && sorted[lo] == uid
    }

    /// True when a message-number set names a number beyond the mailbox (a client error RFC 9051 says is BAD).
    func outOfRange(_ set: SequenceSet) -> Bool {
        guard case .ranges(let ranges) = set else { return false }
        return ranges.contains { r in
            if case .number(let a) = r.from, a > UInt32(uids.count) { return true }
            if case .number(let b) = r.to, b > UInt32(uids.count) { return true }
            return false
        }
    }

    /// Sorted, non-overlapping ranges.
    static func merge(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        let sorted = ranges.sorted { $0.lowerBound < $1.lowerBound }
        var out: [ClosedRange<UInt32>] = []
        for r in sorted {
            if let last = out.last, UInt64(r.lowerBound) <= UInt64(last.upperBound) + 1 {
                out[out.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                out.append(r)
            }
        }
        return out
    }
}
