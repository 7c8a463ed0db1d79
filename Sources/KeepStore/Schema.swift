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
        return migrator
    }
}
