public import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Channel {
    /// Drops the connection with a TCP RST (SO_LINGER {on, 0}, then close): what is buffered either way is thrown
    /// away. The answer to a flood; never to a client that reads.
    public func resetConnection() {
        guard let provider = self as? any SocketOptionProvider else {
            close(promise: nil)
            return
        }
        provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in self.close(promise: nil) }
    }

    /// Writes `bytes` (a farewell such as `* BYE …` or `421 …`, or nothing), flushes everything buffered before it,
    /// then closes: the client reads all it was sent.
    public func close(afterWriting bytes: ByteBuffer? = nil) {
        writeAndFlush(bytes ?? allocator.buffer(capacity: 0)).whenComplete { _ in self.close(promise: nil) }
    }
}
