import Foundation
import KeepGuard
import KeepIMAP
import KeepMIME
import KeepStore

extension IMAPSession {
    // MARK: Flags

    static func storeFlags(_ flags: [Flag]) -> MessageFlags {
        var m = MessageFlags()
        for f in flags {
            switch f {
            case .seen: m.system.insert(.seen)
            case .answered: m.system.insert(.answered)
            case .flagged: m.system.insert(.flagged)
            case .deleted: m.system.insert(.deleted)
            case .draft: m.system.insert(.draft)
            case .keyword(let k):
                if !m.keywords.contains(where: { $0.caseInsensitiveCompare(k) == .orderedSame }) { m.keywords.append(k) }
            case .recent, .extension: break
            }
        }
        return m
    }

    static func wireFlags(_ f: MessageFlags) -> [String] {
        var out: [String] = []
        if f.system.contains(.answered) { out.append("\\Answered") }
        if f.system.contains(.flagged) { out.append("\\Flagged") }
        if f.system.contains(.deleted) { out.append("\\Deleted") }
        if f.system.contains(.seen) { out.append("\\Seen") }
        if f.system.contains(.draft) { out.append("\\Draft") }
        out.append(contentsOf: f.keywords)
        return out
    }

    var condStore: Bool { enabled.contains("CONDSTORE") }

    // MARK: Unilateral updates

    /// Tells the client what changed in its selected folder since it last heard: new messages (EXISTS), flag
    /// changes (FETCH FLAGS) and, when `allowExpunge`, expunges (EXPUNGE). Never sends EXPUNGE during FETCH, STORE
    /// or SEARCH (RFC 9051 §7.5.1).
    /// `alreadySent` maps UIDs to the modseq this command already reported them at (skipped here).
    /// `write` is the folder's modseq around this command's own write: when the session knew the folder as it was
    /// when the write began, the write's changes (which the command reports) are all there is, and nothing is read.
    func reportChanges(allowExpunge: Bool, alreadySent: [UInt32: UInt64] = [:], after write: ModSeqStep? = nil) async throws {
        guard var folder = selected else { return }
        if let write, folder.knownModSeq == write.before {
            folder.knownModSeq = write.after
            selected = folder
            return
        }
        let changes = try await ctx.store.changes(user: userName, folder: folder.id, sinceModSeq: folder.knownModSeq)
        if allowExpunge {
            for n in folder.remove(uids: changes.expunged) { encoder.untagged(.expunge(n)) }
        }
        let before = folder.count
        let announcedMax = folder.maxUID
        let newUIDs = changes.changed.filter { $0.uid > folder.maxUID }.map(\.uid)
        folder.append(newUIDs)
        if folder.count != before { encoder.untagged(.exists(folder.count)) }
        for m in changes.changed {
            guard let n = folder.msn(of: m.uid), m.uid <= announcedMax, alreadySent[m.uid] != m.modSeq else { continue }
            var items: [FetchResponseItem] = [.flags(Self.wireFlags(m.flags))]
            if condStore { items.append(.modSeq(m.modSeq)) }
            items.append(.uid(m.uid))
            encoder.untagged(.fetch(n, items))
        }
        // With expunges held back, only move the known modseq when nothing was held back.
        if allowExpunge || changes.expunged.isEmpty { folder.knownModSeq = changes.highestModSeq }
        selected = folder
    }

    // MARK: APPEND

