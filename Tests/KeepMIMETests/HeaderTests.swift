import KeepMIME
import Testing

@Suite("Headers")
struct HeaderTests {
    @Test func headerValuesAreUnfoldedAndRFC2047Decoded() {
        let m = MIMEMessage(parsing: crlf("""
            Subject: =?UTF-8?B?w6l0w6k=?= =?UTF-8?Q?_=C3=A0?=
              plain
            X-Multi: one
            x-multi: two
            From: =?iso-8859-1?q?J=F6rg?= <j@x>

            """))
        #expect(m.headerValues("SUBJECT") == ["été à  plain"])
        #expect(m.headerValues("X-Multi") == ["one", "two"])
        #expect(m.headerValues("from") == ["Jörg <j@x>"])
        #expect(m.headerFieldNames == ["Subject", "X-Multi", "x-multi", "From"])
    }

    @Test func eightBitHeaderFallsBackToLatin1WhenNotUTF8() {
        let bytes = Array("Subject: caf".utf8) + [0xE9] + Array("\r\nX-U: caf\u{E9}\r\n\r\n".utf8)
        let m = MIMEMessage(parsing: bytes)
        #expect(m.headerValues("subject") == ["café"])
        #expect(m.headerValues("x-u") == ["café"])
    }

    @Test func garbageLinesAreSkipped() {
        let m = MIMEMessage(parsing: crlf("From sender Mon Jan 1\nnot a header\n: empty name\nSubject: ok\n\nbody"))
        #expect(m.headerFieldNames == ["Subject"])
        #expect(str(m.sectionBytes(MIMESection(kind: .text))) == "body")
    }

    @Test func whiteSpaceBeforeColonIsTolerated() {
        let m = MIMEMessage(parsing: crlf("Subject : spaced\n\n"))
        #expect(m.headerFieldNames == ["Subject"])
        #expect(m.headerValues("subject") == ["spaced"])
    }

    @Test func fieldCountAndSizeAreBounded() {
        var limits = MIMELimits.test
        limits.maxHeaderFields = 5
        limits.maxHeaderFieldBytes = 10
        var text = ""
        for i in 0..<20 { text += "X-\(i): \(String(repeating: "v", count: 50))\n" }
        let m = MIMEMessage(parsing: crlf(text + "\nbody"), limits: limits)
        #expect(m.headerFieldNames.count == 5)
        #expect(m.limitsReached == [.headerFields, .headerFieldBytes])
        #expect(m.headerValues("x-0") == [String(repeating: "v", count: 9)])
        // The section still has every field.
        #expect(str(m.sectionBytes(MIMESection(kind: .headerFields(["x-19"]))))?.hasPrefix("X-19: ") == true)
        #expect(str(m.sectionBytes(MIMESection(kind: .text))) == "body")
    }

    @Test func hundredThousandHeaderFields() {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(3_000_000)
        for i in 0..<100_000 { bytes += Array("X-Field-\(i): value \(i)\r\n".utf8) }
        bytes += Array("Subject: last\r\n\r\nbody\r\n".utf8)
        let m = MIMEMessage(parsing: bytes)
        #expect(m.headerFieldNames.count == MIMELimits.test.maxHeaderFields)
        #expect(str(m.sectionBytes(MIMESection(kind: .headerFields(["subject"])))) == "Subject: last\r\n\r\n")
        #expect(str(m.sectionBytes(MIMESection(kind: .text))) == "body\r\n")
        #expect(!m.imapEnvelope.isEmpty)
        #expect(!m.imapBodyStructure(extended: true).isEmpty)
    }
}
