/// RFC 2047 encoded-words (`=?charset?B|Q?text?=`) in unstructured header text, decoded to Unicode.
public enum RFC2047 {
    /// Decodes every encoded-word in `bytes` (an unfolded header value); other text is taken as UTF-8, or Latin-1 when
    /// not valid UTF-8. White space between adjacent encoded-words is dropped, and adjacent words in the same charset
    /// are joined before charset decoding (so a character split across words survives). Linear in the input.
    public static func decode(_ input: some Collection<UInt8>) -> String {
        decodeBytes(Array(input))
    }

    private enum Piece { case text(Range<Int>), word(charset: String, bytes: [UInt8]) }

    private static func decodeBytes(_ bytes: [UInt8]) -> String {
        let n = bytes.count
        guard n >= 8, bytes.contains(0x3F) else { return ASCII.string(bytes) }

        // nextQE[i]: first j >= i with "?=" at j; nextStop[i]: first j >= i with '?' or white space (encoded-text
        // holds neither, so a word's text ends exactly where both meet).
        var nextQE = [Int](repeating: n, count: n + 1)
        var nextStop = [Int](repeating: n, count: n + 1)
        var i = n - 1
        while i >= 0 {
            nextQE[i] = (bytes[i] == 0x3F && i + 1 < n && bytes[i + 1] == ASCII.equals) ? i : nextQE[i + 1]
            nextStop[i] = (bytes[i] == 0x3F || ASCII.isWhitespace(bytes[i])) ? i : nextStop[i + 1]
            i -= 1
        }

        var pieces: [Piece] = []
        var textStart = 0
        i = 0
        while i + 1 < n {
            guard bytes[i] == ASCII.equals, bytes[i + 1] == 0x3F else {
                i += 1
                continue
            }
            // charset: up to 64 token bytes then '?'
            var j = i + 2
            let csStart = j
            while j < n, j - csStart <= 64, bytes[j] != 0x3F, HeaderLexer.isTokenByte(bytes[j]) || bytes[j] == 0x2A {
                j += 1
            }
            guard j < n, bytes[j] == 0x3F, j > csStart, j + 2 < n, bytes[j + 2] == 0x3F else {
                i += 1
                continue
            }
            let enc = ASCII.lower(bytes[j + 1])
            let textBegin = j + 3
            let end = nextQE[textBegin]
            guard enc == 0x62 || enc == 0x71, end < n, nextStop[textBegin] == end else {
                i += 1
                continue
            }
            var charset = ASCII.lowercased(ASCII.string(bytes[csStart..<j]))
            if let star = charset.firstIndex(of: "*") { charset = String(charset[..<star]) }
            let text = bytes[textBegin..<end]
            let decoded = enc == 0x62 ? TransferDecoding.base64(text) : qDecode(text)
            if textStart < i { pieces.append(.text(textStart..<i)) }
            pieces.append(.word(charset: charset, bytes: decoded))
            i = end + 2
            textStart = i
        }
        if textStart < n { pieces.append(.text(textStart..<n)) }

        var out = ""
        var pendingCharset: String?
        var pending: [UInt8] = []
        func flush() {
            if let cs = pendingCharset {
                out += Charsets.decode(pending, charset: cs) ?? ASCII.string(pending)
            }
            pendingCharset = nil
            pending = []
        }
        for (k, piece) in pieces.enumerated() {
            switch piece {
            case .text(let r):
                let between = k > 0 && k + 1 < pieces.count
                if between, case .word = pieces[k - 1], case .word = pieces[k + 1],
                   bytes[r].allSatisfy(ASCII.isWhitespace) {
                    continue  // white space between two encoded-words is not displayed
                }
                flush()
                out += ASCII.string(bytes[r])
            case .word(let cs, let b):
                if pendingCharset != cs { flush() }
                pendingCharset = cs
                pending += b
            }
        }
        flush()
        return out
    }

    /// The "Q" encoding: `_` is a space, `=XX` a byte.
    static func qDecode(_ text: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var i = text.startIndex
        while i < text.endIndex {
            let b = text[i]
            if b == 0x5F {
                out.append(0x20)
            } else if b == ASCII.equals, i + 2 < text.endIndex, let h = ASCII.hexValue(text[i + 1]),
                      let l = ASCII.hexValue(text[i + 2]) {
                out.append(h << 4 | l)
                i += 2
            } else {
                out.append(b)
            }
            i += 1
        }
        return out
    }
}
