import Foundation
import KeepGuard
import KeepServer
import KeepStore
import Testing

/// Real clients against the real server over real sockets: Python's imaplib (plain, STARTTLS and implicit TLS) and
/// smtplib's LMTP, curl's IMAP support, mbsync (isync) and offlineimap syncing with a Maildir. A test whose client
/// is not installed is skipped, naming the package to install — except where `KEEP_REQUIRE_CLIENTS` is set (CI,
/// which installs them): there it fails.
@Suite struct RealClientTests {
    static let script = #"""
import imaplib, smtplib, ssl, sys
from email.message import EmailMessage
imap_port, imaps_port, lmtp_port = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE

lm = smtplib.LMTP('127.0.0.1', lmtp_port)
msg = EmailMessage(); msg['From'] = 'bob@example.org'; msg['To'] = 'alice@example.org'
msg['Subject'] = 'Grüße via LMTP'; msg.set_content('Hello Alice,\nthis came over LMTP.\n')
assert lm.send_message(msg) == {}, 'LMTP refused a recipient'
lm.quit()

M = imaplib.IMAP4('127.0.0.1', imap_port)
assert 'STARTTLS' in M.capabilities
M.starttls(ssl_context=ctx)
assert M.login('alice', 'secret')[0] == 'OK'
typ, data = M.select('INBOX'); assert typ == 'OK' and data == [b'1'], data
typ, data = M.fetch('1', '(ENVELOPE BODY[TEXT])'); assert typ == 'OK', data
assert b'this came over LMTP' in data[0][1], data
typ, _ = M.append('INBOX', r'(\Seen $Work)', None, b'From: me@x\r\nSubject: second\r\n\r\nsecond body\r\n'); assert typ == 'OK'
M.noop()
typ, data = M.search(None, 'KEYWORD', '$Work'); assert data == [b'2'], data
typ, data = M.uid('SEARCH', 'BODY', 'second'); assert data == [b'2'], data
assert M.create('Work/Projects')[0] == 'OK'
typ, data = M.list(); assert typ == 'OK' and any(b'Work/Projects' in l for l in data), data
assert M.uid('COPY', '1', 'Work/Projects')[0] == 'OK'
assert M.store('2', '+FLAGS', r'(\Deleted)')[0] == 'OK'
typ, data = M.expunge(); assert data == [b'2'], data
typ, data = M.status('Work/Projects', '(MESSAGES)'); assert b'MESSAGES 1' in data[0], data
assert M.delete('Work/Projects')[0] == 'OK'
M.logout()

S = imaplib.IMAP4_SSL('127.0.0.1', imaps_port, ssl_context=ctx)
assert S.login('alice', 'secret')[0] == 'OK'
typ, data = S.select('INBOX', readonly=True); assert data == [b'1'], data
S.logout()
print('real clients OK')
"""#

    @Test(.requires("python3", package: "python3"))
    func pythonImaplibAndLMTPWorkOverPlainSTARTTLSAndImplicitTLS() async throws {
        let s = try await TestServer.start { $0.imapsAddress = "127.0.0.1:0" }
        defer { Task { await s.stopAndRemove() } }
        let python = try ClientProgram.require("python3", install: "python3")
        let r = try await python.run(["-c", Self.script, "\(s.imapPort)", "\(s.server.addresses.imaps!)", "\(s.lmtpPort)"])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("real clients OK"))
    }

    // MARK: curl

    static let curlMessage = "From: bob@example.org\r\nTo: alice@example.org\r\nSubject: uploaded by curl\r\n"
        + "Message-ID: <curl-1@example.org>\r\n\r\nHello from curl.\r\n"

    @Test(.requires("curl", package: "curl"))
    func curlListsAppendsFetchesSearchesStoresCopiesMovesAndExpunges() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let curl = try ClientProgram.require("curl", install: "curl")
        let file = s.directory.appendingPathComponent("curl-message.eml")
        try Data(Self.curlMessage.utf8).write(to: file)
        let base = "imap://127.0.0.1:\(s.imapPort)"
        /// One curl run (one connection, one login); its standard output, or a thrown failure with its trace.
        func imap(_ url: String, _ request: String? = nil, _ extra: [String] = []) async throws -> String {
            var arguments = ["-sS", "--max-time", "10", "--user", "alice:secret", url] + extra
            if let request { arguments += ["-X", request] }
            let r = try await curl.run(arguments)
            guard r.status == 0 else { throw TestFailure("curl \(arguments.joined(separator: " ")) exited \(r.status): \(r.output)") }
            return r.output
        }

        _ = try await imap("\(base)/INBOX", nil, ["-T", file.path])  // APPEND "INBOX" (\Seen) {n}
        #expect(try await imap("\(base)/").contains(#""/" INBOX"#))
        #expect(try await imap("\(base)/INBOX;UID=1") == Self.curlMessage)
        #expect(try await imap("\(base)/INBOX;UID=1;SECTION=TEXT").contains("Hello from curl."))
        #expect(try await imap("\(base)/INBOX", "UID SEARCH ALL").contains("* SEARCH 1"))
        #expect(try await imap("\(base)/INBOX?SUBJECT%20curl").contains("* SEARCH 1"))
        #expect(try await imap("\(base)/INBOX", #"STORE 1 +FLAGS (\Flagged)"#).contains(#"\Flagged"#))
        let cleared = try await imap("\(base)/INBOX", #"STORE 1 -FLAGS (\Flagged \Seen)"#)
        #expect(cleared.contains("* 1 FETCH (FLAGS ())"), "\(cleared)")

        _ = try await imap("\(base)/", "CREATE Archive")
        #expect(try await imap("\(base)/").contains(#""/" Archive"#))
        _ = try await imap("\(base)/INBOX", "UID COPY 1 Archive")
        #expect(try await imap("\(base)/", "STATUS Archive (MESSAGES)").contains("MESSAGES 1"))
        let moved = try await imap("\(base)/INBOX", "UID MOVE 1 Archive")
        #expect(moved.contains("* 1 EXPUNGE"), "\(moved)")
        #expect(try await imap("\(base)/", "STATUS INBOX (MESSAGES)").contains("MESSAGES 0"))
        let examined = try await imap("\(base)/", "EXAMINE Archive")
        #expect(examined.contains("* 2 EXISTS"), "\(examined)")

        _ = try await imap("\(base)/Archive", #"STORE 1 +FLAGS.SILENT (\Deleted)"#)
        #expect(try await imap("\(base)/Archive", "EXPUNGE").contains("* 1 EXPUNGE"))
        #expect(try await imap("\(base)/", "STATUS Archive (MESSAGES)").contains("MESSAGES 1"))

        // STARTTLS, verifying the server's self-signed certificate (its subjectAltName holds IP 127.0.0.1).
        let tls = ["--ssl-reqd", "--cacert", s.directory.appendingPathComponent("tls/cert.pem").path]
        _ = try await imap("\(base)/INBOX", nil, ["-T", file.path] + tls)
        #expect(try await imap("\(base)/INBOX", "UID SEARCH ALL", tls).contains("* SEARCH 2"))
        #expect(try await imap("\(base)/INBOX;UID=2;SECTION=TEXT", nil, tls).contains("Hello from curl."))
    }

    /// What NeoMutt's folder browser does: `CREATE Parent/Child` (NeoMutt's "Create Parent/Child?"), then `LIST "" %`.
    /// RFC 3501 §6.3.3/RFC 9051 §6.3.4: CREATE SHOULD create the superior names; §6.3.8/§6.3.9: a level of hierarchy
    /// matched by `%` that is not a mailbox is still returned, with \Noselect (\NonExistent in IMAP4rev2).
    @Test(.requires("curl", package: "curl"))
    func curlListsTheParentOfANestedMailboxCreatedAlone() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let curl = try ClientProgram.require("curl", install: "curl")
        let base = "imap://127.0.0.1:\(s.imapPort)/"
        let created = try await curl.run(["-sS", "--max-time", "10", "--user", "alice:secret", base, "-X", "CREATE Parent/Child"])
        #expect(created.status == 0, "\(created.output)")
        let top = try await curl.run(["-sS", "--max-time", "10", "--user", "alice:secret", base, "-X", #"LIST "" %"#])
        #expect(top.output.contains(#""/" Parent"#), "LIST \"\" % hides Parent/Child: \(top.output)")
    }

    // MARK: mbsync

    /// A Maildir on one side of mbsync, the server on the other; `Create Both`, `Expunge Both`, `Remove Both`.
    struct Mbsync {
        let program: ClientProgram
        let maildir: URL
        let config: URL

        init(server s: TestServer, starttls: Bool) throws {
            program = try ClientProgram.require("mbsync", install: "isync")
            let root = s.directory.appendingPathComponent("mbsync-\(starttls ? "starttls" : "plain")")
            maildir = root.appendingPathComponent("Mail")
            config = root.appendingPathComponent("mbsyncrc")
            try FileManager.default.createDirectory(at: maildir, withIntermediateDirectories: true)
            try write(port: s.imapPort, starttls: starttls, certificate: s.directory.appendingPathComponent("tls/cert.pem"))
        }

        /// (Re)writes the configuration, e.g. for the new port of a restarted server.
        func write(port: Int, starttls: Bool, certificate: URL) throws {
            let tls = starttls ? "SSLType STARTTLS\nCertificateFile \(certificate.path)" : "SSLType None"
            let text = """
                IMAPAccount keep
                Host 127.0.0.1
                Port \(port)
                User alice
                Pass secret
                \(tls)

