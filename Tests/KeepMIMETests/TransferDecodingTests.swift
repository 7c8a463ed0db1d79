import KeepMIME
import Testing

@Suite("Transfer decoding")
struct TransferDecodingTests {
    func b64(_ s: String) -> String { String(decoding: TransferDecoding.base64(Array(s.utf8)), as: UTF8.self) }
    func qp(_ s: String) -> String { String(decoding: TransferDecoding.quotedPrintable(Array(s.utf8)), as: UTF8.self) }

    @Test func base64() {
        #expect(b64("") == "")
        #expect(b64("Zg==") == "f")
        #expect(b64("Zm8=") == "fo")
        #expect(b64("Zm9v") == "foo")
        #expect(b64("Zm9v\r\nYmFy") == "foobar")
        #expect(b64(" Z m 9 v Y g = = ") == "foob")
    }

    @Test func base64Lenient() {
        #expect(b64("Zm9vYg") == "foob")  // missing padding
        #expect(b64("Zm9v!!YmFy**") == "foobar")  // garbage skipped
        #expect(b64("Zg==Zg==") == "ff")  // concatenated blocks
        #expect(b64("Z") == "")  // a lone sextet is no byte
        #expect(b64("====") == "")
        #expect(b64("_-8=") == String(decoding: [0xFF, 0xEF], as: UTF8.self))  // URL-safe alphabet
        #expect(TransferDecoding.base64(Array("////".utf8)) == [0xFF, 0xFF, 0xFF])
    }

    @Test func quotedPrintable() {
        #expect(TransferDecoding.quotedPrintable(Array("caf=E9".utf8)) == [0x63, 0x61, 0x66, 0xE9])
        #expect(qp("a=3Db") == "a=b")
        #expect(qp("lower=3db") == "lower=b")
        #expect(qp("soft=\r\nbreak") == "softbreak")
        #expect(qp("soft=\nbreak") == "softbreak")
        #expect(qp("soft=  \r\nbreak") == "softbreak")
        #expect(qp("trailing   \r\nnext") == "trailing\r\nnext")
        #expect(qp("kept=20\r\n") == "kept \r\n")
        #expect(qp("end=") == "end")
    }

    @Test func quotedPrintableLenient() {
        #expect(qp("100% =ZZ sure =") == "100% =ZZ sure ")
        #expect(qp("a=4") == "a=4")
        #expect(qp("=") == "")
        #expect(qp("==41") == "=A")
    }

    @Test func decodeByName() {
        #expect(TransferDecoding.decode(Array("Zm9v".utf8), encoding: "BASE64") == Array("foo".utf8))
        #expect(TransferDecoding.decode(Array("Zm9v".utf8), encoding: "7bit") == Array("Zm9v".utf8))
        #expect(TransferDecoding.decode(Array("a=41".utf8), encoding: "Quoted-Printable") == Array("aA".utf8))
    }
}

@Suite("Charsets")
struct CharsetTests {
    @Test func utf8AndASCII() {
        #expect(Charsets.decode(Array("héllo".utf8), charset: "UTF-8") == "héllo")
        #expect(Charsets.decode(Array("héllo".utf8), charset: "utf8") == "héllo")
        #expect(Charsets.decode([0x68, 0xFF, 0x69], charset: "utf-8") == "h\u{FFFD}i")
        #expect(Charsets.decode(Array("plain".utf8), charset: "us-ascii") == "plain")
        #expect(Charsets.decode([0x63, 0x61, 0x66, 0xE9], charset: "US-ASCII") == "café")  // 8-bit in "ascii"
    }

    @Test func iso8859() {
        #expect(Charsets.decode([0x63, 0x61, 0x66, 0xE9], charset: "ISO-8859-1") == "café")
        #expect(Charsets.decode([0xA4, 0xBD], charset: "iso-8859-1") == "¤½")
        #expect(Charsets.decode([0xA4, 0xBD, 0xBE], charset: "iso-8859-15") == "€œŸ")
        #expect(Charsets.decode([0xA4, 0xBD], charset: "latin9") == "€œ")
        #expect(Charsets.decode([0xA1, 0xB1, 0xE6, 0xF8, 0xBE], charset: "iso-8859-2") == "ĄąćřŸ".replacingOccurrences("Ÿ", "ž"))
        #expect(Charsets.decode([0xC0, 0xE0], charset: "ISO_8859-5") == "Рр")
        #expect(Charsets.decode([0xE1], charset: "iso-8859-7") == "α")
        #expect(Charsets.decode([0xE9], charset: "iso8859-1") == "é")
    }

    @Test func windows() {
        #expect(Charsets.decode([0x80, 0x93, 0x94, 0x85, 0x99], charset: "windows-1252") == "€“”…™")
        #expect(Charsets.decode([0x80], charset: "cp1252") == "€")
        #expect(Charsets.decode([0x81], charset: "windows-1252") == "\u{FFFD}")
        #expect(Charsets.decode([0x8A, 0x9A], charset: "windows-1250") == "Šš")
        #expect(Charsets.decode([0xCF, 0xF0, 0xE8, 0xE2, 0xE5, 0xF2], charset: "windows-1251") == "Привет")
    }

    @Test func koi8() {
        #expect(Charsets.decode([0xF0, 0xD2, 0xC9, 0xD7, 0xC5, 0xD4], charset: "KOI8-R") == "Привет")
    }

    @Test func otherSingleByte() {
        #expect(Charsets.decode([0xE0], charset: "iso-8859-8-i") == "א")
        #expect(Charsets.decode([0xA1], charset: "windows-874") == "ก")
        #expect(Charsets.decode([0x8F], charset: "cp866") == "П")
        #expect(Charsets.decode([0x8E], charset: "macintosh") == "é")
        #expect(Charsets.decode([0xC5], charset: "iso-8859-16") == "Ć")
    }

    @Test func utf16() {
        #expect(Charsets.decode([0xFE, 0xFF, 0x00, 0x41, 0x00, 0xE9], charset: "utf-16") == "Aé")
        #expect(Charsets.decode([0x41, 0x00], charset: "utf-16le") == "A")
    }

    @Test func unknownCharsetIsNil() {
        #expect(Charsets.decode([0x41], charset: "x-unknown") == nil)
        #expect(!Charsets.isSupported("iso-8859-12"))
        #expect(Charsets.isSupported("Windows-1258"))
    }

    @Test func bodyTextUsesPartCharset() {
        let m = MIMEMessage(parsing: crlf("""
            Content-Type: text/plain; charset=koi8-r
            Content-Transfer-Encoding: base64

            8NLJ18XU
            """))
        #expect(m.decodedBodyText() == "Привет")
    }
}

extension String {
    fileprivate func replacingOccurrences(_ a: String, _ b: String) -> String {
        split(separator: Character(a), omittingEmptySubsequences: false).joined(separator: b)
    }
}
