import Foundation
import KeepServer
import Testing

/// SEARCH keys on flags, keywords, UIDs, sequence numbers, sizes, internal dates and modseqs are answered by the
/// store's indexes; each answer here is checked against the same key evaluated on a model of the folder.
@Suite struct SearchTests {
    /// One appended message as the test knows it.
    struct Model {
        var uid: UInt32
        var flags: Set<String>
        var size: Int
        var day: Int  // of the internal date, 1..28 November 2026
    }

    @Test func indexedKeysAnswerWhatTheModelSays() async throws {
        let s = try await TestServer.start()
        defer { Task { await s.stopAndRemove() } }
        let c = try await s.login()
        var model: [Model] = []
        let flagChoices = [[], ["\\Seen"], ["\\Seen", "\\Flagged"], ["\\Answered"], ["$Work"], ["\\Seen", "$Work", "\\Deleted"], ["\\Draft"]]
        for i in 1...40 {
            let flags = flagChoices[i % flagChoices.count]
            let day = 1 + (i * 7) % 28
            let body = "Subject: m\(i)\r\n\r\n" + String(repeating: "x", count: i * 37)
            let date = String(format: "%02d-Nov-2026 12:00:00 +0000", day)
            let r = try await c.append(body, flags: flags.joined(separator: " "), date: "\"\(date)\"")
            try #require(r.last?.contains(" OK ") == true, "\(r)")
            model.append(Model(uid: UInt32(i), flags: Set(flags), size: body.utf8.count, day: day))
        }
        _ = try await c.command("SELECT INBOX")
        // Expunge a few so that sequence numbers and UIDs differ.
        _ = try await c.command("UID STORE 3,4,10 +FLAGS.SILENT (\\Deleted)")
        _ = try await c.command("UID EXPUNGE 3,4,10")
        model.removeAll { [3, 4, 10].contains($0.uid) }

        func search(_ key: String) async throws -> [UInt32] {
            let r = try await c.command("UID SEARCH \(key)")
            let line = try #require(r.first { $0.hasPrefix("* SEARCH") }, "\(key): \(r)")
            return line.split(separator: " ").dropFirst(2).compactMap { UInt32($0) }
        }
        func expect(_ key: String, _ matches: (Model) -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let expected = model.filter(matches).map(\.uid)
            #expect(try await search(key) == expected, "\(key)", sourceLocation: sourceLocation)
        }
        let msn = Dictionary(uniqueKeysWithValues: model.enumerated().map { ($0.element.uid, $0.offset + 1) })
        try await expect("UNSEEN") { !$0.flags.contains("\\Seen") }
        try await expect("SEEN FLAGGED") { $0.flags.isSuperset(of: ["\\Seen", "\\Flagged"]) }
        try await expect("NOT ANSWERED DELETED") { !$0.flags.contains("\\Answered") && $0.flags.contains("\\Deleted") }
        try await expect("OR DRAFT KEYWORD $work") { $0.flags.contains("\\Draft") || $0.flags.contains("$Work") }
        try await expect("UNKEYWORD $Work UNDRAFT") { !$0.flags.contains("$Work") && !$0.flags.contains("\\Draft") }
        try await expect("KEYWORD $NeverUsed") { _ in false }
        try await expect("LARGER 700 SMALLER 1200") { $0.size > 700 && $0.size < 1200 }
        try await expect("SINCE 10-Nov-2026 BEFORE 20-Nov-2026") { $0.day >= 10 && $0.day < 20 }
        try await expect("ON 8-Nov-2026") { $0.day == 8 }
        try await expect("UID 5:12,30:*") { (5...12).contains($0.uid) || $0.uid >= 30 }
        try await expect("3:7 UNSEEN") { (3...7).contains(msn[$0.uid]!) && !$0.flags.contains("\\Seen") }
        try await expect("NOT 2:*") { msn[$0.uid]! < 2 }
        try await expect("ALL") { _ in true }
        try await expect("NEW") { _ in false }
        // A key on content still goes through the messages, and mixes with indexed ones.
        try await expect("SUBJECT m2 SEEN") { $0.flags.contains("\\Seen") && "m\($0.uid)".hasPrefix("m2") }
        // The saved result ($) feeds the indexed path too.
        _ = try await c.command("UID SEARCH RETURN (SAVE) FLAGGED")
        try await expect("UID $ UNDELETED") { $0.flags.contains("\\Flagged") && !$0.flags.contains("\\Deleted") }
    }
}
