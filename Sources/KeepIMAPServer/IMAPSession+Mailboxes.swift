import KeepGuard
import KeepIMAP
import KeepStore

extension IMAPSession {
    /// The UTF-8 name of a mailbox argument, checked against the name limits.
    func folderName(_ m: MailboxName) throws -> String {
        var name = m.decoded(utf8Accepted: utf8Names)
        while name.hasSuffix("/") && name.count > 1 { name.removeLast() }
        let limits = ctx.limits
        if name.utf8.count > limits.maxMailboxNameLength {
            throw SessionError.limit("Mailbox name longer than \(limits.maxMailboxNameLength) bytes")
        }
        if name.split(separator: "/", omittingEmptySubsequences: false).count > limits.maxMailboxDepth {
            throw SessionError.limit("Mailbox hierarchy deeper than \(limits.maxMailboxDepth) levels")
        }
        return name
    }

    /// A folder name as this client reads it: UTF-8, or modified UTF-7 for IMAP4rev1 clients.
    func wireName(_ name: String) -> [UInt8] {
        utf8Names ? Array(name.utf8) : ModifiedUTF7.encode(name)
    }

    var userName: String { user!.name }

    // MARK: SELECT / EXAMINE

    func select(tag: String, mailbox: MailboxName, readOnly: Bool, params: SelectParameters) async throws {
        selected = nil
        let name = try folderName(mailbox)
        let snapshot = try await ctx.store.openFolder(user: userName, name: name)
        if params.condStore { enabled.insert("CONDSTORE") }
        let folder = SelectedFolder(snapshot: snapshot, readOnly: readOnly)
        encoder.untagged(.flags(["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"] + folder.keywords))
        encoder.untagged(.exists(folder.uids.count))
        if !rev2 { encoder.untagged(.recent(0)) }
        if !rev2, let firstUnseen = folder.firstUnseen {
            encoder.untagged(.condition(.ok, .unseen(UInt32(firstUnseen)), "First unseen"))
        }
        encoder.untagged(.condition(.ok, .uidValidity(snapshot.folder.uidValidity), "UIDs valid"))
        encoder.untagged(.condition(.ok, .uidNext(snapshot.folder.uidNext), "Predicted next UID"))
        // `\*` (new keywords allowed) only while the database's named-property quota has room (issue #5).
        let newKeywords = !readOnly && snapshot.canCreateKeywords
        let permanent = readOnly ? [] : ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"] + folder.keywords
            + (newKeywords ? ["\\*"] : [])
        encoder.untagged(.condition(.ok, .permanentFlags(permanent), newKeywords || readOnly ? "Limited" : "No new keywords: named-property quota reached"))
        encoder.untagged(.condition(.ok, .highestModSeq(snapshot.folder.highestModSeq), "Highest"))
        selected = folder
        encoder.tagged(tag, .ok, readOnly ? .readOnly : .readWrite, readOnly ? "EXAMINE completed" : "SELECT completed")
    }

    func close(tag: String) async throws {
        if let folder = selected, !folder.readOnly {
            _ = try await ctx.store.expunge(user: userName, folder: folder.id, uids: nil)
        }
        selected = nil
        encoder.tagged(tag, .ok, nil, "CLOSE completed")
    }

    // MARK: CREATE / DELETE / RENAME / SUBSCRIBE

    func create(tag: String, mailbox: MailboxName, uses: [String]) async throws {
        let name = try folderName(mailbox)
        if name == "INBOX" {
            encoder.tagged(tag, .no, .alreadyExists, "INBOX always exists")
            return
        }
        var use: SpecialUse?
        if let u = uses.first {
            guard uses.count == 1, let su = SpecialUse.allCases.first(where: { $0.rawValue.lowercased() == u.lowercased() }) else {
                encoder.tagged(tag, .no, .other("USEATTR"), "Unsupported special-use attribute \(u)")
                return
            }
            use = su
        }
        let existing = try await ctx.store.listFolders(user: userName)
        if existing.count >= ctx.limits.maxMailboxesPerUser {
            encoder.tagged(tag, .no, .limit, "Too many mailboxes (limit \(ctx.limits.maxMailboxesPerUser))")
            return
        }
        _ = try await ctx.store.createFolder(user: userName, name: name, specialUse: use)
        encoder.tagged(tag, .ok, nil, "CREATE completed")
    }

    func delete(tag: String, mailbox: MailboxName) async throws {
        let name = try folderName(mailbox)
        try await ctx.store.deleteFolder(user: userName, name: name)
        if selected?.name == name { selected = nil }
        encoder.tagged(tag, .ok, nil, "DELETE completed")
    }

    func rename(tag: String, from: MailboxName, to: MailboxName) async throws {
        let a = try folderName(from), b = try folderName(to)
        try await ctx.store.renameFolder(user: userName, from: a, to: b)
        encoder.tagged(tag, .ok, nil, "RENAME completed")
    }

    func subscribe(tag: String, mailbox: MailboxName, _ on: Bool) async throws {
        let name = try folderName(mailbox)
        try await ctx.store.setSubscribed(user: userName, name: name, on)
        encoder.tagged(tag, .ok, nil, on ? "SUBSCRIBE completed" : "UNSUBSCRIBE completed")
    }

    // MARK: LIST / LSUB

