import Foundation
import GRDB

/// The versioned schemas of the directory and of each mailbox database. Migrations are append-only: never edit a
/// registered migration, add a new one.
enum Schema {
    /// `DIR/directory.sqlite`: users, databases, server state, the durable event log.
    static var directory: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("directory-v1") { db in
            try db.execute(sql: """
                CREATE TABLE databases (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
                    kind TEXT NOT NULL CHECK (kind IN ('private', 'public')),
                    guid TEXT NOT NULL UNIQUE,
                    mounted INTEGER NOT NULL DEFAULT 1,
                    created_at REAL NOT NULL
                );
                CREATE TABLE users (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
                    password TEXT NOT NULL,
                    database TEXT NOT NULL COLLATE NOCASE REFERENCES databases(name),
                    created_at REAL NOT NULL
                );
                CREATE INDEX users_database ON users(database);
                CREATE TABLE server_state (
                    key TEXT PRIMARY KEY,
                    value TEXT NOT NULL
                );
                CREATE TABLE events (
                    id INTEGER PRIMARY KEY,
                    event_id INTEGER NOT NULL,
                    type TEXT NOT NULL CHECK (type IN ('information', 'warning', 'error')),
                    source TEXT NOT NULL,
                    category TEXT NOT NULL,
                    database TEXT,
                    principal TEXT,
                    time REAL NOT NULL,
                    last_time REAL NOT NULL,
                    message TEXT NOT NULL,
                    fields TEXT NOT NULL,
                    repeat_count INTEGER NOT NULL DEFAULT 1
                );
                CREATE INDEX events_fold ON events(event_id, database, principal, time);
                CREATE INDEX events_database ON events(database, time);
                CREATE INDEX events_time ON events(time);
                """)
            try db.execute(sql: "INSERT INTO server_state(key, value) VALUES ('server_guid', ?), ('created_at', ?)",
                           arguments: [UUID().uuidString, ISO8601DateFormatter().string(from: Date())])
        }
        migrator.registerMigration("directory-v2") { db in
            // The quotas in effect for each database, written when it is created, mounted or remounted (NULL until
            // the first open after an upgrade), and a generation that every (un)mount bumps so that every process
            // using the data folder reopens the database with them.
            try db.execute(sql: """
                ALTER TABLE databases ADD COLUMN named_props_quota INTEGER;
                ALTER TABLE databases ADD COLUMN replids_quota INTEGER;
                ALTER TABLE databases ADD COLUMN unauthenticated_named_props_quota INTEGER;
                ALTER TABLE databases ADD COLUMN mount_generation INTEGER NOT NULL DEFAULT 0;
                CREATE TABLE mailbox_moves (
                    user TEXT PRIMARY KEY COLLATE NOCASE,
                    source TEXT NOT NULL COLLATE NOCASE,
                    target TEXT NOT NULL COLLATE NOCASE,
                    started_at REAL NOT NULL
                );
                """)
        }
        return migrator
    }

    /// `DIR/mdb/NAME.sqlite`: one mailbox database.
    static var mailboxDatabase: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("mdb-v1") { db in
            try db.execute(sql: """
                CREATE TABLE meta (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    guid BLOB NOT NULL,
                    counter INTEGER NOT NULL,
                    next_uidvalidity INTEGER NOT NULL
                );
                CREATE TABLE replids (
                    replid INTEGER PRIMARY KEY CHECK (replid BETWEEN 1 AND 32767),
                    guid BLOB NOT NULL UNIQUE,
                    created_by TEXT NOT NULL,
                    creator_kind TEXT NOT NULL,
                    created_at REAL NOT NULL
                );
                CREATE TABLE named_props (
                    propid INTEGER PRIMARY KEY CHECK (propid BETWEEN 32768 AND 65534),
                    guid BLOB NOT NULL,
                    kind TEXT NOT NULL CHECK (kind IN ('lid', 'name')),
                    lid INTEGER,
                    name TEXT,
                    created_by TEXT NOT NULL,
                    creator_kind TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    CHECK ((kind = 'lid' AND lid IS NOT NULL AND name IS NULL)
                        OR (kind = 'name' AND name IS NOT NULL AND lid IS NULL))
                );
                CREATE UNIQUE INDEX named_props_lid ON named_props(guid, lid) WHERE kind = 'lid';
                CREATE UNIQUE INDEX named_props_name ON named_props(guid, name COLLATE NOCASE) WHERE kind = 'name';
                CREATE INDEX named_props_creator ON named_props(creator_kind);
                CREATE TABLE folders (
                    id INTEGER PRIMARY KEY,
                    owner TEXT NOT NULL,
                    name TEXT NOT NULL,
                    uidvalidity INTEGER NOT NULL,
                    uidnext INTEGER NOT NULL,
                    highestmodseq INTEGER NOT NULL,
                    subscribed INTEGER NOT NULL DEFAULT 1,
                    special_use TEXT,
                    created_at REAL NOT NULL,
                    UNIQUE (owner, name)
                );
                CREATE TABLE bodies (
                    id INTEGER PRIMARY KEY,
                    data BLOB NOT NULL
                );
                CREATE TABLE messages (
                    id INTEGER PRIMARY KEY,
                    folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
                    uid INTEGER NOT NULL,
                    modseq INTEGER NOT NULL,
                    flags INTEGER NOT NULL,
                    internal_date REAL NOT NULL,
                    size INTEGER NOT NULL,
                    envelope BLOB,
                    bodystructure BLOB,
                    body BLOB,
                    body_id INTEGER NOT NULL REFERENCES bodies(id),
                    origin_replid INTEGER NOT NULL,
                    origin_counter INTEGER NOT NULL,
                    UNIQUE (folder_id, uid)
                );
                CREATE INDEX messages_modseq ON messages(folder_id, modseq);
                CREATE INDEX messages_body ON messages(body_id);
                CREATE TABLE message_keywords (
                    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
                    propid INTEGER NOT NULL REFERENCES named_props(propid),
                    PRIMARY KEY (message_id, propid)
                ) WITHOUT ROWID;
                CREATE TABLE expunged (
                    folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
                    uid INTEGER NOT NULL,
                    modseq INTEGER NOT NULL,
                    PRIMARY KEY (folder_id, uid)
                ) WITHOUT ROWID;
                CREATE INDEX expunged_modseq ON expunged(folder_id, modseq);
                """)
        }
        migrator.registerMigration("mdb-v2") { db in
            // Promoted header fields (PS_INTERNET_HEADERS named properties) and their decoded values per message,
            // for SEARCH HEADER. `headers_indexed` is 1 for messages whose every promotable field was promoted;
            // names a message could not promote (quota, per-message cap, oversized value) are listed in
            // `message_header_skips`, so that a search on them falls back to parsing.
            try db.execute(sql: """
                CREATE TABLE message_headers (
                    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
                    propid INTEGER NOT NULL REFERENCES named_props(propid),
                    value TEXT NOT NULL
                );
                CREATE INDEX message_headers_value ON message_headers(propid, value);
                CREATE INDEX message_headers_message ON message_headers(message_id);
                CREATE TABLE message_header_skips (
                    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
                    name TEXT NOT NULL COLLATE NOCASE,
                    PRIMARY KEY (message_id, name)
                ) WITHOUT ROWID;
                CREATE INDEX message_header_skips_name ON message_header_skips(name);
                ALTER TABLE messages ADD COLUMN headers_indexed INTEGER NOT NULL DEFAULT 0;
                CREATE INDEX messages_unindexed ON messages(folder_id) WHERE headers_indexed = 0;
                CREATE INDEX messages_origin ON messages(origin_replid, origin_counter);
                CREATE INDEX message_keywords_propid ON message_keywords(propid);
                CREATE TABLE moves_in (
                    owner TEXT PRIMARY KEY,
                    source_guid BLOB NOT NULL,
                    started_at REAL NOT NULL
                );
                """)
        }
        migrator.registerMigration("mdb-v3") { db in
            // Replica-id quota checks count by creator from an index, not by reading every row (32,767 at most).
            try db.execute(sql: "CREATE INDEX replids_creator ON replids(creator_kind)")
        }
        migrator.registerMigration("mdb-v4") { db in
            // What STATUS and SELECT need, kept exact by triggers in the same transaction as every write, so that
            // neither reads the folder's messages: per-folder counters, the UIDs as runs of consecutive numbers
            // (UIDRuns: the sequence-number map), the keywords ever used in the folder (FLAGS), and a partial index
            // of the unseen messages (first unseen, SEARCH UNSEEN).
            try db.execute(sql: FolderIndexSQL.schema)
            try db.execute(sql: FolderIndexSQL.backfill)
            try db.execute(sql: FolderIndexSQL.triggers)
        }
        return migrator
    }
}

