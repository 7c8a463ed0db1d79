import KeepMIME
import Testing

@Suite("BODYSTRUCTURE")
struct BodyStructureTests {
    @Test func plainMessageWithoutContentTypeDefaultsToTextPlainUSASCII() {
        let m = MIMEMessage(parsing: crlf("Subject: hi\n\nline one\nline two\n"))
        #expect(str(m.imapBodyStructure(extended: false)) == #"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 20 2)"#)
        #expect(str(m.imapBodyStructure(extended: true))
            == #"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 20 2 NIL NIL NIL NIL)"#)
    }

    /// RFC 3501 §7.4.2 example: `(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)("TEXT" "PLAIN"
    /// ("CHARSET" "US-ASCII" "NAME" "cc.diff") "<960723163407.20117h@cac.washington.edu>" "Compiler diff" "BASE64"
    /// 4554 73) "MIXED")`, rebuilt with parts of exactly those sizes.
    @Test func rfc3501MixedExample() {
        // 23 lines, 1152 octets: 22 CRLF-terminated lines of 48 + a last line of 52 (its CRLF is the boundary's).
        let part1 = String(repeating: String(repeating: "a", count: 48) + "\n", count: 22)
            + String(repeating: "a", count: 52)
        // 73 lines, 4554 octets: 72 lines of 60 + a last line of 90.
        let part2 = String(repeating: String(repeating: "Q", count: 60) + "\n", count: 72)
            + String(repeating: "Q", count: 90)
        let m = MIMEMessage(parsing: crlf("""
            MIME-Version: 1.0
            Content-Type: MULTIPART/MIXED; BOUNDARY="xyz"

            preamble
            --xyz
            Content-Type: TEXT/PLAIN; CHARSET=US-ASCII

            \(part1)
            --xyz
            Content-Type: TEXT/PLAIN; CHARSET=US-ASCII; NAME=cc.diff
            Content-ID: <960723163407.20117h@cac.washington.edu>
            Content-Description: Compiler diff
            Content-Transfer-Encoding: BASE64

            \(part2)
            --xyz--
            epilogue
            """))
        #expect(str(m.imapBodyStructure(extended: false)) == """
            (("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)("TEXT" "PLAIN" \
            ("CHARSET" "US-ASCII" "NAME" "cc.diff") "<960723163407.20117h@cac.washington.edu>" "Compiler diff" \
            "BASE64" 4554 73) "MIXED")
            """)
        #expect(str(m.imapBodyStructure(extended: true)) == """
            (("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23 NIL NIL NIL NIL)("TEXT" "PLAIN" \
            ("CHARSET" "US-ASCII" "NAME" "cc.diff") "<960723163407.20117h@cac.washington.edu>" "Compiler diff" \
            "BASE64" 4554 73 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "xyz") NIL NIL NIL)
            """)
    }

    static let alternativeWithAttachment = crlf("""
        From: a@example.com
        To: b@example.com
        Subject: report
        MIME-Version: 1.0
        Content-Type: multipart/mixed; boundary="outer"

        This is a multi-part message in MIME format.
        --outer
        Content-Type: multipart/alternative; boundary=inner

        --inner
        Content-Type: text/plain; charset=utf-8
        Content-Transfer-Encoding: quoted-printable

        Gr=C3=BC=C3=9Fe
        --inner
        Content-Type: text/html; charset="utf-8"
        Content-Transfer-Encoding: 8bit

        <p>Grüße</p>
        --inner--

        --outer
        Content-Type: application/pdf; name="report.pdf"
        Content-Disposition: attachment; filename="report.pdf"; size=6
        Content-Transfer-Encoding: base64
        Content-Language: en, de
        Content-Location: http://example.com/
         report.pdf
        Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==

        JVBERi0=
        --outer--

        """)

    @Test func multipartAlternativeWithAttachment() {
        let m = MIMEMessage(parsing: Self.alternativeWithAttachment)
        #expect(str(m.imapBodyStructure(extended: true)) == """
            ((("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 15 1 NIL NIL NIL NIL)\
            ("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "8BIT" 14 1 NIL NIL NIL NIL) \
            "ALTERNATIVE" ("BOUNDARY" "inner") NIL NIL NIL)\
            ("APPLICATION" "PDF" ("NAME" "report.pdf") NIL NIL "BASE64" 8 "Q2hlY2sgSW50ZWdyaXR5IQ==" \
            ("ATTACHMENT" ("FILENAME" "report.pdf" "SIZE" "6")) ("en" "de") "http://example.com/report.pdf") \
            "MIXED" ("BOUNDARY" "outer") NIL NIL NIL)
            """)
        #expect(str(m.imapBodyStructure(extended: false)) == """
            ((("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 15 1)\
            ("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "8BIT" 14 1) "ALTERNATIVE")\
            ("APPLICATION" "PDF" ("NAME" "report.pdf") NIL NIL "BASE64" 8) "MIXED")
            """)
        let pdf = m.part(at: [2])!
        #expect(pdf.fileName == "report.pdf")
        #expect(m.decodedBody(of: pdf) == Array("%PDF-".utf8))
        #expect(m.decodedBodyText() == "Grüße\n<p>Grüße</p>")
    }

    static let nested = crlf("""
        From: outer@example.com
        Subject: fwd
        Content-Type: multipart/mixed; boundary=b1

        --b1
        Content-Type: text/plain

        see attached
        --b1
        Content-Type: message/rfc822
        Content-Description: forwarded

        From: Inner Person <inner@example.com>
        Subject: original
        Date: Tue, 1 Jan 2030 00:00:00 +0000
        Message-ID: <inner@example.com>
        Content-Type: multipart/alternative; boundary=b2

        --b2
        Content-Type: text/plain; charset=iso-8859-1
        Content-Transfer-Encoding: quoted-printable

        caf=E9
        --b2
        Content-Type: text/html

        <b>cafe</b>
        --b2--
        --b1--

        """)

    @Test func nestedMessageRFC822() {
        let m = MIMEMessage(parsing: Self.nested)
        #expect(str(m.imapBodyStructure(extended: false)) == """
            (("TEXT" "PLAIN" NIL NIL NIL "7BIT" 12 1)("MESSAGE" "RFC822" NIL NIL "forwarded" "7BIT" 341 \
            ("Tue, 1 Jan 2030 00:00:00 +0000" "original" (("Inner Person" NIL "inner" "example.com")) (("Inner Person" NIL "inner" "example.com")) \
            (("Inner Person" NIL "inner" "example.com")) NIL NIL NIL NIL "<inner@example.com>") \
            (("TEXT" "PLAIN" ("CHARSET" "iso-8859-1") NIL NIL "QUOTED-PRINTABLE" 6 1)\
            ("TEXT" "HTML" NIL NIL NIL "7BIT" 11 1) "ALTERNATIVE") 16) "MIXED")
            """)
        #expect(m.decodedBodyText() == "see attached\ncafé\n<b>cafe</b>")
    }

    @Test func digestChildrenDefaultToMessageRFC822() {
        let m = MIMEMessage(parsing: crlf("""
            Content-Type: multipart/digest; boundary=d

            --d

            Subject: one

            first
            --d--
            """))
        #expect(m.part(at: [1])?.type == "message")
        #expect(str(m.imapBodyStructure(extended: false)) == """
            (("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 21 (NIL "one" NIL NIL NIL NIL NIL NIL NIL NIL) \
            ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 5 1) 3) "DIGEST")
            """)
    }

    @Test func rfc2231ParametersRenderExtended() {
        let m = MIMEMessage(parsing: crlf("""
            Content-Type: application/octet-stream;
             name*0*=utf-8''%E2%82%AC%20rates;
             name*1=".txt"
            Content-Disposition: attachment; filename*=iso-8859-1'en'caf%E9.txt

            x
            """))
        let bs = str(m.imapBodyStructure(extended: true))!
        #expect(bs == """
            ("APPLICATION" "OCTET-STREAM" ("NAME*" "utf-8''%E2%82%AC%20rates.txt") NIL NIL "7BIT" 1 NIL \
            ("ATTACHMENT" ("FILENAME*" "iso-8859-1'en'caf%E9.txt")) NIL NIL)
            """)
        #expect(m.root.parameter("name") == "€ rates.txt")
        #expect(m.root.fileName == "café.txt")
    }

    @Test func multipartWithoutBoundaryIsTextPlain() {
        let m = MIMEMessage(parsing: crlf("Content-Type: multipart/mixed\n\nhello\n"))
        #expect(str(m.imapBodyStructure(extended: false)) == #"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 7 1)"#)
    }

    @Test func multipartWithoutAnyPartHasAnEmptyTextPart() {
        let m = MIMEMessage(parsing: crlf("Content-Type: multipart/mixed; boundary=zz\n\nonly a preamble\n"))
        #expect(str(m.imapBodyStructure(extended: false))
            == #"(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0) "MIXED")"#)
    }

    @Test func missingFinalBoundaryEndsAtEndOfMessage() {
        let m = MIMEMessage(parsing: crlf("""
            Content-Type: multipart/mixed; boundary=zz

            --zz

            one
            --zz
            Content-Type: text/html

            <p>two
            """))
        #expect(m.root.children.count == 2)
        #expect(str(m.sectionBytes(MIMESection(part: [2]))) == "<p>two")
    }
}
