import Foundation
import KeepStore

// keep-store-bench: the cost of the named-property and replica-id quotas (issue #5), on real SQLite files, in
// release mode.
//   swift build -c release --product keep-store-bench && .build/release/keep-store-bench           (tables at 0x7FFF)
//   .build/release/keep-store-bench --quick                                                         (CI smoke)
// Prints `#` lines for people and `metric KEY VALUE UNIT` lines; exits non-zero on any error or lost message.

@MainActor
func runStoreBench() async throws {
    let config = try BenchConfig(arguments: CommandLine.arguments)
    let clock = ContinuousClock()
    let began = clock.now
    let bench = try await StoreBench.make(config: config)
    do {
        Output.note("""
            keep-store-bench\(config.quick ? " --quick" : ""): \(config.deliveryRuns) runs per delivery figure, \
            \(config.mountRuns) per mount figure; data in \(bench.dataDirectory.path)
            """)
        let q = config.quotas
        if config.fillsTables {
            Output.note("""
                full database: named-property table filled to 0x7FFF (\(config.keywordFill) keywords + \
                \(config.headerFill) header names), replica-id table to 0x7FFF; every quota 0x7FFF
                """)
        } else {
            Output.note("""
                full database: smaller fill (\(config.keywordFill) keywords, \(config.headerFill) header names, \
                \(config.replidFill) replica ids), quotas set to those counts (named_props_quota \(q.namedProps), \
                unauthenticated_named_props_quota \(q.unauthenticatedNamedProps), replids_quota \(q.replids)) so the \
                database is still at its quota
                """)
        }

        // 1. The baseline: mounting the database before it holds anything but its own replica id.
        try await bench.measureMounts("empty_db", database: StoreBench.fullDatabase, user: StoreBench.fullUser)

        // 2. Deliveries well below the quota, on the other database.
        let known = (0..<config.headersPerMessage).map { "X-Known-\($0)" }
        _ = try await bench.deliver(to: StoreBench.emptyUser, headerNames: known)
        try await bench.measureDeliveries("below_quota", database: StoreBench.emptyDatabase,
                                          user: StoreBench.emptyUser, known: known, atQuota: false)
        try await bench.measureReplicaIDs("below_quota", database: StoreBench.emptyDatabase,
                                          user: StoreBench.emptyUser, atQuota: false)

        // 3. Fill the full database through the public API, then measure the same on it.
        let fillNames = try await bench.fill()
        try await bench.measureMounts("full_db", database: StoreBench.fullDatabase, user: StoreBench.fullUser)
        try await bench.measureDeliveries("at_quota", database: StoreBench.fullDatabase, user: StoreBench.fullUser,
                                          known: fillNames, atQuota: true)
        try await bench.measureReplicaIDs("at_quota", database: StoreBench.fullDatabase, user: StoreBench.fullUser,
                                          atQuota: true)

        // 4. Everything still there after a restart.
        try await bench.store.close()
        bench.store = try await SQLiteStore.open(dataDirectory: bench.dataDirectory, options: bench.options,
                                                 logger: bench.logger)
        try await bench.verify("reopening the store")
        Output.note("total \(Output.format((clock.now - began).milliseconds / 1_000)) s")
        await bench.tearDown()
    } catch {
        await bench.tearDown()
        throw error
    }
}

do {
    try await runStoreBench()
} catch {
    Output.emit("# keep-store-bench FAILED: \(error)")
    exit(1)
}
