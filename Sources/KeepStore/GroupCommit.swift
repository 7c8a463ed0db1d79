import GRDB
import Synchronization

/// Commits the writes of many callers to one mailbox database in one SQLite transaction: one fsync for the group
/// instead of one each (group commit).
///
/// Writes run on the database's writer connection in the order they were submitted, each in its own savepoint inside
/// the group's transaction. A write that throws is rolled back alone and its caller gets the error at once; the
/// others are answered only after the group's transaction has committed (`synchronous = FULL`: on disk), so an
/// acknowledgement still means durable. While one group commits the next one gathers, so the more callers wait, the
/// fewer fsyncs each costs. A group holds at most `maxGroup` writes, and after each group the writer is handed back
/// to the pool's other users (schema work, event log, named properties) before the next one starts.
final class GroupCommit: Sendable {
    private struct Job: Sendable {
        let run: @Sendable (Database) throws -> Void
        let finish: @Sendable (Result<Void, any Error>) -> Void
    }

    /// Where a write's value waits between its savepoint and the group's commit.
    private final class Slot<T: Sendable>: Sendable {
        let value = Mutex<T?>(nil)
    }

    private struct Queue: ~Copyable {
        var jobs: [Job] = []
        var head = 0
        var draining = false
    }

    static let maxGroup = 64
    private let pool: DatabasePool
    private let queue = Mutex(Queue())
    private let counts = Mutex((groups: 0, writes: 0))

    /// Writes submitted and not yet taken into a group.
    var queuedForTesting: Int { queue.withLock { $0.jobs.count - $0.head } }

    /// Groups committed and writes they held, since the database was opened.
    var committed: (groups: Int, writes: Int) { counts.withLock { $0 } }

    init(pool: DatabasePool) {
        self.pool = pool
    }

    /// Runs `body` in the next group; returns its value once the group is on disk.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let slot = Slot<T>()
            let job = Job(
                run: { db in
                    let value = try body(db)
                    slot.value.withLock { $0 = value }
                },
                finish: { result in
                    continuation.resume(with: result.map { slot.value.withLock { $0.take()! } })
                })
            let start = queue.withLock { q -> Bool in
                q.jobs.append(job)
                guard !q.draining else { return false }
                q.draining = true
                return true
            }
            if start { scheduleDrain() }
        }
    }

    private func scheduleDrain() {
        pool.asyncWriteWithoutTransaction { db in self.drain(db) }
    }

    /// Commits one group on the writer connection, then schedules the next if writes are waiting.
    private func drain(_ db: Database) {
        let group = queue.withLock { q -> [Job] in
            let end = min(q.jobs.count, q.head + Self.maxGroup)
            let group = Array(q.jobs[q.head..<end])
            q.head = end
            if q.head == q.jobs.count {
                q.jobs.removeAll(keepingCapacity: true)
                q.head = 0
            }
            return group
        }
        var answered = [Bool](repeating: false, count: group.count)
        var ran: [Int] = []
        do {
            try db.inTransaction(.immediate) {
                for (i, job) in group.enumerated() {
                    do {
                        try db.inSavepoint {
                            try job.run(db)
                            return .commit
                        }
                        ran.append(i)
                    } catch {
                        answered[i] = true
                        job.finish(.failure(error))
                    }
                }
                return .commit
            }
            counts.withLock {
                $0.groups += 1
                $0.writes += ran.count
            }
            for i in ran {
                answered[i] = true
                group[i].finish(.success(()))
            }
        } catch {
            // BEGIN or COMMIT failed: nothing of the group is on disk.
            for (i, job) in group.enumerated() where !answered[i] { job.finish(.failure(error)) }
        }
        let more = queue.withLock { q -> Bool in
            if q.jobs.count > q.head { return true }
            q.draining = false
            return false
        }
        if more { scheduleDrain() }
    }
}
