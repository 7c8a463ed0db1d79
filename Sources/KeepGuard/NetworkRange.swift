/// An IP network in CIDR notation (`192.0.2.0/24`, `2001:db8::/32`, or a single address), e.g. one of
/// `imap.trusted_networks`. An IPv4 range also matches IPv4-mapped IPv6 peers (`::ffff:192.0.2.7`).
public struct NetworkRange: Sendable, Hashable, CustomStringConvertible {
    /// The network's first address.
    public let base: SourceFilter.Address
    /// Leading bits that must match: 0–32 for IPv4, 0–128 for IPv6.
    public let prefixLength: Int

    /// Parses `ADDRESS` or `ADDRESS/BITS`; nil when either part is malformed or the prefix is too long.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = SourceFilter.Address(String(parts[0])) else { return nil }
        let width: Int
        if case .v4 = address { width = 32 } else { width = 128 }
        var bits = width
        if parts.count == 2 {
            guard let n = Int(parts[1]), (0...width).contains(n), parts[1].allSatisfy(\.isASCII) else { return nil }
            bits = n
        }
        self.base = address
        self.prefixLength = bits
    }

    /// Whether `address` lies in this network.
    public func contains(_ address: SourceFilter.Address) -> Bool {
        switch (base, address) {
        case (.v4(let net), .v4(let a)):
            return Self.matches([net], [a], bits: prefixLength)
        case (.v6(let n0, let n1, let n2, let n3), .v6(let a0, let a1, let a2, let a3)):
            return Self.matches([n0, n1, n2, n3], [a0, a1, a2, a3], bits: prefixLength)
        default:
            return false
        }
    }

    /// Whether the textual `address` (as a peer address is logged) lies in this network.
    public func contains(_ address: String) -> Bool {
        SourceFilter.Address(address).map(contains) ?? false
    }

    private static func matches(_ network: [UInt32], _ address: [UInt32], bits: Int) -> Bool {
        var left = bits
        for (n, a) in zip(network, address) where left > 0 {
            let take = min(left, 32)
            let mask: UInt32 = take == 32 ? .max : ~(UInt32.max >> UInt32(take))
            if n & mask != a & mask { return false }
            left -= take
        }
        return true
    }

    public var description: String {
        switch base {
        case .v4(let a):
            return "\(a >> 24).\((a >> 16) & 0xFF).\((a >> 8) & 0xFF).\(a & 0xFF)/\(prefixLength)"
        case .v6(let a, let b, let c, let d):
            let groups = [a >> 16, a & 0xFFFF, b >> 16, b & 0xFFFF, c >> 16, c & 0xFFFF, d >> 16, d & 0xFFFF]
            return groups.map { String($0, radix: 16) }.joined(separator: ":") + "/\(prefixLength)"
        }
    }
}