                IMAPStore keep-far
                Account keep

                MaildirStore keep-near
                Path \(maildir.path)/
                Inbox \(maildir.path)/INBOX
                SubFolders Verbatim

                Channel keep
                Far :keep-far:
                Near :keep-near:
                Patterns *
                Create Both
                Remove Both
                Expunge Both
                SyncState *

                """
            try Data(text.utf8).write(to: config)
        }

        /// One full two-way sync; throws with mbsync's verbose trace when it fails.
        func sync(timeout: Double = 20) async throws {
            let r = try await program.run(["-V", "-c", config.path, "keep"], timeout: timeout)
            guard r.status == 0 else { throw TestFailure("mbsync exited \(r.status):\n\(r.output)") }
        }

        func folder(_ name: String) -> URL { maildir.appendingPathComponent(name) }

        /// The message files of a Maildir folder (`cur` and `new`), by file name.
        func messages(_ name: String) -> [URL] {
            ["cur", "new"].flatMap { sub -> [URL] in
                let dir = folder(name).appendingPathComponent(sub)
                let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
                return names.map { dir.appendingPathComponent($0) }
            }.sorted { $0.lastPathComponent < $1.lastPathComponent }
        }

        /// The Maildir flags of a message file (`…:2,FS` → "FS").
        static func flags(_ file: URL) -> String {
            let name = file.lastPathComponent
            guard let r = name.range(of: ":2,") else { return "" }
            return String(name[r.upperBound...])
        }

        /// Gives a message file exactly `flags` (Maildir letters, e.g. "FS", "ST"), moving it to `cur`.
        @discardableResult
        static func setFlags(_ file: URL, _ flags: String) throws -> URL {
            let base = file.lastPathComponent.components(separatedBy: ":2,")[0]
            let target = file.deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("cur").appendingPathComponent("\(base):2,\(String(flags.sorted()))")
            try FileManager.default.moveItem(at: file, to: target)
            return target
        }

        /// Puts a new message into a Maildir folder, creating the folder when needed.
        func deliverLocally(_ folderName: String, subject: String) throws {
            for sub in ["cur", "new", "tmp"] {
                try FileManager.default.createDirectory(at: folder(folderName).appendingPathComponent(sub), withIntermediateDirectories: true)
            }
            let text = "From: carol@example.org\nTo: alice@example.org\nSubject: \(subject)\nMessage-ID: <\(UUID().uuidString)@example.org>\n\nwritten into the Maildir\n"
            let file = folder(folderName).appendingPathComponent("new/\(Int(Date().timeIntervalSince1970)).\(UUID().uuidString).test")
            try Data(text.utf8).write(to: file)
        }
    }

    /// INBOX gets two messages (the second \Flagged \Seen) and `Work` one, over IMAP.
    static func seed(_ s: TestServer) async throws {
        let c = try await s.login()
        for (box, flags, subject) in [("INBOX", "", "first"), ("INBOX", #"\Flagged \Seen"#, "second"), ("Work", "", "in work")] {
            if box != "INBOX" { _ = try await c.command("CREATE \(box)") }
            let m = "From: bob@example.org\r\nSubject: \(subject)\r\nMessage-ID: <\(UUID().uuidString)@example.org>\r\n\r\nbody of \(subject)\r\n"
            try await c.send("a APPEND \(box) (\(flags)) {\(m.utf8.count)+}\r\n\(m)\r\n")
            let r = try await c.readUntilTagged("a")
            guard r.last?.hasPrefix("a OK") == true else { throw TestFailure("APPEND: \(r)") }
        }
        _ = try await c.command("LOGOUT")
    }

    @Test(.requires("mbsync", package: "isync"), arguments: [false, true])
    func mbsyncPullsFoldersMessagesAndFlagsIntoAMaildir(starttls: Bool) async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let m = try Mbsync(server: s, starttls: starttls)
        try await Self.seed(s)
        try await m.sync()
        let inbox = m.messages("INBOX")
        #expect(inbox.count == 2, "\(inbox)")
        #expect(inbox.map(Mbsync.flags).sorted() == ["", "FS"], "\(inbox)")
        #expect(m.messages("Work").count == 1)
        let text = try inbox.map { try String(contentsOf: $0, encoding: .utf8) }.joined()
        #expect(text.contains("body of first") && text.contains("body of second"))
    }

    @Test(.requires("mbsync", package: "isync"), arguments: [false, true])
    func mbsyncPushesAppendsFlagsExpungesAndNewFoldersBackToTheServer(starttls: Bool) async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let m = try Mbsync(server: s, starttls: starttls)
        try await Self.seed(s)
        try await m.sync()
        let inbox = m.messages("INBOX")
        try #require(inbox.count == 2)
        let first = try #require(inbox.first { Mbsync.flags($0).isEmpty })
        let second = try #require(inbox.first { Mbsync.flags($0) == "FS" })
        try Mbsync.setFlags(first, "FS")         // +\Flagged +\Seen on UID 1
        try Mbsync.setFlags(second, "ST")        // -\Flagged +\Deleted on UID 2: Expunge Both removes it
        try m.deliverLocally("INBOX", subject: "appended by mbsync")
        try m.deliverLocally("Local", subject: "in a folder made in the Maildir")
        let c = try await s.login()
        _ = try await c.command("CREATE Remote")

        try await m.sync()  // Keep today answers mbsync's `CHECK` with BAD (RFC 3501 §6.4.1), and mbsync gives up here.

        let fetched = try await c.command("EXAMINE INBOX") + c.command("UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        let all = fetched.joined(separator: "\n")
        #expect(fetched.contains("* 2 EXISTS"), "\(all)")
        #expect(all.contains("appended by mbsync"), "\(all)")
        #expect(fetched.contains { $0.contains("UID 1 ") && $0.contains(#"\Flagged"#) && $0.contains(#"\Seen"#) }, "\(all)")
        #expect(!fetched.contains { $0.contains("UID 2 ") }, "UID 2 was expunged: \(all)")
        #expect(try await c.command("STATUS Local (MESSAGES)").contains { $0.contains("MESSAGES 1") })
        #expect(FileManager.default.fileExists(atPath: m.folder("Remote").appendingPathComponent("cur").path))
        #expect(m.messages("INBOX").count == 2)
    }

    // MARK: Deep pipelining (more messages than imap.max_pending_commands)

    /// 2.5 × `imap.max_pending_commands`: mbsync (no `PipelineDepth`) and offlineimap send one command per message,
    /// all at once. (CI's `bench/sync.sh` does the same with 5,000 messages on the release build.)
    static let manyMessages = 250

    /// Puts `count` small messages into `folder` of alice, through the store.
    static func fill(_ s: TestServer, folder: String = "INBOX", count: Int) async throws {
        for i in 1...count {
            let m = "From: bob@example.org\r\nSubject: message \(i)\r\nMessage-ID: <many-\(i)@example.org>\r\n\r\nbody \(i)\r\n"
            _ = try await s.store.append(user: "alice", folder: folder, message: Array(m.utf8), flags: MessageFlags(),
                                         internalDate: nil, principal: .user("alice"))
        }
    }

    /// The server's message count of `folder`.
    static func messages(_ s: TestServer, _ folder: String) async throws -> Int? {
        let c = try await s.login()
        let line = try await c.command("STATUS \(folder) (MESSAGES)").first ?? ""
        _ = try await c.command("LOGOUT")
        guard let r = line.range(of: "MESSAGES ") else { return nil }
        return Int(line[r.upperBound...].prefix { $0.isNumber })
    }

    @Test(.requires("mbsync", package: "isync"), arguments: [false, true])
    func mbsyncSyncsMoreMessagesThanThePendingLimitBothWaysWithoutAResetOrADuplicate(starttls: Bool) async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let m = try Mbsync(server: s, starttls: starttls)
        try await Self.fill(s, count: Self.manyMessages)
        try await m.sync(timeout: 120)
        #expect(m.messages("INBOX").count == Self.manyMessages)
        for i in 1...Self.manyMessages { try m.deliverLocally("Pushed", subject: "pushed \(i)") }
        try await m.sync(timeout: 120)
        #expect(try await Self.messages(s, "Pushed") == Self.manyMessages)
        try await m.sync(timeout: 120)  // nothing new either way: a duplicate would show here
        #expect(try await Self.messages(s, "Pushed") == Self.manyMessages)
        #expect(try await Self.messages(s, "INBOX") == Self.manyMessages)
        #expect(m.messages("INBOX").count == Self.manyMessages)
        #expect(m.messages("Pushed").count == Self.manyMessages)
        #expect(s.server.reporter.count(.pendingCommandsReset) == 0)
        #expect(s.server.reporter.count(.floodBan) == 0)
    }

    /// offlineimap (Debian's offlineimap3) with a Maildir, plain and STARTTLS (by name: it checks DNS names only, so
    /// `localhost`, which the self-signed certificate names).
    struct OfflineIMAP {
        let program: ClientProgram
        let root: URL
        let config: URL
        var maildir: URL { root.appendingPathComponent("Mail") }

        init(server s: TestServer, starttls: Bool) throws {
            program = try ClientProgram.require("offlineimap", install: "offlineimap3")
            root = s.directory.appendingPathComponent("offlineimap-\(starttls ? "starttls" : "plain")")
            config = root.appendingPathComponent("offlineimaprc")
            try FileManager.default.createDirectory(at: maildir, withIntermediateDirectories: true)
            let tls = starttls
                ? "starttls = yes\nsslcacertfile = \(s.directory.appendingPathComponent("tls/cert.pem").path)"
                : "starttls = no"
            let text = """
                [general]
                accounts = keep
                metadata = \(root.appendingPathComponent("meta").path)

