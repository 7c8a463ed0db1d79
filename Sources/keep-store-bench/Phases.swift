import Foundation
import KeepStore

extension StoreBench {
    // MARK: Mounting

    /// What mounting costs for `database`: the admin mount (unmount untimed, then `mountDatabase` and the first call
    /// that opens the file), a server start (store closed untimed, then `SQLiteStore.open` and the `databaseStats`
    /// `KeepServer.start` reads for each database), a remount with changed quotas and back, `keep db stats`, the
    /// quota check of every IMAP SELECT (`canCreateKeywords`), a whole SELECT, and online compaction.
    func measureMounts(_ key: String, database: String, user: String) async throws {
        let runs = config.mountRuns
        var mount = Samples(), start = Samples(), remount = Samples(), stats = Samples()
        var canCreate = Samples(), select = Samples(), compact = Samples()
        for _ in 0..<runs {
            try await store.unmountDatabase(database)
            let store = self.store
            let (_, ms) = try await timed {
                try await store.mountDatabase(database)
                guard try await store.replicaGUID(database: database, id: 1) != nil else {
                    throw BenchFailure("\(database) has no replica id 1 after mounting")
                }
            }
            mount.append(ms)
        }
        for _ in 0..<runs {
            try await store.close()
            let (dataDirectory, options, logger) = (self.dataDirectory, self.options, self.logger)
            let (reopened, ms) = try await timed {
                let store = try await SQLiteStore.open(dataDirectory: dataDirectory, options: options, logger: logger)
                _ = try await store.databaseStats(name: database)
                return store
            }
            store = reopened
            start.append(ms)
        }
        let configured = options.quotas(for: database)
        let changed = DatabaseQuotas(namedProps: 16_000, replids: 16_000, unauthenticatedNamedProps: 8_192)
        for _ in 0..<runs {
            for quotas in [changed, configured] {
                let store = self.store
                let (_, ms) = try await timed {
                    try await store.remountDatabase(name: database, quotas: quotas)
                    _ = try await store.replicaGUID(database: database, id: 1)
                }
                remount.append(ms)
            }
        }
        let inUse = try await store.databaseStats(name: database)
        guard inUse.namedPropsQuota == configured.namedProps, inUse.replidsQuota == configured.replids else {
            throw BenchFailure("\(database) did not get its quotas back after the remounts")
        }
        let store = self.store
        for _ in 0..<runs {
            stats.append(try await timed { _ = try await store.databaseStats(name: database) }.1)
            canCreate.append(try await timed { _ = try await store.canCreateKeywords(user: user) }.1)
            select.append(try await timed {
                _ = try await store.openFolder(user: user, name: "INBOX")
                _ = try await store.canCreateKeywords(user: user)
            }.1)
        }
        for _ in 0..<min(runs, 3) {
            let (reclaimed, ms) = try await timed { try await store.compactDatabase(name: database) }
            guard reclaimed == 0 else {
                throw BenchFailure("compaction of \(database) reclaimed \(reclaimed) names that messages use")
            }
            compact.append(ms)
        }
        let messages = try await store.folderStatus(user: user, name: "INBOX").messages
        Output.report("store.\(key).mount", "\(key): admin mount (mountDatabase + first access)", mount)
        Output.report("store.\(key).start", "\(key): server start (SQLiteStore.open + databaseStats)", start)
        Output.report("store.\(key).remount", "\(key): remount with changed quotas (remountDatabase + first access)",
                      remount)
        Output.report("store.\(key).stats", "\(key): databaseStats (keep db stats)", stats)
        Output.report("store.\(key).can_create_keywords", "\(key): canCreateKeywords (every SELECT)", canCreate)
        Output.report("store.\(key).select", "\(key): SELECT INBOX of \(messages) messages (openFolder + canCreateKeywords)",
                      select)
        Output.report("store.\(key).compact", "\(key): keep db compact (nothing to reclaim)", compact)
    }

    // MARK: Deliveries

