public import NIOCore

extension Channel {
    /// Bounds what the connection's answers may hold: in the channel (its high watermark; past it the connection runs
    /// no further command, and its low watermark is half) and again, unsent, in the kernel (`TCP_NOTSENT_LOWAT`,
    /// Linux 3.12): bytes in flight to a reading peer are not limited, but a peer that stops reading backs up within
    /// twice `bytes`. Call on the channel's event loop, or set at accept with `outputBufferOptions`.
    public func setOutputBuffer(_ bytes: Int) {
        _ = setOption(.writeBufferWaterMark, value: .init(low: bytes / 2, high: bytes))
        if let provider = self as? any SocketOptionProvider {
            let option = ChannelOptions.Types.SocketOption.notSentLowWatermark
            _ = provider.unsafeSetSocketOption(level: option.level, name: option.name, value: SocketOptionValue(bytes))
        }
    }
}

extension ChannelOptions.Types.SocketOption {
    /// `TCP_NOTSENT_LOWAT`: the socket takes no more bytes while this many are queued unsent.
    public static var notSentLowWatermark: Self {
        #if os(Linux)
        ChannelOptions.Types.SocketOption(level: .init(rawValue: 6 /* IPPROTO_TCP */), name: .init(rawValue: 25))
        #else
        ChannelOptions.Types.SocketOption(level: .init(rawValue: 6 /* IPPROTO_TCP */), name: .init(rawValue: 0x201))
        #endif
    }
}
