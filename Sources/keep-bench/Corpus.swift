import NIOCore

/// A small, fast, seedable generator (SplitMix64) so that every run builds the same corpus.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Realistic RFC 5322 messages, 1 KB to 1 MB: plain text, multipart/alternative (text + HTML) and
/// multipart/mixed with base64 attachments. The size mix follows typical mailboxes: most messages are a few KB,
/// one in eight carries an attachment of 64–300 KB, a few carry 300 KB–1 MB.
enum Corpus {
    private static let words = """
        the of and to in is that for it as with was on be by at this have from or an are not but which all were \
        meeting project report budget quarter review invoice schedule team update release server mailbox storage \
        deadline customer contract proposal agenda minutes draft final summary question answer thanks regards please \
        attached document figure table results analysis plan travel office monday tuesday friday morning afternoon
        """.split(separator: " ").map(String.init)
    private static let names = [
        "Alice Martin", "Bob Durand", "Carol Smith", "David Chen", "Eve Müller", "Frank Rossi", "Grace Kim",
        "Heidi Novak", "Ivan Petrov", "Judy Garcia", "Mallory Jones", "Oscar Dubois", "Peggy Larsen", "Trent Ito",
    ]

    /// The size class of message `index`: 60% 1–8 KB, 25% 8–64 KB, 12% 64–300 KB, 3% 300 KB–1 MB.
    static func targetSize(_ rng: inout SplitMix64, maxSize: Int) -> Int {
        let roll = Int.random(in: 0..<100, using: &rng)
        let size: Int
        switch roll {
        case ..<60: size = Int.random(in: 1_024...8_192, using: &rng)
        case ..<85: size = Int.random(in: 8_192...65_536, using: &rng)
        case ..<97: size = Int.random(in: 65_536...307_200, using: &rng)
        default: size = Int.random(in: 307_200...1_000_000, using: &rng)
        }
        return min(size, maxSize)
    }

    /// Message number `index` of the corpus (deterministic), about `size` bytes long.
    static func message(_ index: Int, maxSize: Int = 1_000_000, recipient: String = "u1@bench.test") -> ByteBuffer {
        var rng = SplitMix64(seed: 0x6B65_6570 &+ UInt64(index) &* 7919)
        let size = targetSize(&rng, maxSize: maxSize)
        return message(index, size: size, rng: &rng, recipient: recipient)
    }

    static func message(_ index: Int, size: Int, rng: inout SplitMix64, recipient: String) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(size + 2048)
        let from = names.randomElement(using: &rng)!
        let to = names.randomElement(using: &rng)!
        let subject = (0..<Int.random(in: 3...8, using: &rng)).map { _ in words.randomElement(using: &rng)! }
            .joined(separator: " ")
        let day = 1 + index % 28
        let boundary = "=_keep_bench_\(index)_\(rng.next() % 1_000_000)"
        func address(_ name: String) -> String {
            "\(name) <\(name.lowercased().split(separator: " ").joined(separator: "."))@example.org>"
        }
        out.writeString("Received: from mx.example.org (mx.example.org [192.0.2.\(index % 250 + 1)])\r\n")
        out.writeString("\tby keep.bench.test with LMTP id \(index); Mon, \(day) Jan 2024 10:00:00 +0000\r\n")
        out.writeString("Return-Path: <\(from.lowercased().replacing(" ", with: "."))@example.org>\r\n")
        out.writeString("From: \(address(from))\r\n")
        out.writeString("To: \(address(to)), <\(recipient)>\r\n")
        if index % 3 == 0 { out.writeString("Cc: \(address(names.randomElement(using: &rng)!))\r\n") }
        out.writeString("Subject: \(subject.prefix(1).uppercased() + subject.dropFirst())\r\n")
        out.writeString("Date: Mon, \(day) Jan 2024 \(10 + index % 12):\(10 + index % 50):00 +0100\r\n")
        out.writeString("Message-ID: <bench.\(index).\(rng.next() % 100_000_000)@example.org>\r\n")
        out.writeString("MIME-Version: 1.0\r\n")
        let kind = size > 65_536 ? 2 : (index % 2)
        switch kind {
        case 0:
            out.writeString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
            writeText(&out, bytes: size - out.readableBytes, rng: &rng)
        case 1:
            out.writeString("Content-Type: multipart/alternative; boundary=\"\(boundary)\"\r\n\r\n")
            out.writeString("This is a multi-part message in MIME format.\r\n")
            let half = max(256, (size - out.readableBytes) / 2 - 200)
            out.writeString("--\(boundary)\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
            writeText(&out, bytes: half, rng: &rng)
            out.writeString("--\(boundary)\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>\r\n")
            writeText(&out, bytes: half, rng: &rng)
            out.writeString("</p></body></html>\r\n--\(boundary)--\r\n")
        default:
            out.writeString("Content-Type: multipart/mixed; boundary=\"\(boundary)\"\r\n\r\n")
            out.writeString("--\(boundary)\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
            writeText(&out, bytes: Int.random(in: 400...3000, using: &rng), rng: &rng)
            let names = ["report.pdf", "photo.jpg", "slides.pptx", "data.xlsx"]
            let types = ["application/pdf", "image/jpeg", "application/octet-stream", "application/octet-stream"]
            let which = Int.random(in: 0..<names.count, using: &rng)
            out.writeString("--\(boundary)\r\nContent-Type: \(types[which]); name=\"\(names[which])\"\r\n")
            out.writeString("Content-Disposition: attachment; filename=\"\(names[which])\"\r\n")
            out.writeString("Content-Transfer-Encoding: base64\r\n\r\n")
            writeBase64(&out, bytes: max(0, size - out.readableBytes - 64), rng: &rng)
            out.writeString("--\(boundary)--\r\n")
        }
        return out
    }

    private static func writeText(_ out: inout ByteBuffer, bytes: Int, rng: inout SplitMix64) {
        var written = 0
        var line = 0
        while written < bytes {
            let word = words.randomElement(using: &rng)!
            written += out.writeString(word)
            line += word.count + 1
            if line > 72 {
                written += out.writeString("\r\n")
                line = 0
            } else {
                written += out.writeString(" ")
            }
        }
        out.writeString("\r\n")
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Base64-looking lines of 76 characters (random content: attachments do not compress).
    private static func writeBase64(_ out: inout ByteBuffer, bytes: Int, rng: inout SplitMix64) {
        let lines = max(1, bytes / 78)
        var line = [UInt8](repeating: 0, count: 78)
        line[76] = UInt8(ascii: "\r")
        line[77] = UInt8(ascii: "\n")
        for _ in 0..<lines {
            var i = 0
            while i < 76 {
                var r = rng.next()
                for _ in 0..<10 where i < 76 {
                    line[i] = alphabet[Int(r & 63)]
                    r >>= 6
                    i += 1
                }
            }
            out.writeBytes(line)
        }
    }
}