    /// Deliveries of a message with 50 never-seen X- headers, with 50 known ones (`known`) and with none,
    /// interleaved, after one untimed warm-up of each. On a database at its quota the new names must be refused (one
    /// event 9667 each, the message stored byte-exact and unindexed); below it they must all be indexed.
    func measureDeliveries(_ key: String, database: String, user: String, known: [String],
                           atQuota: Bool) async throws {
        let perMessage = config.headersPerMessage
        let inbox = try await inboxID(user)
        let errorsBefore = try await eventCount(StoreEventID.namedPropsQuotaError, database: database)
        var none = Samples(), new = Samples(), old = Samples()
        for run in -1..<config.deliveryRuns {
            let plain = try await deliver(to: user, headerNames: [])
            let names = newHeaderNames(perMessage)
            let fresh = try await deliver(to: user, headerNames: names)
            let repeated = try await deliver(to: user, headerNames: known)

            let freshIndexed = try await promotedNames(user, folder: inbox, uid: fresh.uid)
            if atQuota {
                guard freshIndexed.isEmpty else {
                    throw BenchFailure("\(key): \(freshIndexed.count) new names were indexed on a database at its quota")
                }
                guard try await storedBytes(user, folder: inbox, uid: fresh.uid) == fresh.bytes else {
                    throw BenchFailure("\(key): the message whose names were refused was not stored byte-exact")
                }
            } else {
                guard freshIndexed == Set(names.map { $0.lowercased() }) else {
                    throw BenchFailure("\(key): \(freshIndexed.count) of \(perMessage) new names were indexed")
                }
            }
            guard try await promotedNames(user, folder: inbox, uid: repeated.uid) == Set(known.map { $0.lowercased() })
            else { throw BenchFailure("\(key): the known names were not all indexed") }
            if run >= 0 {
                none.append(plain.ms)
                new.append(fresh.ms)
                old.append(repeated.ms)
            }
        }
        let refused = try await eventCount(StoreEventID.namedPropsQuotaError, database: database) - errorsBefore
        let wanted = atQuota ? (config.deliveryRuns + 1) * perMessage : 0
        guard refused == wanted else {
            throw BenchFailure("\(key): \(refused) events 9667 were recorded, \(wanted) expected")
        }
        Output.report("store.\(key).deliver_new\(perMessage)",
                      "\(key): deliver with \(perMessage) new X- headers" + (atQuota ? " (all refused)" : ""), new)
        Output.report("store.\(key).deliver_known\(perMessage)",
                      "\(key): deliver with \(perMessage) known X- headers", old)
        Output.report("store.\(key).deliver_plain", "\(key): deliver with no X- header", none)
        if atQuota { Output.note("\(key): \(refused) events 9667 recorded, one per refused name") }
        try await verify("\(key) deliveries")
    }

    /// Registering a new replica id (one transaction each), and looking one up; at the quota each registration
    /// must be refused with event 9669.
    func measureReplicaIDs(_ key: String, database: String, user: String, atQuota: Bool) async throws {
        let store = self.store
        let errorsBefore = try await eventCount(StoreEventID.replidsQuotaError, database: database)
        var create = Samples(), lookup = Samples()
        for _ in 0..<config.deliveryRuns {
            let guid = UUID()
            let (id, ms) = try await timed { () async throws -> UInt16? in
                do {
                    return try await store.replicaID(database: database, for: guid, create: true,
                                                     principal: .user(user))
                } catch StoreError.replicaIDQuotaReached where atQuota {
                    return nil
                }
            }
            guard (id == nil) == atQuota else {
                throw BenchFailure("\(key): replica id registration \(atQuota ? "succeeded at" : "failed below") the quota")
            }
            create.append(ms)
            lookup.append(try await timed {
                _ = try await store.replicaID(database: database, for: guid, create: false, principal: .user(user))
            }.1)
        }
        let refused = try await eventCount(StoreEventID.replidsQuotaError, database: database) - errorsBefore
        guard refused == (atQuota ? config.deliveryRuns : 0) else {
            throw BenchFailure("\(key): \(refused) events 9669 recorded")
        }
        Output.report("store.\(key).replid_create",
                      "\(key): register a new replica id" + (atQuota ? " (refused, event 9669)" : ""), create)
        Output.report("store.\(key).replid_lookup", "\(key): look up a replica id", lookup)
    }

    // MARK: Filling

