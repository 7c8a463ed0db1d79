// swift-tools-version: 6.2
import PackageDescription

/// Settings every Keep target shares: Swift 6 mode, the upcoming features our style asks for, warnings as errors.
let keepSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "keep",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "keep", targets: ["keep"]),
        .executable(name: "keep-bench", targets: ["keep-bench"]),
        .executable(name: "keep-store-bench", targets: ["keep-store-bench"]),
        .library(name: "KeepIMAP", targets: ["KeepIMAP"]),
        .library(name: "KeepMIME", targets: ["KeepMIME"]),
        .library(name: "KeepLMTP", targets: ["KeepLMTP"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
    ],
    targets: [
        // Pure protocol and message libraries: no sockets, no store.
        .target(
            name: "KeepIMAP",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: keepSettings
        ),
        .target(name: "KeepMIME", swiftSettings: keepSettings),
        .target(name: "KeepLMTP", swiftSettings: keepSettings),
        // Policy: limits, accounting, event folding.
        .target(
            name: "KeepGuard",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: keepSettings
        ),
        // The connection layer under every protocol: pending commands, back-pressure, flood resets, off-loop work.
        .target(
            name: "KeepConnection",
            dependencies: [
                "KeepGuard",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: keepSettings
        ),
        // Mailbox databases on SQLite.
        .target(
            name: "KeepStore",
            dependencies: [
                "KeepMIME", "KeepGuard",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: keepSettings
        ),
        // Protocol sessions, each its own module.
        .target(
            name: "KeepIMAPServer",
            dependencies: [
                "KeepIMAP", "KeepMIME", "KeepStore", "KeepGuard", "KeepConnection",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: keepSettings
        ),
        .target(
            name: "KeepLMTPServer",
            dependencies: [
                "KeepLMTP", "KeepStore", "KeepGuard", "KeepConnection",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: keepSettings
        ),
        // The shell: config, listeners, TLS, lifecycle, local admin endpoint.
        .target(
            name: "KeepServer",
            dependencies: [
                "KeepIMAPServer", "KeepLMTPServer", "KeepStore", "KeepGuard", "KeepConnection",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: keepSettings
        ),
        .executableTarget(
            name: "keep",
            dependencies: [
                "KeepServer", "KeepStore", "KeepGuard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: keepSettings
        ),
        // libFuzzer targets (built with -sanitize=fuzzer and -DKEEP_FUZZ; a normal build replays files): see Fuzz/README.md.
        .executableTarget(name: "KeepIMAPFuzz", dependencies: ["KeepIMAP"], swiftSettings: keepSettings),
        .executableTarget(name: "KeepMIMEFuzz", dependencies: ["KeepMIME"], swiftSettings: keepSettings),
        .executableTarget(name: "KeepSASLFuzz", dependencies: ["KeepIMAP"], swiftSettings: keepSettings),
        .executableTarget(name: "KeepLMTPFuzz", dependencies: ["KeepLMTP"], swiftSettings: keepSettings),
        // Parser throughput (release mode): `swift run -c release keep-parse-bench`.
        .executableTarget(name: "keep-parse-bench", dependencies: ["KeepIMAP", "KeepMIME", "KeepGuard", "KeepStore", "KeepIMAPServer"],
                          swiftSettings: keepSettings),
        // The load generator: drives Keep or any IMAP/LMTP server (e.g. Dovecot) the same way.
        .executableTarget(
            name: "keep-bench",
            dependencies: [
                "KeepIMAP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: keepSettings
        ),
        // Named-property and replica-id quota costs on real SQLite files (release mode): `keep-store-bench`.
        .executableTarget(
            name: "keep-store-bench",
            dependencies: ["KeepStore", "KeepGuard", .product(name: "Logging", package: "swift-log")],
            swiftSettings: keepSettings
        ),
        .testTarget(name: "KeepIMAPTests", dependencies: ["KeepIMAP"], swiftSettings: keepSettings),
        .testTarget(name: "KeepMIMETests", dependencies: ["KeepMIME"], swiftSettings: keepSettings),
        .testTarget(name: "KeepLMTPTests", dependencies: ["KeepLMTP"], swiftSettings: keepSettings),
        .testTarget(
            name: "KeepStoreTests",
            dependencies: ["KeepStore", "KeepGuard", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: keepSettings
        ),
        .testTarget(
            name: "KeepConnectionTests",
            dependencies: [
                "KeepConnection",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: keepSettings
        ),
        .testTarget(
            name: "KeepServerTests",
            dependencies: [
                "KeepServer", "KeepStore", "KeepIMAP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: keepSettings
        ),
    ]
)
