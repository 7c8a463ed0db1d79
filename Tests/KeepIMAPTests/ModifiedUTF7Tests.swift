import Testing
@testable import KeepIMAP

@Suite("ModifiedUTF7")
struct ModifiedUTF7Tests {
    @Test func rfc3501Example() {
        // RFC 3501 §5.1.3
        let wire = "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        #expect(ModifiedUTF7.decode(Array(wire.utf8)) == "~peter/mail/台北/日本語")
        #expect(ModifiedUTF7.encode("~peter/mail/台北/日本語") == Array(wire.utf8))
    }

    @Test("known encodings", arguments: [
        ("", ""), ("INBOX", "INBOX"), ("&", "&-"), ("Tom & Jerry", "Tom &- Jerry"), ("Entwürfe", "Entw&APw-rfe"),
        ("☺", "&Jjo-"), ("☺!", "&Jjo-!"), ("😀", "&2D3eAA-"), ("a\tb", "a&AAk-b"), ("&&", "&-&-"),
    ])
    func knownEncodings(_ text: String, _ wire: String) {
        #expect(String(decoding: ModifiedUTF7.encode(text), as: UTF8.self) == wire)
        #expect(ModifiedUTF7.decode(Array(wire.utf8)) == text)
    }

    @Test("invalid modified UTF-7 decodes to nil", arguments: [
        "&", "&Jjo", "&Jj-", "&AGE-", "&AGEAYg-", "&Jjo!-", "&2D0-", "&3gA-", "&2D3eANg9-", "a\u{7F}b", "Entwürfe",
        "&Jjo=-", "&Jjp-", "&JjoA-", "&2D0A6Q-",
    ])
    func invalid(_ wire: String) {
        #expect(ModifiedUTF7.decode(Array(wire.utf8)) == nil)
    }

    @Test func nonASCIIBytesAreNotModifiedUTF7() {
        #expect(ModifiedUTF7.decode([0x41, 0xC3, 0xA9]) == nil)
        #expect(ModifiedUTF7.decode([0x26, 0x2D, 0xFF]) == nil)
    }

    @Test func randomTextRoundTrips() {
        var rng = SeededGenerator(seed: 42)
        let pools: [ClosedRange<UInt32>] = [0x20...0x7E, 0x01...0x1F, 0xA0...0x17F, 0x3040...0x30FF, 0x4E00...0x9FFF, 0x1F600...0x1F64F]
        for _ in 0..<500 {
            var s = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...12, using: &rng) {
                let pool = pools.randomElement(using: &rng)!
                s.append(Unicode.Scalar(UInt32.random(in: pool, using: &rng))!)
            }
            let text = String(s)
            let wire = ModifiedUTF7.encode(text)
            #expect(wire.allSatisfy { $0 >= 0x20 && $0 <= 0x7E }, "\(text.debugDescription)")
            #expect(ModifiedUTF7.decode(wire) == text, "\(text.debugDescription) → \(String(decoding: wire, as: UTF8.self))")
        }
    }

    @Test func randomBytesNeverCrashTheDecoder() {
        var rng = SeededGenerator(seed: 5)
        let alphabet = Array("&-AZaz09+,/!\u{7F}".utf8) + [0x80, 0xFF]
        for _ in 0..<3000 {
            let bytes = (0..<Int.random(in: 0...16, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            if let text = ModifiedUTF7.decode(bytes) {
                // Whatever decodes re-encodes to something that decodes the same.
                #expect(ModifiedUTF7.decode(ModifiedUTF7.encode(text)) == text)
            }
        }
    }
}
