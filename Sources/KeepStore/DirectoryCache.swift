import Foundation
import GRDB
import Synchronization

/// What the directory says of each user the store resolved lately: their spelling and the record of the mailbox
/// database holding their mailbox — so that a command does not read `directory.sqlite` again to find its user.
///
/// Kept exact: `DirectoryChanges` empties it after every commit of this process that changed a user or a database
/// (a user added, removed or moved, a database mounted, unmounted, remounted or removed), and a commit of another
/// process (the CLI acting on the data folder) is seen as a change of the directory's write-ahead log, looked at
/// (one `stat`) before every answer. An answer read while either happened is not kept (`Ticket`). Holds at most one
/// entry per user in the directory: only names found there are kept.
final class DirectoryCache: Sendable {
    /// Taken before a directory read; the answer is kept only if nothing was committed since.
    struct Ticket: Sendable {
        fileprivate var generation: UInt64
        fileprivate var log: LogStamp?
    }

    /// Size and modification time of the write-ahead log: every commit, of any process, writes to it.
    fileprivate struct LogStamp: Sendable, Equatable {
        var size: Int64
        var seconds: Int
        var nanoseconds: Int
    }

    private struct State: ~Copyable {
        var generation: UInt64 = 0
        var log: LogStamp?
        var entries: [String: (UserInfo, DatabaseRecord)] = [:]
    }

    private let logPath: String
    private let state = Mutex(State())

    /// `directory` is the path of `directory.sqlite`.
    init(directory: String) {
        self.logPath = directory + "-wal"
    }

    /// The directory's answer for `name`, if nothing was committed since it was read.
    func entry(_ name: String) -> (UserInfo, DatabaseRecord)? {
        let log = currentLog()
        return state.withLock { state in
            guard log != nil, state.log == log else {
                Self.forget(&state, log: log)
                return nil
            }
            return state.entries[name]
        }
    }

    /// To take before reading the directory for `keep`.
    func ticket() -> Ticket {
        let log = currentLog()
        return state.withLock { state in
            if state.log != log { Self.forget(&state, log: log) }
            return Ticket(generation: state.generation, log: log)
        }
    }

    /// Keeps an answer read after `ticket` was taken, unless the directory changed since.
    func keep(_ name: String, _ found: (UserInfo, DatabaseRecord), readAfter ticket: Ticket) {
        let log = currentLog()
        state.withLock { state in
            guard ticket.log != nil, state.generation == ticket.generation, state.log == ticket.log, log == ticket.log
            else { return }
            state.entries[name] = found
        }
    }

    /// Forgets everything (this process changed the directory).
    func invalidate() {
        state.withLock { Self.forget(&$0, log: $0.log) }
    }

    private static func forget(_ state: inout State, log: LogStamp?) {
        state.generation &+= 1
        state.log = log
        state.entries.removeAll()
    }

    /// Nil when the log cannot be looked at: then nothing is kept.
    private func currentLog() -> LogStamp? {
        var info = stat()
        guard stat(logPath, &info) == 0 else { return nil }
        return LogStamp(size: Int64(info.st_size), seconds: info.st_mtim.tv_sec, nanoseconds: info.st_mtim.tv_nsec)
    }
}

/// Empties a `DirectoryCache` after every commit to the directory that changed a user or a database.
final class DirectoryChanges: TransactionObserver, @unchecked Sendable {
    // Unchecked: GRDB calls the observer on the directory's writer only; `changed` is touched there alone.
    private let cache: DirectoryCache
    private var changed = false

    init(_ cache: DirectoryCache) {
        self.cache = cache
    }

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool {
        ["users", "databases"].contains(eventKind.tableName)
    }

    func databaseDidChange(with event: DatabaseEvent) {
        changed = true
    }

    func databaseDidCommit(_ db: Database) {
        if changed { cache.invalidate() }
        changed = false
    }

    func databaseDidRollback(_ db: Database) {
        changed = false
    }
}
