/// Folder-name rules: UTF-8, "/" as the hierarchy delimiter, INBOX case-insensitive and spelt "INBOX".
enum FolderName {
    static let delimiter: Character = "/"
    static let inbox = "INBOX"
    static let maxBytes = 255

    /// The canonical spelling of `name`, or `.invalidFolderName` saying what is wrong with it.
    static func canonical(_ name: String) throws -> String {
        guard !name.isEmpty else { throw StoreError.invalidFolderName(name, reason: "the name is empty") }
        guard name.utf8.count <= maxBytes else {
            throw StoreError.invalidFolderName(name, reason: "the name is longer than \(maxBytes) bytes")
        }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) {
            throw StoreError.invalidFolderName(name, reason: "the name contains control characters")
        }
        if name.contains("*") || name.contains("%") {
            throw StoreError.invalidFolderName(name, reason: "the name contains a LIST wildcard (* or %)")
        }
        var components = name.split(separator: delimiter, omittingEmptySubsequences: false).map(String.init)
        if components.contains(where: \.isEmpty) {
            throw StoreError.invalidFolderName(name, reason: "a hierarchy level is empty")
        }
        if components[0].uppercased() == inbox { components[0] = inbox }
        return components.joined(separator: String(delimiter))
    }

    /// The name for CREATE: a trailing delimiter (RFC 9051 §6.3.4, "foo/" creates "foo") is dropped first.
    static func canonicalForCreate(_ name: String) throws -> String {
        var trimmed = name
        if trimmed.count > 1, trimmed.last == delimiter { trimmed.removeLast() }
        return try canonical(trimmed)
    }

    /// Bounds of the names below `name` for a range query: every child name `c` has `lower <= c < upper` in byte
    /// order ("/" is 0x2F, "0" is 0x30).
    static func childRange(of name: String) -> (lower: String, upper: String) {
        (name + "/", name + "0")
    }
}
