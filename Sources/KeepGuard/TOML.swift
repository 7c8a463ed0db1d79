/// A parsed TOML value (TOML 1.0: tables, arrays, strings, integers, floats, booleans; dates are kept as strings).
public enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case bool(Bool)
    case array([TOMLValue])
    case table(TOMLTable)

    public var typeName: String {
        switch self {
        case .string: return "string"
        case .integer: return "integer"
        case .float: return "float"
        case .bool: return "boolean"
        case .array: return "array"
        case .table: return "table"
        }
    }
}

/// A TOML table: keys in the order written.
public struct TOMLTable: Sendable, Equatable {
    public private(set) var keys: [String] = []
    private var values: [String: TOMLValue] = [:]
    public init() {}
    public subscript(key: String) -> TOMLValue? {
        get { values[key] }
        set {
            if values[key] == nil, newValue != nil { keys.append(key) }
            if newValue == nil { keys.removeAll { $0 == key } }
            values[key] = newValue
        }
    }
}

/// A TOML syntax error with the line it was found on.
public struct TOMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var message: String
    public var description: String { "line \(line): \(message)" }
}

/// Parses TOML documents. Covers what configuration files use: tables, dotted keys, basic and literal strings
/// (single and multi-line), integers (decimal, hex, octal, binary, with `_`), floats, booleans, arrays and inline
/// tables. Date-times are accepted and kept as their text.
public struct TOMLParser {
    private let s: [UInt8]
    private var i = 0
    private var line = 1

    public static func parse(_ text: String) throws(TOMLError) -> TOMLTable {
        var p = TOMLParser(s: Array(text.utf8))
        do {
            return try p.document()
        } catch let e as TOMLError {
            throw e
        } catch {
            throw TOMLError(line: p.line, message: "\(error)")
        }
    }

    private init(s: [UInt8]) { self.s = s }

    private func err(_ m: String) -> TOMLError { TOMLError(line: line, message: m) }
    private var peek: UInt8? { i < s.count ? s[i] : nil }

    private mutating func skipSpace() {
        while let c = peek, c == 32 || c == 9 { i += 1 }
    }

    private mutating func skipComment() {
        if peek == UInt8(ascii: "#") { while let c = peek, c != 10 { i += 1 } }
    }

    /// Skips blank lines, comments and newlines.
    private mutating func skipTrivia() {
        while true {
            skipSpace()
            skipComment()
            if peek == 13 { i += 1 }
            if peek == 10 { i += 1; line += 1; continue }
            return
        }
    }

    private mutating func endOfLine() throws {
        skipSpace()
        skipComment()
        if peek == 13 { i += 1 }
        guard peek == nil || peek == 10 else { throw err("expected end of line") }
        if peek == 10 { i += 1; line += 1 }
    }

    private mutating func document() throws -> TOMLTable {
        var root = TOMLTable()
        var current: [String] = []
        var defined = Set<[String]>()
        while true {
            skipTrivia()
            guard let c = peek else { break }
            if c == UInt8(ascii: "[") {
                i += 1
                let arrayOfTables = peek == UInt8(ascii: "[")
                if arrayOfTables { i += 1 }
                skipSpace()
                let path = try key()
                skipSpace()
                guard peek == UInt8(ascii: "]") else { throw err("expected ] after table name") }
                i += 1
                if arrayOfTables {
                    guard peek == UInt8(ascii: "]") else { throw err("expected ]] after table name") }
                    i += 1
                    try Self.appendTable(&root, path, line: line)
                } else {
                    guard defined.insert(path).inserted else { throw err("table [\(path.joined(separator: "."))] defined twice") }
                    try Self.ensureTable(&root, path, line: line)
                }
                current = path
                try endOfLine()
            } else {
                let path = try key()
                skipSpace()
                guard peek == UInt8(ascii: "=") else { throw err("expected = after key \(path.joined(separator: "."))") }
                i += 1
                skipSpace()
                let v = try value()
                try Self.set(&root, current + path, v, line: line)
                try endOfLine()
            }
        }
        return root
    }

