public import Foundation

/// A condition on what the store indexes about a message — its flags, keywords, UID, size, internal date and
/// modseq — that the store answers itself, with its indexes, without reading messages into the caller: SEARCH's
/// keys that need no message content. (Keys on headers or text are answered from the message.)
public indirect enum MessageFilter: Sendable, Hashable {
    case all
    case none
    /// Every one of these system flags is set.
    case hasFlags(SystemFlags)
    /// The keyword is set (compared without regard to case).
    case hasKeyword(String)
    /// The UID lies in one of the ranges.
    case uids([ClosedRange<UInt32>])
    /// RFC822.SIZE larger / smaller than the bound.
    case sizeAbove(Int64)
    case sizeBelow(Int64)
    /// The internal date is before / at or after the instant.
    case receivedBefore(Date)
    case receivedSince(Date)
    /// The modseq is at least this (CONDSTORE MODSEQ).
    case modSeqAtLeast(UInt64)
    case not(MessageFilter)
    case and([MessageFilter])
    case or(MessageFilter, MessageFilter)
}

/// A message a filter matched.
public struct MatchedMessage: Sendable, Hashable {
    public var uid: UInt32
    public var modSeq: UInt64
    public init(uid: UInt32, modSeq: UInt64) { self.uid = uid; self.modSeq = modSeq }
}
