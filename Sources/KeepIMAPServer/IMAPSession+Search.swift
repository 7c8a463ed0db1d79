import Foundation
import KeepGuard
import KeepIMAP
import KeepMIME
import KeepStore

extension IMAPSession {
    func search(tag: String, request: SearchRequest, uid: Bool) async throws {
        guard let folder = selected else { return }
        if let cs = request.charset?.uppercased(), cs != "UTF-8", cs != "US-ASCII", cs != "UTF8" {
            encoder.tagged(tag, .no, .badCharset(["UTF-8", "US-ASCII"]), "Unsupported charset \(cs)")
            return
        }
        if SearchEvaluator.usesModSeq(request.key) { enabled.insert("CONDSTORE") }
        // A lone HEADER key on a promoted (indexed) header is answered from the index, without reading messages.
        if case .header(let name, let value) = request.key, !value.isEmpty, request.returnOptions == nil,
           let uids = try await ctx.store.messagesWithHeader(user: userName, folder: folder.id, name: name, containing: value) {
            let hits = uids.compactMap { u in folder.msn(of: u).map { (msn: $0, uid: u) } }.sorted { $0.msn < $1.msn }
            encoder.untagged(.search(hits.map { uid ? $0.uid : UInt32($0.msn) }, modSeq: nil))
            try await reportChanges(allowExpunge: false)
            encoder.tagged(tag, .ok, nil, uid ? "UID SEARCH completed" : "SEARCH completed")
            return
        }
        let needsContent = SearchEvaluator.needsContent(request.key)
        let evaluator = SearchEvaluator(folder: folder, saved: savedSearch, mimeLimits: MIMELimits(ctx.limits))
        var matches: [(msn: Int, uid: UInt32, modSeq: UInt64)] = []
        // Keys on flags, keywords, numbers and dates are answered by the store's indexes; the rest read messages.
        let filter = needsContent ? nil : evaluator.filter(request.key)
        if let filter {
            for hit in try await ctx.store.search(user: userName, folder: folder.id, filter: filter, maxUID: folder.maxUID) {
                if let msn = folder.msn(of: hit.uid) { matches.append((msn, hit.uid, hit.modSeq)) }
            }
        }
        let all = filter == nil ? folder.resolve(.ranges([SequenceRange(.number(1), .last)]), uid: false, saved: []) : []
        // Keys on the header section read only that; keys on the body read the whole message.
        let needs: FetchNeeds = !needsContent ? .metadata
            : SearchEvaluator.needsBody(request.key) ? [.metadata, .raw] : [.metadata, .header]
        let batchSize = Self.fetchBatch(needs)
        var start = 0
        while start < all.count {
            let batch = all[start..<min(start + batchSize, all.count)]
            start += batchSize
            let data = try await ctx.store.fetch(user: userName, folder: folder.id, uids: batch.map(\.uid), needs: needs)
            let msnByUID = Dictionary(batch.map { ($0.uid, $0.msn) }, uniquingKeysWith: { a, _ in a })
            for m in data {
                guard let msn = msnByUID[m.uid] else { continue }
                if evaluator.matches(request.key, message: m, msn: msn) { matches.append((msn, m.uid, m.modSeq)) }
            }
        }
        let numbers = matches.map { uid ? $0.uid : UInt32($0.msn) }
        let highestModSeq: UInt64? = SearchEvaluator.usesModSeq(request.key) ? matches.map(\.modSeq).max() : nil
        if let options = request.returnOptions {
            if options.save { savedSearch = matches.map(\.uid) }
            // RETURN (SAVE) alone answers nothing (RFC 5182); RETURN () means ALL (RFC 4731).
            let onlySave = options.save && !(options.min || options.max || options.count || options.all)
            if !onlySave {
                encoder.untagged(.esearch(tag: tag, uid: uid,
                                          min: options.min ? numbers.min() : nil,
                                          max: options.max ? numbers.max() : nil,
                                          count: options.count ? numbers.count : nil,
                                          all: options.all || options.isEmpty ? numbers : nil,
                                          modSeq: highestModSeq))
            }
        } else {
            encoder.untagged(.search(numbers, modSeq: highestModSeq))
        }
        try await reportChanges(allowExpunge: false)
        encoder.tagged(tag, .ok, nil, uid ? "UID SEARCH completed" : "SEARCH completed")
    }
}

/// Evaluates SEARCH keys against one message (RFC 9051 §6.4.4). Text keys match case-insensitively on decoded
/// header values and decoded body text.
struct SearchEvaluator {
    let folder: SelectedFolder
    let saved: [UInt32]
    /// The bounds a message is parsed within (`mime.*`).
    let mimeLimits: MIMELimits

    /// Sets given to the store as UID ranges; a set of more ranges is evaluated here.
    static let maxFilterRanges = 500

