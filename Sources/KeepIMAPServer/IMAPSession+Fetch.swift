import Foundation
import KeepGuard
import KeepIMAP
import KeepMIME
import KeepStore

extension IMAPSession {
    /// Messages read from the store per round trip while answering FETCH and SEARCH: few when their bodies are read
    /// (memory), many when only what the index holds is (one trip per 4,096 messages for FLAGS).
    static func fetchBatch(_ needs: FetchNeeds) -> Int {
        if needs.contains(.raw) { return 64 }
        if needs.contains(.header) { return 256 }
        return needs.isSubset(of: .metadata) ? 4_096 : 1_024
    }

    func fetch(tag: String, set: SequenceSet, attributes requested: [FetchAttribute], modifiers: FetchModifiers, uid: Bool) async throws {
        guard let folder = selected else { return }
        if !uid && folder.outOfRange(set) {
            encoder.tagged(tag, .bad, nil, "Message number out of range")
            return
        }
        var attributes = requested
        if uid && !attributes.contains(.uid) { attributes.insert(.uid, at: 0) }
        if modifiers.changedSince != nil || attributes.contains(.modSeq) { enabled.insert("CONDSTORE") }
        if condStore && modifiers.changedSince != nil && !attributes.contains(.modSeq) { attributes.append(.modSeq) }
        var needs: FetchNeeds = .metadata
        var setsSeen = false
        for a in attributes {
            switch a {
            case .envelope: needs.insert(.envelope)
            case .bodyStructure, .body: needs.insert(.bodyStructure)
            case .rfc822, .rfc822Text:
                needs.insert(.raw)
                setsSeen = true
            case .rfc822Header: needs.insert(.raw)
            case .bodySection(_, _, let peek), .binary(_, _, let peek):
                needs.insert(.raw)
                if !peek { setsSeen = true }
            case .binarySize: needs.insert(.raw)
            default: break
            }
        }
        if folder.readOnly { setsSeen = false }
        let targets: [(msn: Int, uid: UInt32)]
        if let since = modifiers.changedSince {
            // CHANGEDSINCE: what changed, found by modseq, then kept where the set names it — never the whole set.
            let changed = try await ctx.store.fetchChanged(user: userName, folder: folder.id, since: since, needs: .metadata)
            let saved = savedSearch
            targets = changed.messages.compactMap { m in
                folder.msn(of: m.uid, in: set, uid: uid, saved: saved).map { (msn: $0, uid: m.uid) }
            }.sorted { $0.msn < $1.msn }
        } else {
            targets = folder.resolve(set, uid: uid, saved: savedSearch)
        }
        let batchSize = Self.fetchBatch(needs)
        var seenUpdates: [UInt32: UInt64] = [:]
        /// The folder's HIGHESTMODSEQ as the last batch read it.
        var folderModSeq: UInt64?
        var start = 0
        while start < targets.count {
            let batch = targets[start..<min(start + batchSize, targets.count)]
            start += batchSize
            let fetched = try await ctx.store.fetchWithModSeq(user: userName, folder: folder.id, uids: batch.map(\.uid),
                                                              needs: needs)
            var data = fetched.messages
            folderModSeq = fetched.highestModSeq
            if let since = modifiers.changedSince { data = data.filter { $0.modSeq > since } }
            var flagsChanged = Set<UInt32>()
            if setsSeen {
                let unseen = data.filter { !$0.flags.system.contains(.seen) }.map(\.uid)
                if !unseen.isEmpty {
                    let updated = try await ctx.store.storeFlags(user: userName, folder: folder.id, uids: unseen, operation: .add,
                                                                  flags: MessageFlags(system: .seen), unchangedSince: nil)
                    let byUID = Dictionary(updated.map { ($0.uid, $0) }, uniquingKeysWith: { a, _ in a })
                    for i in data.indices {
                        if let u = byUID[data[i].uid] {
                            data[i].flags = u.flags
                            data[i].modSeq = u.modSeq
                            flagsChanged.insert(u.uid)
                            seenUpdates[u.uid] = u.modSeq
                        }
                    }
                }
            }
            // Both ascending by UID: walk them side by side.
            var pair = batch.startIndex
            for message in data {
                while pair < batch.endIndex, batch[pair].uid < message.uid { pair += 1 }
                guard pair < batch.endIndex, batch[pair].uid == message.uid else { continue }
                let msn = batch[pair].msn
                var items = fetchItems(message, attributes: attributes)
                if flagsChanged.contains(message.uid) && !attributes.contains(.flags) {
                    items.append(.flags(Self.wireFlags(message.flags)))
                }
                try await writeFetch(msn, items)
            }
        }
        // Nothing changed since the session last looked (the common case): no second trip to the store.
        if !seenUpdates.isEmpty || folderModSeq == nil || folderModSeq != selected?.knownModSeq {
            try await reportChanges(allowExpunge: false, alreadySent: seenUpdates)
        }
        encoder.tagged(tag, .ok, nil, uid ? "UID FETCH completed" : "FETCH completed")
    }

    /// Literals at least this large are sent in chunks straight from the message bytes, with back-pressure,
    /// instead of being copied into the response buffer.
    static let streamThreshold = 256 * 1024

