import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP client for tests: blocking POSIX sockets, each call run on the client's own serial queue so that
/// Swift's cooperative threads never block. Reads are line-oriented with literal support (`{n}`), with a timeout.
final class LineClient: @unchecked Sendable {
    enum ReadError: Error, Equatable {
        case timeout
        case closed
        /// The peer reset the connection (ECONNRESET).
        case reset
        case failed(Int32)
    }

    private let fd: Int32
    private let queue = DispatchQueue(label: "keep.test.client")
    private var buffer: [UInt8] = []
    private var tagCounter = 0
    /// When set, each read takes at most `chunk` bytes and first sleeps `pause` seconds: a client on a slow link.
    var readThrottle: (chunk: Int, pause: Double)?

    private init(fd: Int32) { self.fd = fd }

    deinit { close(fd) }

    /// Connects to `host:port`, from the local address `source` when given (any 127.x.y.z works on loopback).
    static func connect(port: Int, host: String = "127.0.0.1", source: String? = nil) async throws -> LineClient {
        try connectNow(port: port, host: host, source: source, timeout: nil)
    }

    /// Connects with a small receive buffer (`SO_RCVBUF` before the handshake, so the window it advertises is small):
    /// a client that does not read backs up after a few KiB of answers instead of a hundred.
    static func connect(port: Int, receiveBuffer: Int) async throws -> LineClient {
        try connectNow(port: port, host: "127.0.0.1", source: nil, timeout: nil, receiveBuffer: receiveBuffer)
    }

    /// Connects like `connect`, giving up after `timeout` seconds without an answer to the SYN (`ReadError.timeout`);
    /// the blocking connect runs off Swift's cooperative threads.
    static func connect(port: Int, source: String? = nil, timeout: Double) async throws -> LineClient {
        try await withCheckedThrowingContinuation { c in
            DispatchQueue.global().async {
                c.resume(with: Result { try connectNow(port: port, host: "127.0.0.1", source: source, timeout: timeout) })
            }
        }
    }

