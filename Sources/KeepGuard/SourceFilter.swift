#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A classic BPF socket-filter program that drops every packet from a set of source addresses, for a listening
/// TCP socket (`SO_ATTACH_FILTER`, Linux).
///
/// On a listener the kernel runs the filter on each arriving SYN before it answers: a dropped SYN gets no SYN-ACK, so
/// a banned flooder's `connect` waits in SYN retries (1 s, 2 s, 4 s, …) and costs the server no accept, no socket and
/// no reset. Accepted connections keep the filter of the moment they were accepted, which cannot name their own
/// peer, so connections already open are never cut by it.
///
/// The program loads the IP version, then compares the source address with each banned one (two instructions per
/// IPv4 address, nine per IPv6 address, no jump longer than one address) and returns 0 (drop) on a match, else the
/// whole packet. At most `maxInstructions` (the kernel's `BPF_MAXINSNS`) are used: addresses that do not fit are
/// left out, and the caller resets their connections on arrival instead.
public struct SourceFilter: Sendable, Equatable {
    /// One `struct sock_filter`: the kernel's 8-byte classic BPF instruction.
    public struct Instruction: Sendable, Equatable, CustomStringConvertible {
        public var code: UInt16
        public var jt: UInt8
        public var jf: UInt8
        public var k: UInt32

        public init(code: UInt16, jt: UInt8 = 0, jf: UInt8 = 0, k: UInt32 = 0) {
            self.code = code
            self.jt = jt
            self.jf = jf
            self.k = k
        }

        public var description: String {
            "{0x\(String(code, radix: 16)), \(jt), \(jf), 0x\(String(k, radix: 16))}"
        }
    }

    /// A source address, as the kernel sees it in the IP header.
    public enum Address: Sendable, Hashable {
        case v4(UInt32)
        case v6(UInt32, UInt32, UInt32, UInt32)

        /// Parses `a.b.c.d`, an IPv6 address, or an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, which arrives as an
        /// IPv4 packet on a dual-stack listener). Nil for anything else.
        public init?(_ text: String) {
            var v4 = in_addr()
            if inet_pton(AF_INET, text, &v4) == 1 {
                self = .v4(UInt32(bigEndian: v4.s_addr))
                return
            }
            var v6 = in6_addr()
            guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
            let words: [UInt32] = withUnsafeBytes(of: &v6) { raw in
                (0..<4).map { i in raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self).bigEndian }
            }
            if words[0] == 0, words[1] == 0, words[2] == 0xFFFF {
                self = .v4(words[3])
            } else {
                self = .v6(words[0], words[1], words[2], words[3])
            }
        }
    }

    /// The kernel's limit on a classic BPF program (`BPF_MAXINSNS`).
    public static let maxInstructions = 4096

    /// The program's instructions, ready for `struct sock_fprog`.
    public let instructions: [Instruction]
    /// The addresses the program drops, in the order given (those that did not fit are not here).
    public let dropped: [Address]

    // Classic BPF opcodes (linux/bpf_common.h, linux/filter.h).
    static let loadByte: UInt16 = 0x30    // BPF_LD | BPF_B | BPF_ABS
    static let loadWord: UInt16 = 0x20    // BPF_LD | BPF_W | BPF_ABS
    static let shiftRight: UInt16 = 0x74  // BPF_ALU | BPF_RSH | BPF_K
    static let jumpIfEqual: UInt16 = 0x15 // BPF_JMP | BPF_JEQ | BPF_K
    static let jumpAlways: UInt16 = 0x05  // BPF_JMP | BPF_JA
    static let ret: UInt16 = 0x06         // BPF_RET | BPF_K
    /// `SKF_NET_OFF`: loads relative to the network (IP) header rather than the TCP header.
    static let networkOffset = UInt32(bitPattern: -0x100000)
    static let accept: UInt32 = 0xFFFF_FFFF
    static let drop: UInt32 = 0

    /// A program dropping `addresses` (the first ones first, when not all fit); duplicates are dropped once.
    public init(dropping addresses: [Address]) {
        var seen = Set<Address>()
        var v4: [UInt32] = []
        var v6: [(UInt32, UInt32, UInt32, UInt32)] = []
        var kept: [Address] = []
        // Fixed part: version load, shift, compare, jump, and one accept after each section.
        var budget = Self.maxInstructions - 6
        for address in addresses where seen.insert(address).inserted {
            switch address {
            case .v4(let a):
                // The first IPv4 address also needs the source load.
                let cost = v4.isEmpty ? 3 : 2
                guard budget >= cost else { continue }
                budget -= cost
                v4.append(a)
            case .v6(let a, let b, let c, let d):
                guard budget >= 9 else { continue }
                budget -= 9
                v6.append((a, b, c, d))
            }
            kept.append(address)
        }
        dropped = kept

        var v4Section: [Instruction] = []
        if !v4.isEmpty {
            v4Section.append(Instruction(code: Self.loadWord, k: Self.networkOffset &+ 12))
            for a in v4 {
                v4Section.append(Instruction(code: Self.jumpIfEqual, jt: 0, jf: 1, k: a))
                v4Section.append(Instruction(code: Self.ret, k: Self.drop))
            }
        }
        v4Section.append(Instruction(code: Self.ret, k: Self.accept))

        var v6Section: [Instruction] = []
        for (a, b, c, d) in v6 {
            // Each word that differs skips to the next address; all four equal reach the drop.
            for (i, word) in [a, b, c, d].enumerated() {
                v6Section.append(Instruction(code: Self.loadWord, k: Self.networkOffset &+ UInt32(8 + 4 * i)))
                v6Section.append(Instruction(code: Self.jumpIfEqual, jt: 0, jf: UInt8(7 - 2 * i), k: word))
            }
            v6Section.append(Instruction(code: Self.ret, k: Self.drop))
        }
        v6Section.append(Instruction(code: Self.ret, k: Self.accept))

        instructions = [
            Instruction(code: Self.loadByte, k: Self.networkOffset),   // version and header length
            Instruction(code: Self.shiftRight, k: 4),
            Instruction(code: Self.jumpIfEqual, jt: 0, jf: 1, k: 6),
            Instruction(code: Self.jumpAlways, k: UInt32(v4Section.count)),  // IPv6: past the IPv4 section
        ] + v4Section + v6Section
    }

    /// Runs the program on an IP header as the kernel would: `true` when the packet is dropped. For tests and for
    /// checking a program before it is installed.
    public func drops(ipHeader: [UInt8]) -> Bool {
        var pc = 0
        var a: UInt32 = 0
        func load(_ k: UInt32, bytes: Int) -> UInt32? {
            let offset = Int(k &- Self.networkOffset)
            guard offset >= 0, offset + bytes <= ipHeader.count else { return nil }
            return ipHeader[offset..<offset + bytes].reduce(0) { $0 << 8 | UInt32($1) }
        }
        while pc < instructions.count {
            let i = instructions[pc]
            switch i.code {
            case Self.loadByte, Self.loadWord:
                guard let v = load(i.k, bytes: i.code == Self.loadByte ? 1 : 4) else { return true }  // kernel: drop
                a = v
                pc += 1
            case Self.shiftRight: a >>= i.k; pc += 1
            case Self.jumpIfEqual: pc += 1 + Int(a == i.k ? i.jt : i.jf)
            case Self.jumpAlways: pc += 1 + Int(i.k)
            case Self.ret: return i.k == Self.drop
            default: return true
            }
        }
        return true
    }
}