    /// `key = simple-key *( "." simple-key )`
    private mutating func key() throws -> [String] {
        var parts: [String] = []
        repeat {
            skipSpace()
            if peek == UInt8(ascii: "\"") {
                parts.append(try basicString())
            } else if peek == UInt8(ascii: "'") {
                parts.append(try literalString())
            } else {
                let start = i
                while let c = peek, (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 || c == 45 { i += 1 }
                guard i > start else { throw err("expected a key") }
                parts.append(String(decoding: s[start..<i], as: UTF8.self))
            }
            skipSpace()
        } while peek == UInt8(ascii: ".") && { i += 1; return true }()
        return parts
    }

    private mutating func value() throws -> TOMLValue {
        guard let c = peek else { throw err("expected a value") }
        switch c {
        case UInt8(ascii: "\""): return .string(try basicString())
        case UInt8(ascii: "'"): return .string(try literalString())
        case UInt8(ascii: "["):
            i += 1
            var items: [TOMLValue] = []
            while true {
                skipTrivia()
                if peek == UInt8(ascii: "]") { i += 1; break }
                items.append(try value())
                skipTrivia()
                if peek == UInt8(ascii: ",") { i += 1; continue }
                skipTrivia()
                guard peek == UInt8(ascii: "]") else { throw err("expected , or ] in array") }
                i += 1
                break
            }
            return .array(items)
        case UInt8(ascii: "{"):
            i += 1
            var t = TOMLTable()
            skipSpace()
            if peek == UInt8(ascii: "}") { i += 1; return .table(t) }
            while true {
                let path = try key()
                guard peek == UInt8(ascii: "=") else { throw err("expected = in inline table") }
                i += 1
                skipSpace()
                try Self.set(&t, path, try value(), line: line)
                skipSpace()
                if peek == UInt8(ascii: ",") { i += 1; skipSpace(); continue }
                guard peek == UInt8(ascii: "}") else { throw err("expected , or } in inline table") }
                i += 1
                return .table(t)
            }
        default:
            let start = i
            while let c = peek, c != 32, c != 9, c != 10, c != 13, c != UInt8(ascii: ","), c != UInt8(ascii: "]"),
                  c != UInt8(ascii: "}"), c != UInt8(ascii: "#") { i += 1 }
            // A date-time may contain one space between date and time.
            var text = String(decoding: s[start..<i], as: UTF8.self)
            if text.count == 10, text.filter({ $0 == "-" }).count == 2, peek == 32, i + 1 < s.count, s[i + 1] >= 48, s[i + 1] <= 57 {
                i += 1
                let t = i
                while let c = peek, c != 32, c != 10, c != 13, c != UInt8(ascii: ","), c != UInt8(ascii: "]") { i += 1 }
                text += " " + String(decoding: s[t..<i], as: UTF8.self)
            }
            return try scalar(text)
        }
    }

    private func scalar(_ text: String) throws -> TOMLValue {
        switch text {
        case "true": return .bool(true)
        case "false": return .bool(false)
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan", "-nan": return .float(.nan)
        default: break
        }
        let clean = text.replacingUnderscores()
        if clean.hasPrefix("0x"), let v = Int64(clean.dropFirst(2), radix: 16) { return .integer(v) }
        if clean.hasPrefix("0o"), let v = Int64(clean.dropFirst(2), radix: 8) { return .integer(v) }
        if clean.hasPrefix("0b"), let v = Int64(clean.dropFirst(2), radix: 2) { return .integer(v) }
        if let v = Int64(clean) {
            let digits = clean.hasPrefix("+") || clean.hasPrefix("-") ? clean.dropFirst() : Substring(clean)
            guard !(digits.count > 1 && digits.hasPrefix("0")) else { throw err("leading zeros in \(text)") }
            return .integer(v)
        }
        if clean.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let v = Double(clean) { return .float(v) }
        // Offset/local date-times and dates: kept as text.
        if text.count >= 8, text.first?.isNumber == true, text.contains("-") || text.contains(":") { return .string(text) }
        throw err("invalid value \(text) (strings need quotes)")
    }

    private mutating func basicString() throws -> String {
        i += 1
        let multi = i + 1 < s.count && s[i] == UInt8(ascii: "\"") && s[i + 1] == UInt8(ascii: "\"")
        if multi {
            i += 2
            if peek == 13 { i += 1 }
            if peek == 10 { i += 1; line += 1 }
        }
        var out: [UInt8] = []
        while let c = peek {
            if c == UInt8(ascii: "\"") {
                if !multi { i += 1; return String(decoding: out, as: UTF8.self) }
                if i + 2 < s.count, s[i + 1] == UInt8(ascii: "\""), s[i + 2] == UInt8(ascii: "\"") {
                    i += 3
                    return String(decoding: out, as: UTF8.self)
                }
                out.append(c); i += 1; continue
            }
            if c == 10 {
                guard multi else { throw err("newline in string") }
                line += 1
            }
            if c == UInt8(ascii: "\\") {
                i += 1
                guard let e = peek else { break }
                i += 1
                switch e {
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "b"): out.append(8)
                case UInt8(ascii: "f"): out.append(12)
                case UInt8(ascii: "\""): out.append(34)
                case UInt8(ascii: "\\"): out.append(92)
                case UInt8(ascii: "u"), UInt8(ascii: "U"):
                    let n = e == UInt8(ascii: "u") ? 4 : 8
                    guard i + n <= s.count, let v = UInt32(String(decoding: s[i..<(i + n)], as: UTF8.self), radix: 16),
                          let scalar = Unicode.Scalar(v) else { throw err("invalid unicode escape") }
                    out.append(contentsOf: Array(String(scalar).utf8))
                    i += n
                case 10, 13, 32, 9:
                    guard multi else { throw err("invalid escape") }
                    while let w = peek, w == 32 || w == 9 || w == 10 || w == 13 { if w == 10 { line += 1 }; i += 1 }
                default: throw err("invalid escape \\\(Character(Unicode.Scalar(e)))")
                }
                continue
            }
            out.append(c)
            i += 1
        }
        throw err("unterminated string")
    }

