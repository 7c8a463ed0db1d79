public import Foundation
public import KeepGuard
import KeepConnection
import KeepIMAPServer
import KeepLMTPServer
public import KeepStore
public import Logging
import NIOCore
import NIOPosix
import NIOSSL
public import ServiceLifecycle

/// The running server: opens the store, binds the IMAP, IMAPS and LMTP listeners, and shuts down gracefully.
/// Use `start()` then `shutdown()`, or run it as a swift-service-lifecycle `Service` (SIGTERM/SIGINT).
public final class KeepServer: Service, @unchecked Sendable {
    /// Where each listener was bound (port 0 resolved).
    public struct BoundAddresses: Sendable {
        public var imap: Int?
        public var imaps: Int?
        public var lmtp: Int?
    }

    public let config: KeepConfig
    /// The file the config came from (re-read by `keep db remount`), nil when defaults are used.
    public let configFile: URL?
    public let dataDirectory: URL
    public let logger: Logger
    public private(set) var store: SQLiteStore!
    public private(set) var reporter: GuardReporter!
    public private(set) var addresses = BoundAddresses()
    private let group: MultiThreadedEventLoopGroup
    private var channels: [any Channel] = []
    private var admin: AdminEndpoint?
    private var liveConnections: [LiveConnections] = []
    private var trimmer: MemoryTrimmer?
    private var sourceFilter: ListenerSourceFilter?
    private var floodBan: FloodBan?
    let storeOptions: StoreOptions

