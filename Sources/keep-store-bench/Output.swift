import Foundation

/// Timings of one figure, in milliseconds.
struct Samples {
    var values: [Double] = []

    mutating func append(_ ms: Double) { values.append(ms) }

    var median: Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    var max: Double { values.max() ?? .nan }
}

/// Runs `body` (on the main actor, where the benchmark runs) and returns its result with the time it took, in
/// milliseconds.
@MainActor
func timed<T>(_ body: () async throws -> T) async rethrows -> (T, Double) {
    let clock = ContinuousClock()
    let start = clock.now
    let result = try await body()
    return (result, (clock.now - start).milliseconds)
}

extension Duration {
    var milliseconds: Double {
        Double(components.seconds) * 1_000 + Double(components.attoseconds) / 1e15
    }
}

/// Prints results the way `keep-bench` does: `# ` lines for people, `metric KEY VALUE UNIT` lines for scripts.
enum Output {
    static func note(_ text: String) {
        emit("# \(text)")
    }

    static func metric(_ key: String, _ value: Double, _ unit: String) {
        emit("metric \(key) \(format(value)) \(unit)")
    }

    /// Writes one line to standard output at once (unbuffered, so progress shows while a long fill runs).
    static func emit(_ line: String) {
        var text = line + "\n"
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = write(1, bytes.baseAddress! + offset, bytes.count - offset)
                if n <= 0 { return }
                offset += n
            }
        }
    }

    /// A figure's median and max as two metric lines and one human line.
    static func report(_ key: String, _ label: String, _ samples: Samples) {
        note("\(label): median \(format(samples.median)) ms, max \(format(samples.max)) ms (\(samples.values.count) runs)")
        metric("\(key).p50_ms", samples.median, "ms")
        metric("\(key).max_ms", samples.max, "ms")
    }

    static func format(_ value: Double) -> String {
        if value.isNaN || value.isInfinite { return "nan" }
        if value >= 100 { return String(Int(value.rounded())) }
        let scaled = (value * 1000).rounded() / 1000
        return "\(scaled)"
    }
}

/// Something the benchmark checked did not hold (a lost message, a fill that fell short): exit non-zero.
struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
