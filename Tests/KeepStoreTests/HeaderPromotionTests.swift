import Foundation
import KeepGuard
import Testing
@testable import KeepStore

@Suite struct HeaderPromotionTests {
    static func message(_ headers: [String], subject: String = "Hi") -> [UInt8] {
        let lines = ["From: Bob <bob@example.com>", "To: alice@example.com", "Subject: \(subject)",
                     "X-Mailer: Keep 1.0", "List-Id: <list.example.com>", "Content-Type: text/plain"] + headers
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\nBody.\r\n").utf8)
    }

    static var smallQuotas: StoreOptions {
        var options = StoreOptions.fastForTests
        options.limits.namedPropsQuota = 60
        options.limits.unauthenticatedNamedPropsQuota = 2
        return options
    }

    @Test func nonStandardFieldsArePromotedAndSearchableFromTheIndex() async throws {
        try await withUserStore { store, _ in
            let raw = Self.message(["X-Campaign: Summer Sale", "X-Tracking-ID: =?utf-8?q?caf=C3=A9?=\r\n 42",
                                    "x-campaign: second"])
            _ = try await store.append(user: "alice", folder: "INBOX", message: raw, flags: .init(),
                                       internalDate: nil, principal: .user("alice"))
            _ = try await store.append(user: "alice", folder: "INBOX", message: Self.message([]), flags: .init(),
                                       internalDate: nil, principal: .user("alice"))
            let props = try await store.namedProperties(database: "mailbox1", guid: PropertySet.internetHeaders)
            #expect(props.map(\.key) == [.name("x-campaign"), .name("x-tracking-id")])
            #expect(props.allSatisfy { $0.createdBy == "alice" })
            let inbox = try await store.openFolderReading(user: "alice", name: "INBOX").folder.id
            #expect(try await store.messagesWithHeader(user: "alice", folder: inbox, name: "X-CAMPAIGN",
                                                       containing: "summer") == [1])
            #expect(try await store.messagesWithHeader(user: "alice", folder: inbox, name: "x-campaign",
                                                       containing: "SECOND") == [1])
            #expect(try await store.messagesWithHeader(user: "alice", folder: inbox, name: "X-Campaign",
                                                       containing: "winter") == [])
            #expect(try await store.messagesWithHeader(user: "alice", folder: inbox, name: "X-Tracking-ID",
                                                       containing: "") == [1])
            // Decoded (RFC 2047) and unfolded.
            #expect(try await store.messagesWithHeader(user: "alice", folder: inbox, name: "X-Tracking-ID",
                                                       containing: "café 42") == [1])
            let headers = try await store.promotedHeaders(user: "alice", folder: inbox, uid: 1)
            #expect(headers.map(\.name) == ["x-campaign", "x-tracking-id", "x-campaign"])
            #expect(headers.map(\.value) == ["Summer Sale", "café 42", "second"])
            // Standard fields are never promoted: the caller parses.
            for name in ["Subject", "X-Mailer", "List-Id", "Content-Type", "X-Unknown"] {
                #expect(try await store.messagesWithHeader(user: "alice", folder: inbox, name: name,
                                                           containing: "x") == nil)
            }
            // The message itself is byte-exact.
            let fetched = try await store.fetch(user: "alice", folder: inbox, uids: [1], needs: [.raw])
            #expect(fetched.first?.raw == raw)
            // COPY carries the index along.
            _ = try await store.createFolder(user: "alice", name: "Saved", specialUse: nil)
            _ = try await store.copy(user: "alice", folder: inbox, uids: [1], to: "Saved")
            let saved = try await store.openFolderReading(user: "alice", name: "Saved").folder.id
            #expect(try await store.messagesWithHeader(user: "alice", folder: saved, name: "x-campaign",
                                                       containing: "sale") == [1])
        }
    }

    @Test func quotaRefusalSkipsOnlyThePromotionAndTheMailIsKept() async throws {
        try await withUserStore(options: Self.smallQuotas) { store, _ in
            let raw = Self.message(["X-One: 1", "X-Two: 2", "X-Three: 3"])
            let result = try await store.append(user: "alice", folder: "INBOX", message: raw, flags: .init(),
                                                internalDate: nil, principal: .unauthenticated("spam@example.net"))
            #expect(result.uid == 1)
            let inbox = try await store.openFolderReading(user: "alice", name: "INBOX").folder.id
            #expect(try await store.fetch(user: "alice", folder: inbox, uids: [1], needs: [.raw]).first?.raw == raw)
            let props = try await store.namedProperties(database: "mailbox1", guid: PropertySet.internetHeaders)
            #expect(props.map(\.key) == [.name("x-one"), .name("x-two")])
            let errors = try await store.events.events(eventID: StoreEventID.namedPropsQuotaError)
            #expect(errors.count == 1)
            #expect(errors.first?.fields["name"] == "x-three")
            #expect(errors.first?.fields["user"] == "<unauthenticated spam@example.net>")
            #expect(errors.first?.fields["guid"] == PropertySet.internetHeaders.uuidString)
            let stats = try await store.databaseStats(name: "mailbox1")
            #expect(stats.unauthenticatedNamedProps == 2 && stats.namedProps == 0)
            #expect(try await store.messagesWithHeader(user: "alice", folder: inbox, name: "x-one",
                                                       containing: "1") == [1])
            #expect(try await store.messagesWithHeader(user: "alice", folder: inbox, name: "x-three",
                                                       containing: "3") == nil)

            // A logged-in user's APPEND creates the name from the users' pool; the index still cannot answer for
            // this folder, since message 1 has the field unindexed.
            _ = try await store.append(user: "alice", folder: "INBOX", message: Self.message(["X-Three: 3"]),
                                       flags: .init(), internalDate: nil, principal: .user("alice"))
            #expect(try await store.namedPropertyID(database: "mailbox1", guid: PropertySet.internetHeaders,
                                                    name: "X-THREE", create: false, principal: .system) != nil)
            #expect(try await store.messagesWithHeader(user: "alice", folder: inbox, name: "x-three",
                                                       containing: "3") == nil)
            _ = try await store.createFolder(user: "alice", name: "Other", specialUse: nil)
            _ = try await store.append(user: "alice", folder: "Other", message: Self.message(["X-Three: 3"]),
                                       flags: .init(), internalDate: nil, principal: .user("alice"))
            let other = try await store.openFolderReading(user: "alice", name: "Other").folder.id
            #expect(try await store.messagesWithHeader(user: "alice", folder: other, name: "x-three",
                                                       containing: "3") == [1])
        }
    }

    @Test func newNamesPerMessageAreCappedWithoutError() async throws {
        var options = StoreOptions.fastForTests
        options.limits.lmtpMaxNewNamedPropsPerMessage = 3
        try await withUserStore(options: options) { store, _ in
            let headers = (1...5).map { "X-H\($0): v\($0)" }
            _ = try await store.append(user: "alice", folder: "INBOX", message: Self.message(headers), flags: .init(),
                                       internalDate: nil, principal: .unauthenticated(""))
            let props = try await store.namedProperties(database: "mailbox1", guid: PropertySet.internetHeaders)
            #expect(props.map(\.key) == [.name("x-h1"), .name("x-h2"), .name("x-h3")])
            #expect(try await store.events.events(eventID: StoreEventID.namedPropsQuotaError).isEmpty)
            // Names that exist already do not count against the cap.
            let more = (1...6).map { "X-H\($0): w\($0)" }
            _ = try await store.append(user: "alice", folder: "INBOX", message: Self.message(more), flags: .init(),
                                       internalDate: nil, principal: .unauthenticated(""))
            #expect(try await store.namedProperties(database: "mailbox1", guid: PropertySet.internetHeaders).count
                    == 6)
            #expect(StoreOptions().limits.lmtpMaxNewNamedPropsPerMessage == 64)
        }
    }

    @Test func standardSetIsCaseInsensitiveAndCoversPrefixes() {
        for name in ["Subject", "DKIM-Signature", "ARC-Seal", "List-Unsubscribe", "X-Spam-Score", "Content-Language",
                     "Resent-From", "Received-SPF", "Authentication-Results", "Thread-Index", "X-PRIORITY"] {
            #expect(StandardHeaderFields.contains(name), "\(name)")
        }
        for name in ["X-Campaign", "X-Custom", "Organization-Unit"] {
            #expect(!StandardHeaderFields.contains(name), "\(name)")
        }
    }
}
