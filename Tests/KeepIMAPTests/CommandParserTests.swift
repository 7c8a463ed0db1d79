import Testing
@testable import KeepIMAP

@Suite("CommandParser")
struct CommandParserTests {
    // MARK: Any state

    @Test func simpleCommands() {
        #expect(kind("a CAPABILITY\r\n") == .capability)
        #expect(kind("a noop\r\n") == .noop)
        #expect(kind("a check\r\n") == .check)
        #expect(kind("a LOGOUT\n") == .logout)
        #expect(kind("a STARTTLS\r\n") == .starttls)
        #expect(kind("a NAMESPACE\r\n") == .namespace)
        #expect(kind("a IDLE\r\n") == .idle)
        #expect(kind("a CLOSE\r\n") == .close)
        #expect(kind("a UNSELECT\r\n") == .unselect)
        #expect(kind("a EXPUNGE\r\n") == .expunge)
    }

    @Test func tagsMayHoldAnyAstringCharButPlus() throws {
        #expect(try parse("A001.x-y_z]/ NOOP\r\n").tag == "A001.x-y_z]/")
        #expect(parseError("a+ NOOP\r\n") == CommandParseError(tag: "a", reason: .syntax(hint: "expected space")))
        #expect(parseError(" NOOP\r\n")?.tag == nil)
    }

