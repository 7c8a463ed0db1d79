/// Every bound Keep puts on what a client can make it spend. One value, loaded from `keep.toml`'s `[imap]` and
/// `[lmtp]` sections; each field is a named setting (see `Limits.settings`) with a documented default and range.
public struct Limits: Sendable, Hashable {
    // IMAP: commands
    public var imapMaxPendingCommands = 100
    public var imapMaxLineLength = 64 * 1024
    public var imapMaxLiteralSizeUnauthenticated = 8 * 1024
    public var imapAppendLimit = 50 * 1024 * 1024
    public var imapMaxLiteralsPerCommand = 32
    public var imapMaxCommandSizeUnauthenticated = 32 * 1024
    public var imapMaxNestingDepth = 32
    public var imapMaxSequenceRanges = 10_000
    public var imapMaxArguments = 1_000
    public var imapMaxBadCommandsUnauthenticated = 10
    public var imapMaxBadCommands = 20
    public var imapMaxCommandsBeforeLogin = 50
    // IMAP: time
    public var imapUnauthenticatedIdleTimeout = 60
    public var imapAuthenticatedIdleTimeout = 30 * 60
    public var imapIdleTimeout = 30 * 60
    public var tlsHandshakeTimeout = 10
    // IMAP: connections and output
    public var imapMaxConnections = 10_000
    public var imapMaxUnauthenticatedConnections = 1_000
    public var imapMaxUnauthenticatedConnectionsPerIP = 100
    public var imapMaxConnectionsPerUser = 16
    public var imapMaxOutputBuffer = 64 * 1024
    public var imapMaxOutputBufferBeforeReading = 16 * 1024
    public var imapMaxInputBuffer = 1024 * 1024
    public var imapOutputStallTimeoutMs = 500
    public var imapReaderStallTimeoutMs = 60_000
    // Authentication failures
    public var authFailureDelayInitialMs = 1_000
    public var authFailureDelayMaxMs = 15_000
    public var authCacheTTL = 3_600
    public var authCacheSize = 10_000
    // Flood bans
    public var floodBanThreshold = 10
    public var floodBanSeconds = 60
    public var floodBanDropSYN = 1
    public var floodBanWindowSeconds = 60
    // Tables the guard keeps per address
    public var maxTrackedAddresses = 100_000
    public var authFailureForgetSeconds = 15 * 60
    public var guardLogFoldSeconds = 60
    // Mailbox names
    public var maxMailboxNameLength = 255
    public var maxMailboxDepth = 32
    public var maxMailboxesPerUser = 10_000
    // LMTP
    public var lmtpMaxPendingCommands = 100
    public var lmtpMaxMessageSize = 50 * 1024 * 1024
    public var lmtpMaxRecipients = 100
    public var lmtpMaxLineLength = 4_096
    public var lmtpIdleTimeout = 300
    public var lmtpMaxConnections = 1_000
    public var lmtpMaxNewNamedPropsPerMessage = 64
    public var lmtpOutputStallTimeoutMs = 500
    public var lmtpReaderStallTimeoutMs = 60_000
    public var lmtpMaxInputBuffer = 1024 * 1024
    public var lmtpMaxOutputBuffer = 64 * 1024
    // Server
    public var shutdownTimeout = 10
    public var memoryTrimThresholdMB = 32
    public var provenReaderBytes = 1 << 20
    public var commandsPerTurn = 256
    public var storeBusyTimeoutMs = 10_000
    public var secureDelete = 0
    public var eventFoldIntervalMs = 60_000
    // MIME parsing (indexing at delivery, FETCH sections, SEARCH)
    public var mimeMaxDepth = 32
    public var mimeMaxParts = 10_000
    public var mimeMaxHeaderFieldBytes = 1 << 20
    public var mimeMaxHeaderBytes = 10 << 20
    public var mimeMaxHeaderFields = 10_000
    public var mimeMaxAddressesPerField = 1_000
    public var mimeMaxParameters = 100
    // Mailbox databases: the quotas of every `[databases.NAME]` that does not set its own
    public var namedPropsQuota = 16_000
    public var replidsQuota = 16_000
    public var unauthenticatedNamedPropsQuota = 8_192