    func append(tag: String, mailbox: MailboxName, messages: [AppendMessage]) async throws {
        let name = try folderName(mailbox)
        var uids: [UInt32] = []
        // Appends to the selected folder that found it as the session knew it: their messages are all that is new.
        let countBefore = selected?.count
        var onlyOwnChanges = selected != nil
        /// EXISTS for the messages taken in that way (also when a later one fails).
        func announceOwn() {
            if let folder = selected, folder.count != countBefore { encoder.untagged(.exists(folder.count)) }
        }
        var validity: UInt32 = 0
        for m in messages {
            guard m.data.count <= ctx.limits.imapAppendLimit else {
                announceOwn()
                encoder.tagged(tag, .no, .tooBig, "Message larger than APPENDLIMIT \(ctx.limits.imapAppendLimit)")
                return
            }
            let date = m.internalDate.map { Date(timeIntervalSince1970: TimeInterval($0.secondsSince1970)) }
            do {
                let r = try await ctx.store.append(user: userName, folder: name, message: m.data,
                                                   flags: Self.storeFlags(m.flags), internalDate: date,
                                                   principal: .user(userName))
                uids.append(r.uid)
                validity = r.uidValidity
                if onlyOwnChanges, var folder = selected, let step = r.modSeq, r.folder == folder.id,
                   folder.knownModSeq == step.before, r.uid > folder.maxUID {
                    folder.append([r.uid])
                    folder.knownModSeq = step.after
                    selected = folder
                } else {
                    onlyOwnChanges = false
                }
            } catch StoreError.noSuchFolder {
                announceOwn()
                encoder.tagged(tag, .no, .tryCreate, "Mailbox does not exist")
                return
            } catch {
                announceOwn()
                throw error
            }
        }
        announceOwn()
        if selected != nil, !onlyOwnChanges { try await reportChanges(allowExpunge: true) }
        encoder.tagged(tag, .ok, .appendUID(uidValidity: validity, uids: uids), "APPEND completed")
    }

    // MARK: IDLE

    private enum IdleEvent: Sendable { case line([UInt8]), changed, timeout, ended }

    func idle(tag: String, lines: AsyncStream<[UInt8]>?) async throws -> SessionOutcome {
        // Watch before saying "+ idling": a change committed between the two would otherwise go unreported until
        // the next one (a client that delivers right after the continuation would wait in vain).
        let watched = selected.map { ctx.store.watch(folder: $0.id) }
        encoder.continuation("idling")
        try await reportChanges(allowExpunge: true)
        try await output.send(takeOutput())
        let (events, sink) = AsyncStream.makeStream(of: IdleEvent.self, bufferingPolicy: .bufferingNewest(16))
        let timeout = ctx.limits.imapIdleTimeout
        var tasks: [Task<Void, Never>] = []
        if let lines {
            tasks.append(Task {
                for await line in lines { sink.yield(.line(line)) }
                sink.yield(.ended)
            })
        }
        if let stream = watched {
            tasks.append(Task {
                for await _ in stream { sink.yield(.changed) }
            })
        }
        tasks.append(Task {
            try? await Task.sleep(for: .seconds(timeout))
            sink.yield(.timeout)
        })
        defer { for t in tasks { t.cancel() } }
        for await event in events {
            switch event {
            case .changed:
                try await reportChanges(allowExpunge: true)
                try await output.send(takeOutput())
            case .line(let line):
                let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                if text.uppercased() == "DONE" {
                    encoder.tagged(tag, .ok, nil, "IDLE terminated")
                } else {
                    encoder.tagged(tag, .bad, nil, "Expected DONE")
                }
                return .proceed
            case .timeout:
                report(.idleTimeout, limit: "imap.idle_timeout")
                encoder.untagged(.condition(.bye, nil, "IDLE for too long"))
                return .close
            case .ended:
                return .close
            }
        }
        return .close
    }

    // MARK: EXPUNGE

    func expunge(tag: String, uids set: SequenceSet?) async throws {
        guard var folder = selected else { return }
        guard !folder.readOnly else {
            encoder.tagged(tag, .no, .readOnly, "Mailbox is read-only")
            return
        }
        let restrict = set.map { folder.resolve($0, uid: true, saved: savedSearch).map(\.uid) }
        let result = try await ctx.store.expungeWithModSeq(user: userName, folder: folder.id, uids: restrict)
        for n in folder.remove(uids: result.expunged) { encoder.untagged(.expunge(n)) }
        selected = folder
        try await reportChanges(allowExpunge: true, after: result.modSeq)
        encoder.tagged(tag, .ok, nil, "EXPUNGE completed")
    }

