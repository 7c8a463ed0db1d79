import ArgumentParser
import NIOPosix

/// `keep-bench`: the load generator. It drives Keep, Dovecot or the floor server the same way and prints
/// `metric KEY VALUE UNIT` lines (bench/compare.sh collects them) next to human-readable `#` lines.
struct KeepBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keep-bench",
        abstract: "Benchmarks for IMAP/LMTP servers (Keep, Dovecot).",
        subcommands: [Mix.self, Ping.self, Flood.self, Idle.self, LMTP.self, BigBox.self, FloorServer.self])
}

// Swift concurrency runs on the NIO event loops (one per core): no thread hop between a task and its socket.
NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
await KeepBench.main()
