import Foundation
import KeepServer
import Testing

/// Real clients against the real server: Python's imaplib (plain, STARTTLS and implicit TLS) and smtplib's LMTP.
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

    @Test func pythonImaplibAndLMTPWorkOverPlainSTARTTLSAndImplicitTLS() async throws {
        let s = try await TestServer.start { $0.imapsAddress = "127.0.0.1:0" }
        defer { Task { await s.stopAndRemove() } }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script, "\(s.imapPort)", "\(s.server.addresses.imaps!)", "\(s.lmtpPort)"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let output = await Task.detached { String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }.value
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)")
        #expect(output.contains("real clients OK"))
    }
}