    public init() {}

    /// A validated integer setting: its TOML path, default, range and what it bounds.
    public struct Setting: @unchecked Sendable {  // key paths are immutable values
        public let key: String
        public let keyPath: WritableKeyPath<Limits, Int>
        public let range: ClosedRange<Int>
        public let unit: String
        public let doc: String
        public var defaultValue: Int { Limits()[keyPath: keyPath] }
    }

    /// Every limit, in documentation order. `keep config check` prints these; the README lists them.
    public static let settings: [Setting] = [
        Setting(key: "imap.max_pending_commands", keyPath: \.imapMaxPendingCommands, range: 1...100_000, unit: "commands",
                doc: "Commands received but not yet answered on one connection. At the limit Keep stops reading from the connection until answers are written (TCP pushes back). Before login one more command resets the connection (TCP RST); after login only a client that also leaves its answers unread for imap.output_stall_timeout_ms is reset."),
        Setting(key: "imap.output_stall_timeout_ms", keyPath: \.imapOutputStallTimeoutMs, range: 100...600_000, unit: "milliseconds",
                doc: "A logged-in connection with imap.max_pending_commands pending whose answers have backed up unread this long (Keep's output buffer full, the client's TCP window closed and its right edge not moving), and which has never read (its client took less than server.proven_reader_bytes), is a flood and is reset (TCP RST)."),
        Setting(key: "imap.reader_stall_timeout_ms", keyPath: \.imapReaderStallTimeoutMs, range: 100...3_600_000, unit: "milliseconds",
                doc: "The same for a client that has shown it reads (it took server.proven_reader_bytes of answers): it may stop reading this long, e.g. while its disk catches up, before it is reset."),
        Setting(key: "imap.max_line_length", keyPath: \.imapMaxLineLength, range: 1_024...(16 << 20), unit: "bytes",
                doc: "Longest command line (literals not counted); longer lines get BAD (BYE when framing is lost)."),
        Setting(key: "imap.max_literal_size_unauthenticated", keyPath: \.imapMaxLiteralSizeUnauthenticated, range: 64...(1 << 20), unit: "bytes",
                doc: "Largest literal before login (enough for LOGIN/AUTHENTICATE)."),
        Setting(key: "imap.append_limit", keyPath: \.imapAppendLimit, range: 1_024...(2 << 30), unit: "bytes",
                doc: "Largest message APPEND accepts (advertised as APPENDLIMIT); larger gets NO [TOOBIG] before any continuation."),
        Setting(key: "imap.max_literals_per_command", keyPath: \.imapMaxLiteralsPerCommand, range: 1...10_000, unit: "literals",
                doc: "Most literals in one command (MULTIAPPEND included)."),
        Setting(key: "imap.max_command_size_unauthenticated", keyPath: \.imapMaxCommandSizeUnauthenticated, range: 1_024...(16 << 20), unit: "bytes",
                doc: "Most bytes one command may hold before login (lines and literals)."),
        Setting(key: "imap.max_nesting_depth", keyPath: \.imapMaxNestingDepth, range: 2...1_000, unit: "levels",
                doc: "Deepest parenthesis nesting in one command."),
        Setting(key: "imap.max_sequence_ranges", keyPath: \.imapMaxSequenceRanges, range: 1...1_000_000, unit: "ranges",
                doc: "Most ranges in one sequence set."),
        Setting(key: "imap.max_arguments", keyPath: \.imapMaxArguments, range: 1...1_000_000, unit: "arguments",
                doc: "Most items in one list (fetch items, flags, search keys, ...)."),
        Setting(key: "imap.max_bad_commands_unauthenticated", keyPath: \.imapMaxBadCommandsUnauthenticated, range: 1...10_000, unit: "commands",
                doc: "Invalid commands tolerated before login, then BYE."),
        Setting(key: "imap.max_bad_commands", keyPath: \.imapMaxBadCommands, range: 1...10_000, unit: "commands",
                doc: "Invalid commands tolerated after login, then BYE."),
        Setting(key: "imap.max_commands_before_login", keyPath: \.imapMaxCommandsBeforeLogin, range: 1...100_000, unit: "commands",
                doc: "Commands one connection may send before it logs in, then BYE."),
        Setting(key: "imap.unauthenticated_idle_timeout", keyPath: \.imapUnauthenticatedIdleTimeout, range: 1...3_600, unit: "seconds",
                doc: "A connection that has not logged in is closed after this long without a complete command."),
        Setting(key: "imap.authenticated_idle_timeout", keyPath: \.imapAuthenticatedIdleTimeout, range: 1_800...86_400, unit: "seconds",
                doc: "A logged-in connection is closed after this long without a command (RFC 9051 minimum 30 min)."),
        Setting(key: "imap.idle_timeout", keyPath: \.imapIdleTimeout, range: 60...86_400, unit: "seconds",
                doc: "An IDLE command is ended with BYE after this long."),
        Setting(key: "imap.tls_handshake_timeout", keyPath: \.tlsHandshakeTimeout, range: 1...300, unit: "seconds",
                doc: "A TLS handshake (implicit TLS or STARTTLS) must finish within this."),
        Setting(key: "imap.max_connections", keyPath: \.imapMaxConnections, range: 1...1_000_000, unit: "connections",
                doc: "IMAP connections in total; further connections are refused with BYE."),
        Setting(key: "imap.max_unauthenticated_connections", keyPath: \.imapMaxUnauthenticatedConnections, range: 1...1_000_000, unit: "connections",
                doc: "Connections not yet logged in, in total; at the cap the oldest such connection is dropped."),
        Setting(key: "imap.max_unauthenticated_connections_per_ip", keyPath: \.imapMaxUnauthenticatedConnectionsPerIP, range: 1...1_000_000, unit: "connections",
                doc: "Connections not yet logged in from one IP address."),
        Setting(key: "imap.max_connections_per_user", keyPath: \.imapMaxConnectionsPerUser, range: 1...10_000, unit: "connections",
                doc: "Logged-in connections of one user; one more login gets NO [LIMIT]."),
        Setting(key: "imap.max_output_buffer", keyPath: \.imapMaxOutputBuffer, range: 16_384...(1 << 30), unit: "bytes",
                doc: "Response bytes Keep holds for a client beyond what the kernel's socket buffer took; past it the session stops running commands and a long answer waits for the client to read."),
        Setting(key: "imap.max_output_buffer_before_reading", keyPath: \.imapMaxOutputBufferBeforeReading, range: 4_096...(1 << 30), unit: "bytes",
                doc: "imap.max_output_buffer of a connection until its client has shown it reads (it took server.proven_reader_bytes): a client that never reads backs up, and is found, after little work."),
        Setting(key: "imap.max_input_buffer", keyPath: \.imapMaxInputBuffer, range: 65_536...(1 << 30), unit: "bytes",
                doc: "Bytes of commands received but not yet run that Keep holds for one connection (the command being received is bounded by its own limits); past it Keep stops reading from the connection until they run."),
        Setting(key: "imap.auth_failure_delay_initial_ms", keyPath: \.authFailureDelayInitialMs, range: 0...60_000, unit: "milliseconds",
                doc: "Delay before answering a failed login; doubles per further failure from the same IP (and IP+user)."),
        Setting(key: "imap.auth_failure_delay_max_ms", keyPath: \.authFailureDelayMaxMs, range: 0...600_000, unit: "milliseconds",
                doc: "Longest delay before answering a failed login."),
        Setting(key: "imap.auth_cache_ttl", keyPath: \.authCacheTTL, range: 0...86_400, unit: "seconds",
                doc: "A successful login is remembered this long (a keyed hash of the password, in memory only), so the same user and password skip PBKDF2 next time; wrong passwords always pay it. 0 disables."),
        Setting(key: "imap.auth_cache_size", keyPath: \.authCacheSize, range: 0...1_000_000, unit: "users",
                doc: "Most users the login cache remembers."),
        Setting(key: "imap.flood_ban_threshold", keyPath: \.floodBanThreshold, range: 0...100_000, unit: "resets",
                doc: "Connections from one IP address reset for a command flood within a minute before that address is banned; 0 never bans."),
        Setting(key: "imap.flood_ban_seconds", keyPath: \.floodBanSeconds, range: 1...86_400, unit: "seconds",
                doc: "How long a banned address's new connections are refused (dropped unanswered, or reset on arrival), before any greeting (its logged-in connections go on)."),
        Setting(key: "imap.flood_ban_drop_syn", keyPath: \.floodBanDropSYN, range: 0...1, unit: "(0 off, 1 on)",
                doc: "1: the IMAP listeners also drop a banned address's connection attempts in the kernel (a socket filter, Linux), unanswered, so its reconnects cost the server nothing; 0: they are accepted and reset."),
        Setting(key: "imap.flood_ban_window_seconds", keyPath: \.floodBanWindowSeconds, range: 1...86_400, unit: "seconds",
                doc: "The window in which imap.flood_ban_threshold flood resets from one address earn a ban."),
        Setting(key: "imap.max_tracked_addresses", keyPath: \.maxTrackedAddresses, range: 100...10_000_000, unit: "addresses",
                doc: "Addresses the flood ban and the login-failure delay each remember at most; past it expired entries are dropped first, then the oldest (flood ban) or all (failure delay)."),
        Setting(key: "imap.auth_failure_forget_seconds", keyPath: \.authFailureForgetSeconds, range: 1...86_400, unit: "seconds",
                doc: "An address (or address and user) without a failed login for this long starts again at imap.auth_failure_delay_initial_ms."),
        Setting(key: "server.guard_log_fold_seconds", keyPath: \.guardLogFoldSeconds, range: 0...3_600, unit: "seconds",
                doc: "Guard events of one kind from one peer within this long after the first are counted and logged as one line with the count (metrics count every one)."),
        Setting(key: "imap.max_mailbox_name_length", keyPath: \.maxMailboxNameLength, range: 16...1_024, unit: "bytes",
                doc: "Longest mailbox name."),
        Setting(key: "imap.max_mailbox_depth", keyPath: \.maxMailboxDepth, range: 1...256, unit: "levels",
                doc: "Deepest mailbox hierarchy."),
        Setting(key: "imap.max_mailboxes_per_user", keyPath: \.maxMailboxesPerUser, range: 1...1_000_000, unit: "mailboxes",
                doc: "Most mailboxes one user may have."),
        Setting(key: "lmtp.max_pending_commands", keyPath: \.lmtpMaxPendingCommands, range: 1...100_000, unit: "commands",
                doc: "LMTP commands received but not yet answered. At the limit Keep stops reading from the connection until replies are written; a client that also leaves its replies unread for lmtp.output_stall_timeout_ms is reset (TCP RST)."),
        Setting(key: "lmtp.output_stall_timeout_ms", keyPath: \.lmtpOutputStallTimeoutMs, range: 100...600_000, unit: "milliseconds",
                doc: "An LMTP connection with lmtp.max_pending_commands pending whose replies have backed up unread this long, and which has never read (less than server.proven_reader_bytes), is a flood and is reset (TCP RST)."),
        Setting(key: "lmtp.reader_stall_timeout_ms", keyPath: \.lmtpReaderStallTimeoutMs, range: 100...3_600_000, unit: "milliseconds",
                doc: "The same for an LMTP client that has shown it reads."),
        Setting(key: "lmtp.max_input_buffer", keyPath: \.lmtpMaxInputBuffer, range: 65_536...(1 << 30), unit: "bytes",
                doc: "Bytes received and not yet framed that Keep holds for one LMTP connection while it waits on replies; past it Keep stops reading until they are taken."),
        Setting(key: "lmtp.max_output_buffer", keyPath: \.lmtpMaxOutputBuffer, range: 4_096...(1 << 30), unit: "bytes",
                doc: "Reply bytes Keep holds for an LMTP client beyond the kernel's socket buffer; past it no further command runs until the client reads."),
        Setting(key: "lmtp.max_message_size", keyPath: \.lmtpMaxMessageSize, range: 1_024...(2 << 30), unit: "bytes",
                doc: "Largest message LMTP accepts (advertised as SIZE); larger gets 552 5.3.4."),
        Setting(key: "lmtp.max_recipients", keyPath: \.lmtpMaxRecipients, range: 1...100_000, unit: "recipients",
                doc: "Most RCPT TO in one transaction; more get 452 4.5.3."),
        Setting(key: "lmtp.max_line_length", keyPath: \.lmtpMaxLineLength, range: 512...(1 << 20), unit: "bytes",
                doc: "Longest LMTP command line."),
        Setting(key: "lmtp.idle_timeout", keyPath: \.lmtpIdleTimeout, range: 1...3_600, unit: "seconds",
                doc: "An LMTP connection is closed after this long without a command."),
        Setting(key: "lmtp.max_connections", keyPath: \.lmtpMaxConnections, range: 1...1_000_000, unit: "connections",
                doc: "LMTP connections in total."),
        Setting(key: "lmtp.max_new_named_props_per_message", keyPath: \.lmtpMaxNewNamedPropsPerMessage, range: 0...0x7FFF, unit: "names",
                doc: "New header names one delivered message may promote to named properties."),
        Setting(key: "server.shutdown_timeout", keyPath: \.shutdownTimeout, range: 0...600, unit: "seconds",
                doc: "On SIGTERM/SIGINT, how long commands and deliveries already running may take to finish and be answered before connections are closed."),
        Setting(key: "server.memory_trim_threshold_mb", keyPath: \.memoryTrimThresholdMB, range: 0...65_536, unit: "MiB",
                doc: "When the server's resident memory has grown this much since the last check, memory freed after a burst is given back to the system (glibc malloc_trim, at most every 5 s); 0 never does."),
        Setting(key: "mime.max_depth", keyPath: \.mimeMaxDepth, range: 1...1_000, unit: "levels",
                doc: "Deepest MIME nesting (multipart and message/rfc822) parsed; a deeper part is kept as one opaque leaf."),
        Setting(key: "mime.max_parts", keyPath: \.mimeMaxParts, range: 1...1_000_000, unit: "parts",
                doc: "Most body parts of one message split out; parts past it are not split."),
        Setting(key: "mime.max_header_field_bytes", keyPath: \.mimeMaxHeaderFieldBytes, range: 1_024...(1 << 30), unit: "bytes",
                doc: "Longest header field value indexed (unfolded); longer values are cut for the index (the message stays byte-exact)."),
        Setting(key: "mime.max_header_bytes", keyPath: \.mimeMaxHeaderBytes, range: 1_024...(1 << 30), unit: "bytes",
                doc: "Header bytes of one part looked at for indexing."),
        Setting(key: "mime.max_header_fields", keyPath: \.mimeMaxHeaderFields, range: 1...1_000_000, unit: "fields",
                doc: "Header fields indexed per part."),
        Setting(key: "mime.max_addresses_per_field", keyPath: \.mimeMaxAddressesPerField, range: 1...1_000_000, unit: "addresses",
                doc: "Addresses parsed per ENVELOPE field (From, To, Cc, ...)."),
        Setting(key: "mime.max_parameters", keyPath: \.mimeMaxParameters, range: 1...100_000, unit: "parameters",
                doc: "Content-Type/Content-Disposition parameters parsed, RFC 2231 continuations included."),
        Setting(key: "server.proven_reader_bytes", keyPath: \.provenReaderBytes, range: 65_536...(1 << 30), unit: "bytes",
                doc: "Bytes of answers a client must have taken (acknowledged by its TCP, Linux) since it connected to count as one that reads: it then gets the reader stall timeout instead of the flood one."),
        Setting(key: "server.commands_per_turn", keyPath: \.commandsPerTurn, range: 1...100_000, unit: "commands",
                doc: "Commands one connection runs on its event loop before the loop's other connections and timers get a turn: a deep pipeline is served in slices, so it cannot hold the loop for long."),
        Setting(key: "server.store_busy_timeout_ms", keyPath: \.storeBusyTimeoutMs, range: 0...600_000, unit: "milliseconds",
                doc: "How long a store write waits for another process (e.g. the keep CLI) holding a database's write lock before it fails."),
        Setting(key: "server.secure_delete", keyPath: \.secureDelete, range: 0...1, unit: "(0 off, 1 on)",
                doc: "1: deleted mail is overwritten with zeros in the database file as it is deleted (SQLite secure_delete: each EXPUNGE writes the messages again, and nothing can be deleted on a full disk); 0: its pages are freed and reused, and compaction or VACUUM clears them."),
        Setting(key: "server.event_fold_interval_ms", keyPath: \.eventFoldIntervalMs, range: 0...3_600_000, unit: "milliseconds",
                doc: "An event identical to the previous one (same id, database and user) within this long is folded into it (its repeat count grows) instead of written again."),
    ]

