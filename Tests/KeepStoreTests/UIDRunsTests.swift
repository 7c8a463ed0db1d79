import KeepStore
import Testing

/// `UIDRuns` against the plain model it replaces: a sorted array of UIDs, where sequence number n is index n − 1.
@Suite struct UIDRunsTests {
    @Test func aFolderFilledInOrderIsOneRun() {
        var map = UIDRuns()
        for uid in UInt32(1)...100_000 { map.append(uid) }
        #expect(map.runCount == 1)
        #expect(map.count == 100_000)
        #expect(map.msn(of: 77_777) == 77_777)
        #expect(map.uid(at: 100_000) == 100_000)
        #expect(map.last == 100_000)
    }

    @Test func removalsSplitRunsAndReportSequenceNumbersAsExpungeDoes() {
        var map = UIDRuns(ascending: [1, 2, 3, 4, 5, 8, 9, 10])
        #expect(map.runCount == 2)
        // * 5 EXPUNGE for UID 8 first (descending), then * 3 EXPUNGE for UID 3, then * 1 for UID 1.
        let gone = map.remove([3, 8, 1, 42])
        #expect(gone.map(\.uid) == [8, 3, 1])
        #expect(gone.map(\.msn) == [6, 3, 1])
        #expect(map.runs.map { [$0.start, $0.count] } == [[2, 1], [4, 2], [9, 2]])
        #expect(map.count == 5)
        #expect((1...5).map(map.uid(at:)) == [2, 4, 5, 9, 10])
    }

    @Test func pairsBySequenceAndByUIDWalkOnlyTheRunsAsked() {
        let map = UIDRuns(runs: [(start: 100, count: 3), (start: 10, count: 2), (start: 200, count: 1)])
        #expect(map.pairs(msns: 2...4).map(\.uid) == [11, 100, 101])
        #expect(map.pairs(msns: 5...99).map { [$0.msn, Int($0.uid)] } == [[5, 102], [6, 200]])
        #expect(map.pairs(uids: 11...150).map { [$0.msn, Int($0.uid)] } == [[2, 11], [3, 100], [4, 101], [5, 102]])
        #expect(map.pairs(uids: 103...199).isEmpty)
        #expect(map.pairs(msns: 7...9).isEmpty)
    }

    @Test func touchingRunsAreJoined() {
        let map = UIDRuns(runs: [(start: 4, count: 2), (start: 1, count: 3), (start: 6, count: 1)])
        #expect(map.runCount == 1)
        #expect(map.count == 6)
    }

    /// Random folders: appends and removals in random batches against the sorted-array model.
    @Test(arguments: [1, 2, 3, 4, 5])
    func agreesWithTheSortedArrayItReplaces(seed: UInt64) {
        var rng = SplitMix(seed: seed)
        var model: [UInt32] = []
        var map = UIDRuns()
        var next: UInt32 = 1
        for _ in 0..<300 {
            if rng.next() % 3 != 0 {
                for _ in 0..<(rng.next() % 20) {
                    next += UInt32(rng.next() % 3 == 0 ? 2 : 1)
                    model.append(next)
                    map.append(next)
                }
            } else if !model.isEmpty {
                let picks = (0..<(rng.next() % 8)).map { _ in model[Int(rng.next() % UInt64(model.count))] }
                var expected: [(UInt32, Int)] = []
                var m = model
                for uid in Set(picks).sorted(by: >) {
                    let i = m.firstIndex(of: uid)!
                    expected.append((uid, i + 1))
                    m.remove(at: i)
                }
                let gone = map.remove(picks)
                #expect(gone.map(\.uid) == expected.map(\.0) && gone.map(\.msn) == expected.map(\.1))
                model = m
            }
            #expect(map.count == model.count)
            if let probe = model.randomElement(using: &rng) {
                #expect(map.msn(of: probe) == model.firstIndex(of: probe)! + 1)
            }
            if !model.isEmpty {
                let n = Int(rng.next() % UInt64(model.count)) + 1
                #expect(map.uid(at: n) == model[n - 1])
                #expect(map.pairs(msns: n...(n + 5)).map(\.uid) == Array(model[(n - 1)..<min(model.count, n + 5)]))
            }
        }
        #expect((1...max(1, model.count)).compactMap { model.isEmpty ? nil : map.uid(at: $0) } == model)
    }
}

/// A small deterministic generator for the model test.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
