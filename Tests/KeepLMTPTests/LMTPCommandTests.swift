import Foundation
import KeepLMTP
import Testing

@Suite("LMTPCommand")
struct LMTPCommandTests {
    @Test("verb and argument", arguments: [
        ("LHLO mx.example.org\r\n", "LHLO", "mx.example.org"),
        ("lhlo  mx \t\r\n", "LHLO", "mx"),
        ("MAIL FROM:<a@b> SIZE=10\r\n", "MAIL", "FROM:<a@b> SIZE=10"),
        ("mail from:<a@b>\n", "MAIL", "from:<a@b>"),
        ("NOOP\r\n", "NOOP", ""),
        ("DATA:\r\n", "DATA", ":"),
        (" DATA\r\n", "", "DATA"),
        ("\r\n", "", ""),
        ("X-FOO bar\r\n", "X-FOO", "bar"),
    ])
    func cutsVerbAndArgument(_ line: String, _ verb: String, _ argument: String) {
        let command = LMTPCommand(line: bytes(line))
        #expect(command.verbText == verb)
        #expect(command.argument == argument)
    }

    @Test func knownVerbs() {
        for verb in LMTPVerb.allCases {
            #expect(LMTPCommand(line: bytes(verb.rawValue.lowercased() + "\r\n")).verb == verb)
        }
        #expect(LMTPCommand(line: bytes("EXPN x\r\n")).verb == nil)
    }

    @Test func mailFromWithParameters() throws {
        let path = try LMTPPath.mailFrom("FROM:<bob@example.org> SIZE=1024 BODY=8BITMIME")
        #expect(path == LMTPPath(address: "bob@example.org", parameters: ["SIZE=1024", "BODY=8BITMIME"]))
        #expect(path.sizes == [1024])
        #expect(try LMTPPath.mailFrom("from: <>").address == "")
        #expect(try LMTPPath.mailFrom("FROM:<a> size=5 SIZE=x SIZE= SIZE=7").sizes == [5, 7])
        #expect(try LMTPPath.mailFrom("FROM:<a> SIZE=99999999999999999999999").sizes == [])
    }

    @Test func rcptToNeedsAnAddress() throws {
        #expect(try LMTPPath.rcptTo("TO:<alice@example.org>").address == "alice@example.org")
        #expect(try LMTPPath.rcptTo("to:\t<alice> NOTIFY=NEVER").parameters == ["NOTIFY=NEVER"])
        #expect(throws: LMTPSyntaxError.emptyAddress) { try LMTPPath.rcptTo("TO:<>") }
    }

    @Test("syntax errors", arguments: [("FROM <a>", LMTPSyntaxError.missingKeyword("FROM:")),
                                       ("FROM:a", .missingPath), ("FROM:<a", .missingPath), ("", .missingKeyword("FROM:"))])
    func mailSyntaxErrors(_ argument: String, _ error: LMTPSyntaxError) {
        #expect(throws: error) { try LMTPPath.mailFrom(argument) }
    }

    @Test func theAddressEndsAtTheFirstAngleBracket() throws {
        #expect(try LMTPPath.rcptTo("TO:<<a>>").address == "<a")
        #expect(try LMTPPath.rcptTo("TO:<a>b c").parameters == ["b", "c"])
    }

    @Test func unicodeSpacesAroundThePathAreTrimmedAsFoundationDid() throws {
        #expect(try LMTPPath.mailFrom("FROM:\u{3000}<a>\u{00A0}").address == "a")
        #expect(LMTPCommand(line: bytes("LHLO \u{2003}x\u{3000}\r\n")).argument == "x")
    }

    /// The handler used to cut commands with Foundation; the pure module trims the same scalars without it.
    @Test func argumentsAreCutAsTheFoundationCodeDid() {
        for value in 0...0xFFFF {
            guard let s = Unicode.Scalar(value) else { continue }
            for line in ["MAIL \(s)FROM:<a>\(s)\r\n", "NOOP\(s)x\(s) \n", "LHLO\(s)\r\n", "\(s)DATA\r\n"] {
                let raw = bytes(line)
                let text = String(decoding: raw, as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: "\r\n"))
                let verb = String(decoding: raw.prefix { $0 != 32 && $0 != 13 && $0 != 10 && $0 != 58 }, as: UTF8.self).uppercased()
                let argument = text.count > verb.count ? String(text.dropFirst(verb.count)).trimmingCharacters(in: .whitespaces) : ""
                let command = LMTPCommand(line: raw)
                #expect(command.verbText == verb && command.argument == argument, "U+\(String(value, radix: 16))")
            }
        }
    }
}
