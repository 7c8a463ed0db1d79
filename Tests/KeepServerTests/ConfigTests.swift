import Foundation
import KeepGuard
import KeepServer
import KeepStore
import Testing

/// `keep.toml`: every limit is a named, range-checked setting; bad values are refused naming the setting.
@Suite struct ConfigTests {
    @Test func defaultsMatchTheDocumentedValues() {
        let c = KeepConfig()
        #expect(c.limits.imapMaxPendingCommands == 100)
        #expect(c.limits.imapMaxLineLength == 65_536)
        #expect(c.limits.imapAppendLimit == 50 * 1024 * 1024)
        #expect(c.limits.imapMaxCommandsBeforeLogin == 50)
        #expect(c.limits.imapMaxConnectionsPerUser == 16)
        #expect(c.imapAddress == "127.0.0.1:1143")
    }

    @Test func valuesAreReadFromTOML() throws {
        let c = try KeepConfig.parse("""
            [server]
            imap = "0.0.0.0:143"
            imaps = ""
            [imap]
            max_pending_commands = 50  # fewer
            [lmtp]
            local_domains = ["Example.org"]
            [databases.mailbox1]
            named_props_quota = 60
            """)
        #expect(c.imapAddress == "0.0.0.0:143")
        #expect(c.imapsAddress == nil)
        #expect(c.limits.imapMaxPendingCommands == 50)
        #expect(c.localDomains == ["example.org"])
        #expect(c.databaseQuotas["mailbox1"]?.namedProps == 60)
    }

    @Test func trustedNetworksAreCIDRListsAndABadOneIsNamed() throws {
        let c = try KeepConfig.parse("[imap]\ntrusted_networks = [\"192.0.2.0/24\", \"2001:db8::/32\", \"127.0.0.1\"]\n")
        #expect(c.trustedNetworks.map(\.description) == ["192.0.2.0/24", "2001:db8:0:0:0:0:0:0/32", "127.0.0.1/32"])
        #expect(throws: ConfigError.invalidValue("imap.trusted_networks",
                                                 reason: "\"10.0.0.0/40\" is not an IP address or network (e.g. 192.0.2.0/24, 2001:db8::/32)")) {
            try KeepConfig.parse("[imap]\ntrusted_networks = [\"10.0.0.0/40\"]\n")
        }
        #expect(throws: ConfigError.wrongType("imap.trusted_networks", expected: "array of strings", found: "string")) {
            try KeepConfig.parse("[imap]\ntrusted_networks = \"10.0.0.0/8\"\n")
        }
    }

    /// The quota defaults of every database come from `Limits`, like every other bound; a database's own table
    /// overrides them one by one.
    @Test func databaseQuotasDefaultToTheLimitsAndAreOverriddenOneByOne() throws {
        let c = try KeepConfig.parse("[databases.db1]\nreplids_quota = 90\n")
        #expect(c.databaseQuotas["db1"] == DatabaseQuotas(namedProps: 16_000, replids: 90, unauthenticatedNamedProps: 8_192))
        #expect(StoreOptions().quotas(for: "other") == DatabaseQuotas(defaultsOf: Limits()))
        #expect(throws: ConfigError.unknownSetting("databases.db1.named_props")) {
            try KeepConfig.parse("[databases.db1]\nnamed_props = 1\n")
        }
    }

    @Test func outOfRangeValueNamesTheSettingAndRange() {
        #expect(throws: ConfigError.outOfRange("imap.max_pending_commands", value: 0, range: 1...100_000)) {
            try KeepConfig.parse("[imap]\nmax_pending_commands = 0\n")
        }
        #expect(throws: ConfigError.outOfRange("databases.db1.replids_quota", value: 40_000, range: 1...0x7FFF)) {
            try KeepConfig.parse("[databases.db1]\nreplids_quota = 40000\n")
        }
    }

    @Test func unknownKeysAndWrongTypesAreRefused() {
        #expect(throws: ConfigError.unknownSetting("imap.max_pendingcommands")) {
            try KeepConfig.parse("[imap]\nmax_pendingcommands = 5\n")
        }
        #expect(throws: ConfigError.wrongType("imap.append_limit", expected: "integer", found: "string")) {
            try KeepConfig.parse("[imap]\nappend_limit = \"big\"\n")
        }
        #expect(throws: (any Error).self) { try KeepConfig.parse("[imap\n") }
    }

    @Test func everySettingCanBeSetInKeepTomlUnderItsDocumentedKey() throws {
        for setting in Limits.settings {
            let parts = setting.key.split(separator: ".", maxSplits: 1)
            let value = setting.range.contains(setting.defaultValue + 1) ? setting.defaultValue + 1 : setting.range.lowerBound
            let config = try KeepConfig.parse("[\(parts[0])]\n\(parts[1]) = \(value)\n")
            #expect(config.limits[keyPath: setting.keyPath] == value, "\(setting.key)")
        }
    }

    @Test func everySettingHasItsDefaultInsideItsRange() {
        for s in Limits.settings {
            #expect(s.range.contains(s.defaultValue), "\(s.key)")
        }
        #expect(Set(Limits.settings.map(\.key)).count == Limits.settings.count)
    }
}
