import KeepMIME
import Testing

@Suite("Lenient and bounded parsing")
struct RobustnessTests {
    @Test func bareLFMail() {
        let text = """
            From: a@example.com
            Subject: bare
            Content-Type: multipart/mixed; boundary=x

            --x
            Content-Type: text/plain

            one
            two
            --x
            Content-Type: text/html

            <p>
            --x--

            """
        let m = MIMEMessage(parsing: Array(text.utf8))
        #expect(m.root.children.count == 2)
        #expect(str(m.sectionBytes(MIMESection(kind: .header)))
            == "From: a@example.com\nSubject: bare\nContent-Type: multipart/mixed; boundary=x\n\n")
        #expect(str(m.sectionBytes(MIMESection(part: [1]))) == "one\ntwo")
        #expect(str(m.sectionBytes(MIMESection(part: [2]))) == "<p>")
        #expect(str(m.sectionBytes(MIMESection(part: [2], kind: .mime))) == "Content-Type: text/html\n\n")
        #expect(str(m.sectionBytes(MIMESection(kind: .headerFields(["subject"])))) == "Subject: bare\n\r\n")
        #expect(str(m.imapBodyStructure(extended: false)) == """
            (("TEXT" "PLAIN" NIL NIL NIL "7BIT" 7 2)("TEXT" "HTML" NIL NIL NIL "7BIT" 3 1) "MIXED")
            """)
        #expect(m.headerValues("subject") == ["bare"])
    }

    @Test func mixedLineEndings() {
        let m = MIMEMessage(parsing: Array("Subject: a\r\nX: b\n\r\nbody".utf8))
        #expect(m.headerFieldNames == ["Subject", "X"])
        #expect(str(m.sectionBytes(MIMESection(kind: .text))) == "body")
    }

    @Test func depthBombIsBounded() {
        var text = "Subject: bomb\n"
        for i in 0..<1000 { text += "Content-Type: multipart/mixed; boundary=b\(i)\n\n--b\(i)\n" }
        text += "Content-Type: text/plain\n\ndeep\n"
        for i in (0..<1000).reversed() { text += "--b\(i)--\n" }
        let m = MIMEMessage(parsing: crlf(text))
        var depth = 0
        var part: MIMEPart? = m.root
        while let p = part {
            depth = max(depth, p.depth)
            part = p.children.first ?? p.message
        }
        #expect(depth == MIMELimits.test.maxDepth)
        #expect(m.limitsReached == [.depth])
        let bs = m.imapBodyStructure(extended: true)
        #expect(bs.count > 0)
        #expect(bs.filter { $0 == 0x28 }.count == bs.filter { $0 == 0x29 }.count)
        #expect(m.sectionBytes(MIMESection(part: Array(repeating: 1, count: 31))) != nil)
        #expect(m.sectionBytes(MIMESection(part: Array(repeating: 1, count: 40))) == nil)
    }

    @Test func messageRFC822DepthBombIsBounded() {
        var text = ""
        for _ in 0..<1000 { text += "Content-Type: message/rfc822\n\n" }
        text += "Subject: core\n\nbody"
        let m = MIMEMessage(parsing: crlf(text))
        #expect(!m.imapBodyStructure(extended: true).isEmpty)
        #expect(m.allParts.count <= MIMELimits.test.maxDepth)
    }

    @Test func partCountIsBounded() {
        var limits = MIMELimits.test
        limits.maxParts = 10
        var text = "Content-Type: multipart/mixed; boundary=p\n\n"
        for i in 0..<100 { text += "--p\n\npart \(i)\n" }
        text += "--p--\n"
        let m = MIMEMessage(parsing: crlf(text), limits: limits)
        #expect(m.root.children.count == 9)
        #expect(m.limitsReached == [.parts])
        #expect(m.allParts.count == 9)
        #expect(str(m.sectionBytes(MIMESection(part: [9]))) == "part 8")
        #expect(m.sectionBytes(MIMESection(part: [10])) == nil)
    }

    @Test func manyPartsParse() {
        var text = "Content-Type: multipart/mixed; boundary=p\n\n"
        for i in 0..<5_000 { text += "--p\nContent-Type: text/plain\n\npart \(i)\n" }
        text += "--p--\n"
        let m = MIMEMessage(parsing: crlf(text))
        #expect(m.root.children.count == 5_000)
        #expect(m.limitsReached.isEmpty)
        #expect(str(m.sectionBytes(MIMESection(part: [5_000]))) == "part 4999")
    }

    @Test func boundaryThatPrefixesAnotherDoesNotStealItsLines() {
        let m = MIMEMessage(parsing: crlf("""
            Content-Type: multipart/mixed; boundary=abcdef

            --abcdef
            Content-Type: multipart/mixed; boundary=abc

            --abc

            inner
            --abcdef

            second outer
            --abcdef--
            """))
        #expect(m.root.children.count == 2)
        #expect(m.root.children[0].children.count == 1)
        #expect(str(m.sectionBytes(MIMESection(part: [1, 1]))) == "inner")
        #expect(str(m.sectionBytes(MIMESection(part: [2]))) == "second outer")
    }

    @Test func boundaryWithTransportPaddingAndCloseInsidePart() {
        let m = MIMEMessage(parsing: crlf("""
            Content-Type: multipart/mixed; boundary="q q"

