public import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix

/// A request to a running server's local admin endpoint (`DIR/admin.sock`, a Unix socket only the data folder's
/// owner can open): one JSON object per line, answered by one JSON object per line.
public struct AdminRequest: Codable, Sendable {
    /// `ping`, `stats`, `mount`, `unmount`, `remount`, `remove`, `compact`, `move`, `export`, `import`, `bans`,
    /// `lift-ban`.
    public var op: String
    public var database: String?
    public var user: String?
    /// A folder path (export/import).
    public var path: String?
    /// An IP address (lift-ban).
    public var address: String?
    public init(op: String, database: String? = nil, user: String? = nil, path: String? = nil, address: String? = nil) {
        self.op = op
        self.database = database
        self.user = user
        self.path = path
        self.address = address
    }
}

/// The answer: `ok` and either `result` (a JSON value as text) or `error` (a message naming what was wrong).
public struct AdminResponse: Codable, Sendable {
    public var ok: Bool
    public var result: String?
    public var error: String?
    public init(ok: Bool, result: String? = nil, error: String? = nil) {
        self.ok = ok
        self.result = result
        self.error = error
    }
}

/// Serves `AdminRequest`s on `DIR/admin.sock` so that `keep db …` acts on a running server at once.
final class AdminEndpoint: Sendable {
    typealias Handler = @Sendable (AdminRequest) async -> AdminResponse

    static func socketPath(in dataDirectory: URL) -> String { dataDirectory.appendingPathComponent("admin.sock").path }

    let channel: any Channel
    let path: String

    private init(channel: any Channel, path: String) {
        self.channel = channel
        self.path = path
    }

    static func start(group: any EventLoopGroup, dataDirectory: URL, handler: @escaping Handler) async throws -> AdminEndpoint {
        let path = socketPath(in: dataDirectory)
        try? FileManager.default.removeItem(atPath: path)
        let channel = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AdminConnectionHandler(handler: handler))
                }
            }
            .bind(unixDomainSocketPath: path)
            .get()
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        return AdminEndpoint(channel: channel, path: path)
    }

    func close() async {
        try? await channel.close()
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// One admin connection: lines in, one answer per line out, in order.
private final class AdminConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let handler: AdminEndpoint.Handler
    private var buffer: [UInt8] = []

    init(handler: @escaping AdminEndpoint.Handler) { self.handler = handler }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var b = unwrapInboundIn(data)
        buffer += b.readBytes(length: b.readableBytes) ?? []
        guard buffer.count <= 64 * 1024 else {
            context.close(promise: nil)
            return
        }
        while let lf = buffer.firstIndex(of: 10) {
            let line = Array(buffer[..<lf])
            buffer.removeFirst(lf + 1)
            let handler = self.handler
            let channel = context.channel
            Task {
                let response: AdminResponse
                if let request = try? JSONDecoder().decode(AdminRequest.self, from: Data(line)) {
                    response = await handler(request)
                } else {
                    response = AdminResponse(ok: false, error: "not a JSON admin request")
                }
                var out = (try? JSONEncoder().encode(response)) ?? Data("{\"ok\":false}".utf8)
                out.append(10)
                channel.writeAndFlush(channel.allocator.buffer(bytes: out), promise: nil)
            }
        }
    }
}

/// The client side used by the `keep` CLI: nil when no server listens in the data folder.
public enum AdminClient {
    public static func send(_ request: AdminRequest, dataDirectory: URL) -> AdminResponse? {
        let path = AdminEndpoint.socketPath(in: dataDirectory)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { return nil }  // a stale socket: no server
        guard var line = try? JSONEncoder().encode(request) else { return nil }
        line.append(10)
        let sent = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard sent == line.count else { return nil }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !reply.contains(10) {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            reply += chunk[0..<n]
        }
        guard let lf = reply.firstIndex(of: 10) else { return nil }
        return try? JSONDecoder().decode(AdminResponse.self, from: Data(reply[..<lf]))
    }
}
