/// FETCH BODY[section] resolution (RFC 9051 §6.4.5).
extension MIMEMessage {
    /// The part a part number selects, or nil when it does not exist. `[]` is the root (the message itself).
    ///
    /// Numbering: a message's body is part 1 when it is not multipart, its Nth child when it is; a message/rfc822
    /// part's numbers continue into its encapsulated message.
    public func part(at path: [Int]) -> MIMEPart? {
        resolve(path)?.part
    }

    /// (part, whether it is taken as a message — only the root with an empty path).
    func resolve(_ path: [Int]) -> (part: MIMEPart, isMessage: Bool)? {
        var current = root
        var isMessage = true
        for number in path {
            guard number >= 1 else { return nil }
            if !isMessage {
                if current.isMultipart {
                    guard number <= current.children.count else { return nil }
                    current = current.children[number - 1]
                    continue
                }
                guard let inner = current.message else { return nil }
                current = inner
                isMessage = true
            }
            // Step into a message's body.
            if current.isMultipart {
                guard number <= current.children.count else { return nil }
                current = current.children[number - 1]
            } else {
                guard number == 1 else { return nil }
            }
            isMessage = false
        }
        return (current, isMessage)
    }

    /// Bytes of a section (FETCH BODY[section]), nil when the part does not exist. Partial <o.n> is applied by the
    /// caller.
    public func sectionBytes(_ section: MIMESection) -> [UInt8]? {
        guard let (part, isMessage) = resolve(section.part) else { return nil }
        // The message whose HEADER/TEXT is meant: the root for [], the encapsulated message of a message/rfc822
        // part otherwise.
        let message: MIMEPart? = isMessage ? part : part.message
        switch section.kind {
        case .full:
            return isMessage ? bytes : Array(bytes[part.bodyRange])
        case .mime:
            guard !section.part.isEmpty else { return nil }
            return Array(bytes[part.headerRange])
        case .header:
            guard let message else { return nil }
            return Array(bytes[message.headerRange])
        case .text:
            guard let message else { return nil }
            return Array(bytes[message.bodyRange])
        case .headerFields(let names):
            guard let message else { return nil }
            return headerFields(of: message, names: names, matching: true)
        case .headerFieldsNot(let names):
            guard let message else { return nil }
            return headerFields(of: message, names: names, matching: false)
        }
    }

    /// The fields of a header whose names are (or are not) in `names`, in message order, then CRLF. Scans the
    /// header bytes themselves, so no indexing limit hides a field.
    func headerFields(of part: MIMEPart, names: [String], matching: Bool) -> [UInt8] {
        let wanted = Set(names.map(ASCII.lowercased))
        var out: [UInt8] = []
        forEachField(in: part.headerRange) { name, range in
            let lname = ASCII.lowercased(ASCII.string(name))
            if wanted.contains(lname) == matching { out += bytes[range] }
        }
        out += [ASCII.cr, ASCII.lf]
        return out
    }

    /// Calls `body` with (name, whole field range) for each field in a header range; lines that are not fields
    /// are skipped. Stops at the blank line.
    func forEachField(in range: Range<Int>, _ body: (ArraySlice<UInt8>, Range<Int>) -> Void) {
        var i = range.lowerBound
        let end = range.upperBound
        var fieldStart = -1
        var nameEnd = 0
        func flush(_ at: Int) {
            if fieldStart >= 0 { body(bytes[fieldStart..<nameEnd], fieldStart..<at) }
            fieldStart = -1
        }
        while i < end {
            var j = i
            while j < end, bytes[j] != ASCII.lf { j += 1 }
            let next = j < end ? j + 1 : end
            let contentEnd = (j > i && j <= end && j - 1 >= i && bytes[j - 1] == ASCII.cr) ? j - 1 : j
            if contentEnd == i {
                flush(i)
                return
            }
            if ASCII.isWSP(bytes[i]) {
                // continuation (or leading white space before any field: skipped)
            } else {
                flush(i)
                var k = i
                while k < contentEnd, bytes[k] != ASCII.colon, bytes[k] > 0x20, bytes[k] < 0x7F { k += 1 }
                var c = k
                while c < contentEnd, ASCII.isWSP(bytes[c]) { c += 1 }
                if k > i, c < contentEnd, bytes[c] == ASCII.colon {
                    fieldStart = i
                    nameEnd = k
                }
            }
            i = next
        }
        flush(end)
    }
}