    /// `storeOptions` lets tests lower password hashing cost; its limits and quotas are the config's.
    public init(config: KeepConfig, configFile: URL? = nil, dataDirectory: URL, logger: Logger,
                storeOptions: StoreOptions = StoreOptions(), threads: Int? = nil) {
        self.config = config
        self.configFile = configFile
        self.dataDirectory = dataDirectory
        self.logger = logger
        var options = storeOptions
        options.limits = config.limits
        options.databaseQuotas.merge(config.databaseQuotas) { _, new in new }
        self.storeOptions = options
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: threads ?? System.coreCount)
    }

    /// Opens the store and binds every configured listener. Logs `listening imap 127.0.0.1:PORT` for each.
    public func start() async throws {
        let store = try await SQLiteStore.open(dataDirectory: dataDirectory, options: storeOptions, logger: logger)
        self.store = store
        // Starting is mounting: each mounted database takes the quotas of the configuration now in force.
        for db in try await store.listDatabases() where db.mounted {
            let wanted = storeOptions.quotas(for: db.name)
            let stats = try await store.databaseStats(name: db.name)
            if stats.namedPropsQuota != wanted.namedProps || stats.replidsQuota != wanted.replids
                || stats.unauthenticatedNamedPropsQuota != wanted.unauthenticatedNamedProps {
                try await store.remountDatabase(name: db.name, quotas: wanted)
                logger.notice("mounted \(db.name) with named_props_quota \(wanted.namedProps), replids_quota \(wanted.replids), unauthenticated_named_props_quota \(wanted.unauthenticatedNamedProps)")
            }
        }
        if try await store.listUsers().isEmpty {
            logger.notice("no users yet: add one with `keep user add NAME --password-stdin --data \(dataDirectory.path)`")
        }
        let reporter = GuardReporter(logger: logger, limits: config.limits)
        self.reporter = reporter
        let tls = try TLSFiles.context(dataDirectory: dataDirectory, certificate: config.certificatePath, key: config.keyPath,
                                       hostname: config.hostname, logger: logger)
        let imapContext = IMAPServerContext(store: store, limits: config.limits, logger: logger, reporter: reporter, tls: tls,
                                            requireTLSForLoginOffLoopback: config.requireTLSForLogin,
                                            trustedNetworks: config.trustedNetworks)
        floodBan = imapContext.floodBan
        let lmtpContext = LMTPServerContext(store: store, limits: config.limits, reporter: reporter, logger: logger,
                                            hostname: config.hostname, localDomains: config.localDomains)
        liveConnections = [imapContext.live, lmtpContext.live]
        if config.limits.memoryTrimThresholdMB > 0 {
            trimmer = MemoryTrimmer(threshold: config.limits.memoryTrimThresholdMB << 20, logger: logger)
        }
        // Until a client shows it reads, the smaller buffer; the connection layer raises it (CommandFlow).
        let outputBuffer = config.limits.imapMaxOutputBufferBeforeReading
        let sourceFilter = ListenerSourceFilter(ban: imapContext.floodBan, loop: group.next(), logger: logger,
                                                enabled: { imapContext.limits.floodBanDropSYN == 1 })
        self.sourceFilter = sourceFilter
        if let a = config.imapAddress {
            addresses.imap = try await bind("imap", a, outputBuffer: outputBuffer) { channel in
                try channel.pipeline.syncOperations.addHandler(IMAPConnectionHandler(context: imapContext, implicitTLS: false))
            }
            channels.last.map(sourceFilter.add(listener:))
        }
        if let a = config.imapsAddress {
            addresses.imaps = try await bind("imaps", a, outputBuffer: outputBuffer) { channel in
                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                try channel.pipeline.syncOperations.addHandler(IMAPConnectionHandler(context: imapContext, implicitTLS: true))
            }
            channels.last.map(sourceFilter.add(listener:))
        }
        admin = try await AdminEndpoint.start(group: group, dataDirectory: dataDirectory) { [weak self] request in
            guard let self else { return AdminResponse(ok: false, error: "server stopping") }
            return await self.handleAdmin(request)
        }
        if let a = config.lmtpAddress {
            addresses.lmtp = try await bind("lmtp", a, outputBuffer: config.limits.lmtpMaxOutputBuffer) { channel in
                try channel.pipeline.syncOperations.addHandler(LMTPConnectionHandler(context: lmtpContext))
            }
        }
    }

    /// The addresses whose connection attempts the IMAP listeners now drop in the kernel (flood bans).
    public var droppedAtListeners: [SourceFilter.Address] { sourceFilter?.dropping ?? [] }

    /// One flood ban in force, as `keep ban list` shows it.
    public struct FloodBanEntry: Codable, Sendable, Equatable {
        public var address: String
        /// Seconds until the ban ends.
        public var remainingSeconds: Int
    }

    /// The flood bans in force, the most recent first.
    public var floodBans: [FloodBanEntry] {
        let now = ContinuousClock.now
        return (floodBan?.banned(now: now) ?? []).map {
            FloodBanEntry(address: $0.address, remainingSeconds: Int(($0.until - now).components.seconds) + 1)
        }
    }

    /// Lifts the flood ban on `address` (its connections are greeted again at once); false when it was not banned.
    public func liftFloodBan(_ address: String) -> Bool {
        guard let floodBan, floodBan.lift(address) else { return false }
        logger.notice("flood ban on \(address) lifted by an administrator")
        return true
    }

    /// Binds a listener. `outputBuffer` bounds what a connection's answers may hold in Keep (the channel's high
    /// watermark: past it the connection runs no further command) and again, unsent, in the kernel
    /// (`TCP_NOTSENT_LOWAT`, Linux): bytes in flight to a reading client are not limited, but a client that stops
    /// reading backs up within twice this, which is how the connection layer sees that it does not read.
    private func bind(_ name: String, _ text: String, outputBuffer: Int,
                      _ initialize: @escaping @Sendable (any Channel) throws -> Void) async throws -> Int {
        guard let address = ListenAddress(text) else { throw ConfigError.invalidValue("server.\(name)", reason: "\"\(text)\" is not HOST:PORT") }
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: outputBuffer / 2, high: outputBuffer))
            .childChannelOption(ChannelOptions.Types.SocketOption.notSentLowWatermark, value: SocketOptionValue(outputBuffer))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try initialize(channel) }
            }
            .bind(host: address.host, port: address.port)
            .get()
        channels.append(channel)
        let port = channel.localAddress?.port ?? address.port
        logger.notice("listening \(name) \(address.host.contains(":") ? "[\(address.host)]" : address.host):\(port)")
        return port
    }

    /// Stops accepting; lets the commands and deliveries already running finish and be answered (for up to
    /// `server.shutdown_timeout`), each connection then getting `* BYE` / `421`; closes what is left and the store.
    public func shutdown() async {
        sourceFilter?.stop()
        for c in channels { try? await c.close() }
        channels.removeAll()
        let open = liveConnections.reduce(0) { $0 + $1.count }
        if !liveConnections.allSatisfy(\.isIdle) {
            logger.notice("shutting down: finishing the commands of \(open) connection(s)")
            for live in liveConnections { live.drainAll() }
            let deadline = ContinuousClock.now + .seconds(config.limits.shutdownTimeout)
            while !liveConnections.allSatisfy(\.isIdle), ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(10))
            }
            let left = liveConnections.reduce(0) { $0 + $1.count }
            if left > 0 {
                logger.warning("shutting down: \(left) connection(s) still busy after server.shutdown_timeout (\(config.limits.shutdownTimeout) s); closing them")
            }
        }
        liveConnections.removeAll()
        trimmer?.stop()
        trimmer = nil
        await admin?.close()
        admin = nil
        reporter?.flush()
        try? await group.shutdownGracefully()
        try? await store?.close()
        logger.notice("keep stopped")
    }

    /// Runs until SIGTERM/SIGINT (graceful shutdown from the service group).
    public func run() async throws {
        try await start()
        try? await gracefulShutdown()
        await shutdown()
    }
}
