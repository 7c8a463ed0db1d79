import Testing
@testable import KeepIMAP

@Suite("ResponseEncoder")
struct ResponseEncoderTests {
    func text(_ build: (inout ResponseEncoder) -> Void) -> String {
        var e = ResponseEncoder()
        build(&e)
        return String(decoding: e.bytes, as: UTF8.self)
    }

    func untagged(_ r: UntaggedResponse) -> String { text { $0.untagged(r) } }

    // MARK: Status responses

    @Test func taggedStatusWithAndWithoutCode() {
        #expect(text { $0.tagged("a1", .ok, nil, "LOGIN completed") } == "a1 OK LOGIN completed\r\n")
        #expect(text { $0.tagged("a1", .ok, .readWrite, "SELECT completed") } == "a1 OK [READ-WRITE] SELECT completed\r\n")
        #expect(text { $0.tagged("a1", .no, .appendUID(uidValidity: 38505, uids: [3955]), "APPEND completed") }
            == "a1 NO [APPENDUID 38505 3955] APPEND completed\r\n")
        #expect(text { $0.tagged("a1", .bad, .clientBug, "line\r\nbreak") } == "a1 BAD [CLIENTBUG] line  break\r\n")
    }

    @Test func untaggedConditions() {
        #expect(untagged(.condition(.ok, .uidValidity(3857529045), "UIDs valid")) == "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n")
        #expect(untagged(.condition(.bye, nil, "Autologout; idle for too long")) == "* BYE Autologout; idle for too long\r\n")
        #expect(untagged(.condition(.preauth, .capability(["IMAP4rev2", "IDLE"]), "hi")) == "* PREAUTH [CAPABILITY IMAP4rev2 IDLE] hi\r\n")
    }

    @Test("response codes are written as the RFCs spell them", arguments: [
        (ResponseCode.alert, "ALERT"), (.parse, "PARSE"), (.readOnly, "READ-ONLY"), (.tryCreate, "TRYCREATE"),
        (.closed, "CLOSED"), (.noModSeq, "NOMODSEQ"), (.permanentFlags(["\\Seen", "\\*"]), "PERMANENTFLAGS (\\Seen \\*)"),
        (.uidNext(4392), "UIDNEXT 4392"), (.unseen(12), "UNSEEN 12"),
        (.appendUID(uidValidity: 1, uids: [5, 3, 4, 9]), "APPENDUID 1 3:5,9"),
        (.copyUID(uidValidity: 7, source: [304, 319, 320, 321], destination: [3956, 3957, 3958, 3955]),
         "COPYUID 7 304,319:321 3956:3958,3955"),
        (.highestModSeq(715194045007), "HIGHESTMODSEQ 715194045007"), (.modified([7, 9, 8]), "MODIFIED 7:9"),
        (.limit, "LIMIT"), (.overQuota, "OVERQUOTA"), (.tooBig, "TOOBIG"), (.unavailable, "UNAVAILABLE"),
        (.authenticationFailed, "AUTHENTICATIONFAILED"), (.authorizationFailed, "AUTHORIZATIONFAILED"),
        (.expired, "EXPIRED"), (.privacyRequired, "PRIVACYREQUIRED"), (.contactAdmin, "CONTACTADMIN"), (.noPerm, "NOPERM"),
        (.inUse, "INUSE"), (.expungeIssued, "EXPUNGEISSUED"), (.corruption, "CORRUPTION"), (.serverBug, "SERVERBUG"),
        (.cannot, "CANNOT"), (.alreadyExists, "ALREADYEXISTS"), (.nonExistent, "NONEXISTENT"), (.notSaved, "NOTSAVED"),
        (.hasChildren, "HASCHILDREN"), (.badCharset([]), "BADCHARSET"), (.badCharset(["UTF-8", "US-ASCII"]), "BADCHARSET (UTF-8 US-ASCII)"),
        (.unknownCTE, "UNKNOWN-CTE"), (.metadataTooMany, "METADATA TOOMANY"), (.metadataMaxSize(1024), "METADATA MAXSIZE 1024"),
        (.metadataLongEntries(2199), "METADATA LONGENTRIES 2199"), (.metadataNoPrivate, "METADATA NOPRIVATE"),
        (.other("X-CUSTOM 1"), "X-CUSTOM 1"),
    ])
    func responseCode(_ code: ResponseCode, _ expected: String) {
        #expect(text { $0.tagged("t", .ok, code, "x") } == "t OK [\(expected)] x\r\n")
    }

    @Test func continuations() {
        #expect(text { $0.continuation() } == "+ Ready\r\n")
        #expect(text { $0.continuation(base64: Array("\0user\0pass".utf8)) } == "+ AHVzZXIAcGFzcw==\r\n")
        #expect(text { $0.continuation(base64: []) } == "+ \r\n")
    }

    // MARK: Data responses

    @Test func fetchResponse() {
        let r = untagged(.fetch(12, [
            .uid(4827313), .flags(["\\Seen", "$Junk"]), .internalDate(ResponseEncoder.internalDate(secondsSince1970: 837_596_665, zoneMinutes: -420)),
            .rfc822Size(44827), .modSeq(12121231000), .envelope(Array("(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)".utf8)),
            .section(name: "BODY[HEADER]<0>", data: Array("Subject: x\r\n\r\n".utf8)), .section(name: "BODY[1]", data: nil),
            .binary(name: "BINARY[2]", data: [0, 1]), .binary(name: "BINARY[3]", data: Array("ok".utf8)),
            .binarySize(name: "BINARY.SIZE[2]", size: 2),
        ]))
        #expect(r == "* 12 FETCH (UID 4827313 FLAGS (\\Seen $Junk) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" "
            + "RFC822.SIZE 44827 MODSEQ (12121231000) ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
            + "BODY[HEADER]<0> {14}\r\nSubject: x\r\n\r\n BODY[1] NIL BINARY[2] ~{2}\r\n\0\u{1} BINARY[3] {2}\r\nok "
            + "BINARY.SIZE[2] 2)\r\n")
    }

    @Test func searchAndEsearch() {
        #expect(untagged(.search([2, 84, 882], modSeq: nil)) == "* SEARCH 2 84 882\r\n")
        #expect(untagged(.search([], modSeq: 5)) == "* SEARCH\r\n")
        #expect(untagged(.search([2, 5], modSeq: 917162500)) == "* SEARCH 2 5 (MODSEQ 917162500)\r\n")
        // RFC 4731 §3.1
        #expect(untagged(.esearch(tag: "A282", uid: false, min: 2, max: nil, count: 3, all: nil, modSeq: nil))
            == "* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n")
        #expect(untagged(.esearch(tag: "A283", uid: true, min: nil, max: nil, count: nil, all: [2, 10, 11, 12, 13, 14, 15, 43], modSeq: nil))
            == "* ESEARCH (TAG \"A283\") UID ALL 2,10:15,43\r\n")
        #expect(untagged(.esearch(tag: nil, uid: true, min: 1, max: 9, count: 0, all: [], modSeq: 42))
            == "* ESEARCH UID MIN 1 MAX 9 COUNT 0 MODSEQ 42\r\n")
    }

    @Test func statusListAndLsub() {
        #expect(untagged(.status(name: Array("blurdybloop".utf8), items: [(.messages, 231), (.uidNext, 44292)]))
            == "* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n")
        #expect(untagged(.status(name: Array("Sent Items".utf8), items: [(.highestModSeq, 7)]))
            == "* STATUS \"Sent Items\" (HIGHESTMODSEQ 7)\r\n")
        #expect(untagged(.list(attributes: ["\\HasNoChildren", "\\Sent"], delimiter: UInt8(ascii: "/"), name: Array("Sent".utf8), extended: nil))
            == "* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n")
        #expect(untagged(.list(attributes: [], delimiter: nil, name: Array("a%b".utf8), extended: Array("(\"CHILDINFO\" (\"SUBSCRIBED\"))".utf8)))
            == "* LIST () NIL \"a%b\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n")
        #expect(untagged(.list(attributes: [], delimiter: UInt8(ascii: "\\"), name: [], extended: nil)) == "* LIST () \"\\\\\" \"\"\r\n")
        #expect(untagged(.lsub(attributes: ["\\Noselect"], delimiter: UInt8(ascii: "."), name: Array("#news.comp.mail".utf8)))
            == "* LSUB (\\Noselect) \".\" #news.comp.mail\r\n")
    }

    @Test func otherUntaggedData() {
        #expect(untagged(.capability(["IMAP4rev2", "AUTH=PLAIN"])) == "* CAPABILITY IMAP4rev2 AUTH=PLAIN\r\n")
        #expect(untagged(.flags(["\\Answered", "\\Seen"])) == "* FLAGS (\\Answered \\Seen)\r\n")
        #expect(untagged(.exists(172)) == "* 172 EXISTS\r\n")
        #expect(untagged(.recent(1)) == "* 1 RECENT\r\n")
        #expect(untagged(.expunge(44)) == "* 44 EXPUNGE\r\n")
        #expect(untagged(.vanished(earlier: true, uids: [41, 43, 44, 45])) == "* VANISHED (EARLIER) 41,43:45\r\n")
        #expect(untagged(.vanished(earlier: false, uids: [405])) == "* VANISHED 405\r\n")
        #expect(untagged(.enabled(["CONDSTORE"])) == "* ENABLED CONDSTORE\r\n")
        #expect(untagged(.enabled([])) == "* ENABLED\r\n")
        #expect(untagged(.id([("name", "Keep"), ("version", "1.0")])) == "* ID (\"name\" \"Keep\" \"version\" \"1.0\")\r\n")
        #expect(untagged(.id(nil)) == "* ID NIL\r\n")
        #expect(untagged(.namespace(personal: [(prefix: "", delimiter: UInt8(ascii: "/"))], other: [],
                                    shared: [(prefix: "Shared/", delimiter: UInt8(ascii: "/"))]))
            == "* NAMESPACE ((\"\" \"/\")) NIL ((\"Shared/\" \"/\"))\r\n")
        #expect(untagged(.metadata(mailbox: Array("INBOX".utf8), entries: [("/private/comment", Array("My \"own\"".utf8)), ("/shared/x", nil)]))
            == "* METADATA INBOX (/private/comment \"My \\\"own\\\"\" /shared/x NIL)\r\n")
        #expect(untagged(.quota(root: "", resources: [(name: "STORAGE", usage: 10, limit: 512)])) == "* QUOTA \"\" (STORAGE 10 512)\r\n")
        #expect(untagged(.quotaRoot(mailbox: Array("INBOX".utf8), roots: [""])) == "* QUOTAROOT INBOX \"\"\r\n")
    }

    // MARK: Strings

    @Test func quotedWhenPossibleLiteralOtherwise() {
        #expect(text { $0.string(Array("plain".utf8)) } == "\"plain\"")
        #expect(text { $0.string(Array("a\"b\\c".utf8)) } == "\"a\\\"b\\\\c\"")
        #expect(text { $0.string([]) } == "\"\"")
        #expect(text { $0.string(Array("日本語".utf8)) } == "\"日本語\"")
        #expect(text { $0.string(Array("two\r\nlines".utf8)) } == "{10}\r\ntwo\r\nlines")
        #expect(text { $0.string([0x61, 0, 0x62]) } == "{3}\r\na\0b")
        let long = [UInt8](repeating: UInt8(ascii: "x"), count: 1025)
        #expect(text { $0.string(long) } == "{1025}\r\n" + String(repeating: "x", count: 1025))
        #expect(text { $0.string([UInt8](repeating: UInt8(ascii: "x"), count: 1024)) }.hasPrefix("\""))
    }

    @Test func invalidUTF8IsNeverQuoted() {
        var e = ResponseEncoder()
        e.string([0x61, 0xFF, 0x62])
        #expect(e.bytes == Array("{3}\r\n".utf8) + [0x61, 0xFF, 0x62])
        e.reset()
        e.string([0xC3])
        #expect(e.bytes == Array("{1}\r\n".utf8) + [0xC3])
    }

    @Test func astringsAreAtomsWhenTheyCanBe() {
        #expect(text { $0.astringOrString(Array("INBOX".utf8)) } == "INBOX")
        #expect(text { $0.astringOrString(Array("a]b".utf8)) } == "a]b")
        #expect(text { $0.astringOrString(Array("a b".utf8)) } == "\"a b\"")
        #expect(text { $0.astringOrString(Array("a*".utf8)) } == "\"a*\"")
        #expect(text { $0.astringOrString(Array("a(b".utf8)) } == "\"a(b\"")
        #expect(text { $0.astringOrString([]) } == "\"\"")
        #expect(text { $0.astringOrString(Array("Entwürfe".utf8)) } == "\"Entwürfe\"")
    }

    @Test func responsesParseBackAsTheArgumentTheyEncode() throws {
        // What the encoder writes as an astring, the grammar reads back to the same bytes.
        let samples: [[UInt8]] = [
            Array("INBOX".utf8), Array("a b".utf8), Array("q\"uo\\te".utf8), [], Array("line\r\nbreak".utf8), [0xFF, 0xFE],
            Array("]x".utf8), Array("%*".utf8), Array("ünï".utf8),
        ]
        for s in samples {
            var e = ResponseEncoder()
            e.astringOrString(s)
            let cmd = try CommandParser().parse(Array("a DELETE ".utf8) + e.bytes + Array("\r\n".utf8))
            #expect(cmd.kind == .delete(MailboxName(raw: s)))
        }
    }

    // MARK: compactSet and dates

    @Test func compactSetMergesRuns() {
        #expect(ResponseEncoder.compactSet([]) == "")
        #expect(ResponseEncoder.compactSet([1]) == "1")
        #expect(ResponseEncoder.compactSet([3, 1, 2, 5, 7, 8, 9]) == "1:3,5,7:9")
        #expect(ResponseEncoder.compactSet([4, 4, 5, 5, 1]) == "1,4:5")
        #expect(ResponseEncoder.compactSet([UInt32.max, UInt32.max - 1, 1]) == "1,4294967294:4294967295")
        #expect(ResponseEncoder.compactSet([5, 6, 2, 3], sorted: false) == "5:6,2:3")
        #expect(ResponseEncoder.compactSet([3, 2, 1], sorted: false) == "3,2,1")
    }

    @Test func compactSetCoversExactlyTheInput() {
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<300 {
            let nums = (0..<Int.random(in: 1...40, using: &rng)).map { _ in UInt32.random(in: 1...60, using: &rng) }
            let text = ResponseEncoder.compactSet(nums)
            var p = ParseBuffer(Array(text.utf8), limits: GrammarLimits.test())
            guard let parsed = try? CommandParser.sequenceSet(&p), p.atEnd else {
                Issue.record("\(text) does not parse as a sequence set"); continue
            }
            let covered = (1...60).filter { parsed.contains(UInt32($0), last: 60) }.map(UInt32.init)
            #expect(covered == Array(Set(nums)).sorted())
        }
    }

    @Test func internalDateFormatting() {
        #expect(ResponseEncoder.internalDate(secondsSince1970: 0) == " 1-Jan-1970 00:00:00 +0000")
        #expect(ResponseEncoder.internalDate(secondsSince1970: 837_596_665, zoneMinutes: -420) == "17-Jul-1996 02:44:25 -0700")
        #expect(ResponseEncoder.internalDate(secondsSince1970: 1_709_208_000, zoneMinutes: 330) == "29-Feb-2024 17:30:00 +0530")
        #expect(ResponseEncoder.internalDate(secondsSince1970: -1) == "31-Dec-1969 23:59:59 +0000")
        #expect(ResponseEncoder.internalDate(secondsSince1970: 951_782_400) == "29-Feb-2000 00:00:00 +0000")
        #expect(ResponseEncoder.internalDate(secondsSince1970: 4_102_444_800) == " 1-Jan-2100 00:00:00 +0000")
    }

    @Test func internalDateRoundTripsThroughTheAppendGrammar() throws {
        var rng = SeededGenerator(seed: 11)
        for _ in 0..<500 {
            let t = Int64.random(in: -2_000_000_000...8_000_000_000, using: &rng)
            let zone = Int.random(in: -14 * 60...14 * 60, using: &rng)
            let s = ResponseEncoder.internalDate(secondsSince1970: t, zoneMinutes: zone)
            let cmd = try CommandParser().parse(Array("a APPEND INBOX \"\(s)\" {1+}\r\nx\r\n".utf8))
            guard case .append(_, let msgs) = cmd.kind, let dt = msgs.first?.internalDate else {
                Issue.record("no date in \(s)"); continue
            }
            #expect(dt.secondsSince1970 == t, "\(s)")
            #expect(dt.zoneMinutes == zone)
        }
    }

    @Test func civilDaysAgreeBothWays() {
        for days in stride(from: -800_000, through: 800_000, by: 997) {
            let (y, m, d) = ResponseEncoder.civil(fromDays: days)
            #expect(IMAPDateTime.daysFromCivil(year: y, month: m, day: d) == days)
            #expect(IMAPDate(year: y, month: m, day: d).isValid)
        }
    }

    @Test func base64RoundTripsAndRejectsJunk() {
        var rng = SeededGenerator(seed: 3)
        for len in 0..<40 {
            let data = (0..<len).map { _ in UInt8.random(in: 0...255, using: &rng) }
            #expect(Base64.decode(Base64.encode(data)) == data)
        }
        #expect(Base64.decode(Array("dGVzdAB0ZXN0AHRlc3Q=".utf8)) == Array("test\0test\0test".utf8))
        for junk in ["abc", "ab=c", "a===", "====", "ab!d", "ab==cd==", "=abc"] {
            #expect(Base64.decode(Array(junk.utf8)) == nil, "\(junk)")
        }
    }
}

