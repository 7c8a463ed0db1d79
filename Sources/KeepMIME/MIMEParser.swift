/// Builds the part tree in one forward pass over the lines of the message.
///
/// Every line is looked at once: a line starting with `--` is compared with the boundaries of the enclosing
/// multiparts (a stack at most `maxDepth` deep), so the cost is O(bytes × depth) with no rescanning. Parts past the
/// depth or part-count limits are kept as opaque leaves whose byte ranges are still exact.
struct MIMEParser {
    let bytes: [UInt8]
    let limits: MIMELimits
    var position = 0
    var partCount = 0
    /// Boundaries of the open multiparts, outermost first.
    var boundaries: [[UInt8]] = []
    /// What ended the last scan: the end of input, or a boundary line at `position`.
    var stop: Stop = .end
    /// The bounds this message reached.
    var limitsReached: Set<MIMELimit> = []

    enum Stop: Equatable {
        case end
        case boundary(index: Int, close: Bool)
    }

    init(bytes: [UInt8], limits: MIMELimits) {
        self.bytes = bytes
        self.limits = limits
    }

    mutating func parseMessage() -> MIMEPart {
        position = 0
        return parseEntity(depth: 1, defaultDigest: false)
    }

    // MARK: Lines

    /// The line at `start`: where its content ends (before CR LF / LF) and where the next line starts.
    @inline(__always)
    func line(at start: Int) -> (contentEnd: Int, next: Int) {
        let n = bytes.count
        var i = start
        while i < n, bytes[i] != ASCII.lf { i += 1 }
        if i == n { return (n, n) }
        let contentEnd = (i > start && bytes[i - 1] == ASCII.cr) ? i - 1 : i
        return (contentEnd, i + 1)
    }

    /// Whether the line `start..<contentEnd` is a delimiter of an open multipart. The longest matching boundary
    /// wins, so a boundary that is a prefix of another does not steal its lines.
    @inline(__always)
    func boundaryMatch(_ start: Int, _ contentEnd: Int) -> Stop? {
        guard !boundaries.isEmpty, contentEnd - start >= 2, bytes[start] == ASCII.dash,
              bytes[start + 1] == ASCII.dash else { return nil }
        var best: (index: Int, length: Int)?
        for (k, boundary) in boundaries.enumerated() {
            let len = boundary.count
            guard contentEnd - start - 2 >= len, len > (best?.length ?? -1) else { continue }
            var equal = true
            var j = 0
            while j < len {
                if bytes[start + 2 + j] != boundary[j] {
                    equal = false
                    break
                }
                j += 1
            }
            if equal { best = (k, len) }
        }
        guard let best else { return nil }
        let after = start + 2 + best.length
        let close = after + 2 <= contentEnd && bytes[after] == ASCII.dash && bytes[after + 1] == ASCII.dash
        return .boundary(index: best.index, close: close)
    }

    /// Advances `position` to the next boundary line (left at its start) or to the end.
    mutating func scanToBoundary() {
        if boundaries.isEmpty {
            position = bytes.count
            stop = .end
            return
        }
        while position < bytes.count {
            let (contentEnd, next) = line(at: position)
            if let s = boundaryMatch(position, contentEnd) {
                stop = s
                return
            }
            position = next
        }
        stop = .end
    }

    /// Where a body that runs up to the current stop ends: the line ending before a boundary line belongs to the
    /// boundary.
    func bodyEnd(from bodyStart: Int) -> Int {
        guard case .boundary = stop else { return bytes.count }
        var end = position
        if end > bodyStart, bytes[end - 1] == ASCII.lf {
            end -= 1
            if end > bodyStart, bytes[end - 1] == ASCII.cr { end -= 1 }
        }
        return max(bodyStart, end)
    }

    // MARK: Entities

