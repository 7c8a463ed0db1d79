import Foundation
import KeepGuard
import KeepIMAP
import KeepIMAPServer
import KeepMIME
import KeepStore

// keep-parse-bench: throughput of the pure parsers (issue #2), in release mode.
//   swift run -c release keep-parse-bench            (all, default sizes)
//   swift run -c release keep-parse-bench --quick    (small sizes, for CI smoke)
// Prints one line per figure; BENCHMARKS.md records them.

let quick = CommandLine.arguments.contains("--quick")
/// The bounds a server runs with by default.
let serverLimits = Limits()
let mimeLimits = MIMELimits(serverLimits)

func measure(_ label: String, bytes: Int, items: Int, repeat n: Int, _ body: () -> Void) {
    body()  // warm-up
    let clock = ContinuousClock()
    let start = clock.now
    for _ in 0..<n { body() }
    let elapsed = clock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    let mbps = Double(bytes * n) / seconds / 1_000_000
    let perSecond = Double(items * n) / seconds
    print(String(format: "%-44@ %9.1f MB/s %12.0f items/s  (%.3f s for %d runs)", label as NSString, mbps, perSecond, seconds, n))
}

// 1. A realistic pipelined command stream, framed in 1,500-byte chunks and parsed.
let commands = [
    "a1 NOOP\r\n", "a2 UID FETCH 1:200 (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY.PEEK[HEADER.FIELDS (From To Subject Date Message-ID)])\r\n",
    "a3 UID STORE 17,19,23:40 +FLAGS.SILENT (\\Seen $Forwarded)\r\n", "a4 UID SEARCH RETURN (ALL) CHARSET UTF-8 OR FROM bob SUBJECT \"quarterly report\" SINCE 1-Jan-2026 NOT DELETED\r\n",
    "a5 SELECT INBOX (CONDSTORE)\r\n", "a6 LIST \"\" \"*\" RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))\r\n",
    "a7 APPEND Sent (\\Seen) {310+}\r\n" + String(repeating: "x", count: 308) + "\r\n\r\n", "a8 UID MOVE 5:9 Archive/2026\r\n",
]
var stream: [UInt8] = []
var count = 0
while stream.count < (quick ? 1 << 20 : 16 << 20) {
    for c in commands { stream += Array(c.utf8); count += 1 }
}
let parser = CommandParser(limits: GrammarLimits(serverLimits))
measure("IMAP pipelined stream: frame + parse", bytes: stream.count, items: count, repeat: quick ? 2 : 5) {
    var framer = CommandFramer(limits: FramingLimits(serverLimits, authenticated: true))
    var offset = 0
    var parsed = 0
    while offset < stream.count {
        let end = min(offset + 1_500, stream.count)
        framer.append(Array(stream[offset..<end]))
        offset = end
        while let event = framer.next() {
            if case .command(let frame) = event, (try? parser.parse(frame)) != nil { parsed += 1 }
        }
    }
    precondition(parsed == count, "parsed \(parsed) of \(count)")
}

// 2. MIME: a 10 MB message with 100 parts — parse + BODYSTRUCTURE + ENVELOPE.
func bigMessage(parts: Int, partSize: Int) -> [UInt8] {
    var m = "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: many parts\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b0undary\"\r\n\r\n"
    let line = String(repeating: "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=", count: 2) + "\r\n"
    for i in 0..<parts {
        m += "--b0undary\r\nContent-Type: application/octet-stream; name=\"part\(i).bin\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"part\(i).bin\"\r\n\r\n"
        var body = ""
        while body.utf8.count < partSize { body += line }
        m += body
    }
    m += "--b0undary--\r\n"
    return Array(m.utf8)
}
let big = bigMessage(parts: 100, partSize: quick ? 10_000 : 100_000)
measure("MIME \(big.count / 1_000_000) MB, 100 parts: parse + BODYSTRUCTURE", bytes: big.count, items: 1, repeat: quick ? 2 : 5) {
    let m = MIMEMessage(parsing: big, limits: mimeLimits)
    precondition(!m.imapBodyStructure(extended: true).isEmpty && !m.imapEnvelope.isEmpty)
}

// 3. 10,000 typical messages (3–12 KB, text or multipart/alternative).
var typical: [[UInt8]] = []
for i in 0..<(quick ? 1_000 : 10_000) {
    let text = String(repeating: "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", count: 50 + i % 150)
    let m: String
    if i % 3 == 0 {
        m = "From: \"Sender \(i)\" <s\(i)@example.org>\r\nTo: r@example.org, \"Group\": a@x, b@y;\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe_\(i)?=\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <\(i)@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=alt\r\n\r\n--alt\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\(text)\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>\(text)</p>\r\n--alt--\r\n"
    } else {
        m = "From: s\(i)@example.org\r\nTo: r@example.org\r\nSubject: hello \(i)\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <\(i)@example.org>\r\n\r\n\(text)\r\n"
    }
    typical.append(Array(m.utf8))
}
let typicalBytes = typical.reduce(0) { $0 + $1.count }
measure("MIME \(typical.count) typical messages: parse + ENVELOPE + BODYSTRUCTURE", bytes: typicalBytes, items: typical.count, repeat: quick ? 1 : 3) {
    for bytes in typical {
        let m = MIMEMessage(parsing: bytes, limits: mimeLimits)
        precondition(!m.imapEnvelope.isEmpty && !m.imapBodyStructure(extended: true).isEmpty)
    }
}

// 4. Linearity (issue #8): doubling the header count must not more than about double the work.
func headers(_ n: Int) -> [UInt8] {
    var s = "Subject: x\r\n"
    for i in 0..<n { s += "To: user\(i)@example.org\r\n" }
    return Array((s + "\r\nbody\r\n").utf8)
}
for n in quick ? [20_000, 40_000] : [100_000, 200_000, 400_000] {
    let h = headers(n)
    measure("MIME \(n) address headers", bytes: h.count, items: n, repeat: 1) {
        let m = MIMEMessage(parsing: h, limits: mimeLimits)
        _ = m.imapEnvelope
    }
}