/// The SQL of the per-folder index (`mdb-v4`): tables, the one-time backfill of existing messages, and the triggers
/// that keep it exact. A message's contribution is added when it enters a folder (INSERT, or an UPDATE that moves or
/// renumbers it) and taken away when it leaves (DELETE, or that UPDATE); a flag change moves it between counters.
enum FolderIndexSQL {
    static let schema = """
        ALTER TABLE folders ADD COLUMN messages INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE folders ADD COLUMN unseen INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE folders ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE folders ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE uid_runs (
            folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
            start INTEGER NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (folder_id, start)
        ) WITHOUT ROWID;
        CREATE TABLE folder_keywords (
            folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
            propid INTEGER NOT NULL REFERENCES named_props(propid),
            PRIMARY KEY (folder_id, propid)
        ) WITHOUT ROWID;
        CREATE INDEX messages_unseen ON messages(folder_id, uid) WHERE flags & 1 = 0;
        """

    static let backfill = """
        UPDATE folders SET
            messages = (SELECT count(*) FROM messages m WHERE m.folder_id = folders.id),
            unseen = (SELECT count(*) FROM messages m WHERE m.folder_id = folders.id AND m.flags & 1 = 0),
            deleted = (SELECT count(*) FROM messages m WHERE m.folder_id = folders.id AND m.flags & 8 <> 0),
            size = (SELECT coalesce(sum(m.size), 0) FROM messages m WHERE m.folder_id = folders.id);
        INSERT INTO uid_runs(folder_id, start, count)
            SELECT folder_id, min(uid), count(*)
            FROM (SELECT folder_id, uid, uid - row_number() OVER (PARTITION BY folder_id ORDER BY uid) AS run
                  FROM messages)
            GROUP BY folder_id, run;
        INSERT OR IGNORE INTO folder_keywords(folder_id, propid)
            SELECT DISTINCT m.folder_id, k.propid FROM message_keywords k JOIN messages m ON m.id = k.message_id;
        """

