import Foundation
import Testing
@testable import KeepServer

/// Memory freed after a burst goes back to the system (the hostile benchmark saw Keep keep 120 MiB after four 10 MB
/// APPENDs without it).
@Suite struct MemoryTrimmerTests {
    @Test func trimmingReturnsFreedSmallAllocationsToTheSystem() throws {
        let before = try #require(MemoryTrimmer.residentBytes())
        // 100 MB in 512-byte blocks: glibc serves these from its heap, not from mmap, and keeps them when freed.
        var blocks: [UnsafeMutableRawPointer] = []
        blocks.reserveCapacity(200_000)
        for _ in 0..<200_000 {
            let p = UnsafeMutableRawPointer.allocate(byteCount: 512, alignment: 16)
            p.initializeMemory(as: UInt8.self, repeating: 1, count: 512)
            blocks.append(p)
        }
        let grown = try #require(MemoryTrimmer.residentBytes())
        #expect(grown > before + 64 << 20)
        // Free all but one block in 64: the survivors pin the heap, so free() alone gives nothing back.
        var kept: [UnsafeMutableRawPointer] = []
        for (i, p) in blocks.enumerated() {
            if i % 64 == 63 { kept.append(p) } else { p.deallocate() }
        }
        blocks.removeAll()
        let freed = try #require(MemoryTrimmer.residentBytes())
        MemoryTrimmer.trim()
        let after = try #require(MemoryTrimmer.residentBytes())
        for p in kept { p.deallocate() }
        #expect(freed > grown - 16 << 20, "free() alone returned little: RSS \(grown >> 20) → \(freed >> 20) MiB")
        #expect(after < freed - 48 << 20, "RSS \(before >> 20) → \(grown >> 20) → \(freed >> 20) → \(after >> 20) MiB")
    }
}
