import KeepMIME
import Testing

@Suite("ENVELOPE")
struct EnvelopeTests {
    /// RFC 3501 §8 / RFC 9051 §8 sample FETCH response's message.
    static let rfcSample = crlf("""
        Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)
        From: Terry Gray <gray@cac.washington.edu>
        Subject: IMAP4rev1 WG mtg summary and minutes
        To: imap@cac.washington.edu
        cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>
        Message-Id: <B27397-0100000@cac.washington.edu>
        MIME-Version: 1.0
        Content-Type: TEXT/PLAIN; CHARSET=US-ASCII

        Hello.

        """)

    @Test func rfcSampleEnvelope() {
        let m = MIMEMessage(parsing: Self.rfcSample)
        #expect(str(m.imapEnvelope) == """
            ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" \
            (("Terry Gray" NIL "gray" "cac.washington.edu")) \
            (("Terry Gray" NIL "gray" "cac.washington.edu")) \
            (("Terry Gray" NIL "gray" "cac.washington.edu")) \
            ((NIL NIL "imap" "cac.washington.edu")) \
            ((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL \
            "<B27397-0100000@cac.washington.edu>")
            """)
    }

    @Test func fredFoobarExample() {
        let m = MIMEMessage(parsing: crlf("""
            Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)
            From: Fred Foobar <foobar@Blurdybloop.example>
            Subject: afternoon meeting
            To: mooch@owatagu.siam.edu.example
            Message-Id: <B27397-0100000@Blurdybloop.example>
            MIME-Version: 1.0
            Content-Type: TEXT/PLAIN; CHARSET=US-ASCII

            Hello Joe, do you think we can meet at 3:30 tomorrow?

            """))
        #expect(str(m.imapEnvelope) == """
            ("Mon, 7 Feb 1994 21:52:25 -0800 (PST)" "afternoon meeting" \
            (("Fred Foobar" NIL "foobar" "Blurdybloop.example")) \
            (("Fred Foobar" NIL "foobar" "Blurdybloop.example")) \
            (("Fred Foobar" NIL "foobar" "Blurdybloop.example")) \
            ((NIL NIL "mooch" "owatagu.siam.edu.example")) NIL NIL NIL "<B27397-0100000@Blurdybloop.example>")
            """)
    }

    @Test func senderAndReplyToAreKeptWhenPresent() {
        let m = MIMEMessage(parsing: crlf("""
            From: a@example.com
            Sender: b@example.com
            Reply-To: "Reply, Here" <c@example.com>
            In-Reply-To: <x@y>

            """))
        #expect(str(m.imapEnvelope) == """
            (NIL NIL ((NIL NIL "a" "example.com")) ((NIL NIL "b" "example.com")) \
            (("Reply, Here" NIL "c" "example.com")) NIL NIL NIL "<x@y>" NIL)
            """)
    }

    @Test func emptySenderFallsBackToFrom() {
        let m = MIMEMessage(parsing: crlf("From: a@example.com\nSender:\nReply-To:   \n\n"))
        #expect(str(m.imapEnvelope) == """
            (NIL NIL ((NIL NIL "a" "example.com")) ((NIL NIL "a" "example.com")) ((NIL NIL "a" "example.com")) \
            NIL NIL NIL NIL NIL)
            """)
    }

    @Test func groupsRenderAsMarkers() {
        let m = MIMEMessage(parsing: crlf("""
            To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;, undisclosed-recipients:;
            Cc: Empty:;

            """))
        #expect(str(m.imapEnvelope) == """
            (NIL NIL NIL NIL NIL \
            ((NIL NIL "A Group" NIL)("Ed Jones" NIL "c" "a.test")(NIL NIL "joe" "where.test")\
            ("John" NIL "jdoe" "one.test")(NIL NIL NIL NIL)(NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) \
            ((NIL NIL "Empty" NIL)(NIL NIL NIL NIL)) NIL NIL NIL)
            """)
    }

    @Test func namesAreRawUnfoldedAndUnquoted() {
        let m = MIMEMessage(parsing: crlf("""
            From: =?utf-8?q?J=C3=B6rg?=
             "Doe, \\"JD\\"" <jd@example.com>
            To: pete(his account)@silly.test(his host), "Mary Smith: Personal Account" <smith@home.example>
            Subject: =?iso-8859-1?q?caf=E9?=
             folded

            """))
        let env = str(m.imapEnvelope)!
        #expect(env.contains(#"(("=?utf-8?q?J=C3=B6rg?= Doe, \"JD\"" NIL "jd" "example.com"))"#))
        #expect(env.contains(#""=?iso-8859-1?q?caf=E9?= folded""#))
        #expect(env.contains(#"(("his host" NIL "pete" "silly.test")("Mary Smith: Personal Account" NIL "smith" "home.example"))"#))
    }

    @Test func routesAndMissingParts() {
        let m = MIMEMessage(parsing: crlf("""
            From: Old <@relay1.test,@relay2.test:user@final.test>
            To: localonly, <@only.route:x@y.test>, "Name" <>
            Bcc: [1.2.3.4] <u@[1.2.3.4]>

            """))
        let env = str(m.imapEnvelope)!
        #expect(env.contains(#"(("Old" "@relay1.test,@relay2.test" "user" "final.test"))"#))
        #expect(env.contains(#"((NIL NIL "localonly" "MISSING_DOMAIN")(NIL "@only.route" "x" "y.test"))"#))
        #expect(env.contains(#"(("[1.2.3.4]" NIL "u" "[1.2.3.4]"))"#))
    }

    @Test func eightBitAndControlStringsBecomeLiterals() {
        var bytes = Array("Subject: caf".utf8) + [0xE9] + Array("\r\nFrom: \"a\\\\b\" <x@y>\r\n\r\n".utf8)
        bytes += Array("body".utf8)
        let m = MIMEMessage(parsing: bytes)
        let env = m.imapEnvelope
        let expected = Array("(NIL {4}\r\ncaf".utf8) + [0xE9] + Array(#" (("a\\b" NIL "x" "y"))"#.utf8)
        #expect(Array(env.prefix(expected.count)) == expected)
    }

    @Test func addressCountIsBounded() {
        var limits = MIMELimits.test
        limits.maxAddressesPerField = 3
        let to = (0..<50).map { "u\($0)@x.test" }.joined(separator: ", ")
        let m = MIMEMessage(parsing: crlf("To: \(to)\n\n"), limits: limits)
        #expect(m.addresses("to").count == 3)
    }

    @Test func garbageAddressFieldsDoNotCrash() {
        for value in ["<<<>>>", "@@@,,,;;;:::", "\"unterminated", "(unterminated comment", "a@", "@b", ":;",
                      "<a@b", "x <y> z <w>", "\u{1}\u{2}", ",", "a:b:c;d;e;"] {
            let m = MIMEMessage(parsing: crlf("From: \(value)\nTo: \(value)\n\n"))
            #expect(!m.imapEnvelope.isEmpty)
        }
    }
}
