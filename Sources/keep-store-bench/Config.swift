import Foundation

/// What one run does: repetitions, how far the full database is filled, and the quotas it is mounted with.
struct BenchConfig {
    /// The size of both tables (named properties 0x8000–0xFFFE, replica ids 1–0x7FFF).
    static let tableSize = 0x7FFF

    var quick = false
    /// Repetitions of each delivery and replica-id figure.
    var deliveryRuns = 21
    /// Repetitions of each mount, start and remount figure.
    var mountRuns = 11
    /// Keywords (PS_PUBLIC_STRINGS, created by a logged-in user through APPEND) in the full database.
    var keywordFill = 1_000
    /// Promoted header names (PS_INTERNET_HEADERS, created by LMTP deliveries) in the full database.
    var headerFill = tableSize - 1_000
    /// Replica ids registered by a user in the full database (the database's own id 1 makes the table full).
    var replidFill = tableSize - 1
    /// New X- header fields per message, both in the fill and in the measured deliveries.
    var headersPerMessage = 50
    /// Keywords per APPEND in the fill.
    var keywordsPerMessage = 100

    /// Whether the full database's tables are filled to their size (else to smaller quotas: see `quotas`).
    var fillsTables: Bool { keywordFill + headerFill >= Self.tableSize && replidFill >= Self.tableSize - 1 }

    /// The full database's quotas: 0x7FFF each when the fill reaches the tables' size (the table itself is then
    /// the limit); for a smaller fill, each pool's quota is its fill, so the database is still at its quota.
    var quotas: (namedProps: Int, replids: Int, unauthenticatedNamedProps: Int) {
        fillsTables ? (Self.tableSize, Self.tableSize, Self.tableSize) : (keywordFill, replidFill, headerFill)
    }

    static let usage = """
        usage: keep-store-bench [--quick] [--runs N] [--mount-runs N] [--keywords N] [--headers N] [--replids N]
          --quick        CI smoke: 5 delivery runs, 3 mount runs, a fill of 100 keywords, 1,400 header names and
                         500 replica ids (quotas set to those counts, so the at-quota paths still run)
          --runs N       repetitions of each delivery / replica-id figure (default 21)
          --mount-runs N repetitions of each mount / start / remount figure (default 11)
          --keywords N   keywords created by APPEND in the full database (default 1000)
          --headers N    header names created by LMTP deliveries in the full database (default 31767)
          --replids N    replica ids registered in the full database (default 32766)
        """

    init(arguments: [String]) throws {
        var rest = arguments.dropFirst()
        if rest.contains("--quick") {
            quick = true
            deliveryRuns = 5
            mountRuns = 3
            keywordFill = 100
            headerFill = 1_400
            replidFill = 500
        }
        func value(_ flag: String) throws -> Int {
            guard let text = rest.popFirst(), let n = Int(text), n >= 0 else {
                throw BenchFailure("\(flag) needs a non-negative number\n\(Self.usage)")
            }
            return n
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--quick": break
            case "--runs": deliveryRuns = max(1, try value(argument))
            case "--mount-runs": mountRuns = max(1, try value(argument))
            case "--keywords": keywordFill = try value(argument)
            case "--headers": headerFill = try value(argument)
            case "--replids": replidFill = try value(argument)
            case "-h", "--help":
                print(Self.usage)
                exit(0)
            default: throw BenchFailure("unknown argument \(argument)\n\(Self.usage)")
            }
        }
        guard keywordFill + headerFill <= Self.tableSize, replidFill <= Self.tableSize - 1,
              keywordFill >= 1, headerFill >= 1, replidFill >= 1 else {
            throw BenchFailure("""
                the fill must fit the tables: keywords + headers <= \(Self.tableSize), replids <= \(Self.tableSize - 1), \
                each at least 1
                """)
        }
    }
}
