public import NIOCore

/// What the kernel knows about whether the peer takes our output, read from the socket (`TCP_INFO`, Linux): how
/// many bytes it has acknowledged so far and how much room its receive window has.
///
/// A peer whose application does not read fills its receive buffer, advertises a zero window and acknowledges
/// nothing more; a peer that reads slowly, or sits behind a lossy link, keeps its window open or keeps acknowledging.
/// `CommandFlow` tells the two apart with this.
public struct PeerReading: Sendable, Hashable {
    /// Bytes of our output the peer has acknowledged since the connection began (`tcpi_bytes_acked`).
    public var bytesAcknowledged: UInt64
    /// The peer's advertised receive window, in bytes (`tcpi_snd_wnd`).
    public var window: UInt32
    /// The largest segment we send (`tcpi_snd_mss`): a window smaller than this is closed (RFC 1122 §4.2.3.3).
    public var segmentSize: UInt32

    public init(bytesAcknowledged: UInt64, window: UInt32, segmentSize: UInt32) {
        self.bytesAcknowledged = bytesAcknowledged
        self.window = window
        self.segmentSize = segmentSize
    }

    /// The peer has no room for even one segment: its application is not reading.
    public var windowClosed: Bool { window < max(segmentSize, 1) }

    /// The right edge of the peer's receive window: the first byte of our output it has no room for yet
    /// (acknowledged + window). It moves forward only when the peer's buffer frees space — its application read —
    /// or its kernel grows the buffer; while the application does not read, every acknowledgement shrinks the window
    /// by as much as it acknowledges and the edge stays where it is (RFC 9293 §3.8.6).
    public var windowEnd: UInt64 { bytesAcknowledged &+ UInt64(window) }

    /// Reads the socket's state, on the channel's event loop. Nil where the channel is not a TCP socket (an
    /// embedded channel in tests) or the platform has no `TCP_INFO` with these fields.
    public static func read(_ channel: any Channel) -> PeerReading? {
        #if os(Linux)
        guard let provider = channel as? any SocketOptionProvider else { return nil }
        let future: EventLoopFuture<TCPInfoBytes> = provider.unsafeGetSocketOption(
            level: .init(rawValue: 6 /* IPPROTO_TCP */), name: .init(rawValue: 11 /* TCP_INFO */))
        // On the channel's own loop the option is read at once and the future is already complete; anywhere else
        // this gives up rather than wait.
        guard channel.eventLoop.inEventLoop else { return nil }
        var info: TCPInfoBytes?
        future.assumeIsolated().whenSuccess { info = $0 }
        return info?.reading
        #else
        return nil
        #endif
    }
}

#if os(Linux)
/// Linux's `struct tcp_info` as raw bytes (the fields used are read at their offsets in `<linux/tcp.h>`: they have
/// been there since Linux 5.4; an older kernel fills fewer bytes and leaves the window at zero, see `reading`).
struct TCPInfoBytes: Sendable {
    var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                UInt64, UInt64)
        = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    private func load<T: FixedWidthInteger>(_ offset: Int, as: T.Type) -> T {
        withUnsafeBytes(of: words) { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
    }

    /// tcpi_snd_mss at 16, tcpi_bytes_acked at 120, tcpi_snd_wnd at 228.
    var reading: PeerReading? {
        let window: UInt32 = load(228, as: UInt32.self)
        let mss: UInt32 = load(16, as: UInt32.self)
        // A kernel without tcpi_snd_wnd leaves it zero with an MSS set: no verdict on the window then.
        guard mss > 0 else { return nil }
        return PeerReading(bytesAcknowledged: load(120, as: UInt64.self), window: window, segmentSize: mss)
    }
}
#endif
