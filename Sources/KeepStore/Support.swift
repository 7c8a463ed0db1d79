import Dispatch
import Foundation
import GRDB

/// A value guarded by a lock; the few bits of shared mutable state in the store (open databases, watchers) live in one.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

/// Runs blocking work (opening a SQLite file, deriving a password hash) on a Dispatch worker instead of the
/// caller's thread or the cooperative pool.
func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global(qos: .userInitiated).async {
            continuation.resume(with: Result { try work() })
        }
    }
}

extension UUID {
    /// The 16 bytes of the UUID in RFC 4122 order, as stored in BLOB columns.
    var bytes: Data {
        withUnsafeBytes(of: uuid) { Data($0) }
    }

    init?(bytes: Data) {
        guard bytes.count == 16 else { return nil }
        var raw: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &raw) { $0.copyBytes(from: bytes) }
        self.init(uuid: raw)
    }
}

/// A list of integers as one SQL argument (a JSON array): `x IN (SELECT value FROM json_each(?))` takes it, so that a statement with
/// a list of any length is prepared once and cached — an `IN (?, ?, …)` with a new length each time is compiled
/// anew (with its triggers and GRDB's authorizer) for every call. SQLite still looks each value up by index.
struct IntegerList: Sendable {
    let json: String

    init<S: Sequence>(_ values: S) where S.Element: BinaryInteger {
        var text = "["
        var first = true
        for value in values {
            if !first { text += "," }
            first = false
            text += String(value)
        }
        json = text + "]"
    }
}

extension Statement {
    /// Runs a cached statement whose arguments are large (a message, its index) and lets go of them afterwards.
    func executeReleasingArguments(_ arguments: StatementArguments, count: Int) throws {
        defer { releaseArguments(count: count) }
        try execute(arguments: arguments)
    }

    /// Lets go of a cached statement's last arguments: GRDB (and SQLite, for a bound copy) keeps them until the
    /// statement's next run, which for a message or a list of many thousand ids would hold it in memory for nothing.
    func releaseArguments(count: Int) {
        setUncheckedArguments(StatementArguments(Array(repeating: DatabaseValue.null, count: count)))
    }
}
