import KeepGuard
import Testing

/// `imap.trusted_networks` entries: CIDR ranges and single addresses, IPv4 and IPv6, IPv4-mapped peers.
@Suite struct NetworkRangeTests {
    @Test func anIPv4NetworkContainsItsAddressesAndItsMappedForm() throws {
        let r = try #require(NetworkRange("192.0.2.0/24"))
        #expect(r.contains("192.0.2.0") && r.contains("192.0.2.255"))
        #expect(r.contains("::ffff:192.0.2.7"))
        #expect(!r.contains("192.0.3.1"))
        #expect(!r.contains("2001:db8::1"))
        #expect(r.description == "192.0.2.0/24")
    }

    @Test func prefixesThatAreNotWholeOctetsAndTheExtremes() throws {
        let r = try #require(NetworkRange("10.64.0.0/10"))
        #expect(r.contains("10.127.255.255"))
        #expect(!r.contains("10.128.0.0"))
        #expect(try #require(NetworkRange("0.0.0.0/0")).contains("203.0.113.9"))
        let one = try #require(NetworkRange("127.0.0.5"))
        #expect(one.prefixLength == 32 && one.contains("127.0.0.5") && !one.contains("127.0.0.6"))
    }

    @Test func anIPv6NetworkMatchesWordByWord() throws {
        let r = try #require(NetworkRange("2001:db8:abcd::/36"))
        #expect(r.contains("2001:db8:abcd:1::1"))
        #expect(r.contains("2001:db8:a000::"))
        #expect(!r.contains("2001:db8:b000::"))
        #expect(!r.contains("192.0.2.1"))
        #expect(try #require(NetworkRange("::1")).contains("::1"))
    }

    @Test func malformedRangesAreRefused() {
        for text in ["", "192.0.2.0/33", "2001:db8::/129", "192.0.2/24", "example.org", "10.0.0.0/-1", "10.0.0.0/8/8", "10.0.0.0/"] {
            #expect(NetworkRange(text) == nil, "\(text)")
        }
    }
}
