import KeepMIME
import Testing

@Suite("RFC 2047 encoded words")
struct EncodedWordTests {
    func d(_ s: String) -> String { RFC2047.decode(Array(s.utf8)) }

    /// RFC 2047 §8 examples.
    @Test func rfcExamples() {
        #expect(d("(=?ISO-8859-1?Q?a?=)") == "(a)")
        #expect(d("(=?ISO-8859-1?Q?a?= b)") == "(a b)")
        #expect(d("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)") == "(ab)")
        #expect(d("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)") == "(ab)")
        #expect(d("(=?ISO-8859-1?Q?a?=\t =?ISO-8859-1?Q?b?=)") == "(ab)")
        #expect(d("(=?ISO-8859-1?Q?a_b?=)") == "(a b)")
        #expect(d("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)") == "(a b)")
        #expect(d("=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>") == "Keith Moore <moore@cs.utk.edu>")
        #expect(d("=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>") == "André Pirard <PIRARD@vm1.ulg.ac.be>")
        #expect(d("=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?= =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=")
            == "If you can read this you understand the example.")
    }

    @Test func multibyteSplitAcrossWordsIsJoined() {
        // "é" = C3 A9 split over two words.
        #expect(d("=?utf-8?q?caf=C3?= =?utf-8?q?=A9?=") == "café")
        #expect(d("=?UTF-8?B?w6k=?==?UTF-8?B?w6k=?=") == "éé")
    }

    @Test func languageSuffixAndUnknownCharset() {
        #expect(d("=?US-ASCII*EN?Q?Keith?=") == "Keith")
        #expect(d("=?x-unknown?q?abc?=") == "abc")
    }

    @Test func malformedWordsStayAsText() {
        #expect(d("=?utf-8?x?abc?=") == "=?utf-8?x?abc?=")
        #expect(d("=?utf-8?q?no end") == "=?utf-8?q?no end")
        #expect(d("=??q?x?=") == "=??q?x?=")
        #expect(d("=?utf-8?q?has space?=") == "=?utf-8?q?has space?=")
        #expect(d("just text") == "just text")
        #expect(d(String(repeating: "=?", count: 10_000)).count == 20_000)
    }

    @Test func embeddedInWord() {
        #expect(d("pre=?utf-8?q?X?=post") == "preXpost")
    }
}

@Suite("RFC 2231 parameters")
struct ParameterTests {
    func param(_ contentType: String, _ name: String) -> String? {
        MIMEMessage(parsing: crlf("Content-Type: \(contentType)\n\n")).root.parameter(name)
    }

    @Test func rfcExamples() {
        #expect(param(#"message/external-body; access-type=URL; URL*0="ftp://"; URL*1="cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar""#, "url")
            == "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar")
        #expect(param("application/x-stuff; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A", "title")
            == "This is ***fun***")
        #expect(param(#"application/x-stuff; title*0*=us-ascii'en'This%20is%20even%20more%20; title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2="isn't it!""#, "title")
            == "This is even more ***fun*** isn't it!")
    }

    @Test func charsetAndLanguageAreKept() {
        let m = MIMEMessage(parsing: crlf("Content-Type: text/plain; name*=ISO-8859-1'fr'caf%E9\n\n"))
        let p = m.root.parameters.first { $0.name == "name" }!
        #expect(p.value == "café")
        #expect(p.charset == "ISO-8859-1")
        #expect(p.language == "fr")
        #expect(p.isExtended)
    }

    @Test func outOfOrderContinuations() {
        #expect(param("a/b; n*1=world; n*0=hello", "n") == "helloworld")
    }

    @Test func extendedWinsOverPlain() {
        #expect(param(#"a/b; name="fallback.txt"; name*=utf-8''%C3%A9.txt"#, "NAME") == "é.txt")
    }

    @Test func rfc2047InQuotedParameter() {
        #expect(param(#"a/b; name="=?utf-8?B?w6kudHh0?=""#, "name") == "é.txt")
    }

    @Test func lenientValues() {
        #expect(param("text/plain; charset=utf-8 ; format=flowed", "format") == "flowed")
        #expect(param("text/plain; name=my file.txt", "name") == "my file.txt")
        #expect(param(#"text/plain; name="quoted \"inner\"""#, "name") == #"quoted "inner""#)
        #expect(param("text/plain;; ;=x; novalue; charset=\"utf-8\"", "charset") == "utf-8")
        #expect(param("text/plain; (comment) charset = utf-8", "charset") == "utf-8")
    }

    @Test func parameterCountIsBounded() {
        var limits = MIMELimits.test
        limits.maxParameters = 3
        let params = (0..<100).map { "p\($0)=\($0)" }.joined(separator: "; ")
        let m = MIMEMessage(parsing: crlf("Content-Type: text/plain; \(params)\n\n"), limits: limits)
        #expect(m.root.parameters.count == 3)
        #expect(m.limitsReached == [.parameters])
    }
}
