import NIOCore
import Synchronization

/// Where a session's responses go when a command runs off the event loop. Bytes are written in order; when more
/// than `maxBuffered` bytes wait for a client that does not read, `send` suspends until the kernel has taken them —
/// so a slow reader stops its own session, never the server.
final class IMAPOutput: Sendable {
    private let channel: any Channel
    private let outstanding = Atomic<Int>(0)
    private let maxBuffered: Int

    init(channel: any Channel, maxBuffered: Int) {
        self.channel = channel
        self.maxBuffered = maxBuffered
    }

    /// Bytes handed to the channel and not yet written to the socket.
    var buffered: Int { outstanding.load(ordering: .relaxed) }

    /// Writes and flushes `bytes`; suspends while the client is behind by more than the output limit.
    func send(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        // A closed channel may belong to an event loop that has shut down: no promise may be made on it.
        guard channel.isActive else { throw ChannelError.ioOnClosedChannel }
        let n = bytes.count
        outstanding.add(n, ordering: .relaxed)
        let buffer = channel.allocator.buffer(bytes: bytes)
        let promise = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(buffer, promise: promise)
        let future = promise.futureResult
        future.whenComplete { _ in self.outstanding.subtract(n, ordering: .relaxed) }
        if outstanding.load(ordering: .relaxed) > maxBuffered {
            try await future.get()
        }
    }
}