    // MARK: COPY / MOVE

    func copyOrMove(tag: String, set: SequenceSet, destination: MailboxName, uid: Bool, move: Bool) async throws {
        guard var folder = selected else { return }
        if !uid && folder.outOfRange(set) {
            encoder.tagged(tag, .bad, nil, "Message number out of range")
            return
        }
        if move && folder.readOnly {
            encoder.tagged(tag, .no, .readOnly, "Mailbox is read-only")
            return
        }
        let dest = try folderName(destination)
        let targets = folder.resolve(set, uid: uid, saved: savedSearch)
        guard !targets.isEmpty else {
            encoder.tagged(tag, .ok, nil, move ? "MOVE completed (nothing to move)" : "COPY completed (nothing to copy)")
            return
        }
        let result: CopyResult
        do {
            result = move
                ? try await ctx.store.move(user: userName, folder: folder.id, uids: targets.map(\.uid), to: dest)
                : try await ctx.store.copy(user: userName, folder: folder.id, uids: targets.map(\.uid), to: dest)
        } catch StoreError.noSuchFolder {
            encoder.tagged(tag, .no, .tryCreate, "Destination mailbox does not exist")
            return
        }
        let code = ResponseCode.copyUID(uidValidity: result.uidValidity, source: result.mapping.map(\.source),
                                        destination: result.mapping.map(\.destination))
        if move {
            encoder.untagged(.condition(.ok, code, "Moved"))
            for n in folder.remove(uids: result.mapping.map(\.source)) { encoder.untagged(.expunge(n)) }
            selected = folder
            try await reportChanges(allowExpunge: true)
            encoder.tagged(tag, .ok, nil, "MOVE completed")
        } else {
            try await reportChanges(allowExpunge: true)
            encoder.tagged(tag, .ok, code, "COPY completed")
        }
    }

    // MARK: STORE

    func store(tag: String, set: SequenceSet, request: StoreRequest, uid: Bool) async throws {
        guard let folder = selected else { return }
        if !uid && folder.outOfRange(set) {
            encoder.tagged(tag, .bad, nil, "Message number out of range")
            return
        }
        guard !folder.readOnly else {
            encoder.tagged(tag, .no, .readOnly, "Mailbox is read-only")
            return
        }
        if request.unchangedSince != nil { enabled.insert("CONDSTORE") }
        let targets = folder.resolve(set, uid: uid, saved: savedSearch)
        let op: FlagOperation = request.operation == .add ? .add : request.operation == .remove ? .remove : .replace
        let result = try await ctx.store.storeFlagsReportingConflicts(
            user: userName, folder: folder.id, uids: targets.map(\.uid), operation: op,
            flags: Self.storeFlags(request.flags), unchangedSince: request.unchangedSince)
        let changed = result.changed
        let modified = result.modified
        if !request.silent || condStore {
            for m in changed {
                guard let n = selected?.msn(of: m.uid) else { continue }
                var items: [FetchResponseItem] = []
                if !request.silent { items.append(.flags(Self.wireFlags(m.flags))) }
                if uid { items.append(.uid(m.uid)) }
                if condStore { items.append(.modSeq(m.modSeq)) }
                encoder.untagged(.fetch(n, items))
            }
        }
        try await reportChanges(allowExpunge: false,
                                alreadySent: Dictionary(changed.map { ($0.uid, $0.modSeq) }, uniquingKeysWith: { a, _ in a }),
                                after: result.modSeq)
        if !modified.isEmpty {
            let list = uid ? modified : modified.compactMap { u in selected?.msn(of: u).map { UInt32($0) } }
            encoder.tagged(tag, .ok, .modified(list), "Conditional STORE failed for some messages")
        } else {
            encoder.tagged(tag, .ok, nil, "STORE completed")
        }
    }
}
