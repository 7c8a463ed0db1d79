import GRDB
import GRDBSQLite

/// One row of a statement being stepped, read straight through SQLite's C interface: the hot read paths (FETCH,
/// SEARCH, the change feed) decode hundreds of thousands of rows, and GRDB's generic `Row` decoding costs more than
/// the query itself there. Valid only inside `Statement.forEachRawRow`.
struct RawRow {
    fileprivate let statement: SQLiteStatement

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }
    func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(statement, column)) }
    func double(_ column: Int32) -> Double { sqlite3_column_double(statement, column) }
    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }

    /// A BLOB (or TEXT) column's bytes; nil for NULL.
    func bytes(_ column: Int32) -> [UInt8]? {
        guard !isNull(column) else { return nil }
        let count = Int(sqlite3_column_bytes(statement, column))
        guard count > 0, let base = sqlite3_column_blob(statement, column) else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Comma-separated small integers in a TEXT column (a `group_concat` of ids); empty for NULL.
    func integerList(_ column: Int32) -> [UInt16] {
        guard !isNull(column), let text = sqlite3_column_text(statement, column) else { return [] }
        let count = Int(sqlite3_column_bytes(statement, column))
        var out: [UInt16] = []
        var value: UInt32 = 0
        var digits = false
        for i in 0..<count {
            let b = text[i]
            if b >= 48 && b <= 57 {
                value = value &* 10 &+ UInt32(b - 48)
                digits = true
            } else {
                if digits { out.append(UInt16(truncatingIfNeeded: value)) }
                value = 0
                digits = false
            }
        }
        if digits { out.append(UInt16(truncatingIfNeeded: value)) }
        return out
    }
}

extension Statement {
    /// Runs this (read-only) statement with `arguments`, calling `body` for each row, and leaves it reset.
    func forEachRawRow(arguments: StatementArguments, _ body: (RawRow) throws -> Void) throws {
        try setArguments(arguments)
        let statement = sqliteStatement
        defer { sqlite3_reset(statement) }
        while true {
            let code = sqlite3_step(statement)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code),
                                    message: String(cString: sqlite3_errmsg(sqlite3_db_handle(statement))), sql: sql)
            }
            try body(RawRow(statement: statement))
        }
    }
}

extension Database {
    /// The first bytes of a BLOB, through the end of a message's header section (the first empty line), read in
    /// steps with SQLite's incremental blob I/O so that a body behind it is not read; the whole BLOB when it has no
    /// empty line. Nil when the row does not exist.
    func headerPrefix(ofBlobIn table: String, column: String, rowID: Int64) throws -> [UInt8]? {
        var blob: OpaquePointer?
        guard sqlite3_blob_open(sqliteConnection, "main", table, column, rowID, 0, &blob) == SQLITE_OK, let blob else {
            return nil
        }
        defer { sqlite3_blob_close(blob) }
        let total = Int(sqlite3_blob_bytes(blob))
        var bytes: [UInt8] = []
        var step = 4_096
        while bytes.count < total {
            let take = min(step, total - bytes.count)
            let start = bytes.count
            bytes.append(contentsOf: repeatElement(0, count: take))
            let code = bytes.withUnsafeMutableBytes { raw in
                sqlite3_blob_read(blob, raw.baseAddress! + start, CInt(take), CInt(start))
            }
            guard code == SQLITE_OK else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "reading \(table).\(column) \(rowID)")
            }
            // Look for the empty line from a little before this step (it may straddle the steps).
            if let end = Self.headerEnd(bytes, from: max(0, start - 3)) { return Array(bytes[..<end]) }
            step = min(step * 4, 1 << 20)
        }
        return bytes
    }

    /// The index just past the first empty line (CRLF CRLF or LF LF) at or after `from`.
    private static func headerEnd(_ bytes: [UInt8], from: Int) -> Int? {
        var i = from
        while i + 1 < bytes.count {
            if bytes[i] == 10 {
                if bytes[i + 1] == 10 { return i + 2 }
                if bytes[i + 1] == 13, i + 2 < bytes.count, bytes[i + 2] == 10 { return i + 3 }
            }
            i += 1
        }
        return nil
    }
}