    private mutating func literalString() throws -> String {
        i += 1
        let multi = i + 1 < s.count && s[i] == UInt8(ascii: "'") && s[i + 1] == UInt8(ascii: "'")
        if multi { i += 2; if peek == 10 { i += 1; line += 1 } }
        let start = i
        while let c = peek {
            if c == UInt8(ascii: "'") {
                if !multi { i += 1; return String(decoding: s[start..<(i - 1)], as: UTF8.self) }
                if i + 2 < s.count, s[i + 1] == UInt8(ascii: "'"), s[i + 2] == UInt8(ascii: "'") {
                    let out = String(decoding: s[start..<i], as: UTF8.self)
                    i += 3
                    return out
                }
            }
            if c == 10 { guard multi else { throw err("newline in string") }; line += 1 }
            i += 1
        }
        throw err("unterminated string")
    }

    private static func ensureTable(_ t: inout TOMLTable, _ path: [String], line: Int) throws(TOMLError) {
        guard let first = path.first else { return }
        var sub: TOMLTable
        switch t[first] {
        case nil: sub = TOMLTable()
        case .table(let existing): sub = existing
        case .array(var items):
            guard case .table(var last)? = items.last else { throw TOMLError(line: line, message: "\(first) is not a table") }
            try ensureTable(&last, Array(path.dropFirst()), line: line)
            items[items.count - 1] = .table(last)
            t[first] = .array(items)
            return
        default: throw TOMLError(line: line, message: "\(first) is already a value, not a table")
        }
        try ensureTable(&sub, Array(path.dropFirst()), line: line)
        t[first] = .table(sub)
    }

    private static func appendTable(_ t: inout TOMLTable, _ path: [String], line: Int) throws(TOMLError) {
        guard let first = path.first else { return }
        if path.count == 1 {
            switch t[first] {
            case nil: t[first] = .array([.table(TOMLTable())])
            case .array(var items): items.append(.table(TOMLTable())); t[first] = .array(items)
            default: throw TOMLError(line: line, message: "\(first) is not an array of tables")
            }
            return
        }
        var sub: TOMLTable
        if case .table(let existing)? = t[first] { sub = existing } else { sub = TOMLTable() }
        try appendTable(&sub, Array(path.dropFirst()), line: line)
        t[first] = .table(sub)
    }

    private static func set(_ t: inout TOMLTable, _ path: [String], _ v: TOMLValue, line: Int) throws(TOMLError) {
        guard let first = path.first else { return }
        if path.count == 1 {
            guard t[first] == nil else { throw TOMLError(line: line, message: "key \(first) defined twice") }
            t[first] = v
            return
        }
        var sub: TOMLTable
        switch t[first] {
        case nil: sub = TOMLTable()
        case .table(let existing): sub = existing
        case .array(var items):
            guard case .table(var last)? = items.last else { throw TOMLError(line: line, message: "\(first) is not a table") }
            try set(&last, Array(path.dropFirst()), v, line: line)
            items[items.count - 1] = .table(last)
            t[first] = .array(items)
            return
        default: throw TOMLError(line: line, message: "\(first) is already a value, not a table")
        }
        try set(&sub, Array(path.dropFirst()), v, line: line)
        t[first] = .table(sub)
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}
