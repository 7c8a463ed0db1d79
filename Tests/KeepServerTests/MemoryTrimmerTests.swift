import Foundation
import Testing
@testable import KeepServer

/// Memory freed after a burst goes back to the system (the hostile benchmark saw Keep keep 120 MiB after four 10 MB
/// APPENDs without it). What it gives back is measured by `keep-bench hostile` on a server of its own: in this
/// process dozens of test servers allocate and free at once, so its resident size says nothing about one call.
@Suite struct MemoryTrimmerTests {
    @Test func glibcsTrimIsFoundAndTheResidentSizeIsRead() throws {
        #if canImport(Glibc)
        #expect(MemoryTrimmer.isAvailable, "malloc_trim not found: trimming would silently do nothing")
        #endif
        let resident = try #require(MemoryTrimmer.residentBytes())
        #expect(resident > 1 << 20 && resident < 64 << 30)
        MemoryTrimmer.trim()
    }
}
