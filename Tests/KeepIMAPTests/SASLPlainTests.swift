import Foundation
import KeepIMAP
import Testing

@Suite("SASLPlain")
struct SASLPlainTests {
    @Test func decodesAuthcidAndPassword() throws {
        let plain = try SASLPlain.decode(bytes("AGFsaWNlAHNlY3JldA=="), maxLength: 100)  // \0alice\0secret
        #expect(plain == SASLPlain(authenticationID: "alice", password: "secret"))
    }

    @Test func decodesAnAuthorizationIdentity() throws {
        let plain = try SASLPlain.decode(bytes("YWxpY2UAYWxpY2UAc2VjcmV0"), maxLength: 100)  // alice\0alice\0secret
        #expect(plain == SASLPlain(authorizationID: "alice", authenticationID: "alice", password: "secret"))
    }

    @Test func starCancels() {
        #expect(throws: SASLError.cancelled) { try SASLPlain.decode(bytes("*"), maxLength: 100) }
    }

    @Test func equalsIsAnEmptyResponseWhichIsNotAPlainMessage() {
        #expect(throws: SASLError.malformedPlain) { try SASLPlain.decode(bytes("="), maxLength: 100) }
    }

    @Test("strict base64", arguments: ["AB=C", "A===", "YW Jj", "AGFsaWNlAHNlY3JldA", "AGFsaWNlAHNlY3JldA=\r\n", "AA==AA==", "**", ""])
    func invalidBase64IsRefused(_ response: String) {
        let expected: SASLError = response.isEmpty ? .malformedPlain : .invalidBase64
        #expect(throws: expected) { try SASLPlain.decode(bytes(response), maxLength: 100) }
    }

    @Test("anything but two NULs", arguments: ["alice", "\0alice", "\0alice\0secret\0more", "\0\0\0"])
    func plainNeedsExactlyTwoNULs(_ message: String) {
        #expect(throws: SASLError.malformedPlain) { try SASLPlain.decode(Base64.encode(bytes(message)), maxLength: 100) }
    }

    @Test func emptyFieldsAreFields() throws {
        #expect(try SASLPlain.decode(Base64.encode([0, 0]), maxLength: 100) == SASLPlain(authenticationID: "", password: ""))
    }

    @Test func theBoundIsCheckedBeforeDecoding() throws {
        let response = Base64.encode(bytes("\0alice\0" + String(repeating: "p", count: 300)))
        #expect(throws: SASLError.tooLong(limit: 100)) { try SASLPlain.decode(response, maxLength: 100) }
        #expect(throws: SASLError.tooLong(limit: 0)) { try SASLPlain.decode(bytes("*"), maxLength: 0) }
        _ = try SASLPlain.decode(response, maxLength: response.count)
    }

    @Test func invalidUTF8IsReplacedNotRefused() throws {
        let plain = try SASLPlain.decode(Base64.encode([0, 0xFF, 0x61, 0, 0xC3]), maxLength: 100)
        #expect(plain == SASLPlain(authenticationID: "\u{FFFD}a", password: "\u{FFFD}"))
    }

    @Test("encode then decode", arguments: [
        SASLPlain(authenticationID: "alice", password: "secret"),
        SASLPlain(authorizationID: "bob", authenticationID: "alice", password: ""),
        SASLPlain(authenticationID: "jürgen", password: "pässwörd ✓"),
        SASLPlain(authenticationID: "", password: "x"),
    ])
    func roundTrip(_ plain: SASLPlain) throws {
        #expect(try SASLPlain.decode(plain.encoded(), maxLength: 1_000) == plain)
    }

    @Test func base64RoundTripsEveryLength() {
        for n in 0..<40 {
            let message = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64.decode(Base64.encode(message)) == message)
        }
    }

    /// The SASL fuzzer's seed corpus, replayed: each response decodes or fails with a typed error, what decodes
    /// re-encodes, and each file read as a PLAIN message decodes back after encoding iff it has two NULs.
    @Test func fuzzCorpusReplays() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/sasl")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(files.count >= 10)
        for file in files {
            let input = Array(try Data(contentsOf: folder.appendingPathComponent(file)))
            if let plain = try? SASLPlain.decode(input, maxLength: 1_024) {
                #expect(try SASLPlain.decode(plain.encoded(), maxLength: 1_024) == plain, "\(file)")
            }
            let encoded = Base64.encode(input)
            #expect(Base64.decode(encoded) == input, "\(file)")
            #expect(((try? SASLPlain.decode(encoded, maxLength: .max)) != nil) == (input.count(where: { $0 == 0 }) == 2), "\(file)")
        }
    }
}
