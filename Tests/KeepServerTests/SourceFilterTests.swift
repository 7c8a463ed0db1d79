import KeepGuard
import Testing

/// The kernel program behind `imap.flood_ban_drop_syn`, run through `SourceFilter.drops` on real header bytes.
@Suite struct SourceFilterTests {
    /// A 20-byte IPv4 header from `source`.
    static func ipv4(_ source: [UInt8]) -> [UInt8] {
        [0x45, 0, 0, 60, 0, 0, 0x40, 0, 64, 6, 0, 0] + source + [127, 0, 0, 1]
    }

    /// A 40-byte IPv6 header from `source` (16 bytes).
    static func ipv6(_ source: [UInt8]) -> [UInt8] {
        [0x60, 0, 0, 0, 0, 20, 6, 64] + source + [UInt8](repeating: 0, count: 15) + [1]
    }

    @Test func dropsExactlyTheBannedIPv4Sources() {
        let f = SourceFilter(dropping: ["127.0.0.250", "10.1.2.3"].compactMap(SourceFilter.Address.init))
        #expect(f.drops(ipHeader: Self.ipv4([127, 0, 0, 250])))
        #expect(f.drops(ipHeader: Self.ipv4([10, 1, 2, 3])))
        #expect(!f.drops(ipHeader: Self.ipv4([127, 0, 0, 1])))
        #expect(!f.drops(ipHeader: Self.ipv4([10, 1, 2, 4])))
        #expect(!f.drops(ipHeader: Self.ipv6([UInt8](repeating: 0, count: 15) + [1])))
    }

    @Test func dropsBannedIPv6SourcesWordByWord() {
        let banned: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [7]
        let f = SourceFilter(dropping: [SourceFilter.Address("2001:db8::7")!, SourceFilter.Address("192.0.2.1")!])
        #expect(f.drops(ipHeader: Self.ipv6(banned)))
        #expect(f.drops(ipHeader: Self.ipv4([192, 0, 2, 1])))
        for i in [0, 5, 11, 15] {  // one byte different in each word
            var near = banned
            near[i] ^= 1
            #expect(!f.drops(ipHeader: Self.ipv6(near)))
        }
    }

    @Test func anIPv4MappedPeerIsMatchedAsTheIPv4PacketItArrivesIn() {
        #expect(SourceFilter.Address("::ffff:127.0.0.250") == SourceFilter.Address("127.0.0.250"))
        let f = SourceFilter(dropping: [SourceFilter.Address("::ffff:127.0.0.250")!])
        #expect(f.drops(ipHeader: Self.ipv4([127, 0, 0, 250])))
        #expect(SourceFilter.Address("not an address") == nil)
        #expect(SourceFilter.Address("unknown") == nil)
    }

    @Test func anEmptyListAcceptsEverything() {
        let f = SourceFilter(dropping: [])
        #expect(f.dropped.isEmpty)
        #expect(!f.drops(ipHeader: Self.ipv4([127, 0, 0, 250])))
        #expect(!f.drops(ipHeader: Self.ipv6([UInt8](repeating: 0, count: 15) + [1])))
    }

    @Test func theProgramStaysWithinTheKernelsLimitAndKeepsTheFirstAddresses() {
        let many = (0..<5_000).map { SourceFilter.Address.v4(0x0A00_0000 + UInt32($0)) }
        let f = SourceFilter(dropping: many + many)
        #expect(f.instructions.count <= SourceFilter.maxInstructions)
        #expect(f.dropped == Array(many.prefix(f.dropped.count)))
        #expect(f.dropped.count == (SourceFilter.maxInstructions - 7) / 2)
        #expect(f.drops(ipHeader: Self.ipv4([10, 0, 0, 0])))
        #expect(!f.drops(ipHeader: Self.ipv4([10, 0, 0x0F, 0xA0])))  // the 4,001st: banned, left to the reset on arrival
        let v6 = (0..<1_000).map { SourceFilter.Address.v6(0x2001_0DB8, 0, 0, UInt32($0)) }
        let g = SourceFilter(dropping: v6)
        #expect(g.instructions.count <= SourceFilter.maxInstructions)
        #expect(g.dropped.count == (SourceFilter.maxInstructions - 6) / 9)
    }

    @Test func duplicatesAreDroppedOnce() {
        let a = SourceFilter.Address("127.0.0.9")!
        #expect(SourceFilter(dropping: [a, a, a]).dropped == [a])
    }
}
