import Foundation
import Testing

/// LMTP framing found wanting by `KeepLMTPFuzz`, over a real socket.
@Suite struct LMTPFramingRegressionTests {
    /// `\rDATA` is an unknown command to the session; the framer used to wait for a DATA reply after it, so nothing
    /// the client sent afterwards was answered.
    @Test func aLineThatOnlyLooksLikeDataIsAnsweredAndTheConnectionGoesOn() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let c = try await LineClient.connect(port: s.lmtpPort)
        #expect(try await c.readLine().hasPrefix("220 "))
        try await c.send("\rDATA\r\n DATA\r\nNOOP\r\n")
        #expect(try await c.readLine() == "500 5.5.2 Unknown command")
        #expect(try await c.readLine() == "500 5.5.2 Unknown command")
        #expect(try await c.readLine() == "250 2.0.0 OK")
    }
}
