import Foundation
import GRDB
import Testing
@testable import KeepStore

/// `DirectoryCache`: an answer is reused until the directory changes, in this process or another, and an answer
/// read while it changed is never kept.
@Suite struct DirectoryCacheTests {
    static func record(_ name: String, mounted: Bool = true) -> DatabaseRecord {
        DatabaseRecord(row: Row(["name": name, "kind": "private", "guid": "g", "mounted": mounted, "mount_generation": 1]))
    }

    /// A folder with a stand-in `directory.sqlite-wal` the test can "commit" to.
    static func withLog(_ body: (String, FileHandle) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dircache-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("directory.sqlite").path
        _ = FileManager.default.createFile(atPath: path + "-wal", contents: Data("frame".utf8))
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: path + "-wal"))
        defer { try? log.close() }
        try body(path, log)
    }

    @Test func anAnswerIsReusedUntilThisProcessChangesTheDirectory() throws {
        try Self.withLog { path, _ in
            let cache = DirectoryCache(directory: path)
            let ticket = cache.ticket()
            cache.keep("alice", (UserInfo(name: "alice", database: "mailbox1"), Self.record("mailbox1")), readAfter: ticket)
            #expect(cache.entry("alice")?.1.name == "mailbox1")
            #expect(cache.entry("bob") == nil)
            cache.invalidate()
            #expect(cache.entry("alice") == nil)
        }
    }

    @Test func anAnswerReadWhileTheDirectoryChangedIsNotKept() throws {
        try Self.withLog { path, log in
            let cache = DirectoryCache(directory: path)
            let found = (UserInfo(name: "alice", database: "mailbox1"), Self.record("mailbox1"))
            let before = cache.ticket()
            cache.invalidate()  // a commit of this process while the answer was read
            cache.keep("alice", found, readAfter: before)
            #expect(cache.entry("alice") == nil)

            let again = cache.ticket()
            log.seekToEndOfFile()
            log.write(Data("another process commits".utf8))
            cache.keep("alice", found, readAfter: again)
            #expect(cache.entry("alice") == nil)
        }
    }

    @Test func aCommitOfAnotherProcessForgetsEveryAnswer() throws {
        try Self.withLog { path, log in
            let cache = DirectoryCache(directory: path)
            cache.keep("alice", (UserInfo(name: "alice", database: "mailbox1"), Self.record("mailbox1")),
                       readAfter: cache.ticket())
            #expect(cache.entry("alice") != nil)
            log.seekToEndOfFile()
            log.write(Data("another process commits".utf8))
            #expect(cache.entry("alice") == nil)
        }
    }

    @Test func withoutALogNothingIsKept() throws {
        let cache = DirectoryCache(directory: "/nonexistent/directory.sqlite")
        cache.keep("alice", (UserInfo(name: "alice", database: "mailbox1"), Self.record("mailbox1")),
                   readAfter: cache.ticket())
        #expect(cache.entry("alice") == nil)
    }
}
