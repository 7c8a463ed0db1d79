#if os(Linux)
import KeepConnection
import NIOCore
import NIOPosix
import Testing

/// `PeerReading` on a real TCP connection: a peer that never reads closes its window and its right edge stays put;
/// one that reads opens it again and moves the edge.
@Suite struct PeerReadingTests {
    /// Accepts one connection and hands its channel out.
    final class Accept: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<any Channel>
        init(_ promise: EventLoopPromise<any Channel>) { self.promise = promise }
        func channelActive(context: ChannelHandlerContext) { promise.succeed(context.channel) }
    }

    /// Counts what the peer reads, when it is told to read.
    final class Sink: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
    }

    @Test func aPeerThatDoesNotReadClosesItsWindowAndOneThatReadsOpensIt() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let accepted = group.next().makePromise(of: (any Channel).self)
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Accept(accepted)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        // The peer reads only when told (no automatic reads).
        let peer = try await ClientBootstrap(group: group)
            .channelOption(.autoRead, value: false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Sink()) }
            }
            .connect(host: "127.0.0.1", port: server.localAddress!.port!).get()
        let channel = try await accepted.futureResult.get()
        @Sendable func readingNow() async throws -> PeerReading? {
            try await channel.eventLoop.submit { PeerReading.read(channel) }.get()
        }
        let fresh = try #require(try await readingNow())
        #expect(!fresh.windowClosed)

        // Far more than any loopback receive buffer takes unread.
        let chunk = ByteBuffer(repeating: 0x61, count: 64 * 1024)
        for _ in 0..<128 { channel.write(chunk, promise: nil) }
        channel.flush()
        try await Task.sleep(for: .milliseconds(300))
        let stalled = try #require(try await readingNow())
        #expect(stalled.windowClosed, "window \(stalled.window), mss \(stalled.segmentSize)")
        try await Task.sleep(for: .milliseconds(200))
        let later = try #require(try await readingNow())
        #expect(later.windowEnd == stalled.windowEnd, "the edge stays put while the peer does not read")

        // The peer reads: acknowledgements go on.
        for _ in 0..<64 {
            peer.read()
            try await Task.sleep(for: .milliseconds(2))
        }
        let resumed = try #require(try await readingNow())
        #expect(resumed.bytesAcknowledged > stalled.bytesAcknowledged)
        #expect(resumed.windowEnd > stalled.windowEnd, "reading moves the window's right edge")
        try await peer.close()
        try? await channel.close()  // closed already when it saw the peer's FIN
        try await server.close()
    }
}
#endif
