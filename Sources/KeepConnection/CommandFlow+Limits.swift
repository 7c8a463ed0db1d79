public import KeepGuard
import NIOCore

extension CommandFlow.Settings {
    /// IMAP's: `imap.max_pending_commands`, `imap.output_stall_timeout_ms`, `imap.reader_stall_timeout_ms`,
    /// `server.proven_reader_bytes`, `imap.max_input_buffer`, `server.commands_per_turn`, `imap.max_output_buffer`.
    public init(imap limits: Limits) {
        self.init(limit: limits.imapMaxPendingCommands,
                  stallTimeout: .milliseconds(Int64(limits.imapOutputStallTimeoutMs)),
                  readerStallTimeout: .milliseconds(Int64(limits.imapReaderStallTimeoutMs)),
                  provenReaderBytes: UInt64(limits.provenReaderBytes), readBudget: limits.imapMaxInputBuffer,
                  commandsPerTurn: limits.commandsPerTurn, readerOutputBuffer: limits.imapMaxOutputBuffer)
    }

    /// LMTP's: the `lmtp.*` counterparts and `server.proven_reader_bytes`.
    public init(lmtp limits: Limits) {
        self.init(limit: limits.lmtpMaxPendingCommands,
                  stallTimeout: .milliseconds(Int64(limits.lmtpOutputStallTimeoutMs)),
                  readerStallTimeout: .milliseconds(Int64(limits.lmtpReaderStallTimeoutMs)),
                  provenReaderBytes: UInt64(limits.provenReaderBytes), readBudget: limits.lmtpMaxInputBuffer,
                  commandsPerTurn: limits.commandsPerTurn, readerOutputBuffer: limits.lmtpMaxOutputBuffer)
    }
}