    mutating func parseEntity(depth: Int, defaultDigest: Bool) -> MIMEPart {
        partCount += 1
        let start = position
        var fields: [MIMEHeaderField] = []
        var headerEnd = start
        var endedByBoundary = false

        // Current field being collected.
        var fieldStart = -1
        var nameEnd = 0
        var valueStart = 0
        var lastContentEnd = 0
        let headerByteLimit = start &+ limits.maxHeaderBytes

        func finishField(at end: Int, into fields: inout [MIMEHeaderField]) {
            guard fieldStart >= 0 else { return }
            if fieldStart >= headerByteLimit {
                limitsReached.insert(.headerBytes)
            } else if fields.count >= limits.maxHeaderFields {
                limitsReached.insert(.headerFields)
            } else {
                if max(valueStart, lastContentEnd) - valueStart > limits.maxHeaderFieldBytes {
                    limitsReached.insert(.headerFieldBytes)
                }
                let name = ASCII.string(bytes[fieldStart..<nameEnd])
                fields.append(MIMEHeaderField(name: name, range: fieldStart..<end,
                                              valueRange: valueStart..<max(valueStart, lastContentEnd)))
            }
            fieldStart = -1
        }

        while true {
            if position >= bytes.count {
                finishField(at: bytes.count, into: &fields)
                headerEnd = bytes.count
                stop = .end
                break
            }
            let (contentEnd, next) = line(at: position)
            if contentEnd == position {
                // The blank line ends the header.
                finishField(at: position, into: &fields)
                headerEnd = next
                position = next
                break
            }
            if let s = boundaryMatch(position, contentEnd) {
                finishField(at: position, into: &fields)
                headerEnd = position
                stop = s
                endedByBoundary = true
                break
            }
            if ASCII.isWSP(bytes[position]) {
                if fieldStart >= 0 { lastContentEnd = contentEnd }
            } else {
                finishField(at: position, into: &fields)
                // field-name: printable ASCII except ':' (white space before the colon tolerated).
                var i = position
                while i < contentEnd, bytes[i] != ASCII.colon, bytes[i] > 0x20, bytes[i] < 0x7F { i += 1 }
                var c = i
                while c < contentEnd, ASCII.isWSP(bytes[c]) { c += 1 }
                if i > position, c < contentEnd, bytes[c] == ASCII.colon {
                    fieldStart = position
                    nameEnd = i
                    valueStart = c + 1
                    lastContentEnd = contentEnd
                }
                // else: a garbage line (mbox "From ", stray text) — not a field, skipped.
            }
            position = next
        }
        let bodyStart = endedByBoundary ? position : headerEnd

        // Content-* fields (first occurrence of each).
        var info = ContentInfo(bytes: bytes, fields: fields, limits: limits, defaultDigest: defaultDigest)
        if info.parametersTruncated { limitsReached.insert(.parameters) }
        var children: [MIMEPart] = []
        var message: MIMEPart?

        if endedByBoundary {
            // No body at all.
        } else if info.type == "multipart" {
            let boundary = info.boundary ?? []
            if boundary.isEmpty {
                info.makeOpaque(asText: true)
                scanToBoundary()
            } else if depth >= limits.maxDepth || partCount >= limits.maxParts {
                limitsReached.insert(depth >= limits.maxDepth ? .depth : .parts)
                info.makeOpaque(asText: false)
                scanToBoundary()
            } else {
                children = parseMultipartBody(boundary: boundary, depth: depth, digest: info.subtype == "digest")
            }
        } else if info.type == "message", info.subtype == "rfc822" || info.subtype == "global",
                  info.encodingAllowsParsing {
            if depth >= limits.maxDepth || partCount >= limits.maxParts {
                limitsReached.insert(depth >= limits.maxDepth ? .depth : .parts)
                info.makeOpaque(asText: false)
                scanToBoundary()
            } else {
                message = parseEntity(depth: depth + 1, defaultDigest: false)
            }
        } else {
            scanToBoundary()
        }
        let end = endedByBoundary ? bodyStart : bodyEnd(from: bodyStart)
        return MIMEPart(
            headerRange: start..<headerEnd, bodyRange: bodyStart..<end, headerFields: fields,
            type: info.type, subtype: info.subtype, parameters: info.parameters, contentID: info.id,
            contentDescription: info.description, transferEncoding: info.encoding, disposition: info.disposition,
            contentLanguage: info.language, contentLocation: info.location, contentMD5: info.md5,
            children: children, message: message, depth: depth)
    }