    /// The per-database quotas (the seed's \"Named Props Quota\" and \"Replids Quota\"): the defaults here, each
    /// database's own values under `[databases.NAME]`, applied when the database mounts.
    public static let databaseQuotaSettings: [Setting] = [
        Setting(key: "databases.NAME.named_props_quota", keyPath: \.namedPropsQuota, range: 1...0x7FFF, unit: "names",
                doc: "Named properties users may create in the database. Applied when the database mounts."),
        Setting(key: "databases.NAME.replids_quota", keyPath: \.replidsQuota, range: 1...0x7FFF, unit: "ids",
                doc: "Replica identifiers the database may hold. Applied when the database mounts."),
        Setting(key: "databases.NAME.unauthenticated_named_props_quota", keyPath: \.unauthenticatedNamedPropsQuota, range: 1...0x7FFF, unit: "names",
                doc: "Named properties created for unauthenticated senders, e.g. LMTP. Applied when the database mounts."),
    ]

    /// Applies `[imap]`, `[lmtp]`, `[mime]` (and the limits in `[server]`) of a config document. Unknown keys and out-of-range values are refused with a
    /// message naming the setting.
    public mutating func apply(_ doc: TOMLTable, knownExtraKeys: Set<String> = []) throws(ConfigError) {
        let byKey = Dictionary(uniqueKeysWithValues: Self.settings.map { ($0.key, $0) })
        for section in ["server", "imap", "lmtp", "mime"] {
            guard let value = doc[section] else { continue }
            guard case .table(let table) = value else { throw ConfigError.notATable(section) }
            for key in table.keys {
                let full = "\(section).\(key)"
                if knownExtraKeys.contains(full) { continue }
                // `[server]` also holds listener addresses and names, which KeepConfig reads and checks.
                if section == "server", byKey[full] == nil { continue }
                guard let setting = byKey[full] else { throw ConfigError.unknownSetting(full) }
                guard case .integer(let v)? = table[key] else {
                    throw ConfigError.wrongType(full, expected: "integer", found: table[key]?.typeName ?? "nothing")
                }
                guard v >= Int64(setting.range.lowerBound), v <= Int64(setting.range.upperBound) else {
                    throw ConfigError.outOfRange(full, value: v, range: setting.range)
                }
                self[keyPath: setting.keyPath] = Int(v)
            }
        }
        if authFailureDelayMaxMs < authFailureDelayInitialMs {
            throw ConfigError.inconsistent("imap.auth_failure_delay_max_ms must be at least imap.auth_failure_delay_initial_ms")
        }
    }
}

/// A configuration file that cannot be used, with a message naming the setting.
public enum ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    case syntax(file: String, TOMLError)
    case unreadable(file: String, reason: String)
    case notATable(String)
    case unknownSetting(String)
    case wrongType(String, expected: String, found: String)
    case outOfRange(String, value: Int64, range: ClosedRange<Int>)
    case invalidValue(String, reason: String)
    case inconsistent(String)

    public var description: String {
        switch self {
        case .syntax(let file, let e): return "\(file): \(e)"
        case .unreadable(let file, let reason): return "cannot read \(file): \(reason)"
        case .notATable(let s): return "[\(s)] must be a table"
        case .unknownSetting(let k): return "unknown setting \(k)"
        case .wrongType(let k, let expected, let found): return "\(k) must be a \(expected), not a \(found)"
        case .outOfRange(let k, let v, let r):
            return "\(k) = \(v) is out of range: it must be between \(r.lowerBound) and \(r.upperBound)"
        case .invalidValue(let k, let reason): return "\(k): \(reason)"
        case .inconsistent(let why): return why
        }
    }
}