    private static func connectNow(port: Int, host: String, source: String?, timeout: Double?,
                                   receiveBuffer: Int? = nil) throws -> LineClient {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ReadError.failed(errno) }
        if var size = receiveBuffer.map(Int32.init) {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        if let timeout {
            // Linux bounds a blocking connect by the send timeout (it then fails with EINPROGRESS).
            var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, source, &local.sin_addr)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                close(fd)
                throw ReadError.failed(errno)
            }
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let error = errno
            close(fd)
            throw error == EINPROGRESS || error == EAGAIN ? ReadError.timeout : ReadError.failed(error)
        }
        if timeout != nil {
            var none = timeval()
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, socklen_t(MemoryLayout<timeval>.size))
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return LineClient(fd: fd)
    }

    private func onQueue<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in
            queue.async { c.resume(with: Result { try work() }) }
        }
    }

    /// Sends bytes as they are.
    func send(_ bytes: [UInt8]) async throws {
        try await onQueue { try self.sendNow(bytes) }
    }

    func send(_ text: String) async throws { try await send(Array(text.utf8)) }

    /// Sends bytes from a thread of their own, so that the caller can read the answers while they go out (as a
    /// pipelining client does); blocks in the kernel when the server stops reading. Returns when all were sent.
    func sendWhileReading(_ bytes: [UInt8]) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            DispatchQueue.global().async { c.resume(with: Result { try self.sendNow(bytes) }) }
        }
    }

    private func sendNow(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == ECONNRESET || errno == EPIPE { throw ReadError.reset }
                throw ReadError.failed(errno)
            }
            off += n
        }
    }

    /// Reads more bytes, waiting at most `timeout` seconds.
    private func fill(timeout: Double) throws {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let r = poll(&pfd, 1, Int32(timeout * 1000))
        if r == 0 { throw ReadError.timeout }
        if let throttle = readThrottle { Thread.sleep(forTimeInterval: throttle.pause) }
        var chunk = [UInt8](repeating: 0, count: readThrottle?.chunk ?? 65_536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n == 0 { throw ReadError.closed }
        if n < 0 {
            if errno == ECONNRESET { throw ReadError.reset }
            throw ReadError.failed(errno)
        }
        buffer.append(contentsOf: chunk[0..<n])
    }

    /// One line without CRLF; a line announcing a literal `{n}` includes the literal bytes and the rest of the line.
    func readLine(timeout: Double = 10) async throws -> String {
        try await onQueue { try self.readLineNow(timeout: timeout) }
    }

    private func readLineNow(timeout: Double) throws -> String {
        var out: [UInt8] = []
        while true {
            while !buffer.contains(10) { try fill(timeout: timeout) }
            let lf = buffer.firstIndex(of: 10)!
            var line = Array(buffer[..<lf])
            buffer.removeFirst(lf + 1)
            if line.last == 13 { line.removeLast() }
            out += line
            // A literal at the end of the line: take its bytes, then continue the line.
            if line.last == UInt8(ascii: "}"), let open = line.lastIndex(of: UInt8(ascii: "{")),
               let n = Int(String(decoding: line[(open + 1)..<(line.count - 1)], as: UTF8.self)) {
                while buffer.count < n { try fill(timeout: timeout) }
                out += [13, 10] + buffer[..<n]
                buffer.removeFirst(n)
                continue
            }
            return String(decoding: out, as: UTF8.self)
        }
    }

    /// Reads lines until `count` lines have been read or the connection ends; what was read either way, and how it ended.
    func readLines(_ count: Int, timeout: Double = 10) async -> (lines: [String], end: ReadError?) {
        (try? await onQueue {
            var lines: [String] = []
            lines.reserveCapacity(count)
            while lines.count < count {
                do {
                    lines.append(try self.readLineNow(timeout: timeout))
                } catch let e as ReadError {
                    return (lines, e)
                }
            }
            return (lines, nil)
        }) ?? ([], .failed(-1))
    }

    /// Reads lines until the tagged completion of `tag`; returns all of them (the last is the tagged one).
    func readUntilTagged(_ tag: String, timeout: Double = 10) async throws -> [String] {
        try await onQueue {
            var lines: [String] = []
            while true {
                let l = try self.readLineNow(timeout: timeout)
                lines.append(l)
                if l.hasPrefix(tag + " ") { return lines }
            }
        }
    }

    /// APPENDs `message` (a LITERAL+ literal) to `mailbox` with the given flag list and date (IMAP syntax, e.g.
    /// `\\Seen $Work`, `"01-Nov-2026 12:00:00 +0000"`); returns the responses through the tagged one.
    @discardableResult
    func append(_ message: String, to mailbox: String = "INBOX", flags: String? = nil, date: String? = nil) async throws -> [String] {
        tagCounter += 1
        let tag = "t\(tagCounter)"
        let options = (flags.map { " (\($0))" } ?? "") + (date.map { " \($0)" } ?? "")
        try await send("\(tag) APPEND \(mailbox)\(options) {\(message.utf8.count)+}\r\n\(message)\r\n")
        return try await readUntilTagged(tag)
    }

    /// Sends `TAG text` and returns the responses through the tagged one.
    func command(_ text: String, timeout: Double = 10) async throws -> [String] {
        tagCounter += 1
        let tag = "t\(tagCounter)"
        try await send("\(tag) \(text)\r\n")
        return try await readUntilTagged(tag, timeout: timeout)
    }

    /// Waits for the peer to end the connection: `.reset` for an RST, `.closed` for a FIN. Discards data.
    func waitForEnd(timeout: Double = 5) async -> ReadError {
        do {
            return try await onQueue {
                let deadline = Date().addingTimeInterval(timeout)
                while Date() < deadline {
                    do {
                        try self.fill(timeout: max(0.01, deadline.timeIntervalSinceNow))
                        self.buffer.removeAll()
                    } catch let e as ReadError {
                        return e
                    }
                }
                return .timeout
            }
        } catch {
            return .failed(-1)
        }
    }
}
