public import NIOCore

/// Runs a connection's store work off its event loop and hands the result back on the loop, counted in
/// `LiveConnections` so that a graceful shutdown waits for it even when the client has gone.
public enum OffLoopWork {
    /// Runs `work` in a task; `finish` then runs on `loop` with its result. Call on `loop`.
    public static func run<Result: Sendable>(on loop: any EventLoop, counting live: LiveConnections,
                                             _ work: @escaping @Sendable () async -> Result,
                                             then finish: @escaping (Result) -> Void) {
        let bound = NIOLoopBound(finish, eventLoop: loop)
        live.workStarted()
        Task {
            let result = await work()
            loop.execute {
                bound.value(result)
                live.workFinished()
            }
        }
    }
}