    func list(tag: String, reference: MailboxName, patterns: [[UInt8]], options: ListOptions, lsub: Bool) async throws {
        let ref = reference.decoded(utf8Accepted: utf8Names)
        if patterns.count == 1, patterns[0].isEmpty {
            // `LIST "" ""`: the hierarchy delimiter and root.
            encoder.untagged(.list(attributes: ["\\Noselect"], delimiter: UInt8(ascii: "/"), name: [], extended: nil))
            encoder.tagged(tag, .ok, nil, "LIST completed")
            return
        }
        let folders = try await ctx.store.listFolders(user: userName)
        let names = Set(folders.map(\.name))
        var matchers: [WildcardPattern] = []
        for p in patterns {
            let decoded = MailboxName(raw: p).decoded(utf8Accepted: utf8Names)
            guard decoded.utf8.count + ref.utf8.count <= 1024 else {
                encoder.tagged(tag, .bad, nil, "Mailbox pattern too long")
                return
            }
            matchers.append(WildcardPattern(ref + decoded))
        }
        let returnStatus = options.returnStatus
        for f in folders {
            guard matchers.contains(where: { $0.matches(f.name) }) else { continue }
            if options.subscribed && !f.subscribed { continue }
            if options.specialUse && f.specialUse == nil { continue }
            var attrs: [String] = []
            if !lsub {
                let hasChildren = names.contains { $0.hasPrefix(f.name + "/") }
                attrs.append(hasChildren ? "\\HasChildren" : "\\HasNoChildren")
            }
            if (options.subscribed || options.returnSubscribed) && f.subscribed && !lsub { attrs.append("\\Subscribed") }
            if let su = f.specialUse, !lsub { attrs.append(su.rawValue) }
            if lsub {
                encoder.untagged(.lsub(attributes: attrs, delimiter: UInt8(ascii: "/"), name: wireName(f.name)))
            } else {
                encoder.untagged(.list(attributes: attrs, delimiter: UInt8(ascii: "/"), name: wireName(f.name), extended: nil))
            }
            if let items = returnStatus {
                let st = try await ctx.store.folderStatus(user: userName, name: f.name)
                encoder.untagged(.status(name: wireName(f.name), items: statusItems(st, items)))
            }
            try await flushIfLarge()
        }
        encoder.tagged(tag, .ok, nil, lsub ? "LSUB completed" : "LIST completed")
    }

    // MARK: STATUS

    func status(tag: String, mailbox: MailboxName, items: [StatusAttribute]) async throws {
        let name = try folderName(mailbox)
        let st = try await ctx.store.folderStatus(user: userName, name: name)
        encoder.untagged(.status(name: wireName(name), items: statusItems(st, items)))
        encoder.tagged(tag, .ok, nil, "STATUS completed")
    }

    func statusItems(_ st: FolderStatus, _ items: [StatusAttribute]) -> [(StatusAttribute, UInt64)] {
        items.map { item in
            switch item {
            case .messages: return (item, UInt64(st.messages))
            case .uidNext: return (item, UInt64(st.uidNext))
            case .uidValidity: return (item, UInt64(st.uidValidity))
            case .unseen: return (item, UInt64(st.unseen))
            case .deleted: return (item, UInt64(st.deleted))
            case .size: return (item, UInt64(max(0, st.size)))
            case .recent: return (item, 0)
            case .highestModSeq: return (item, st.highestModSeq)
            case .appendLimit: return (item, UInt64(ctx.limits.imapAppendLimit))
            }
        }
    }
}

/// A session-level refusal that maps to `NO [code] text`.
enum SessionError: Error {
    case limit(String)
}

/// A LIST pattern (`*` matches anything, `%` anything but the delimiter), matched in O(name × pattern) time.
/// `INBOX` at the start matches case-insensitively.
struct WildcardPattern {
    let pattern: [UInt8]

    init(_ text: String) {
        var p = Array(text.utf8)
        if p.count >= 5, String(decoding: p[0..<5], as: UTF8.self).uppercased() == "INBOX",
           p.count == 5 || p[5] == UInt8(ascii: "/") {
            p.replaceSubrange(0..<5, with: Array("INBOX".utf8))
        }
        // Collapse runs of `*`: they match the same as one.
        var collapsed: [UInt8] = []
        for c in p where !(c == UInt8(ascii: "*") && collapsed.last == UInt8(ascii: "*")) { collapsed.append(c) }
        self.pattern = collapsed
    }

    func matches(_ name: String) -> Bool {
        let s = Array(name.utf8)
        // reachable[j]: pattern prefix of length i can match name prefix of length j.
        var reachable = [Bool](repeating: false, count: s.count + 1)
        reachable[0] = true
        for c in pattern {
            var next = [Bool](repeating: false, count: s.count + 1)
            switch c {
            case UInt8(ascii: "*"):
                var on = false
                for j in 0...s.count {
                    if reachable[j] { on = true }
                    next[j] = on
                }
            case UInt8(ascii: "%"):
                var on = false
                for j in 0...s.count {
                    if reachable[j] { on = true }
                    next[j] = on
                    if j < s.count, s[j] == UInt8(ascii: "/") { on = false }
                }
            default:
                for j in 0..<s.count where reachable[j] && s[j] == c { next[j + 1] = true }
            }
            reachable = next
            if !reachable.contains(true) { return false }
        }
        return reachable[s.count]
    }
}