    /// `key` as a filter the store answers from its indexes, or nil when any part of it needs the message itself
    /// (headers, text, sent dates) or names too many ranges.
    func filter(_ key: SearchKey) -> MessageFilter? {
        switch key {
        case .all, .old: return .all
        case .recent, .new: return MessageFilter.none
        case .answered: return .hasFlags(.answered)
        case .deleted: return .hasFlags(.deleted)
        case .draft: return .hasFlags(.draft)
        case .flagged: return .hasFlags(.flagged)
        case .seen: return .hasFlags(.seen)
        case .unanswered: return .not(.hasFlags(.answered))
        case .undeleted: return .not(.hasFlags(.deleted))
        case .undraft: return .not(.hasFlags(.draft))
        case .unflagged: return .not(.hasFlags(.flagged))
        case .unseen: return .not(.hasFlags(.seen))
        case .keyword(let k): return .hasKeyword(k)
        case .unkeyword(let k): return .not(.hasKeyword(k))
        case .before(let d): return .receivedBefore(Self.start(of: Self.day(d)))
        case .on(let d): return .and([.receivedSince(Self.start(of: Self.day(d))), .receivedBefore(Self.start(of: Self.day(d) + 1))])
        case .since(let d): return .receivedSince(Self.start(of: Self.day(d)))
        case .larger(let n): return .sizeAbove(Int64(clamping: n))
        case .smaller(let n): return .sizeBelow(Int64(clamping: n))
        case .modSeq(let n): return .modSeqAtLeast(n)
        case .uid(let set): return uidRanges(set, sequence: false).map { .uids($0) }
        case .sequence(let set): return uidRanges(set, sequence: true).map { .uids($0) }
        case .not(let k): return filter(k).map { .not($0) }
        case .or(let a, let b):
            guard let fa = filter(a), let fb = filter(b) else { return nil }
            return .or(fa, fb)
        case .and(let keys):
            var parts: [MessageFilter] = []
            for k in keys {
                guard let f = filter(k) else { return nil }
                parts.append(f)
            }
            return .and(parts)
        default:
            return nil
        }
    }

    /// A set as the UID ranges of the folder it names (a sequence set through the session's sequence-number map).
    private func uidRanges(_ set: SequenceSet, sequence: Bool) -> [ClosedRange<UInt32>]? {
        var ranges: [ClosedRange<UInt32>] = []
        switch set {
        case .lastSearchResult:
            for uid in saved {
                if let last = ranges.last, uid == last.upperBound &+ 1 {
                    ranges[ranges.count - 1] = last.lowerBound...uid
                } else {
                    ranges.append(uid...uid)
                }
            }
        case .ranges(let given) where sequence:
            let count = UInt32(folder.count)
            for r in SelectedFolder.merge(given.map { $0.resolved(last: count) }) where r.lowerBound <= count && count > 0 {
                ranges.append(folder.uid(at: Int(r.lowerBound))...folder.uid(at: Int(min(r.upperBound, count))))
            }
        case .ranges(let given):
            ranges = SelectedFolder.merge(given.map { $0.resolved(last: folder.maxUID) })
        }
        return ranges.count <= Self.maxFilterRanges ? ranges : nil
    }

    /// The instant a UTC day (days since 1970) begins.
    static func start(of day: Int) -> Date { Date(timeIntervalSince1970: TimeInterval(day) * 86_400) }

    /// Whether `key` looks into the body (BODY, TEXT), not only the header section.
    static func needsBody(_ key: SearchKey) -> Bool {
        switch key {
        case .body, .text: return true
        case .not(let k): return needsBody(k)
        case .or(let a, let b): return needsBody(a) || needsBody(b)
        case .and(let ks): return ks.contains(where: needsBody)
        default: return false
        }
    }

    static func needsContent(_ key: SearchKey) -> Bool {
        switch key {
        case .bcc, .cc, .from, .to, .subject, .body, .text, .header, .sentBefore, .sentOn, .sentSince: return true
        case .not(let k): return needsContent(k)
        case .or(let a, let b): return needsContent(a) || needsContent(b)
        case .and(let ks): return ks.contains(where: needsContent)
        default: return false
        }
    }

    static func usesModSeq(_ key: SearchKey) -> Bool {
        switch key {
        case .modSeq: return true
        case .not(let k): return usesModSeq(k)
        case .or(let a, let b): return usesModSeq(a) || usesModSeq(b)
        case .and(let ks): return ks.contains(where: usesModSeq)
        default: return false
        }
    }

    func matches(_ key: SearchKey, message m: MessageData, msn: Int) -> Bool {
        var parsed: MIMEMessage?
        return evaluate(key, m, msn, &parsed)
    }

