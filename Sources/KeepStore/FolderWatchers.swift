import Foundation

/// Fans change notices out to the watchers of each folder. Yielding never blocks: each watcher keeps only the
/// newest notice it has not consumed.
final class FolderWatchers: Sendable {
    private typealias Continuation = AsyncStream<FolderChangeNotice>.Continuation
    private let watchers = Locked<(byFolder: [StoreID: [UUID: Continuation]], closed: Bool)>(([:], false))

    func watch(_ folder: StoreID) -> AsyncStream<FolderChangeNotice> {
        let (stream, continuation) = AsyncStream.makeStream(of: FolderChangeNotice.self,
                                                            bufferingPolicy: .bufferingNewest(1))
        let token = UUID()
        let added = watchers.withLock { state -> Bool in
            guard !state.closed else { return false }
            state.byFolder[folder, default: [:]][token] = continuation
            return true
        }
        guard added else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            self?.watchers.withLock { state in
                state.byFolder[folder]?[token] = nil
                if state.byFolder[folder]?.isEmpty == true { state.byFolder[folder] = nil }
            }
        }
        return stream
    }

    func notify(_ notice: FolderChangeNotice) {
        let targets = watchers.withLock { Array(($0.byFolder[notice.folderID] ?? [:]).values) }
        for continuation in targets { continuation.yield(notice) }
    }

    func notify(_ notices: [FolderChangeNotice]) {
        for notice in notices { notify(notice) }
    }

    /// Ends every stream; later `watch` calls return finished streams.
    func finishAll() {
        let all = watchers.withLock { state -> [Continuation] in
            state.closed = true
            defer { state.byFolder = [:] }
            return state.byFolder.values.flatMap(\.values)
        }
        for continuation in all { continuation.finish() }
    }

    var count: Int { watchers.withLock { $0.byFolder.values.reduce(0) { $0 + $1.count } } }
}
