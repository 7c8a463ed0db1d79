public import Foundation
import GRDB
import Logging

/// Severity of a logged event, as the Windows event log has it.
public enum EventType: String, Sendable, Hashable, Codable {
    case information, warning, error
}

/// Stable ids of the events the store raises (the seed's 9666–9669).
public enum StoreEventID {
    public static let namedPropsQuotaWarning = 9666
    public static let namedPropsQuotaError = 9667
    public static let replidsQuotaWarning = 9668
    public static let replidsQuotaError = 9669
}

/// One row of the durable event log.
public struct StoreEvent: Sendable, Hashable, Codable {
    /// Row id, increasing.
    public var id: Int64
    public var eventID: Int
    public var type: EventType
    public var source: String
    public var category: String
    public var database: String?
    /// Who caused it (`Principal.description`), when a principal did.
    public var principal: String?
    /// When the event first happened.
    public var time: Date
    /// When it last happened (later than `time` once repeats were folded into this row).
    public var lastTime: Date
    public var message: String
    public var fields: [String: String]
    /// How many times the event happened: repeats within the folding interval add to this instead of adding rows.
    public var repeatCount: Int
}

/// An event not yet recorded.
struct PendingEvent: Sendable {
    var eventID: Int
    var type: EventType
    var source: String
    var category: String = "General"
    var database: String?
    var principal: String?
    var message: String
    var fields: [String: String]
}

/// Collects events raised inside a database transaction so that they are recorded after it, even when it rolls back.
final class PendingEvents: Sendable {
    private let events = Locked<[PendingEvent]>([])
    func append(_ event: PendingEvent) { events.withLock { $0.append(event) } }
    func drain() -> [PendingEvent] { events.withLock { e in defer { e = [] }; return e } }
}

/// The durable event log in the directory database; each event is also echoed to the logger.
public final class EventLog: Sendable {
    private let pool: DatabasePool
    private let logger: Logger
    private let foldingInterval: TimeInterval

    init(pool: DatabasePool, logger: Logger, foldingInterval: TimeInterval) {
        self.pool = pool
        self.logger = logger
        self.foldingInterval = foldingInterval
    }

    /// Records an event. An identical event (same id, database and principal) within the folding interval of the
    /// last such row increments that row's `repeatCount` instead of adding a row. Returns the row as stored.
    @discardableResult
    public func record(eventID: Int, type: EventType, source: String, category: String = "General",
                       database: String?, principal: String?, message: String,
                       fields: [String: String] = [:]) async throws -> StoreEvent {
        try await record(PendingEvent(eventID: eventID, type: type, source: source, category: category,
                                      database: database, principal: principal, message: message, fields: fields))
    }

    @discardableResult
    func record(_ e: PendingEvent) async throws -> StoreEvent {
        echo(e)
        let interval = foldingInterval
        return try await pool.write { db in try Self.insertOrFold(db, e, interval: interval) }
    }

    /// Records or folds one event inside the caller's write transaction.
    private static func insertOrFold(_ db: Database, _ e: PendingEvent, interval: TimeInterval) throws -> StoreEvent {
        let fieldsJSON = encode(e.fields)
        do {
            let now = Date().timeIntervalSince1970
            if let row = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT id FROM events
                WHERE event_id = ? AND database IS ? AND principal IS ? AND time >= ?
                ORDER BY id DESC LIMIT 1
                """), arguments: [e.eventID, e.database, e.principal, now - interval]) {
                let id: Int64 = row["id"]
                try db.execute(sql: "UPDATE events SET repeat_count = repeat_count + 1, last_time = ? WHERE id = ?",
                               arguments: [now, id])
                return try fetch(db, id: id)!
            }
            try db.cachedStatement(sql: """
                INSERT INTO events(event_id, type, source, category, database, principal, time, last_time, message,
                                   fields, repeat_count)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
                """).execute(arguments: [e.eventID, e.type.rawValue, e.source, e.category, e.database, e.principal, now, now,
                                 e.message, fieldsJSON])
            return try fetch(db, id: db.lastInsertedRowID)!
        }
    }

    /// Records events raised inside a transaction; failures to record are logged, never thrown over the caller's
    /// own result.
    func record(_ events: [PendingEvent]) async {
        guard !events.isEmpty else { return }
        for e in events { echo(e) }
        // One transaction (one sync) for the lot: a delivery refused 50 new names records 50 events, which fold.
        let interval = foldingInterval
        do {
            try await pool.write { db in
                for e in events { _ = try Self.insertOrFold(db, e, interval: interval) }
            }
        } catch {
            logger.error("could not record events \(Set(events.map(\.eventID)).sorted()): \(error)")
        }
    }

    /// The event with row id `id`.
    public func event(id: Int64) async throws -> StoreEvent? {
        try await pool.read { db in try Self.fetch(db, id: id) }
    }

    /// Events, newest last, filtered by event id, database and time of last occurrence; at most `limit` (the newest).
    public func events(eventID: Int? = nil, database: String? = nil, since: Date? = nil,
                       limit: Int = 1_000) async throws -> [StoreEvent] {
        try await pool.read { db in
            var conditions: [String] = []
            var arguments = StatementArguments()
            if let eventID { conditions.append("event_id = ?"); arguments += [eventID] }
            if let database {
                conditions.append("database = ? COLLATE NOCASE"); arguments += [database]
            }
            if let since {
                conditions.append("last_time >= ?"); arguments += [since.timeIntervalSince1970]
            }
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            arguments += [max(limit, 0)]
            let rows = try Row.fetchAll(db, sql: """
                SELECT * FROM (SELECT * FROM events \(filter) ORDER BY id DESC LIMIT ?) ORDER BY id
                """, arguments: arguments)
            return rows.map(Self.event(from:))
        }
    }

    private static func fetch(_ db: Database, id: Int64) throws -> StoreEvent? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM events WHERE id = ?"), arguments: [id]).map(event(from:))
    }

    private static func event(from row: Row) -> StoreEvent {
        let fieldsText: String = row["fields"]
        let fields = (try? JSONDecoder().decode([String: String].self, from: Data(fieldsText.utf8))) ?? [:]
        return StoreEvent(
            id: row["id"], eventID: row["event_id"], type: EventType(rawValue: row["type"]) ?? .information,
            source: row["source"], category: row["category"], database: row["database"], principal: row["principal"],
            time: Date(timeIntervalSince1970: row["time"]), lastTime: Date(timeIntervalSince1970: row["last_time"]),
            message: row["message"], fields: fields, repeatCount: row["repeat_count"])
    }

    private static func encode(_ fields: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(fields) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    private func echo(_ e: PendingEvent) {
        var metadata: Logger.Metadata = ["event_id": "\(e.eventID)", "source": "\(e.source)",
                                         "category": "\(e.category)"]
        if let database = e.database { metadata["database"] = "\(database)" }
        for (k, v) in e.fields { metadata["field.\(k)"] = "\(v)" }
        let level: Logger.Level
        switch e.type {
        case .information: level = .info
        case .warning: level = .warning
        case .error: level = .error
        }
        logger.log(level: level, "\(e.message)", metadata: metadata)
    }
}