    private func evaluate(_ key: SearchKey, _ m: MessageData, _ msn: Int, _ parsed: inout MIMEMessage?) -> Bool {
        func mime() -> MIMEMessage {
            if let parsed { return parsed }
            let p = MIMEMessage(parsing: m.raw ?? m.header ?? [], limits: mimeLimits)
            parsed = p
            return p
        }
        func header(_ name: String, _ needle: String) -> Bool {
            let values = mime().headerValues(name)
            if needle.isEmpty { return !values.isEmpty }
            return values.contains { $0.range(of: needle, options: [.caseInsensitive, .diacriticInsensitive]) != nil }
        }
        let f = m.flags.system
        switch key {
        case .all: return true
        case .answered: return f.contains(.answered)
        case .deleted: return f.contains(.deleted)
        case .draft: return f.contains(.draft)
        case .flagged: return f.contains(.flagged)
        case .seen: return f.contains(.seen)
        case .recent, .new: return false
        case .old: return true
        case .unanswered: return !f.contains(.answered)
        case .undeleted: return !f.contains(.deleted)
        case .undraft: return !f.contains(.draft)
        case .unflagged: return !f.contains(.flagged)
        case .unseen: return !f.contains(.seen)
        case .keyword(let k): return m.flags.keywords.contains { $0.caseInsensitiveCompare(k) == .orderedSame }
        case .unkeyword(let k): return !m.flags.keywords.contains { $0.caseInsensitiveCompare(k) == .orderedSame }
        case .bcc(let s): return header("Bcc", s)
        case .cc(let s): return header("Cc", s)
        case .from(let s): return header("From", s)
        case .to(let s): return header("To", s)
        case .subject(let s): return header("Subject", s)
        case .header(let name, let s): return header(name, s)
        case .body(let s):
            return mime().decodedBodyText().range(of: s, options: [.caseInsensitive]) != nil
        case .text(let s):
            let msg = mime()
            if msg.decodedHeaderFields.contains(where: { $0.value.range(of: s, options: .caseInsensitive) != nil }) { return true }
            return msg.decodedBodyText().range(of: s, options: .caseInsensitive) != nil
        case .before(let d): return Self.day(of: m.internalDate) < Self.day(d)
        case .on(let d): return Self.day(of: m.internalDate) == Self.day(d)
        case .since(let d): return Self.day(of: m.internalDate) >= Self.day(d)
        case .sentBefore(let d):
            guard let sent = sentDay(mime()) else { return false }
            return sent < Self.day(d)
        case .sentOn(let d):
            guard let sent = sentDay(mime()) else { return false }
            return sent == Self.day(d)
        case .sentSince(let d):
            guard let sent = sentDay(mime()) else { return false }
            return sent >= Self.day(d)
        case .larger(let n): return UInt64(m.size) > n
        case .smaller(let n): return UInt64(m.size) < n
        case .uid(let set):
            if case .lastSearchResult = set { return saved.contains(m.uid) }
            return set.contains(m.uid, last: folder.maxUID)
        case .sequence(let set):
            if case .lastSearchResult = set { return saved.contains(m.uid) }
            return set.contains(UInt32(msn), last: UInt32(folder.count))
        case .not(let k): return !evaluate(k, m, msn, &parsed)
        case .or(let a, let b): return evaluate(a, m, msn, &parsed) || evaluate(b, m, msn, &parsed)
        case .and(let ks):
            for k in ks where !evaluate(k, m, msn, &parsed) { return false }
            return true
        case .modSeq(let n): return m.modSeq >= n
        }
    }

    static func day(of date: Date) -> Int { Int((date.timeIntervalSince1970 / 86_400).rounded(.down)) }
    static func day(_ d: IMAPDate) -> Int { IMAPDateTime.daysFromCivil(year: d.year, month: d.month, day: d.day) }

    /// The day of the Date: header, in its own zone (RFC 9051: SENT* disregard time and timezone).
    func sentDay(_ message: MIMEMessage) -> Int? {
        guard let value = message.headerValues("Date").first else { return nil }
        return RFC5322Date.day(value)
    }
}

/// Reads the date part of an RFC 5322 `Date:` value (`[day-name ","] day month year ...`), leniently.
enum RFC5322Date {
    static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    static func day(_ value: String) -> Int? {
        var text = Substring(value)
        if let comma = text.firstIndex(of: ",") { text = text[text.index(after: comma)...] }
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "-" }).prefix(3)
        guard parts.count == 3, let d = Int(parts[parts.startIndex]),
              let m = months.firstIndex(of: String(parts[parts.startIndex + 1].prefix(3)).lowercased()),
              var y = Int(parts[parts.startIndex + 2]) else { return nil }
        if y < 50 { y += 2000 } else if y < 1000 { y += 1900 }
        guard (1...31).contains(d) else { return nil }
        return IMAPDateTime.daysFromCivil(year: y, month: m + 1, day: d)
    }
}