    /// Fills the full database through the public API: keywords by APPENDs of the logged-in user, header names by
    /// LMTP deliveries of `headersPerMessage` new X- headers each, replica ids by `replicaID(create: true)`.
    /// Reports how long each took and what one delivery of new names cost as the table grew. Returns the first
    /// `headersPerMessage` header names, now known to the database.
    func fill() async throws -> [String] {
        let database = Self.fullDatabase, user = Self.fullUser
        let store = self.store
        let clock = ContinuousClock()
        let namedTarget = config.keywordFill + config.headerFill

        let propsStart = clock.now
        var made = 0
        while made < config.keywordFill {
            let n = min(config.keywordsPerMessage, config.keywordFill - made)
            let keywords = (made..<made + n).map { "bench-keyword-\($0)" }
            _ = try await store.append(user: user, folder: "INBOX", message: message(headerNames: []),
                                       flags: MessageFlags(keywords: keywords), internalDate: nil,
                                       principal: .user(user))
            expected[user, default: 0] += 1
            made += n
        }
        let keywordSeconds = (clock.now - propsStart).milliseconds / 1_000
        Output.note("fill: \(config.keywordFill) keywords by \(expected[user] ?? 0) APPENDs in \(Output.format(keywordSeconds)) s")

        let width = max(1, (namedTarget + 7) / 8)
        var byLevel = [Samples](repeating: Samples(), count: 8)
        var nextProgress = 1
        made = 0
        while made < config.headerFill {
            let n = min(config.headersPerMessage, config.headerFill - made)
            let level = config.keywordFill + made
            let delivered = try await deliver(to: user, headerNames: (made..<made + n).map { "X-Fill-\($0)" })
            if n == config.headersPerMessage { byLevel[min(7, level / width)].append(delivered.ms) }
            made += n
            if made * 10 >= config.headerFill * nextProgress {
                Output.note("fill: \(config.keywordFill + made) named properties after "
                            + "\(Output.format((clock.now - propsStart).milliseconds / 1_000)) s")
                nextProgress += 1
            }
        }
        let propsSeconds = (clock.now - propsStart).milliseconds / 1_000
        var stats = try await store.databaseStats(name: database)
        guard stats.namedPropsTotal == namedTarget else {
            throw BenchFailure("fill: the named-property table holds \(stats.namedPropsTotal) entries, \(namedTarget) wanted")
        }
        Output.note("fill: \(namedTarget) named properties (\(config.keywordFill) keywords, \(config.headerFill) header "
                    + "names) in \(Output.format(propsSeconds)) s")
        Output.metric("store.fill.named_props.count", Double(namedTarget), "entries")
        Output.metric("store.fill.named_props.seconds", propsSeconds, "s")
        for (bucket, samples) in byLevel.enumerated() where !samples.values.isEmpty {
            let low = bucket * width, high = min(namedTarget, (bucket + 1) * width) - 1
            Output.report("store.fill.deliver_new\(config.headersPerMessage).from_\(low)",
                          "fill: deliver with \(config.headersPerMessage) new X- headers, table at \(low)–\(high) entries",
                          samples)
        }
        try await verify("the named-property fill")

        let replidStart = clock.now
        let replidWidth = max(1, (config.replidFill + 7) / 8)
        var replidByLevel = [Samples](repeating: Samples(), count: 8)
        for i in 0..<config.replidFill {
            let (id, ms) = try await timed {
                try await store.replicaID(database: database, for: UUID(), create: true, principal: .user(user))
            }
            guard id != nil else { throw BenchFailure("fill: replica id \(i + 2) was not allocated") }
            replidByLevel[min(7, i / replidWidth)].append(ms)
        }
        let replidSeconds = (clock.now - replidStart).milliseconds / 1_000
        stats = try await store.databaseStats(name: database)
        guard stats.replidsTotal == config.replidFill + 1 else {
            throw BenchFailure("fill: the replica-id table holds \(stats.replidsTotal) entries, \(config.replidFill + 1) wanted")
        }
        Output.note("fill: \(stats.replidsTotal) replica ids (\(config.replidFill) registered, one transaction each) "
                    + "in \(Output.format(replidSeconds)) s")
        Output.metric("store.fill.replids.count", Double(stats.replidsTotal), "entries")
        Output.metric("store.fill.replids.seconds", replidSeconds, "s")
        for (bucket, samples) in replidByLevel.enumerated() where !samples.values.isEmpty {
            let low = bucket * replidWidth + 1
            Output.report("store.fill.replid_create.from_\(low)",
                          "fill: register a replica id, table at \(low)–\(min(config.replidFill, low + replidWidth - 1)) entries",
                          samples)
        }
        let warnings = try await eventCount(StoreEventID.namedPropsQuotaWarning, database: database)
        let replidWarnings = try await eventCount(StoreEventID.replidsQuotaWarning, database: database)
        Output.note("fill: events 9666 (named-property warning) \(warnings), 9668 (replica-id warning) \(replidWarnings)")
        Output.note("fill: database file \(Output.format(Double(stats.size) / 1_048_576)) MiB, "
                    + "\(stats.messages) messages")
        return (0..<config.headersPerMessage).map { "X-Fill-\($0)" }
    }
}