    /// The run of `folder` holding or ending before `uid`: the last one starting at or before it (an index seek).
    private static func lastRunAtOrBefore(_ folder: String, _ uid: String) -> String {
        "(SELECT max(start) FROM uid_runs WHERE folder_id = \(folder) AND start <= \(uid))"
    }

    /// Statements that add the message `row` (NEW or OLD) to its folder.
    private static func enter(_ row: String) -> String {
        let f = "\(row).folder_id", u = "\(row).uid"
        return """
            UPDATE folders SET messages = messages + 1, unseen = unseen + (\(row).flags & 1 = 0),
                deleted = deleted + (\(row).flags & 8 <> 0), size = size + \(row).size WHERE id = \(f);
            UPDATE uid_runs SET count = count + 1
                WHERE folder_id = \(f) AND start = \(lastRunAtOrBefore(f, "\(u) - 1")) AND start + count = \(u);
            INSERT INTO uid_runs(folder_id, start, count) SELECT \(f), \(u), 1
                WHERE NOT EXISTS (SELECT 1 FROM uid_runs WHERE folder_id = \(f)
                                  AND start = \(lastRunAtOrBefore(f, u)) AND start + count > \(u));
            UPDATE uid_runs SET count = count + (SELECT n.count FROM uid_runs n WHERE n.folder_id = \(f) AND n.start = \(u) + 1)
                WHERE folder_id = \(f) AND start = \(lastRunAtOrBefore(f, u))
                  AND EXISTS (SELECT 1 FROM uid_runs n WHERE n.folder_id = \(f) AND n.start = \(u) + 1);
            DELETE FROM uid_runs WHERE folder_id = \(f) AND start = \(u) + 1
                AND (SELECT start + count FROM uid_runs WHERE folder_id = \(f) AND start = \(lastRunAtOrBefore(f, u))) > \(u) + 1;
            """
    }

