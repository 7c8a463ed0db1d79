public import KeepGuard
public import KeepIMAP

extension FramingLimits {
    /// The framing bounds of `limits` (`imap.*`) for a connection before or after login: after login a literal may
    /// be as large as APPENDLIMIT, and a command that large plus a few lines.
    public init(_ limits: Limits, authenticated: Bool) {
        self.init(
            maxLineLength: limits.imapMaxLineLength,
            maxLiteralSize: authenticated ? limits.imapAppendLimit : limits.imapMaxLiteralSizeUnauthenticated,
            maxLiteralsPerCommand: limits.imapMaxLiteralsPerCommand,
            maxCommandSize: authenticated ? limits.imapAppendLimit + limits.imapMaxLineLength * 4
                                          : limits.imapMaxCommandSizeUnauthenticated,
            maxNestingDepth: limits.imapMaxNestingDepth)
    }
}

extension GrammarLimits {
    /// The grammar bounds of `limits` (`imap.max_nesting_depth`, `imap.max_sequence_ranges`, `imap.max_arguments`).
    public init(_ limits: Limits) {
        self.init(maxDepth: limits.imapMaxNestingDepth, maxSequenceRanges: limits.imapMaxSequenceRanges,
                  maxArguments: limits.imapMaxArguments)
    }
}