    @Test func id() {
        // RFC 2971 §3.3
        #expect(kind("a ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" NIL)\r\n")
            == .id([("name", "sodr"), ("version", "19.34"), ("vendor", nil)]))
        #expect(kind("a ID NIL\r\n") == .id(nil))
        #expect(kind("a ID ()\r\n") == .id([]))
        #expect(kind("a ID NIL\r\n") != .id([]))
        #expect(kind("a ID ({4}\r\nname {2}\r\nok)\r\n") == .id([("name", "ok")]))
        // A literal8 is not a `string`: no NUL bytes in ID fields.
        #expect(parseError("a ID (\"name\" ~{1}\r\n\0)\r\n")?.reason == .syntax(hint: "expected string"))
        let tooMany = "a ID (" + (0..<31).map { "\"k\($0)\" \"v\"" }.joined(separator: " ") + ")\r\n"
        #expect(parseError(tooMany)?.reason == .syntax(hint: "ID takes at most 30 field-value pairs"))
    }

    // MARK: Not authenticated

    @Test func loginWithAtomsQuotedAndLiterals() {
        // RFC 9051 §6.2.3
        #expect(kind("a LOGIN SMITH SESAME\r\n") == .login(user: bytes("SMITH"), password: bytes("SESAME")))
        #expect(kind("a LOGIN \"fred\" \"p a\\\"s\\\\s\"\r\n") == .login(user: bytes("fred"), password: bytes("p a\"s\\s")))
        #expect(kind("a LOGIN {4}\r\nfred {8+}\r\nse cret!\r\n") == .login(user: bytes("fred"), password: bytes("se cret!")))
        #expect(kind("a LOGIN \"\" \"\"\r\n") == .login(user: [], password: []))
        #expect(kind("a LOGIN \"jörg\" pässword\r\n") == .login(user: bytes("jörg"), password: bytes("pässword")))
    }

    @Test func loginMissingOrMalformedArguments() {
        #expect(parseError("a LOGIN\r\n")?.reason == .syntax(hint: "expected space"))
        #expect(parseError("a LOGIN fred\r\n")?.tag == "a")
        #expect(parseError("a LOGIN fred \r\n") != nil)
        #expect(parseError("a LOGIN \"fred\r\n") != nil)
        #expect(parseError("a LOGIN fred \"a\\b\"\r\n")?.reason == .syntax(hint: "invalid escape in quoted string"))
        #expect(parseError("a LOGIN {50}\r\nfred x\r\n")?.reason == .syntax(hint: "literal shorter than announced"))
        #expect(parseError("a LOGIN {4}\r\nf\0ed x\r\n")?.reason == .syntax(hint: "NUL in literal (use literal8)"))
        #expect(parseError("a LOGIN fred x y\r\n")?.reason == .syntax(hint: "expected end of command"))
    }

    @Test func authenticateWithAndWithoutInitialResponse() {
        // RFC 9051 §6.2.2 with SASL-IR (RFC 4959)
        #expect(kind("a AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n")
            == .authenticate(mechanism: "PLAIN", initialResponse: bytes("dGVzdAB0ZXN0AHRlc3Q=")))
        #expect(kind("a authenticate plain\r\n") == .authenticate(mechanism: "PLAIN", initialResponse: nil))
        #expect(kind("a AUTHENTICATE PLAIN =\r\n") == .authenticate(mechanism: "PLAIN", initialResponse: bytes("=")))
        #expect(parseError("a AUTHENTICATE PLAIN !!!\r\n") != nil)
        #expect(parseError("a AUTHENTICATE\r\n") != nil)
    }

    // MARK: Authenticated

    @Test func enable() {
        #expect(kind("a ENABLE CONDSTORE qresync\r\n") == .enable(["CONDSTORE", "QRESYNC"]))
        #expect(kind("a ENABLE UTF8=ACCEPT\r\n") == .enable(["UTF8=ACCEPT"]))
        #expect(parseError("a ENABLE\r\n")?.reason == .syntax(hint: "ENABLE needs a capability"))
    }

    @Test func selectAndExamine() {
        #expect(kind("a SELECT INBOX\r\n") == .select(MailboxName("INBOX"), SelectParameters()))
        var condstore = SelectParameters()
        condstore.condStore = true
        #expect(kind("a SELECT INBOX (CONDSTORE)\r\n") == .select(MailboxName("INBOX"), condstore))
        #expect(kind("a EXAMINE \"Sent Items\"\r\n") == .examine(MailboxName("Sent Items"), SelectParameters()))
        #expect(parseError("a SELECT INBOX ()\r\n")?.reason == .syntax(hint: "empty list"))
        #expect(parseError("a SELECT INBOX (FOO)\r\n")?.reason == .syntax(hint: "unknown SELECT parameter FOO"))
    }

    @Test func selectWithQresync() throws {
        // RFC 7162 §3.2.5.2
        guard case .select(_, let p1) = kind("a SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n")
        else { Issue.record("not a SELECT"); return }
        let q1 = try #require(p1.qresync)
        #expect(q1.uidValidity == 67_890_007)
        #expect(q1.modSeq == 20_050_715_194_045_000)
        #expect(q1.knownUIDs == set((n(41), n(41)), (n(43), n(211)), (n(214), n(541))))
        #expect(q1.sequenceMatch == nil)

        let line = "a SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500 15000,22500)) CONDSTORE)\r\n"
        guard case .select(_, let p2) = kind(line) else { Issue.record("not a SELECT"); return }
        #expect(p2.condStore)
        let q2 = try #require(p2.qresync)
        #expect(q2.knownUIDs == set((n(1), n(29997))))
        let match = try #require(q2.sequenceMatch)
        #expect(match.0 == set((n(5000), n(5000)), (n(7500), n(7500))))
        #expect(match.1 == set((n(15000), n(15000)), (n(22500), n(22500))))

        guard case .examine(_, let p3) = kind("a EXAMINE INBOX (QRESYNC (1 0 (1:2 3:4)))\r\n")
        else { Issue.record("not an EXAMINE"); return }
        #expect(p3.qresync?.knownUIDs == nil)
        #expect(p3.qresync?.sequenceMatch?.0 == set((n(1), n(2))))

        #expect(parseError("a SELECT INBOX (QRESYNC (0 5))\r\n")?.reason == .syntax(hint: "expected non-zero number"))
    }

    @Test func createDeleteRenameSubscribe() {
        #expect(kind("a CREATE owatagusiam/\r\n") == .create(MailboxName("owatagusiam/"), specialUse: []))
        // RFC 6154 §5.3
        #expect(kind("a CREATE MySpecialArchive (USE (\\Archive \\Drafts))\r\n")
            == .create(MailboxName("MySpecialArchive"), specialUse: ["\\Archive", "\\Drafts"]))
        #expect(parseError("a CREATE x (USE (Archive))\r\n")?.reason == .syntax(hint: "expected \\SpecialUse"))
        #expect(kind("a DELETE blurdybloop\r\n") == .delete(MailboxName("blurdybloop")))
        #expect(kind("a RENAME blurdybloop sarasoop\r\n") == .rename(MailboxName("blurdybloop"), MailboxName("sarasoop")))
        #expect(kind("a SUBSCRIBE #news.comp.mail.mime\r\n") == .subscribe(MailboxName("#news.comp.mail.mime")))
        #expect(kind("a UNSUBSCRIBE {4}\r\nnews\r\n") == .unsubscribe(MailboxName("news")))
    }

    @Test func listBasicForms() {
        // RFC 9051 §6.3.9
        #expect(kind("a LIST \"\" \"\"\r\n") == .list(reference: MailboxName(""), patterns: [[]], ListOptions()))
        #expect(kind("a LIST /usr/staff/jones \"\"\r\n")
            == .list(reference: MailboxName("/usr/staff/jones"), patterns: [[]], ListOptions()))
        #expect(kind("a LIST ~/Mail/ %\r\n") == .list(reference: MailboxName("~/Mail/"), patterns: [bytes("%")], ListOptions()))
        #expect(kind("a LIST \"\" INBOX/*]\r\n") == .list(reference: MailboxName(""), patterns: [bytes("INBOX/*]")], ListOptions()))
    }

    @Test func listExtendedSelectionAndReturnOptions() {
        // RFC 5258 §5
        var o = ListOptions()
        o.subscribed = true
        o.recursiveMatch = true
        o.returnChildren = true
        #expect(kind("a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"INBOX\" \"Drafts\" %) RETURN (CHILDREN)\r\n")
            == .list(reference: MailboxName(""), patterns: [bytes("INBOX"), bytes("Drafts"), bytes("%")], o))

        var s = ListOptions()
        s.specialUse = true
        s.returnSpecialUse = true
        s.returnSubscribed = true
        s.remote = true
        #expect(kind("a LIST (SPECIAL-USE REMOTE) \"\" * RETURN (SPECIAL-USE SUBSCRIBED)\r\n")
            == .list(reference: MailboxName(""), patterns: [bytes("*")], s))

        // RFC 5819
        var st = ListOptions()
        st.returnStatus = [.messages, .unseen, .highestModSeq]
        #expect(kind("a LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN HIGHESTMODSEQ))\r\n")
            == .list(reference: MailboxName(""), patterns: [bytes("%")], st))
        #expect(kind("a LIST () \"\" % RETURN ()\r\n") == .list(reference: MailboxName(""), patterns: [bytes("%")], ListOptions()))

        #expect(parseError("a LIST (RECURSIVEMATCH) \"\" %\r\n")?.reason
            == .syntax(hint: "RECURSIVEMATCH needs another selection option"))
        #expect(parseError("a LIST (BOGUS) \"\" %\r\n")?.reason == .syntax(hint: "unknown LIST selection option BOGUS"))
        #expect(parseError("a LIST \"\" % RETURN (BOGUS)\r\n")?.reason == .syntax(hint: "unknown LIST return option BOGUS"))
        #expect(parseError("a LIST \"\" % RETURN (STATUS ())\r\n")?.reason == .syntax(hint: "empty list"))
        #expect(parseError("a LIST \"\" % EXTRA\r\n")?.reason == .syntax(hint: "expected RETURN"))
        #expect(parseError("a LIST \"\" ()\r\n")?.reason == .syntax(hint: "empty list"))
    }

    @Test func lsub() {
        #expect(kind("a LSUB \"#news.\" \"comp.mail.*\"\r\n") == .lsub(reference: MailboxName("#news."), pattern: bytes("comp.mail.*")))
        #expect(kind("a LSUB \"\" %\r\n") == .lsub(reference: MailboxName(""), pattern: bytes("%")))
    }

    @Test func status() {
        // RFC 9051 §6.3.11
        #expect(kind("a STATUS blurdybloop (UIDNEXT MESSAGES)\r\n") == .status(MailboxName("blurdybloop"), [.uidNext, .messages]))
        let all = StatusAttribute.allCases
        #expect(kind("a STATUS INBOX (\(all.map(\.rawValue).joined(separator: " ").lowercased()))\r\n")
            == .status(MailboxName("INBOX"), all))
        #expect(parseError("a STATUS INBOX ()\r\n")?.reason == .syntax(hint: "empty list"))
        #expect(parseError("a STATUS INBOX (FOO)\r\n")?.reason == .syntax(hint: "unknown STATUS item FOO"))
        #expect(parseError("a STATUS INBOX\r\n")?.reason == .syntax(hint: "expected space"))
    }

    @Test func appendWithFlagsDateAndLiteral() {
        // RFC 9051 §6.3.12
        let msg = "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nSubject: afternoon meeting\r\n\r\nHello Joe\r\n"
        let line = "a APPEND saved-messages (\\Seen $Work) \" 7-Feb-1994 21:52:25 -0800\" {\(msg.utf8.count)}\r\n\(msg)\r\n"
        let date = IMAPDateTime(date: IMAPDate(year: 1994, month: 2, day: 7), hour: 21, minute: 52, second: 25, zoneMinutes: -480)
        #expect(kind(line) == .append(MailboxName("saved-messages"),
                                      [AppendMessage(flags: [.seen, .keyword("$Work")], internalDate: date, data: bytes(msg))]))
        #expect(kind("a APPEND INBOX {3+}\r\nabc\r\n") == .append(MailboxName("INBOX"), [AppendMessage(flags: [], internalDate: nil, data: bytes("abc"))]))
        #expect(kind("a APPEND INBOX () {0}\r\n\r\n") == .append(MailboxName("INBOX"), [AppendMessage(flags: [], internalDate: nil, data: [])]))
    }

    @Test func multiappendAndBinaryAppend() {
        // RFC 3502 §6.3.11
        let line = "a APPEND INBOX (\\Draft) {3+}\r\none \"17-Jul-1996 02:44:25 +0200\" {3+}\r\ntwo ~{2+}\r\n\0\u{1}\r\n"
        let date = IMAPDateTime(date: IMAPDate(year: 1996, month: 7, day: 17), hour: 2, minute: 44, second: 25, zoneMinutes: 120)
        #expect(kind(line) == .append(MailboxName("INBOX"), [
            AppendMessage(flags: [.draft], internalDate: nil, data: bytes("one")),
            AppendMessage(flags: [], internalDate: date, data: bytes("two")),
            AppendMessage(flags: [], internalDate: nil, data: [0, 1], binary: true),
        ]))
        // RFC 6855 §4
        #expect(kind("a APPEND INBOX UTF8 (~{2+}\r\nhi)\r\n")
            == .append(MailboxName("INBOX"), [AppendMessage(flags: [], internalDate: nil, data: bytes("hi"), binary: true)]))
    }

    @Test("bad APPEND date-times are refused", arguments: [
        "\"32-Jul-1996 02:44:25 +0200\"", "\"17-Jux-1996 02:44:25 +0200\"", "\"17-Jul-96 02:44:25 +0200\"",
        "\"17-Jul-1996 24:00:00 +0200\"", "\"17-Jul-1996 02:60:00 +0200\"", "\"17-Jul-1996 02:44:25 0200\"",
        "\"17-Jul-1996 02:44:25 +0260\"", "\"17-Jul-1996 2:44:25 +0200\"", "\"31-Apr-2024 00:00:00 +0000\"",
        "\"29-Feb-2023 00:00:00 +0000\"", "\"17-Jul-1996 02:44:25 +0200",
    ])
    func badAppendDate(_ date: String) {
        #expect(parseError("a APPEND INBOX \(date) {1+}\r\nx\r\n")?.tag == "a")
    }

    @Test func leapDayIsAValidAppendDate() {
        guard case .append(_, let m) = kind("a APPEND INBOX \"29-Feb-2024 12:00:00 +0000\" {1+}\r\nx\r\n") else { return }
        #expect(m.first?.internalDate?.date == IMAPDate(year: 2024, month: 2, day: 29))
        #expect(m.first?.internalDate?.secondsSince1970 == 1_709_208_000)
    }

    @Test func appendNeedsAMessage() {
        #expect(parseError("a APPEND INBOX\r\n")?.reason == .syntax(hint: "APPEND needs a message literal"))
        #expect(parseError("a APPEND INBOX (\\Seen)\r\n") != nil)
        #expect(parseError("a APPEND INBOX \"hello\"\r\n") != nil)
    }

    @Test func metadata() {
        // RFC 5464 §4.2 / §4.3
        var o = MetadataOptions()
        o.maxSize = 1024
        o.depth = "infinity"
        #expect(kind("a GETMETADATA (MAXSIZE 1024 DEPTH INFINITY) INBOX (/shared/comment /private/comment)\r\n")
            == .getMetadata(o, MailboxName("INBOX"), ["/shared/comment", "/private/comment"]))
        #expect(kind("a GETMETADATA \"\" /shared/comment\r\n") == .getMetadata(MetadataOptions(), MailboxName(""), ["/shared/comment"]))
        #expect(parseError("a GETMETADATA (DEPTH 2) INBOX /a\r\n")?.reason == .syntax(hint: "DEPTH is 0, 1 or infinity"))
        #expect(kind("a SETMETADATA INBOX (/private/comment \"My comment\" /shared/x NIL /shared/y {2+}\r\nhi /shared/z ~{1+}\r\n\0)\r\n")
            == .setMetadata(MailboxName("INBOX"), [
                MetadataEntry(name: "/private/comment", value: bytes("My comment")),
                MetadataEntry(name: "/shared/x", value: nil),
                MetadataEntry(name: "/shared/y", value: bytes("hi")),
                MetadataEntry(name: "/shared/z", value: [0]),
            ]))
        #expect(parseError("a SETMETADATA INBOX ()\r\n") != nil)
    }

    @Test func quota() {
        // RFC 9208
        #expect(kind("a GETQUOTA \"\"\r\n") == .getQuota(""))
        #expect(kind("a GETQUOTAROOT INBOX\r\n") == .getQuotaRoot(MailboxName("INBOX")))
        #expect(kind("a SETQUOTA \"\" (storage 512 MESSAGE 10)\r\n") == .setQuota("", [("STORAGE", 512), ("MESSAGE", 10)]))
        #expect(kind("a SETQUOTA \"\" ()\r\n") == .setQuota("", []))
        #expect(kind("a SETQUOTA \"\" (STORAGE 512)\r\n") != .setQuota("", [("STORAGE", 513)]))
        #expect(kind("a SETQUOTA \"\" ()\r\n") != .id(nil))
        #expect(parseError("a SETQUOTA \"\" (STORAGE)\r\n") != nil)
    }

    @Test func compress() {
        #expect(kind("a COMPRESS deflate\r\n") == .compress("DEFLATE"))
        #expect(parseError("a COMPRESS\r\n") != nil)
    }

    // MARK: Selected

    @Test func fetchMacrosAndSingleItems() {
        let s = set((n(2), n(4)))
        #expect(kind("a FETCH 2:4 ALL\r\n") == .fetch(s, [.flags, .internalDate, .rfc822Size, .envelope], FetchModifiers(), uid: false))
        #expect(kind("a FETCH 2:4 FAST\r\n") == .fetch(s, [.flags, .internalDate, .rfc822Size], FetchModifiers(), uid: false))
        #expect(kind("a FETCH 2:4 FULL\r\n") == .fetch(s, [.flags, .internalDate, .rfc822Size, .envelope, .body], FetchModifiers(), uid: false))
        #expect(kind("a FETCH 2:4 flags\r\n") == .fetch(s, [.flags], FetchModifiers(), uid: false))
        let items = "(ENVELOPE FLAGS INTERNALDATE RFC822.SIZE RFC822 RFC822.HEADER RFC822.TEXT UID BODYSTRUCTURE BODY MODSEQ)"
        #expect(kind("a FETCH 1 \(items)\r\n") == .fetch(set((n(1), n(1))), [
            .envelope, .flags, .internalDate, .rfc822Size, .rfc822, .rfc822Header, .rfc822Text, .uid, .bodyStructure, .body, .modSeq,
        ], FetchModifiers(), uid: false))
    }

    @Test func fetchBodySections() {
        let line = "a UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.100> BODY[] BODY[1.2.MIME] BODY[3.TEXT] "
            + "BODY[HEADER.FIELDS.NOT (X-Spam)] BODY[4.1] BODY[HEADER]<10>)\r\n"
        #expect(kind(line) == .fetch(set((n(1), .last)), [
            .bodySection(SectionSpec(text: .headerFields(["DATE", "FROM"])), Partial(offset: 0, length: 100), peek: true),
            .bodySection(SectionSpec(), nil, peek: false),
            .bodySection(SectionSpec(part: [1, 2], text: .mime), nil, peek: false),
            .bodySection(SectionSpec(part: [3], text: .text), nil, peek: false),
            .bodySection(SectionSpec(text: .headerFieldsNot(["X-Spam"])), nil, peek: false),
            .bodySection(SectionSpec(part: [4, 1]), nil, peek: false),
            .bodySection(SectionSpec(text: .header), Partial(offset: 10, length: nil), peek: false),
        ], FetchModifiers(), uid: true))
    }

    @Test func fetchBinary() {
        // RFC 3516
        #expect(kind("a FETCH 1 (BINARY[1.2] BINARY.PEEK[]<0.10> BINARY.SIZE[3])\r\n") == .fetch(set((n(1), n(1))), [
            .binary(part: [1, 2], nil, peek: false),
            .binary(part: [], Partial(offset: 0, length: 10), peek: true),
            .binarySize(part: [3]),
        ], FetchModifiers(), uid: false))
        #expect(parseError("a FETCH 1 BINARY[1.TEXT]\r\n") != nil)
    }

    @Test func fetchModifiers() {
        // RFC 7162 §3.1.4.1 / §3.2.6
        #expect(kind("a FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n")
            == .fetch(set((n(1), .last)), [.flags], FetchModifiers(changedSince: 12345), uid: false))
        #expect(kind("a UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n")
            == .fetch(set((n(300), n(500))), [.flags], FetchModifiers(changedSince: 12345, vanished: true), uid: true))
        #expect(parseError("a FETCH 1 FLAGS (FOO)\r\n")?.reason == .syntax(hint: "unknown FETCH modifier FOO"))
    }

    @Test func fetchErrors() {
        #expect(parseError("a FETCH 1 (FOO)\r\n")?.reason == .syntax(hint: "unknown FETCH item FOO"))
        #expect(parseError("a FETCH 1 BODY.PEEK\r\n")?.reason == .syntax(hint: "BODY.PEEK needs a section"))
        #expect(parseError("a FETCH 1 BODY[FOO]\r\n")?.reason == .syntax(hint: "invalid section"))
        #expect(parseError("a FETCH 1 BODY[]<0.0>\r\n")?.reason == .syntax(hint: "partial length must be non-zero"))
        #expect(parseError("a FETCH 1 BODY[]<99999999999>\r\n")?.reason == .syntax(hint: "partial too large"))
        #expect(parseError("a FETCH 1 ()\r\n")?.reason == .syntax(hint: "empty list"))
        #expect(parseError("a FETCH 0 FLAGS\r\n")?.reason == .syntax(hint: "expected non-zero number"))
        #expect(parseError("a FETCH 4294967296 FLAGS\r\n")?.reason == .syntax(hint: "number too large"))
        #expect(parseError("a FETCH FLAGS\r\n") != nil)
        #expect(parseError("a FETCH 1\r\n") != nil)
    }

    @Test func store() {
        // RFC 9051 §6.4.6 and RFC 7162 §3.1.3
        #expect(kind("a STORE 2:4 +FLAGS (\\Deleted)\r\n")
            == .store(set((n(2), n(4))), StoreRequest(operation: .add, silent: false, flags: [.deleted]), uid: false))
        // The modifiers come before the operation, not after it.
        #expect(parseError("a UID STORE 1,3 +FLAGS.SILENT (UNCHANGEDSINCE 320162338) (\\Seen)\r\n") != nil)
        #expect(kind("a UID STORE 1,3 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Seen $Junk)\r\n")
            == .store(set((n(1), n(1)), (n(3), n(3))),
                      StoreRequest(operation: .add, silent: true, flags: [.seen, .keyword("$Junk")], unchangedSince: 320_162_338),
                      uid: true))
        #expect(kind("a STORE 1 -FLAGS \\Seen \\Flagged\r\n")
            == .store(set((n(1), n(1))), StoreRequest(operation: .remove, silent: false, flags: [.seen, .flagged]), uid: false))
        #expect(kind("a STORE 1 FLAGS ()\r\n")
            == .store(set((n(1), n(1))), StoreRequest(operation: .replace, silent: false, flags: []), uid: false))
        #expect(parseError("a STORE 1 +LABELS (x)\r\n")?.reason == .syntax(hint: "expected FLAGS"))
        #expect(parseError("a STORE 1 (FOO 1) FLAGS (x)\r\n")?.reason == .syntax(hint: "unknown STORE modifier"))
        #expect(parseError("a STORE 1 FLAGS (caf\u{e9})\r\n")?.reason == .syntax(hint: "keywords are ASCII atoms"))
    }

    @Test func copyMoveAndUidExpunge() {
        #expect(kind("a COPY 2:4 MEETING\r\n") == .copy(set((n(2), n(4))), MailboxName("MEETING"), uid: false))
        #expect(kind("a UID COPY $ \"Saved\"\r\n") == .copy(.lastSearchResult, MailboxName("Saved"), uid: true))
        #expect(kind("a MOVE 1:* Trash\r\n") == .move(set((n(1), .last)), MailboxName("Trash"), uid: false))
        #expect(kind("a uid move 42 Trash\r\n") == .move(set((n(42), n(42))), MailboxName("Trash"), uid: true))
        #expect(kind("a UID EXPUNGE 3000:3002\r\n") == .uidExpunge(set((n(3000), n(3002)))))
        #expect(kind("a UID COPY 1 x\r\n") != kind("a COPY 1 x\r\n"))
        #expect(parseError("a COPY 1\r\n") != nil)
    }

    @Test func search() {
        // RFC 9051 §6.4.4
        let req = SearchRequest(returnOptions: nil, charset: nil,
                                key: .and([.flagged, .since(IMAPDate(year: 1994, month: 2, day: 1)), .not(.from("Smith"))]))
        #expect(kind("a SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n") == .search(req, uid: false))
        #expect(kind("a UID SEARCH ALL\r\n") == .search(SearchRequest(returnOptions: nil, charset: nil, key: .all), uid: true))
        #expect(kind("a SEARCH CHARSET UTF-8 TEXT {6}\r\nXXXXXX\r\n")
            == .search(SearchRequest(returnOptions: nil, charset: "UTF-8", key: .text("XXXXXX")), uid: false))
    }

    @Test func searchReturnOptions() {
        // RFC 4731 / RFC 5182
        var o = SearchReturnOptions()
        o.min = true; o.max = true; o.count = true
        #expect(kind("a UID SEARCH RETURN (MIN MAX COUNT) UNDELETED\r\n")
            == .search(SearchRequest(returnOptions: o, charset: nil, key: .undeleted), uid: true))
        #expect(kind("a SEARCH RETURN () ALL\r\n")
            == .search(SearchRequest(returnOptions: SearchReturnOptions(), charset: nil, key: .all), uid: false))
        var save = SearchReturnOptions()
        save.save = true; save.all = true
        #expect(kind("a SEARCH RETURN (SAVE ALL) CHARSET \"US-ASCII\" SEEN\r\n")
            == .search(SearchRequest(returnOptions: save, charset: "US-ASCII", key: .seen), uid: false))
        #expect(parseError("a SEARCH RETURN (FOO) ALL\r\n")?.reason == .syntax(hint: "unknown SEARCH return option FOO"))
    }

    @Test func searchKeysOfEveryKind() {
        let d = IMAPDate(year: 2024, month: 12, day: 31)
        let line = "a SEARCH ANSWERED DELETED DRAFT FLAGGED SEEN RECENT NEW OLD UNANSWERED UNDELETED UNDRAFT UNFLAGGED "
            + "UNSEEN KEYWORD $Junk UNKEYWORD foo BCC b CC c FROM f TO t SUBJECT \"s s\" BODY b TEXT t "
            + "HEADER X-Mailer \"\" BEFORE 31-Dec-2024 ON \"31-Dec-2024\" SINCE 31-dec-2024 SENTBEFORE 31-Dec-2024 "
            + "SENTON 31-Dec-2024 SENTSINCE 31-Dec-2024 LARGER 100 SMALLER 5000000000 UID 1:*,7 1,2:$ "
            + "OR SEEN (FLAGGED DRAFT) NOT NOT ALL MODSEQ 620162338 MODSEQ \"/flags/\\\\draft\" all 620162338 $\r\n"
        let keys: [SearchKey] = [
            .answered, .deleted, .draft, .flagged, .seen, .recent, .new, .old, .unanswered, .undeleted, .undraft, .unflagged,
            .unseen, .keyword("$Junk"), .unkeyword("foo"), .bcc("b"), .cc("c"), .from("f"), .to("t"), .subject("s s"),
            .body("b"), .text("t"), .header("X-Mailer", ""), .before(d), .on(d), .since(d), .sentBefore(d), .sentOn(d),
            .sentSince(d), .larger(100), .smaller(5_000_000_000), .uid(set((n(1), .last), (n(7), n(7)))),
            .sequence(set((n(1), n(1)), (n(2), .number(2)))),
            .or(.seen, .and([.flagged, .draft])), .not(.not(.all)), .modSeq(620_162_338), .modSeq(620_162_338),
            .sequence(.lastSearchResult),
        ]
        // `2:$` is not a sequence set: `$` stands alone. Check the rest without it first.
        #expect(parseError(line) != nil)
        let fixed = line.replacing("1,2:$", with: "1,2")
        #expect(kind(fixed) == .search(SearchRequest(returnOptions: nil, charset: nil, key: .and(keys)), uid: false))
    }

    @Test("bad SEARCH dates are refused", arguments: [
        "32-Jan-2024", "0-Jan-2024", "1-Foo-2024", "1-Jan-24", "1-Jan-20245", "1Jan-2024", "\"1-Jan-2024", "29-Feb-2023",
        "31-Jun-2024", "",
    ])
    func badSearchDate(_ date: String) {
        let e = parseError("a SEARCH SINCE \(date)\r\n")
        #expect(e?.tag == "a")
        if case .syntax = e?.reason {} else { Issue.record("expected a syntax error, got \(String(describing: e))") }
    }

    @Test func searchErrors() {
        #expect(parseError("a SEARCH\r\n") != nil)
        #expect(parseError("a SEARCH FOO\r\n")?.reason == .syntax(hint: "unknown search key FOO"))
        #expect(parseError("a SEARCH OR SEEN\r\n") != nil)
        #expect(parseError("a SEARCH ()\r\n")?.reason == .syntax(hint: "empty list"))
        #expect(parseError("a SEARCH (SEEN\r\n") != nil)
        #expect(parseError("a SEARCH SEEN)\r\n") != nil)
        #expect(parseError("a SEARCH LARGER x\r\n")?.reason == .syntax(hint: "expected number"))
    }

    // MARK: Errors

    @Test func unknownCommandsCarryTheirTagAndName() {
        #expect(parseError("x1 FROBNICATE\r\n") == CommandParseError(tag: "x1", reason: .unknownCommand("FROBNICATE")))
        #expect(parseError("x1 UID FROB 1\r\n") == CommandParseError(tag: "x1", reason: .unknownCommand("UID FROB")))
        #expect(parseError("x1 123\r\n") == CommandParseError(tag: "x1", reason: .syntax(hint: "expected command name")))
        #expect(parseError("x1\r\n") == CommandParseError(tag: "x1", reason: .syntax(hint: "expected space")))
        #expect(parseError("x1 NOOP")?.reason == .syntax(hint: "expected end of command"))
        #expect(parseError("x1 NOOP\r\nx2 NOOP\r\n")?.reason == .syntax(hint: "expected end of command"))
        #expect(parseError("")?.tag == nil)
        #expect(CommandParseError(tag: "a", reason: .unknownCommand("X")).description == "Unknown command X")
        #expect(CommandParseError(tag: "a", reason: .unknownCommand("X")).limitName == nil)
    }

    @Test func nestingDeeperThanTheLimitIsTooDeep() {
        let limits = GrammarLimits.test(maxDepth: 8)
        let ok = "a SEARCH " + String(repeating: "(", count: 8) + "SEEN" + String(repeating: ")", count: 8) + "\r\n"
        #expect(kind(ok) == .search(SearchRequest(returnOptions: nil, charset: nil, key: .seen), uid: false))
        #expect((try? parse(ok, limits: limits)) != nil)
        let deep = "a SEARCH " + String(repeating: "(", count: 9) + "SEEN" + String(repeating: ")", count: 9) + "\r\n"
        let e = parseError(deep, limits: limits)
        #expect(e == CommandParseError(tag: "a", reason: .tooDeep(limit: 8)))
        #expect(e?.limitName == "max_nesting_depth")
        #expect(parseError("a SEARCH " + String(repeating: "NOT ", count: 9) + "SEEN\r\n", limits: limits)?.reason == .tooDeep(limit: 8))
        #expect(parseError("a SEARCH " + String(repeating: "OR SEEN ", count: 9) + "SEEN\r\n", limits: limits)?.reason == .tooDeep(limit: 8))
        #expect(parseError("a FETCH 1 BODY[" + Array(repeating: "1", count: 9).joined(separator: ".") + "]\r\n", limits: limits)?.reason
            == .tooDeep(limit: 8))
    }

    @Test func tooManySequenceRanges() {
        let limits = GrammarLimits.test(maxSequenceRanges: 10)
        let ten = (1...10).map { "\($0 * 2)" }.joined(separator: ",")
        #expect((try? parse("a FETCH \(ten) FLAGS\r\n", limits: limits)) != nil)
        let e = parseError("a FETCH \(ten),99 FLAGS\r\n", limits: limits)
        #expect(e == CommandParseError(tag: "a", reason: .tooManySequenceRanges(limit: 10)))
        #expect(e?.limitName == "max_sequence_ranges")
        #expect(parseError("a UID SEARCH UID \(ten),99\r\n", limits: limits)?.reason == .tooManySequenceRanges(limit: 10))
    }

    @Test func tooManyArguments() {
        let limits = GrammarLimits.test(maxArguments: 5)
        func check(_ line: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(parseError(line, limits: limits) == CommandParseError(tag: "a", reason: .tooManyArguments(limit: 5)),
                    sourceLocation: sourceLocation)
        }
        check("a FETCH 1 (FLAGS UID FLAGS UID FLAGS UID)\r\n")
        check("a STORE 1 FLAGS (a b c d e f)\r\n")
        check("a STORE 1 FLAGS a b c d e f\r\n")
        check("a SEARCH SEEN SEEN SEEN SEEN SEEN SEEN\r\n")
        check("a ENABLE A B C D E F\r\n")
        check("a STATUS INBOX (MESSAGES MESSAGES MESSAGES MESSAGES MESSAGES MESSAGES)\r\n")
        check("a APPEND INBOX {1+}\r\n1 {1+}\r\n2 {1+}\r\n3 {1+}\r\n4 {1+}\r\n5 {1+}\r\n6\r\n")
        check("a SETMETADATA INBOX (/a NIL /b NIL /c NIL /d NIL /e NIL /f NIL)\r\n")
        #expect((try? parse("a STORE 1 FLAGS (a b c d e)\r\n", limits: limits)) != nil)
        #expect(CommandParseError(tag: nil, reason: .tooManyArguments(limit: 5)).limitName == "max_arguments")
    }

    @Test func commandNamesAreReportedForLogs() {
        #expect(kind("a UID FETCH 1 FLAGS\r\n")?.name == "UID FETCH")
        #expect(kind("a FETCH 1 FLAGS\r\n")?.name == "FETCH")
        #expect(kind("a UID EXPUNGE 1\r\n")?.name == "UID EXPUNGE")
        #expect(kind("a GETQUOTAROOT INBOX\r\n")?.name == "GETQUOTAROOT")
    }

    // MARK: Mailbox names

    @Test func inboxIsCaseInsensitiveAndModifiedUTF7IsDecoded() {
        #expect(MailboxName("inbox").isInbox)
        #expect(MailboxName("iNbOx").decoded(utf8Accepted: false) == "INBOX")
        #expect(MailboxName("inbox/Sub").decoded(utf8Accepted: true) == "INBOX/Sub")
        #expect(!MailboxName("inboxes").isInbox)
        #expect(MailboxName("&ZeVnLIqe-").decoded(utf8Accepted: false) == "日本語")
        #expect(MailboxName("&ZeVnLIqe-").decoded(utf8Accepted: true) == "&ZeVnLIqe-")
        #expect(MailboxName("日本語").decoded(utf8Accepted: false) == "日本語")
        // Only ASCII case-folding makes INBOX: a dotless ı upper-cases to I but is another name.
        #expect(MailboxName("\u{131}nbox/x").decoded(utf8Accepted: true) == "\u{131}nbox/x")
        #expect(!MailboxName("\u{131}nbox").isInbox)
        #expect(MailboxName("Inbox/x").decoded(utf8Accepted: false) == "INBOX/x")
    }

    @Test func sequenceSetsResolveStar() {
        let s = set((n(3), .last), (n(10), n(8)))
        #expect(s.contains(5, last: 6))
        #expect(!s.contains(7, last: 6))
        #expect(s.contains(9, last: 6))
        #expect(!SequenceSet.lastSearchResult.contains(1, last: 1))
        #expect(SequenceRange(.last, n(3)).resolved(last: 0) == 0...3)
    }
}