    /// Writes one FETCH response; large section literals are streamed in chunks.
    func writeFetch(_ msn: Int, _ items: [FetchResponseItem]) async throws {
        let large = items.contains {
            if case .section(_, let data?) = $0 { return data.count >= Self.streamThreshold }
            return false
        }
        guard large else {
            encoder.untagged(.fetch(msn, items))
            try await flushIfLarge()
            return
        }
        encoder.fetchStart(msn)
        for (i, item) in items.enumerated() {
            if case .section(let name, let data?) = item, data.count >= Self.streamThreshold {
                encoder.fetchLiteralHeader(name: name, size: data.count, first: i == 0)
                try await output.send(takeOutput())
                var offset = 0
                while offset < data.count {
                    let end = min(offset + Self.streamThreshold, data.count)
                    try await output.send(Array(data[offset..<end]))
                    offset = end
                }
            } else {
                encoder.fetchItem(item, first: i == 0)
            }
        }
        encoder.fetchEnd()
        try await flushIfLarge()
    }

    /// The response items for one message, in the order asked.
    func fetchItems(_ m: MessageData, attributes: [FetchAttribute]) -> [FetchResponseItem] {
        var parsed: MIMEMessage?
        func mime() -> MIMEMessage {
            if let parsed { return parsed }
            let p = MIMEMessage(parsing: m.raw ?? [], limits: MIMELimits(ctx.limits))
            parsed = p
            return p
        }
        var items: [FetchResponseItem] = []
        for a in attributes {
            switch a {
            case .uid: items.append(.uid(m.uid))
            case .flags: items.append(.flags(Self.wireFlags(m.flags)))
            case .internalDate:
                items.append(.internalDate(ResponseEncoder.internalDate(secondsSince1970: Int64(m.internalDate.timeIntervalSince1970.rounded(.down)))))
            case .rfc822Size: items.append(.rfc822Size(m.size))
            case .envelope: items.append(.envelope(m.envelope ?? Array("NIL".utf8)))
            case .bodyStructure: items.append(.bodyStructure(m.bodyStructure ?? []))
            case .body: items.append(.body(m.body ?? []))
            case .modSeq: items.append(.modSeq(m.modSeq))
            case .rfc822: items.append(.section(name: "RFC822", data: m.raw ?? []))
            case .rfc822Header: items.append(.section(name: "RFC822.HEADER", data: mime().sectionBytes(MIMESection(kind: .header)) ?? []))
            case .rfc822Text: items.append(.section(name: "RFC822.TEXT", data: mime().sectionBytes(MIMESection(kind: .text)) ?? []))
            case .bodySection(let spec, let partial, _):
                let bytes: [UInt8]?
                if spec.part.isEmpty && spec.text == nil {
                    bytes = m.raw ?? []
                } else {
                    bytes = mime().sectionBytes(Self.mimeSection(spec))
                }
                items.append(.section(name: "BODY" + Self.sectionName(spec) + Self.origin(partial),
                                      data: bytes.map { Self.apply(partial, to: $0) } ?? (partial == nil ? nil : [])))
            case .binary(let part, let partial, _):
                let decoded = binaryContent(mime(), part: part, raw: m.raw ?? [])
                items.append(.binary(name: "BINARY[" + part.map(String.init).joined(separator: ".") + "]" + Self.origin(partial),
                                     data: decoded.map { Self.apply(partial, to: $0) }))
            case .binarySize(let part):
                let decoded = binaryContent(mime(), part: part, raw: m.raw ?? [])
                items.append(.binarySize(name: "BINARY.SIZE[" + part.map(String.init).joined(separator: ".") + "]", size: decoded?.count ?? 0))
            }
        }
        return items
    }

    /// The transfer-decoded content of a part (BINARY, RFC 3516); the whole message for `[]`.
    func binaryContent(_ message: MIMEMessage, part: [Int], raw: [UInt8]) -> [UInt8]? {
        if part.isEmpty { return raw }
        guard let p = message.part(at: part) else { return nil }
        return message.decodedBody(of: p)
    }

    static func mimeSection(_ spec: SectionSpec) -> MIMESection {
        let kind: MIMESection.Kind
        switch spec.text {
        case nil: kind = .full
        case .header: kind = .header
        case .headerFields(let f): kind = .headerFields(f)
        case .headerFieldsNot(let f): kind = .headerFieldsNot(f)
        case .text: kind = .text
        case .mime: kind = .mime
        }
        return MIMESection(part: spec.part, kind: kind)
    }

    /// `[1.2.HEADER.FIELDS (A B)]` as the response names it.
    static func sectionName(_ spec: SectionSpec) -> String {
        var s = "[" + spec.part.map(String.init).joined(separator: ".")
        if let text = spec.text {
            if !spec.part.isEmpty { s += "." }
            switch text {
            case .header: s += "HEADER"
            case .text: s += "TEXT"
            case .mime: s += "MIME"
            case .headerFields(let f): s += "HEADER.FIELDS (" + f.map(quoteIfNeeded).joined(separator: " ") + ")"
            case .headerFieldsNot(let f): s += "HEADER.FIELDS.NOT (" + f.map(quoteIfNeeded).joined(separator: " ") + ")"
            }
        }
        return s + "]"
    }

    static func quoteIfNeeded(_ s: String) -> String {
        let ok = !s.isEmpty && s.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && !"(){%*\"\\]".utf8.contains($0) }
        return ok ? s : "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static func origin(_ partial: Partial?) -> String {
        partial.map { "<\($0.offset)>" } ?? ""
    }

    static func apply(_ partial: Partial?, to bytes: [UInt8]) -> [UInt8] {
        guard let partial else { return bytes }
        guard partial.offset < bytes.count else { return [] }
        let end = partial.length.map { min(bytes.count, partial.offset + $0) } ?? bytes.count
        return Array(bytes[partial.offset..<end])
    }
}
