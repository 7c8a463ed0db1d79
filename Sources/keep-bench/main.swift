import ArgumentParser
import NIOCore
import NIOPosix

/// `keep-bench`: the load generator. It drives Keep, Dovecot or the floor server the same way and prints
/// `metric KEY VALUE UNIT` lines (bench/compare.sh collects them) next to human-readable `#` lines.
struct KeepBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keep-bench",
        abstract: "Benchmarks for IMAP/LMTP servers (Keep, Dovecot).",
        subcommands: [Mix.self, Ping.self, Flood.self, Idle.self, LMTP.self, BigBox.self, Hostile.self, FloorServer.self])
}

/// What `AsyncParsableCommand.main()` does (top-level code would otherwise pick the synchronous overloads).
func runKeepBench() async {
    do {
        var command = try KeepBench.parseAsRoot()
        if var asyncCommand = command as? any AsyncParsableCommand {
            try await asyncCommand.run()
        } else {
            try command.run()
        }
    } catch {
        KeepBench.exit(withError: error)
    }
}

// Swift concurrency runs on the NIO event loops (one per core): no thread hop between a task and its socket.
NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
await runKeepBench()