            --q q   \t
            Content-Type: text/plain

            a
            --q q--
            """))
        #expect(m.root.children.count == 1)
        #expect(str(m.sectionBytes(MIMESection(part: [1]))) == "a")
    }

    @Test func partHeaderCutByBoundary() {
        let m = MIMEMessage(parsing: crlf("""
            Content-Type: multipart/mixed; boundary=z

            --z
            Content-Type: text/plain
            --z

            second
            --z--
            """))
        #expect(m.root.children.count == 2)
        #expect(m.root.children[0].bodyRange.isEmpty)
        #expect(str(m.sectionBytes(MIMESection(part: [2]))) == "second")
    }

    @Test func base64EncodedMessageRFC822IsNotParsedInto() {
        let m = MIMEMessage(parsing: crlf("""
            Content-Type: message/rfc822
            Content-Transfer-Encoding: base64

            U3ViamVjdDogeAoKeQ==
            """))
        #expect(m.root.message == nil)
        #expect(str(m.imapBodyStructure(extended: false)) == """
            ("MESSAGE" "RFC822" NIL NIL NIL "BASE64" 20 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) \
            ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0) 1)
            """)
    }

    @Test func badBase64BodyDoesNotCrash() {
        let m = MIMEMessage(parsing: crlf("Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n!!!@@@###\n===\nQQ"))
        #expect(m.decodedBodyText() == "A")  // only the trailing "QQ" decodes
    }

    /// Deterministic pseudo-random mutations of a real message: must only not crash, and ranges stay in bounds.
    @Test func mutatedMessagesOnlyNotCrash() {
        let seeds = [BodyStructureTests.nested, BodyStructureTests.alternativeWithAttachment, EnvelopeTests.rfcSample]
        var rng = SplitMix(seed: 42)
        let alphabet = Array("-\r\n:;=\"()<>@,\\ \t?abz0".utf8) + [0x00, 0x80, 0xFF]
        for seed in seeds {
            for _ in 0..<300 {
                var b = seed
                for _ in 0..<(1 + Int(rng.next() % 8)) {
                    let i = Int(rng.next() % UInt64(b.count))
                    switch rng.next() % 3 {
                    case 0: b[i] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                    case 1: b.remove(at: i)
                    default: b.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: i)
                    }
                }
                let m = MIMEMessage(parsing: b)
                _ = m.imapEnvelope
                _ = m.imapBodyStructure(extended: true)
                _ = m.decodedBodyText()
                for (path, part) in m.allParts {
                    #expect(part.bodyRange.upperBound <= b.count && part.headerRange.upperBound <= b.count)
                    for kind in [MIMESection.Kind.full, .header, .text, .mime, .headerFields(["subject"])] {
                        _ = m.sectionBytes(MIMESection(part: path, kind: kind))
                    }
                }
            }
        }
    }

    @Test func pathologicalInputs() {
        let inputs: [[UInt8]] = [
            [], [0x0A], [0x0D], [0x0D, 0x0A], Array("\n\n\n".utf8), Array(":".utf8), Array(" continuation first\n\n".utf8),
            Array("Content-Type: multipart/mixed; boundary=\"\"\n\n--\n--\n".utf8),
            Array("Content-Type: multipart/mixed; boundary=-\n\n---\n----\n---\n".utf8),
            Array(repeating: 0x2D, count: 10_000),
            Array(repeating: 0x0A, count: 10_000),
            Array(("Content-Type: multipart/mixed; boundary=a\n\n" + String(repeating: "--a\n", count: 3000)).utf8),
        ]
        for bytes in inputs {
            let m = MIMEMessage(parsing: bytes)
            _ = m.imapEnvelope
            _ = m.imapBodyStructure(extended: true)
            _ = m.sectionBytes(MIMESection(part: [1]))
        }
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Cost stays linear")
struct LinearCostTests {
    /// Inputs built to trigger rescanning in naive parsers; these complete quickly only when every scan is linear.
    @Test func adversarialAddressAndWordFields() {
        let angles = String(repeating: "<@a,@b ", count: 50_000)
        let words = String(repeating: "=?utf-8?q?", count: 50_000)
        let quotes = String(repeating: "a\" ", count: 50_000)
        let m = MIMEMessage(parsing: crlf("From: \(angles)\nTo: \(quotes)\nSubject: \(words)\n\n"))
        _ = m.imapEnvelope
        #expect(m.headerValues("subject").first?.utf8.count == words.utf8.count)
    }

    @Test func manyDashLinesAgainstDeepBoundaryStack() {
        var text = ""
        for i in 0..<31 { text += "Content-Type: multipart/mixed; boundary=\(String(repeating: "x", count: 60))\(i)\n\n--\(String(repeating: "x", count: 60))\(i)\n" }
        text += "\n" + String(repeating: "--\(String(repeating: "x", count: 60))\n", count: 20_000)
        let m = MIMEMessage(parsing: crlf(text))
        #expect(!m.imapBodyStructure(extended: false).isEmpty)
    }
}