/// Numbers are written digit by digit, without a String in between: every width, the extremes, and in place.
@Suite("ResponseEncoder numbers")
struct ResponseEncoderNumberTests {
    func written<T: BinaryInteger>(_ n: T) -> String {
        var e = ResponseEncoder()
        e.number(n)
        return String(decoding: e.bytes, as: UTF8.self)
    }

    @Test func everyWidthAndTheExtremesAreWrittenAsDescriptionWritesThem() {
        var n: UInt64 = 1
        for _ in 0..<20 {
            #expect(written(n) == "\(n)")
            #expect(written(n - 1) == "\(n - 1)")
            n = n &* 10
        }
        #expect(written(UInt64.max) == "18446744073709551615")
        #expect(written(UInt32.max) == "4294967295")
        #expect(written(Int.min) == "\(Int.min)")
        #expect(written(-42) == "-42")
    }

    @Test func fetchResponsesCarryTheirNumbers() {
        var e = ResponseEncoder()
        e.untagged(.fetch(120034, [.uid(4294967295), .flags(["\\Seen", "$Junk"]), .rfc822Size(0), .modSeq(715194045007)]))
        e.untagged(.exists(0))
        e.untagged(.search([1, 20, 300], modSeq: nil))
        #expect(String(decoding: e.bytes, as: UTF8.self) == """
            * 120034 FETCH (UID 4294967295 FLAGS (\\Seen $Junk) RFC822.SIZE 0 MODSEQ (715194045007))\r
            * 0 EXISTS\r
            * SEARCH 1 20 300\r

            """)
    }
}