    /// Statements that take the message `row` (OLD) out of its folder.
    private static func leave(_ row: String) -> String {
        let f = "\(row).folder_id", u = "\(row).uid"
        return """
            UPDATE folders SET messages = messages - 1, unseen = unseen - (\(row).flags & 1 = 0),
                deleted = deleted - (\(row).flags & 8 <> 0), size = size - \(row).size WHERE id = \(f);
            INSERT INTO uid_runs(folder_id, start, count)
                SELECT folder_id, \(u) + 1, start + count - \(u) - 1 FROM uid_runs
                WHERE folder_id = \(f) AND start = \(lastRunAtOrBefore(f, u)) AND start + count > \(u) + 1;
            DELETE FROM uid_runs WHERE folder_id = \(f) AND start = \(u);
            UPDATE uid_runs SET count = \(u) - start
                WHERE folder_id = \(f) AND start = \(lastRunAtOrBefore(f, u)) AND start + count > \(u);
            """
    }

    static let triggers = """
        CREATE TRIGGER messages_enter AFTER INSERT ON messages BEGIN
        \(enter("NEW"))
        END;
        CREATE TRIGGER messages_leave AFTER DELETE ON messages BEGIN
        \(leave("OLD"))
        END;
        CREATE TRIGGER messages_move AFTER UPDATE OF folder_id, uid ON messages
            WHEN OLD.folder_id <> NEW.folder_id OR OLD.uid <> NEW.uid BEGIN
        \(leave("OLD"))
        \(enter("NEW"))
            INSERT OR IGNORE INTO folder_keywords(folder_id, propid)
                SELECT NEW.folder_id, propid FROM message_keywords WHERE message_id = NEW.id;
        END;
        CREATE TRIGGER messages_flags AFTER UPDATE OF flags ON messages
            WHEN OLD.folder_id = NEW.folder_id AND OLD.uid = NEW.uid AND (OLD.flags & 9) <> (NEW.flags & 9) BEGIN
            UPDATE folders SET unseen = unseen + (NEW.flags & 1 = 0) - (OLD.flags & 1 = 0),
                deleted = deleted + (NEW.flags & 8 <> 0) - (OLD.flags & 8 <> 0) WHERE id = NEW.folder_id;
        END;
        CREATE TRIGGER messages_size AFTER UPDATE OF size ON messages
            WHEN OLD.folder_id = NEW.folder_id AND OLD.uid = NEW.uid AND OLD.size <> NEW.size BEGIN
            UPDATE folders SET size = size + NEW.size - OLD.size WHERE id = NEW.folder_id;
        END;
        CREATE TRIGGER message_keywords_folder AFTER INSERT ON message_keywords BEGIN
            INSERT OR IGNORE INTO folder_keywords(folder_id, propid)
                SELECT folder_id, NEW.propid FROM messages WHERE id = NEW.message_id;
        END;
        """
}