                [Account keep]
                localrepository = near
                remoterepository = far

                [Repository near]
                type = Maildir
                localfolders = \(maildir.path)

                [Repository far]
                type = IMAP
                remotehost = \(starttls ? "localhost" : "127.0.0.1")
                remoteport = \(s.imapPort)
                remoteuser = alice
                remotepass = secret
                ssl = no
                \(tls)

                """
            try Data(text.utf8).write(to: config)
        }

        /// One sync; throws with offlineimap's output when it fails or reports an error.
        func sync() async throws {
            let r = try await program.run(["-c", config.path, "-o", "-u", "basic"], timeout: 120)
            guard r.status == 0, !r.output.contains("ERROR") else { throw TestFailure("offlineimap exited \(r.status):\n\(r.output)") }
        }

        func messages(_ folder: String) -> Int {
            ["cur", "new"].reduce(0) { n, sub in
                n + ((try? FileManager.default.contentsOfDirectory(atPath: maildir.appendingPathComponent("\(folder)/\(sub)").path))?.count ?? 0)
            }
        }

        func deliverLocally(_ folder: String, count: Int) throws {
            for sub in ["cur", "new", "tmp"] {
                try FileManager.default.createDirectory(at: maildir.appendingPathComponent("\(folder)/\(sub)"), withIntermediateDirectories: true)
            }
            for i in 1...count {
                let text = "From: carol@example.org\nSubject: offline \(i)\nMessage-ID: <\(UUID().uuidString)@example.org>\n\nbody \(i)\n"
                try Data(text.utf8).write(to: maildir.appendingPathComponent("\(folder)/new/\(Int(Date().timeIntervalSince1970)).\(i).\(UUID().uuidString).test"))
            }
        }
    }

    @Test(.requires("offlineimap", package: "offlineimap3"), arguments: [false, true])
    func offlineimapSyncsMoreMessagesThanThePendingLimitBothWaysWithoutAResetOrADuplicate(starttls: Bool) async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let o = try OfflineIMAP(server: s, starttls: starttls)
        try await Self.fill(s, count: Self.manyMessages)
        try await o.sync()
        #expect(o.messages("INBOX") == Self.manyMessages)
        try o.deliverLocally("Pushed", count: Self.manyMessages)
        try await o.sync()
        #expect(try await Self.messages(s, "Pushed") == Self.manyMessages)
        try await o.sync()
        #expect(try await Self.messages(s, "Pushed") == Self.manyMessages)
        #expect(try await Self.messages(s, "INBOX") == Self.manyMessages)
        #expect(o.messages("INBOX") == Self.manyMessages)
        #expect(o.messages("Pushed") == Self.manyMessages)
        #expect(s.server.reporter.count(.pendingCommandsReset) == 0)
    }

    @Test(.requires("mbsync", package: "isync"))
    func mbsyncFindsEverythingUnchangedAfterAServerRestart() async throws {
        let s = try await TestServer.start()
        let m: Mbsync
        let before: [String]
        do {
            m = try Mbsync(server: s, starttls: false)
            try await Self.seed(s)
            try await m.sync()
            before = (m.messages("INBOX") + m.messages("Work")).map(\.lastPathComponent)
            try #require(before.count == 3)
        } catch {
            await s.stopAndRemove()
            throw error
        }
        await s.stop()
        let again = try await TestServer.start(directory: s.directory)
        defer { Task { await again.stopAndRemove() } }
        try m.write(port: again.imapPort, starttls: false, certificate: again.directory.appendingPathComponent("tls/cert.pem"))
        try await m.sync()  // a changed UIDVALIDITY or lost message would make mbsync fetch again or fail
        #expect((m.messages("INBOX") + m.messages("Work")).map(\.lastPathComponent) == before)
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs the test where `program` is installed (or required: `KEEP_REQUIRE_CLIENTS`); skips it otherwise, naming
    /// the Debian package that provides it.
    static func requires(_ program: String, package: String) -> Self {
        .enabled(if: ClientProgram.isAvailable(program), "`\(program)` is not installed (apt-get install -y \(package))")
    }
}

/// An installed command-line client. Runs are blocking `Process` calls on a Dispatch thread, never on Swift's
/// cooperative pool, and are terminated after a timeout so a hanging client fails its test instead of the run.
struct ClientProgram: Sendable {
    let url: URL
    /// Serialises `Process.run` (see `run`).
    static let launching = NSLock()

    /// Whether `name` is on `PATH`, or required to be (`KEEP_REQUIRE_CLIENTS` set: a missing program then fails its
    /// test in `require` instead of skipping it).
    static func isAvailable(_ name: String) -> Bool {
        ProcessInfo.processInfo.environment["KEEP_REQUIRE_CLIENTS"] != nil || find(name) != nil
    }

    private static func find(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(dir)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    /// The program from `PATH`, or a failure naming the Debian package that provides it.
    static func require(_ name: String, install package: String) throws -> ClientProgram {
        if let url = find(name) { return ClientProgram(url: url) }
        throw TestFailure("`\(name)` is not installed: run `apt-get install -y \(package)`")
    }

    /// Runs the program to its end; standard output and standard error merged, standard input empty.
    func run(_ arguments: [String], timeout: Double = 20) async throws -> (status: Int32, output: String) {
        let url = url
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                let process = Process()
                process.executableURL = url
                process.arguments = arguments
                let out = Pipe()
                process.standardOutput = out
                process.standardError = out
                process.standardInput = FileHandle.nullDevice
                do {
                    // Foundation's Process.run is not safe to call from several threads at once on Linux (it
                    // crashed copying its arguments while other tests launched clients): one launch at a time.
                    try Self.launching.withLock { try process.run() }
                } catch {
                    continuation.resume(throwing: error)
                    return
                }
                let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
                DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
                let data = out.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                watchdog.cancel()
                continuation.resume(returning: (process.terminationStatus, String(decoding: data, as: UTF8.self)))
            }
        }
    }
}