    /// Preamble, body parts, epilogue. Leaves `position`/`stop` at the enclosing boundary (or the end).
    mutating func parseMultipartBody(boundary: [UInt8], depth: Int, digest: Bool) -> [MIMEPart] {
        boundaries.append(boundary)
        let mine = boundaries.count - 1
        defer { boundaries.removeLast() }
        var children: [MIMEPart] = []
        scanToBoundary()  // preamble
        while true {
            guard case .boundary(let index, let close) = stop, index == mine else {
                // End of input, or an enclosing boundary: the close delimiter is missing.
                return children
            }
            position = line(at: position).next
            if close {
                // Epilogue: up to an enclosing boundary or the end.
                boundaries.removeLast()
                scanToBoundary()
                boundaries.append(boundary)
                return children
            }
            if partCount >= limits.maxParts {
                limitsReached.insert(.parts)
                scanToBoundary()  // skip this part unindexed
                continue
            }
            children.append(parseEntity(depth: depth + 1, defaultDigest: digest))
        }
    }
}

/// The Content-* fields of one header, parsed with defaults applied.
struct ContentInfo {
    var type = "text"
    var subtype = "plain"
    var parameters: [MIMEParameter] = []
    var boundary: [UInt8]?
    var id: String?
    var description: String?
    var encoding: String?
    var disposition: MIMEDisposition?
    var language: [String]?
    var location: String?
    var md5: String?
    var parametersTruncated = false

    init(bytes: [UInt8], fields: [MIMEHeaderField], limits: MIMELimits, defaultDigest: Bool) {
        var seen = Set<String>()
        var typeParsed = false
        for field in fields {
            let lname = ASCII.lowercased(field.name)
            guard lname.hasPrefix("content-"), !seen.contains(lname) else { continue }
            seen.insert(lname)
            let value = ASCII.unfold(bytes[field.valueRange], limit: limits.maxHeaderFieldBytes)
            let trimmed = Array(ASCII.trim(value[...]))
            switch lname {
            case "content-type":
                if let ct = ContentFields.parseContentType(value, maxParameters: limits.maxParameters,
                                                                truncated: &parametersTruncated) {
                    type = ct.type
                    subtype = ct.subtype
                    parameters = ct.parameters
                    typeParsed = true
                    if type == "multipart" {
                        boundary = ct.parameters.first { !$0.isExtended && ASCII.equalsIgnoringCase($0.name.utf8, "boundary") }
                            .map { $0.rawValue }
                            ?? ct.parameters.first { ASCII.equalsIgnoringCase($0.name.utf8, "boundary") }
                            .map { Array($0.value.utf8) }
                    }
                }
            case "content-id":
                id = trimmed.isEmpty ? nil : ASCII.string(trimmed)
            case "content-description":
                description = trimmed.isEmpty ? nil : ASCII.string(trimmed)
            case "content-transfer-encoding":
                var lx = HeaderLexer(value)
                lx.skipCFWS()
                let token = lx.token()
                encoding = token.isEmpty ? nil : ASCII.lowercased(ASCII.string(token))
            case "content-disposition":
                disposition = ContentFields.parseDisposition(value, maxParameters: limits.maxParameters,
                                                             truncated: &parametersTruncated)
            case "content-language":
                language = ContentFields.parseLanguage(value)
            case "content-location":
                let compact = trimmed.filter { !ASCII.isWhitespace($0) }
                location = compact.isEmpty ? nil : ASCII.string(compact)
            case "content-md5":
                md5 = trimmed.isEmpty ? nil : ASCII.string(trimmed)
            default:
                break
            }
        }
        if !typeParsed {
            if defaultDigest {
                type = "message"
                subtype = "rfc822"
            } else {
                parameters = [MIMEParameter(name: "charset", value: "US-ASCII")]
            }
        }
    }

    /// message/rfc822 with a transfer encoding other than 7bit/8bit/binary cannot be looked into.
    var encodingAllowsParsing: Bool {
        switch encoding {
        case nil, "7bit"?, "8bit"?, "binary"?: return true
        default: return false
        }
    }

    /// Turns a container that is not split (no boundary, or past a limit) into a leaf: text/plain when the
    /// boundary is missing (as Dovecot does), application/octet-stream past a limit.
    mutating func makeOpaque(asText: Bool) {
        if asText {
            type = "text"
            subtype = "plain"
            parameters = [MIMEParameter(name: "charset", value: "US-ASCII")]
        } else {
            type = "application"
            subtype = "octet-stream"
            parameters = []
        }
        boundary = nil
    }
}
