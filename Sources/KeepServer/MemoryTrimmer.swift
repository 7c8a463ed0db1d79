import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Gives memory freed after a burst (a 10 MB APPEND, a thousand held connections) back to the system.
///
/// glibc's allocator keeps freed memory in its arenas, so a server's resident size only ever grows to the peak of
/// its worst minute. Every `interval` this reads the resident size from `/proc/self/statm` (one small read) and,
/// when it has grown by more than `threshold` since the last trim, calls `malloc_trim(0)`, which returns the free
/// pages of every arena. Elsewhere than glibc it does nothing.
final class MemoryTrimmer: Sendable {
    private let task: Task<Void, Never>

    init(interval: Duration = .seconds(5), threshold: Int = 32 << 20, logger: Logger) {
        task = Task.detached(priority: .background) {
            var baseline = Self.residentBytes() ?? 0
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let now = Self.residentBytes() else { continue }
                if now > baseline + threshold {
                    let started = ContinuousClock.now
                    Self.trim()
                    let after = Self.residentBytes() ?? now
                    logger.info("memory: resident \(now >> 20) MiB → \(after >> 20) MiB after returning freed memory (\(ContinuousClock.now - started))")
                    baseline = after
                } else if now < baseline {
                    baseline = now
                }
            }
        }
    }

    func stop() { task.cancel() }

    /// glibc's `int malloc_trim(size_t pad)`, looked up at run time (its header is not part of the Glibc module).
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        #else
        return nil
        #endif
    }()

    /// Whether trimming does anything here (glibc's `malloc_trim` was found).
    static var isAvailable: Bool { mallocTrim != nil }

    static func trim() {
        _ = mallocTrim?(0)
    }

    /// Resident bytes of this process, from `/proc/self/statm` (nil where there is none).
    static func residentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .ascii) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
