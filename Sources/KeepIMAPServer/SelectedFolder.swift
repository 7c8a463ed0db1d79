import KeepIMAP
import KeepStore

/// A session's view of its selected folder: the UIDs it has announced (message sequence number = index + 1), the
/// modseq up to which it has told the client about changes, and whether it is read-only.
struct SelectedFolder {
    let id: StoreID
    let name: String
    let uidValidity: UInt32
    let readOnly: Bool
    /// Announced messages, ascending UIDs.
    private(set) var uids: [UInt32]
    var knownModSeq: UInt64
    /// Keywords seen in the folder when it was selected (for FLAGS).
    let keywords: [String]
    /// 1-based sequence number of the first unseen message at select time.
    let firstUnseen: Int?

    init(snapshot: FolderSnapshot, readOnly: Bool) {
        id = snapshot.folder.id
        name = snapshot.folder.name
        uidValidity = snapshot.folder.uidValidity
        self.readOnly = readOnly
        uids = snapshot.messages.map(\.uid)
        knownModSeq = snapshot.folder.highestModSeq
        var seen = Set<String>()
        var kw: [String] = []
        for m in snapshot.messages {
            for k in m.flags.keywords where seen.insert(k.lowercased()).inserted { kw.append(k) }
        }
        keywords = kw
        firstUnseen = snapshot.messages.firstIndex { !$0.flags.system.contains(.seen) }.map { $0 + 1 }
    }

    var count: Int { uids.count }
    var maxUID: UInt32 { uids.last ?? 0 }

    /// The sequence number of a UID, if announced.
    func msn(of uid: UInt32) -> Int? {
        var lo = 0, hi = uids.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if uids[mid] < uid { lo = mid + 1 } else { hi = mid }
        }
        return lo < uids.count && uids[lo] == uid ? lo + 1 : nil
    }

    func uid(at msn: Int) -> UInt32 { uids[msn - 1] }

    /// Adds newly seen UIDs (ascending, all greater than the announced ones).
    mutating func append(_ newUIDs: [UInt32]) {
        for u in newUIDs where u > maxUID { uids.append(u) }
    }

    /// Removes a UID; returns its sequence number before removal.
    mutating func remove(uid: UInt32) -> Int? {
        guard let n = msn(of: uid) else { return nil }
        uids.remove(at: n - 1)
        return n
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
                let resolved = ranges.map { $0.resolved(last: maxUID) }
                var out: [(Int, UInt32)] = []
                // Small sets: look each range up by binary search; walk the ranges, not the folder.
                for r in Self.merge(resolved) {
                    var i = lowerBound(r.lowerBound)
                    while i < uids.count, uids[i] <= r.upperBound {
                        out.append((i + 1, uids[i]))
                        i += 1
                    }
                }
                return out
            } else {
                let last = UInt32(uids.count)
                var out: [(Int, UInt32)] = []
                for r in Self.merge(ranges.map { $0.resolved(last: last) }) {
                    guard r.lowerBound <= last else { continue }
                    for n in r.lowerBound...min(r.upperBound, last) { out.append((Int(n), uids[Int(n) - 1])) }
                }
                return out
            }
        }
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

    private func lowerBound(_ uid: UInt32) -> Int {
        var lo = 0, hi = uids.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if uids[mid] < uid { lo = mid + 1 } else { hi = mid }
        }
        return lo
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
