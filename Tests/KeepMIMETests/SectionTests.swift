import KeepMIME
import Testing

@Suite("Sections")
struct SectionTests {
    let m = MIMEMessage(parsing: BodyStructureTests.nested)

    func section(_ part: [Int], _ kind: MIMESection.Kind = .full) -> String? {
        str(m.sectionBytes(MIMESection(part: part, kind: kind)))
    }

    @Test func wholeMessageHeaderAndText() {
        let text = String(decoding: BodyStructureTests.nested, as: UTF8.self)
        #expect(section([]) == text)
        #expect(section([], .header) == "From: outer@example.com\r\nSubject: fwd\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n")
        #expect(section([], .text)! + "" == String(text.dropFirst(section([], .header)!.count)))
        #expect(section([], .mime) == nil)
    }

    @Test func partNumbersIntoMultipartAndEncapsulatedMessage() {
        #expect(section([1]) == "see attached")
        #expect(section([1], .mime) == "Content-Type: text/plain\r\n\r\n")
        #expect(section([2], .mime) == "Content-Type: message/rfc822\r\nContent-Description: forwarded\r\n\r\n")
        #expect(section([2])!.hasPrefix("From: Inner Person"))
        #expect(section([2])!.hasSuffix("--b2--"))
        #expect(section([2], .header)!.hasPrefix("From: Inner Person"))
        #expect(section([2], .header)!.hasSuffix("boundary=b2\r\n\r\n"))
        #expect(section([2], .text)!.hasPrefix("--b2\r\n"))
        #expect(section([2, 1]) == "caf=E9")
        #expect(section([2, 1], .mime) == "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
        #expect(section([2, 2]) == "<b>cafe</b>")
        #expect(section([2, 3]) == nil)
        #expect(section([3]) == nil)
        #expect(section([0]) == nil)
        #expect(section([1, 1]) == nil)
        // HEADER/TEXT only exist for the message and message/rfc822 parts.
        #expect(section([1], .header) == nil)
        #expect(section([1], .text) == nil)
    }

    @Test func headerFieldsAndNot() {
        #expect(section([], .headerFields(["subject", "FROM", "x-none"]))
            == "From: outer@example.com\r\nSubject: fwd\r\n\r\n")
        #expect(section([], .headerFieldsNot(["subject", "from"]))
            == "Content-Type: multipart/mixed; boundary=b1\r\n\r\n")
        #expect(section([2], .headerFields(["message-id"])) == "Message-ID: <inner@example.com>\r\n\r\n")
        #expect(section([], .headerFields(["x-none"])) == "\r\n")
    }

    @Test func headerFieldsKeepFoldsAndRepeats() {
        let m = MIMEMessage(parsing: crlf("Received: a\n  b\nSubject: s\nReceived: c\n\nbody"))
        #expect(str(m.sectionBytes(MIMESection(kind: .headerFields(["received"]))))
            == "Received: a\r\n  b\r\nReceived: c\r\n\r\n")
    }

    @Test func nonMultipartMessageHasOnlyPartOne() {
        let m = MIMEMessage(parsing: crlf("Subject: x\n\nbody\n"))
        #expect(str(m.sectionBytes(MIMESection(part: [1]))) == "body\r\n")
        #expect(str(m.sectionBytes(MIMESection(part: [1], kind: .mime))) == "Subject: x\r\n\r\n")
        #expect(m.sectionBytes(MIMESection(part: [2])) == nil)
        #expect(m.sectionBytes(MIMESection(part: [1, 1])) == nil)
    }

    @Test func topLevelMessageRFC822() {
        let m = MIMEMessage(parsing: crlf("Content-Type: message/rfc822\n\nSubject: inner\n\ninner body"))
        #expect(str(m.sectionBytes(MIMESection(part: [1]))) == "Subject: inner\r\n\r\ninner body")
        #expect(str(m.sectionBytes(MIMESection(part: [1], kind: .header))) == "Subject: inner\r\n\r\n")
        #expect(str(m.sectionBytes(MIMESection(part: [1], kind: .text))) == "inner body")
        #expect(str(m.sectionBytes(MIMESection(part: [1, 1]))) == "inner body")
    }

    @Test func messageWithoutBody() {
        let m = MIMEMessage(parsing: crlf("Subject: only a header\n"))
        #expect(str(m.sectionBytes(MIMESection(kind: .header))) == "Subject: only a header\r\n")
        #expect(str(m.sectionBytes(MIMESection(kind: .text))) == "")
        #expect(m.headerValues("subject") == ["only a header"])
    }

    @Test func emptyMessage() {
        let m = MIMEMessage(parsing: [])
        #expect(m.sectionBytes(MIMESection()) == [])
        #expect(m.sectionBytes(MIMESection(kind: .header)) == [])
        #expect(str(m.imapEnvelope) == "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)")
        #expect(str(m.imapBodyStructure(extended: false)) == #"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0)"#)
    }

    @Test func allPartsListsIMAPNumbers() {
        let paths = m.allParts.map(\.path)
        #expect(paths == [[1], [2], [2, 1], [2, 2]])
    }
}
